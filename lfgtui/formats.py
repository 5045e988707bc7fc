"""Numbers people read, written the same way in the panes, the headless output, the history and the
`lfg worktrees` listing."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def diff_size(added: int, removed: int, files: int) -> str:
    """`+12 \u22123, 2 files` (a minus sign, not a hyphen): what a ticket changed in its worktree."""
    return f"+{added} \u2212{removed}, {plural(files, 'file')}"
