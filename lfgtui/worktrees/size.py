"""How much a ticket changed in its worktree, written one way in the panes, the headless output, the
history's export and `lfg worktrees list`; light to import, like formats.py."""

from __future__ import annotations

from lfgtui.formats import plural


def diff_size(added: int, removed: int, files: int) -> str:
    """`+12 \u22123, 2 files` (a minus sign, not a hyphen): what a ticket changed in its worktree."""
    return f"+{added} \u2212{removed}, {plural(files, 'file')}"
