"""The composer `i` opens on a running pane: the person's words for the ticket, sent as a steer (into
this turn at its next safe point) or queued (its next turn once this one ends), and the messages it
already holds, each editable and removable until it is sent (run/steering.py).

The composer says what Enter will do before anything is sent, for this ticket (run/steer_words.py):
lfg's tool loop steers at its next safe point, a coding agent that takes ACP steering at its own next
model call, and an agent without steering can only be queued; on a run afar (a coordinator's worker,
a served run) what its turn said it takes, or that it has not said yet. It steers where the ticket
can be steered, else queues; `ctrl+t` switches, and the composer opens as last switched for that
ticket (queueing three in a row needs one `ctrl+t`). `up`/`down` pick a held message, whose words the
input then holds: Enter saves the edit, `ctrl+r` takes it back. The pick follows the message (its
id), not its place: one sent meanwhile moves the rest up, and an edit never lands on another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from lfgtui.events import HeldMessage, SteerOffer
from lfgtui.inert import inert
from lfgtui.run.steer_words import enter_does, steers_first
from lfgtui.ui.widgets.pane import held_text

LOOK_EVERY_S = 0.5
"""How often an open composer looks again at what it says and lists."""


@dataclass(frozen=True)
class SteerDesk:
    """What the composer acts through, the run's answers in words (None: done)."""

    held: Callable[[], tuple[HeldMessage, ...]]
    """The messages the ticket holds now, in the order they go."""
    steerable: Callable[[], bool | None]
    """Whether a steer sent now would wait for a safe point of this turn (else it is queued); None:
    not known here (the turn runs afar: a coordinator's worker, a served run)."""
    offer: Callable[[], SteerOffer | None]
    """What the running turn said it takes (who runs it, whether it steers); None: not said yet."""
    kept: Callable[[], str | None]
    """Why a steer sent now is kept until the ticket's agent goes on after the person's answer to its
    request, or until the tool call it began has run ("": it is not; `Run.steer_kept`); None: not
    known here (the turn runs afar)."""
    send: Callable[[str, bool], str | None]
    """Send the words as a steer (True) or queued (False)."""
    edit: Callable[[int, str], str | None]
    remove: Callable[[int], str | None]


class SteerScreen(ModalScreen[None]):
    """Compose a steer or a queued message for a running ticket (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+t",
            "switch",
            "Steer / queue",
            id="steer.switch",
            tooltip="switch what Enter does: steer the running turn at its next safe point, or queue the "
            "words as the ticket's next turn",
        ),
        Binding("up", "pick(-1)", "Earlier held", id="steer.up", tooltip="pick the held message above"),
        Binding("down", "pick(1)", "Later held", id="steer.down", tooltip="pick the held message below"),
        Binding(
            "ctrl+r",
            "take_back",
            "Take back",
            id="steer.take_back",
            tooltip="take the picked held message back, unsent",
        ),
        Binding("escape", "cancel", "Cancel", id="steer.cancel", tooltip="close, sending nothing"),
    ]

    def __init__(self, ticket: str, desk: SteerDesk, chosen: dict[str, bool] | None = None) -> None:
        super().__init__()
        self.ticket = ticket
        self.desk = desk
        self.chosen = {} if chosen is None else chosen
        """What the person last switched each ticket's composer to (its run handle's, kept between
        openings): Enter sends as they chose, not as a new composer would guess."""
        guessed = steers_first(desk.steerable(), desk.offer())
        self.steer = self.chosen.get(ticket, guessed)
        """What Enter sends a new message as: a steer, or queued."""
        self.picked: int | None = None
        """The id of the held message being edited, or None: a new message. An id, not a place: a
        message sent meanwhile moves the others up, and the edit must stay with its own."""
        self.said = Static(classes="question", id="steer-says")
        self.held = Static(id="steer-held")
        self.input = Input(placeholder="your words for the ticket", id="steer-input")
        self._shown: tuple[str, tuple[HeldMessage, ...]] = ("", ())
        """What the composer shows now: its first line and the messages it lists."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield self.said
            yield self.held
            yield self.input
            yield Static(
                "[b]enter[/b] send    [b]ctrl+t[/b] steer/queue    [b]↑ ↓[/b] pick a held message    "
                "[b]ctrl+r[/b] take it back    [b]escape[/b] close",
                classes="choices",
            )

    def on_mount(self) -> None:
        self._show()
        self.set_interval(LOOK_EVERY_S, self._look)

    def _look(self) -> None:
        """What the turn said it takes, or what the ticket holds, may change while the composer is
        open (a worker begins the turn): its words follow, redrawn only when they changed."""
        if (self.says(), self.desk.held()) != self._shown:
            self._show()

    def says(self) -> str:
        """What Enter does now, in words (the composer's first line)."""
        if self.picked is not None and self._at() is not None:
            return f"Enter saves your edit of held message #{self.picked}; ctrl+r takes it back."
        if self.picked is not None:
            return (
                "The message you picked is held no more (sent, or taken back): Enter says so; your words "
                "stay, to send anew."
            )
        desk = self.desk
        return enter_does(self.ticket, self.steer, desk.steerable(), desk.offer(), desk.kept())

    def _at(self) -> int | None:
        """Where the picked message is in the list now (None: none picked, or it was sent)."""
        ids = [message.id for message in self.desk.held()]
        return ids.index(self.picked) if self.picked in ids else None

    def _show(self) -> None:
        held, says = self.desk.held(), self.says()
        self._shown = (says, held)
        self.said.update(Text(says, "bold"))
        shown = held_text(held)
        at = self._at()
        if at is not None:
            shown = Text("\n").join(
                Text.assemble(("▸ " if n == at else "  "), line) for n, line in enumerate(shown.split())
            )
        self.held.update(shown)
        self.held.display = bool(held)

    def action_switch(self) -> None:
        self.steer = self.chosen[self.ticket] = not self.steer
        self.picked = None
        self._show()

    def action_pick(self, step: int) -> None:
        held = self.desk.held()
        if not held:
            return
        now = self._at()
        at = (len(held) if now is None else now) + step
        self.picked = held[at].id if 0 <= at < len(held) else None
        self.input.value = held[at].text if self.picked is not None else ""
        self._show()

    def action_take_back(self) -> None:
        if self.picked is None:
            self.app.bell()
            return
        self._told(self.desk.remove(self.picked))
        self.picked, self.input.value = None, ""
        self._show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        if self.picked is not None:  # the run refuses it, saying so, if it was sent meanwhile
            problem = self.desk.edit(self.picked, text)
        elif not text.strip():
            self.dismiss(None)
            return
        else:
            problem = self.desk.send(text, self.steer)
        self._told(problem)
        if problem is None:
            self.dismiss(None)
        elif self.picked is not None:  # its edit came too late: the words stay, to send as a new one
            self.picked = None
            self._show()

    def _told(self, problem: str | None) -> None:
        if problem is not None:  # the run's words, with the ticket's id and the person's text in them
            self.app.notify(inert(problem), severity="warning", timeout=5, markup=False)

    def action_cancel(self) -> None:
        self.dismiss(None)
