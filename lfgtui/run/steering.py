"""Reaching into a running ticket: *steer* it (the person's words go into this turn at its next safe
point) or *queue* a message (sent as its next turn once this one ends).

A safe point is the one boundary every model API accepts a user message at without breaking the
reasoning state kept verbatim (turns.py): after a round's tool results, before the next model call
of lfg's own tool loop (tool_loop.py). There the steer becomes a user turn (`Steered`) that every
wire sends after the tool results (providers: a text block after the `tool_result` blocks of the same
user message for Anthropic, a `user` message after the `tool` messages for Chat Completions, a user
input item after the `function_call_output` items for Responses). Only an API ticket's attempt that
runs lfg's tool loop with tools here has safe points (`Inbox.steerable`); a coding agent that takes
ACP steering (`_session/steering`: agents/session/steering.py) is steerable while its prompt runs,
each steer sent into its turn at once (`Inbox.wake`) and queued if the agent does not take it; a
steer to any other (another agent, a ticket without tools) is queued, saying so. On a coordinated
run a steer is carried to the worker running the attempt (run/decisions.py `_steer`); one its turn
cannot take is queued by the coordinator, which sends every next turn.

A steer that finds no safe point before its turn ends (it came while the final answer streamed) is
sent as the next turn, saying so: never dropped. Queued messages go, in order, each as a follow-up
of the turn before (scheduler.py `Run._ticket`), once the turn completes; a turn that did not
complete sends none of them, and says which were not sent. A retry (or a move to a fallback link)
of an attempt that was steered replays its steers at its own safe points, in order.

`Inbox` holds one ticket's messages; `Run.steer`, `queue`, `unqueue` and `edit_queued` are the
run's face, each answering None when done or why not, in words for the person.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from lfgtui.events import HeldMessage, SteerOffer

MAX_MESSAGE_CHARS = 20_000
"""The longest message a person may steer or queue: a prompt's worth, not a file."""
MAX_HELD = 20
"""The most messages one ticket holds at once: each change says them all (`Holding`), so a watcher
sending thousands cannot make every event of the ticket carry thousands."""


