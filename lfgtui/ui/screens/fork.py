"""The dialog `f` opens on a completed pane: the fork's prompt, and the turn of the ticket's
conversation the fork goes on after (run/fork.py).

A turn is one the person sees: the ticket's prompt, each follow-up, steer and queued turn. The last
is picked at first (the whole conversation, as a fork always went on from); `up`/`down` pick an
earlier one, the conversation then cut after it. The dialog says which before anything is sent.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from lfgtui.inert import inert

TURN_CHARS = 70
"""How much of each turn's words its line shows: enough to know it again."""


class ForkScreen(ModalScreen[tuple[str, int] | None]):
    """Asks for a fork's prompt and the turn it goes on after; enter gives both (None: escape, or no
    prompt)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "pick(-1)", "Earlier turn", id="fork.up", tooltip="fork after the turn before"),
        Binding("down", "pick(1)", "Later turn", id="fork.down", tooltip="fork after the turn after"),
        Binding("escape", "cancel", "Cancel", id="fork.cancel", tooltip="close, forking nothing"),
    ]

    def __init__(self, ticket: str, turns: tuple[str, ...], at: int | None = None) -> None:
        """`at`: the turn picked first (the one picked on the pane's transcript); None: the last."""
        super().__init__()
        self.ticket = ticket
        self.turns = turns
        """The words of each of the ticket's user turns, in order."""
        self.at = len(turns) if at is None else at
        """The turn (1-based) the fork goes on after: at first the last, the whole conversation."""
        self.said = Static(classes="question", id="fork-says")
        self.listed = Static(id="fork-turns")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield self.said
            yield self.listed
            yield Input(placeholder="the fork's prompt", id="fork-prompt")
            yield Static(
                "[b]enter[/b] fork    [b]↑ ↓[/b] the turn to fork after    [b]escape[/b] cancel",
                classes="choices",
            )

    def on_mount(self) -> None:
        self._show()

    def says(self) -> str:
        """Where the fork goes on from, in words (the dialog's first line)."""
        name, count = inert(self.ticket), len(self.turns)
        if self.at == count:
            return f"Fork {name}, after its whole conversation ({count} turn{'s' * (count != 1)}):"
        return f"Fork {name} after turn {self.at} of {count}: the turns after it are left out."

    def _show(self) -> None:
        self.said.update(Text(self.says(), "bold"))
        lines = []
        for n, words in enumerate(self.turns, 1):
            first = " ".join(inert(words).split())
            first = first if len(first) <= TURN_CHARS else first[: TURN_CHARS - 1] + "…"
            style = "reverse" if n == self.at else ("dim" if n > self.at else "")
            lines.append(Text.assemble(("▸ " if n == self.at else "  "), (f"{n}. {first}", style)))
        self.listed.update(Text("\n").join(lines))
        self.listed.display = len(self.turns) > 1

    def action_pick(self, step: int) -> None:
        self.at = min(max(self.at + step, 1), len(self.turns))
        self._show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        prompt = event.value.strip()
        self.dismiss((prompt, self.at) if prompt else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
