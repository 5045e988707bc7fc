"""A ticket's diff (what it changed in its git worktree), one collapsible section per file.

The diff is untrusted (file names and contents an agent wrote): every line is made inert before it
is styled, and reaches Textual as `Text`, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Collapsible, Static

from lfgtui.inert import inert
from lfgtui.ui.drawing.diff_lines import styled
from lfgtui.ui.drawing.palette import colours
from lfgtui.worktrees.patch import NOT_SHOWN, header_path

EXPANDED_FILES = 12
"""A diff of more files than this opens with every file collapsed: the list of files comes first."""


@dataclass(frozen=True)
class FileDiff:
    """One file's part of a unified diff."""

    path: str
    lines: tuple[str, ...]

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.startswith("+") and not line.startswith("+++"))

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.startswith("-") and not line.startswith("---"))


def split_files(diff: str) -> list[FileDiff]:
    """The diff cut at each `diff --git` line; anything before the first one is a file of its own."""
    files: list[FileDiff] = []
    path, lines = "", []
    for line in diff.splitlines():
        header = header_path(line)
        if header is not None:
            if lines:
                files.append(FileDiff(path, tuple(lines)))
            path, lines = header, []
        lines.append(line)
    if lines:
        files.append(FileDiff(path, tuple(lines)))
    return files


class DiffScreen(ModalScreen[None]):
    """A ticket's diff against the commit its worktree started from."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,d", "close", "Close", id="diff.close", tooltip="close the diff"),
        Binding("e", "expand(True)", "Expand all", id="diff.expand", tooltip="expand every file"),
        Binding("c", "expand(False)", "Collapse all", id="diff.collapse", tooltip="collapse every file"),
    ]

    def __init__(self, ticket: str, title: str, diff: str) -> None:
        super().__init__()
        self.ticket = ticket
        self.title_line = title
        self.files = split_files(diff)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog diff"):
            heading = Text.assemble(
                ("diff ", "bold"), (inert(self.ticket), "bold"), "  ", inert(self.title_line)
            )
            yield Static(heading, classes="question")
            with VerticalScroll(id="diff-files"):
                if not self.files:
                    yield Static("No changes yet.")
                collapsed = len(self.files) > EXPANDED_FILES
                for file in self.files:
                    # Content, not a str: Collapsible parses a str title as markup, and a path is untrusted
                    unseen = "  NOT SHOWN" if any(t.startswith(NOT_SHOWN) for t in file.lines) else ""
                    title = Content(f"{inert(file.path)}  +{file.added} \u2212{file.removed}{unseen}")
                    body = Static(styled(file.lines, colours(self.app)))
                    yield Collapsible(body, title=title, collapsed=collapsed)  # type: ignore[arg-type]
            yield Static("escape close    e expand all    c collapse all", classes="choices")

    def on_mount(self) -> None:
        self.query_one("#diff-files").focus()

    def action_expand(self, expanded: bool) -> None:
        for section in self.query(Collapsible):
            section.collapsed = not expanded

    def action_close(self) -> None:
        self.dismiss(None)
