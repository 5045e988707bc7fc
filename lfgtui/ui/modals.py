"""Small modal screens: a yes/no confirmation, a follow-up prompt and the key help."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ConfirmScreen(ModalScreen[bool]):
    """Asks a yes/no question; y or enter says yes, n or escape says no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question")
            yield Static("[b]y[/b] yes    [b]n[/b] no", classes="choices")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class FollowUpScreen(ModalScreen[str | None]):
    """Asks for a follow-up prompt; enter sends it (None when empty), escape gives up."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="follow_up.cancel")]

    def __init__(self, ticket: str) -> None:
        super().__init__()
        self.ticket = ticket

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            question = f"Follow up on [b]{self.ticket}[/b], after its whole conversation:"
            yield Static(question, classes="question")
            yield Input(placeholder="your next prompt", id="follow-up")
            yield Static("[b]enter[/b] send    [b]escape[/b] cancel", classes="choices")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key the run screen answers to, with its binding id for `[ui] keymap`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close")
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
        table.add_column("key")
        table.add_column("does")
        table.add_column("binding id (rebind in the ui keymap)", style="dim")
        for row in self.rows:
            table.add_row(*row)
        with Vertical(classes="dialog help"):
            yield Static("[b]lfg keys[/b]", classes="question")
            yield Static(table)
            yield Static("escape to close", classes="choices")

    def action_close(self) -> None:
        self.dismiss(None)
