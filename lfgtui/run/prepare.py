"""A new worktree made ready once, before the ticket's work: the person's ignored files brought in
(`.worktreeinclude`, worktrees/include.py), then the ticket's `setup` command run.

Done once per worktree: a marker in the worktree's own git folder (`git rev-parse --git-path`) says
it was, so a follow-up, steer, resume or retry of the same worktree does not do it again, and a
worktree made anew (cleaned, then made again from its branch; a fork) is made ready again. A setup
that failed left no marker: the ticket failed with its output, and running it again tries again.
`setup` runs as `run_command` does (tools/command.py): the same environment, under the supervisor.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.tools.base import ToolContext
from lfgtui.tools.command import READ_CHUNK, Tail, start_command
from lfgtui.tools.supervised import stop_supervised
from lfgtui.worktrees.git import checked, line
from lfgtui.worktrees.include import include_ignored
from lfgtui.worktrees.tree import Worktree

MARKER = "lfg-prepared"
SETUP_TIMEOUT_S = 1800.0
"""Installing a project's dependencies can take many minutes."""
SETUP_OUTPUT_BYTES = 16 * 1024
"""The tail of setup's output that is said (a failure's reason included)."""


class SetupFailed(Exception):
    """The ticket's `setup` command failed: its message says how, with the tail of its output."""


async def _marker(tree: Worktree) -> Path:
    return tree.path / line(await checked(tree.path, "rev-parse", "--git-path", MARKER))


async def prepare(tree: Worktree, setup: str | None, context: ToolContext) -> list[str]:
    """Make a new worktree ready; what was done, a line each for the pane and the history (nothing
    when it was ready already). Raises SetupFailed, GitError or OSError when it cannot be."""
    marker = await _marker(tree)
    if marker.exists():
        return []
    notes = (await include_ignored(tree.repo, tree.path)).lines()
    if setup is not None:
        notes.append(await run_setup(setup, context))
    marker.write_text("", encoding="utf-8")
    return notes


async def run_setup(command: str, context: ToolContext) -> str:
    """Run `setup` in the worktree; what it printed and its exit code, or SetupFailed saying so."""
    process = await start_command(command, context)
    assert process.stdout is not None  # piped by start_command
    tail = Tail(SETUP_OUTPUT_BYTES)
    try:
        async with asyncio.timeout(SETUP_TIMEOUT_S):
            while chunk := await process.stdout.read(READ_CHUNK):
                tail.add(chunk)
            code = await process.wait()
    except TimeoutError:
        await stop_supervised(process)
        raise SetupFailed(tail.render(f"setup did not finish within {SETUP_TIMEOUT_S:g} s; killed")) from None
    except asyncio.CancelledError:
        await stop_supervised(process)
        raise
    said = tail.render(f"[setup: exit code {code}]")
    if code != 0:
        raise SetupFailed(f"setup failed (exit code {code}): {command}\n{said}")
    return f"setup: {command}\n{said}"
