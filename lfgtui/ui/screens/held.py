"""The question asked when tickets hold messages an attempt left unsent (the person's steers and
queued messages: run/held.py): by `lfg resume` for what the run held when it stopped, and by a retry
(`r`) of a ticket whose attempt did not complete: send them (with the retry), drop them, or keep them
held (asked again at the next retry or resume). Each is listed, inert, before anything is chosen.
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
            "k",
            "choose('keep')",
            "Keep",
            id="held.keep",
            tooltip="keep them held, unsent: the next retry or lfg resume asks again",
        ),
        Binding(
            "escape",
            "dismiss_or_keep",
            "Close",
            id="held.close",
            tooltip="before a retry: retry nothing; at lfg resume: keep them held",
        ),
    ]

    def __init__(
        self,
        held: dict[str, tuple[HeldMessage, ...]],
        question: str | None = None,
        retrying: bool = False,
    ) -> None:
        super().__init__()
        self.held = held
        self.question = question
        """What left them unsent, in words (None: the run stopped while they were held)."""
        self.retrying = retrying
        """Asked before a retry: escape retries nothing (else escape keeps them held)."""

    def compose(self) -> ComposeResult:
        count = sum(len(messages) for messages in self.held.values())
        with Vertical(classes="dialog"):
            yield Static(
                Text(
                    inert(self.question or f"When this run stopped, {count} message(s) you sent were held")
                    + ", not sent yet:",
                    "bold",
                ),
                classes="question",
            )
            with VerticalScroll(id="held-list"):
                yield Static(self._listed())
            yield Static(self._choices(), classes="choices")

    def _listed(self) -> Text:
        lines = []
        for ticket, messages in self.held.items():
            lines.append(Text(inert(ticket), "bold"))
            for message in messages:  # numbered by id, as the pane and the served API name each
                kind = "steer" if message.steer else "queued"
                lines.append(Text(f"  #{message.id} {kind} from {inert(message.by)}: {inert(message.text)}"))
        return Text("\n").join(lines)

    def _choices(self) -> Text:
        if self.retrying:
            return Text.from_markup(
                "[b]s[/b] retry and send them    [b]d[/b] retry and drop them    "
                "[b]k[/b] retry, keep them held    [b]escape[/b] no retry"
            )
        return Text.from_markup(
            "[b]s[/b] send them as the next turns    [b]d[/b] drop them    [b]k[/b] keep them held"
        )

    def action_choose(self, choice: str) -> None:
        self.dismiss(HeldChoice(choice))

    def action_dismiss_or_keep(self) -> None:
        """Escape: before a retry, nothing is done; at a resume, they are kept held."""
        self.dismiss(None if self.retrying else HeldChoice.KEEP)