@dataclass
class Inbox:
    """One ticket's messages held for it, in order: steers first (for the next safe point), then
    those queued (each the next turn once the one before ends)."""

    held: list[HeldMessage] = field(default_factory=list)
    steerable: bool = False
    """Whether the attempt running now can still reach a safe point: set by the tool loop while it
    runs with tools, cleared when it ends."""
    landed: list[HeldMessage] = field(default_factory=list)
    """The steers the current attempt took, in order: what a retry of it replays."""
    note: str | None = None
    """What changed while no attempt was under way to say it in: said once the next one starts."""
    wake: Callable[[], None] | None = None
    """Told when a steer is held: set by a coding agent's turn that steers over ACP
    (agents/session/steering.py), which sends it at once rather than at a tool loop's safe point."""
    keeps: Callable[[], str] | None = None
    """Why a steer held now is kept rather than sent at once ("": it is sent; steer_words.py
    `ANSWER`, `CALL`): set by a coding agent's turn that keeps steers while its agent waits on the
    person's answer or has a tool call to run (agents/session/steering.py `_keeps`), cleared as the
    turn ends."""
    offer: SteerOffer | None = None
    """What the running turn said it takes from the person (who runs it, whether it steers), as its
    `SteerOffer` came (from a worker, on a coordinated run); None before its turn began and once it
    ended: what the composer says Enter does (steer_words.py)."""
    were_steers: set[int] = field(default_factory=set)
    """The ids of steers their turn did not take, queued instead: the next turn each is says it was a
    steer, not a message queued."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def hold(self, text: str, steer: bool, by: str) -> HeldMessage:
        """Hold a message: a steer goes after the steers already held (before the queued ones)."""
        return self.hold_again(HeldMessage(next(self._ids), text, steer, by))

    def hold_again(self, message: HeldMessage) -> HeldMessage:
        """Hold a message the ticket held before (one an attempt left unsent, sent now), under its
        own id: the number the person was shown for it stays its number."""
        at = sum(1 for m in self.held if m.steer) if message.steer else len(self.held)
        self.held.insert(at, message)
        if message.steer and self.wake is not None:
            self.wake()
        return message

    def after(self, messages: tuple[HeldMessage, ...]) -> None:
        """Number the messages held from now on after `messages` (what the ticket held when its
        recorded run stopped, numbered then): one number names one message for the ticket's life."""
        if messages:
            self._ids = itertools.count(max(m.id for m in messages) + 1)

    def requeue(self, message: HeldMessage) -> HeldMessage:
        """A steer the running turn could not take (its agent said so): queued first, the next turn,
        and no longer one a retry replays."""
        queued = replace(message, steer=False)
        self.were_steers.add(message.id)
        self.landed = [m for m in self.landed if m.id != message.id]
        at = sum(1 for m in self.held if m.steer)
        self.held.insert(at, queued)
        return queued

    def unread(self, steers: list[HeldMessage]) -> None:
        """Steers handed to a coding agent whose turn ended before it was known to have read them:
        held again first, as steers (what the attempt leaves unsent), no longer ones a retry replays."""
        ids = {m.id for m in steers}
        self.landed = [m for m in self.landed if m.id not in ids]
        self.held = [*steers, *self.held]

    def take_steers(self) -> list[HeldMessage]:
        """At a safe point: the steers held, in order, now sent (kept in `landed` for a retry)."""
        steers = [m for m in self.held if m.steer]
        if steers:
            self.held = [m for m in self.held if not m.steer]
            self.landed.extend(steers)
        return steers

    def steers_to_queue(self) -> list[HeldMessage]:
        """At the end of a turn: the steers no safe point took, now queued first (the next turns)."""
        missed = [m for m in self.held if m.steer]
        self.were_steers.update(m.id for m in missed)
        if missed:
            self.held = [replace(m, steer=False) for m in missed] + [m for m in self.held if not m.steer]
        return missed

    def next_queued(self) -> HeldMessage | None:
        """The first queued message, taken to be sent as the next turn (None: none is queued)."""
        for n, message in enumerate(self.held):
            if not message.steer:
                del self.held[n]
                self.landed = []  # a new turn: a retry of it replays only its own steers
                return message
        return None

    def sent_by(self, message: HeldMessage) -> str:
        """Who a message sent as the next turn came from, and as what: queued, or a steer its turn did
        not take."""
        if message.steer or message.id in self.were_steers:
            return f"a steer from {message.by} its turn did not take"
        return f"queued by {message.by}"

    def took(self, steers: tuple[tuple[str, str], ...]) -> None:
        """The steers (text, who sent it) a recorded attempt took: what a retry of it replays."""
        self.landed = [HeldMessage(next(self._ids), text, True, by) for text, by in steers]

    def replay(self) -> None:
        """Before a retry of the attempt: the steers it took are held again, first, in order."""
        self.held = [*self.landed, *self.held]
        self.landed = []

    def drop_all(self) -> list[HeldMessage]:
        """Everything held, taken out (its turn did not complete: nothing is sent after it)."""
        dropped, self.held = self.held, []
        return dropped

    def tell(self, said: str) -> None:
        """Keep what changed for the next attempt to say, after anything kept before it."""
        self.note = said if self.note is None else f"{self.note}; {said}"

    def take_note(self) -> str | None:
        note, self.note = self.note, None
        return note

    def find(self, message_id: int) -> HeldMessage | None:
        return next((m for m in self.held if m.id == message_id), None)

    def remove(self, message_id: int) -> HeldMessage | None:
        """Take a held message out, unsent; None when it is not held (sent already, or unknown)."""
        message = self.find(message_id)
        if message is not None:
            self.held.remove(message)
        return message

    def edit(self, message_id: int, text: str) -> HeldMessage | None:
        """Change a held message's words, keeping its place; None when it is not held."""
        message = self.find(message_id)
        if message is None:
            return None
        edited = replace(message, text=text)
        self.held[self.held.index(message)] = edited
        return edited


def unfit(text: str, verb: str) -> str | None:
    """Why `text` cannot be steered or queued (`verb`), or None."""
    if not text.strip():
        return f"a {verb} needs some text"
    if len(text) > MAX_MESSAGE_CHARS:
        return f"a {verb} holds at most {MAX_MESSAGE_CHARS:,} characters ({len(text):,} sent)"
    return None


def summary(message: HeldMessage) -> str:
    """A held message in one short line, for a status: its first words."""
    first = " ".join(message.text.split())
    return first if len(first) <= 60 else first[:59] + "…"


def still_unsent(messages: tuple[HeldMessage, ...]) -> str:
    """What a new attempt says of the messages an earlier one left unsent (still the ticket's)."""
    listed = "; ".join(f"{'steer' if m.steer else 'queued'} from {m.by}: {summary(m)}" for m in messages)
    offered = "the TUI's retry or lfg resume offers them"
    return f"still held, unsent, from an attempt that did not complete ({offered}): {listed}"
