"""The question `lfg resume` asks when the run's tickets held messages, unsent, when it stopped (the
person's steers and queued messages: run/held.py): send them as the next turns, drop them, or keep
them held (asked again at the next resume). Each is listed, inert, before anything is chosen.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lfgtui.events import HeldMessage
from lfgtui.inert import inert


class HeldChoice(StrEnum):
    """What the person does with the held messages."""

    SEND = "send"
    DROP = "drop"
    KEEP = "keep"


class HeldScreen(ModalScreen[HeldChoice]):
    """Lists what each ticket held when the run stopped and asks what to do with it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s",
            "choose('send')",
            "Send",
            id="held.send",
            tooltip="send the held messages as each ticket's next turns",
        ),
        Binding("d", "choose('drop')", "Drop", id="held.drop", tooltip="drop the held messages, unsent"),
        Binding(
            "k,escape",
            "choose('keep')",
            "Keep",
            id="held.keep",
            tooltip="keep them held, unsent: the next lfg resume asks again",
        ),
    ]

    def __init__(self, held: dict[str, tuple[HeldMessage, ...]]) -> None:
        super().__init__()
        self.held = held

    def compose(self) -> ComposeResult:
        count = sum(len(messages) for messages in self.held.values())
        with Vertical(classes="dialog"):
            yield Static(
                Text(f"When this run stopped, {count} message(s) you sent were held, not sent yet:", "bold"),
                classes="question",
            )
            with VerticalScroll(id="held-list"):
                yield Static(self._listed())
            yield Static(
                "[b]s[/b] send them as the next turns    [b]d[/b] drop them    [b]k[/b] keep them held",
                classes="choices",
            )

    def _listed(self) -> Text:
        lines = []
        for ticket, messages in self.held.items():
            lines.append(Text(inert(ticket), "bold"))
            for n, message in enumerate(messages, 1):
                kind = "steer" if message.steer else "queued"
                lines.append(Text(f"  {n}. {kind} from {inert(message.by)}: {inert(message.text)}"))
        return Text("\n").join(lines)

    def action_choose(self, choice: str) -> None:
        self.dismiss(HeldChoice(choice))
