"""Diff lines coloured by what they are, each made inert: for the diff screen and the tool log's edits."""

from __future__ import annotations

from rich.text import Text

from lfgtui.inert import inert
from lfgtui.ui.drawing.palette import DEFAULT, Palette
from lfgtui.worktrees.patch import NOT_SHOWN


def line_style(line: str, palette: Palette = DEFAULT) -> str:
    """The style of a diff line by what it is: added, removed, hunk header, file header."""
    if line.startswith(NOT_SHOWN):  # a file review lists but does not show (worktrees/patch.py)
        return f"bold {palette.bad}"
    if line.startswith(("+++", "---", "diff --git", "Binary files")):
        return "bold"
    if line.startswith("+"):
        return palette.good
    if line.startswith("-"):
        return palette.bad
    return palette.running if line.startswith("@@") else ""


def styled(lines: tuple[str, ...], palette: Palette = DEFAULT) -> Text:
    """Diff lines coloured by what they are (`line_style`), each made inert."""
    text = Text()
    for line in lines:
        text.append(inert(line) + "\n", line_style(line, palette))
    text.rstrip()
    return text
