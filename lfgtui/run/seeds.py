"""Where a resumed run takes each ticket up (`Earlier`), from what was recorded of its attempts.

The engine never reads the history: a recorded ticket (`history/recorded.py` `RecordedTicket`) comes
as anything that has what `Recorded` asks for, as the tickets loader takes the config as a
`Configured` (`tickets/load.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from lfgtui.events import Event, HeldMessage, Holding, Steered
from lfgtui.outcome import Outcome
from lfgtui.providers.base import Message
from lfgtui.run.attempts import Earlier
from lfgtui.tickets.ticket import Ticket


class Attempted(Protocol):
    """One recorded attempt, as far as a resumed run needs it."""

    @property
    def number(self) -> int: ...
    @property
    def outcome(self) -> Outcome | None: ...
    @property
    def prompt(self) -> str: ...
    @property
    def continues(self) -> int | None: ...
    @property
    def agent_session(self) -> str | None: ...
    @property
    def events(self) -> tuple[Event, ...]: ...


class Recorded(Protocol):
    """A recorded ticket: the ticket, its attempts in order, and the conversation of any of them."""

    @property
    def ticket(self) -> Ticket: ...
    @property
    def attempts(self) -> Sequence[Attempted]: ...
    @property
    def base(self) -> tuple[Message, ...]:
        """For a fork: the conversation it started from (empty for any other ticket)."""
        ...

    def conversation(self, number: int) -> tuple[Message, ...]: ...


def earlier_of(recorded: Recorded) -> Earlier:
    """Where a resumed run takes this ticket up (see `Earlier`)."""
    if not recorded.attempts:
        return Earlier(attempts=0, outcome=None)
    latest = recorded.attempts[-1]
    completed = latest.outcome is Outcome.COMPLETED
    continued = latest.continues is not None or bool(recorded.base)  # a fork's attempts all continue
    return Earlier(
        attempts=latest.number,
        outcome=latest.outcome,
        conversation=recorded.conversation(latest.number) if completed else (),
        base=recorded.conversation(latest.continues) if latest.continues is not None else recorded.base,
        follow_up=latest.prompt if continued else None,
        continues=latest.continues,
        agent_session=latest.agent_session,
        steers=tuple((e.text, e.by) for e in latest.events if isinstance(e, Steered)),
        held=left_held(latest.events),
    )


def left_held(events: Iterable[Event]) -> tuple[HeldMessage, ...]:
    """What an attempt's ticket held, unsent, when the attempt's record ends: what its last `Holding`
    says it held (lfg died while it did), with what a turn that did not complete left unsent (the run
    was stopped, the turn cancelled). Nothing when the ticket held nothing then."""
    last = None
    for event in events:
        if isinstance(event, Holding):
            last = event
    return () if last is None else (*last.unsent, *last.held)


def earlier_of_each(tickets: Iterable[Recorded]) -> dict[str, Earlier]:
    """Each recorded ticket's `Earlier`, by ticket id: what `Run(earlier=...)` takes."""
    return {recorded.ticket.id: earlier_of(recorded) for recorded in tickets}
