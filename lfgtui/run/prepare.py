"""A new worktree made ready once, before the ticket's work: the person's ignored files brought in.

Done once per worktree: a marker in the worktree's own git folder (`git rev-parse --git-path`) says
it was, so a follow-up, steer, resume or retry of the same worktree does not do it again, and a
worktree made anew (cleaned, then made again from its branch) is made ready again.
"""

from __future__ import annotations

from pathlib import Path

from lfgtui.worktrees.git import checked, line
from lfgtui.worktrees.include import include_ignored
from lfgtui.worktrees.tree import Worktree

MARKER = "lfg-prepared"


async def _marker(tree: Worktree) -> Path:
    return tree.path / line(await checked(tree.path, "rev-parse", "--git-path", MARKER))


async def prepare(tree: Worktree) -> list[str]:
    """Make a new worktree ready; what was done, a line each for the pane and the history (nothing
    when it was ready already). Raises GitError or OSError when it cannot be."""
    marker = await _marker(tree)
    if marker.exists():
        return []
    notes = (await include_ignored(tree.repo, tree.path)).lines()
    marker.write_text("", encoding="utf-8")
    return notes
