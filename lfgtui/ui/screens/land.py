"""How to land a reviewed ticket (`M` on the review screen): squash, merge or rebase, onto the base
branch or as a pull request, and the commit message, made from the ticket and editable. Keyboard
only, and whole at 80 by 24: arrows and space choose the way, tab goes to the message and then the
pull-request choice, ctrl+s lands, escape gives up. The landing itself is `worktrees/land.py`, as `lfg
land` (and `lfg land --pr`) does it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, RadioButton, RadioSet, Static, TextArea

from lfgtui.inert import inert
from lfgtui.worktrees.land import LandOptions, Strategy

if TYPE_CHECKING:
    from textual.app import ComposeResult

WAYS = {
    Strategy.SQUASH: "squash: one commit",
    Strategy.MERGE: "merge commit",
    Strategy.REBASE: "rebase",
}


class LandScreen(ModalScreen[LandOptions | None]):
    """Asks how to land `ticket`'s branch onto `onto`; dismissed with the options, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+s",
            "land",
            "Land",
            id="land.go",
            tooltip="land with the way chosen (arrows, then space) and the message (tab to edit it)",
        ),
        Binding("escape", "cancel", "Cancel", id="land.cancel", tooltip="back to the review, nothing landed"),
    ]
    DEFAULT_CSS = """
    LandScreen { align: center middle; }
    LandScreen #land-how { width: 100%; height: auto; layout: horizontal; }
    LandScreen #land-how RadioButton { width: auto; }
    LandScreen #land-pr { border: none; padding: 0; height: 1; }
    LandScreen #land-message { height: 7; }
    """

    def __init__(self, ticket: str, branch: str, onto: str, message: str) -> None:
        """`message`: the commit message to start from (the ticket's: `ticket_message`)."""
        super().__init__()
        self.ticket, self.branch, self.onto, self.message = ticket, branch, onto, message

    def compose(self) -> ComposeResult:
        question = Text.assemble(
            "Land ", (inert(self.ticket), "bold"), f" ({inert(self.branch)}) onto ",
            (inert(self.onto), "bold"), ", then archive its worktree.",
        )  # fmt: skip
        with Vertical(classes="dialog"):
            yield Static(question, classes="question")
            with RadioSet(id="land-how"):
                for strategy, label in WAYS.items():
                    yield RadioButton(label, value=strategy is Strategy.SQUASH, name=strategy.value)
            # inert: the message quotes the ticket's prompt, which an agent's words can be (a synthesis)
            message = inert(self.message)
            yield TextArea(message, id="land-message", soft_wrap=True, show_line_numbers=False)
            yield Checkbox("a pull request instead (push the branch, gh pr create)", id="land-pr")
            yield Static(
                "[b]\u2190 \u2192 space[/b] how  [b]tab[/b] next  [b]ctrl+s[/b] land  [b]esc[/b] cancel",
                classes="choices",
            )

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    def action_land(self) -> None:
        message = self.query_one(TextArea).text.strip()
        if not message:
            self.notify("A commit message is needed: write one, or escape to give up.", timeout=3)
            return
        pressed = self.query_one(RadioSet).pressed_button
        strategy = Strategy(pressed.name) if pressed is not None and pressed.name else Strategy.SQUASH
        pull_request = self.query_one(Checkbox).value
        self.dismiss(LandOptions(message=message, strategy=strategy, pull_request=pull_request))

    def action_cancel(self) -> None:
        self.dismiss(None)
