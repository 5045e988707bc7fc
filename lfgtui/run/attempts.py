"""Where an attempt runs: the one seam between the scheduler and what runs an attempt.

The scheduler (`scheduler.py`) decides *when* a ticket's attempt runs: after its dependencies,
within the prompt cap, in a concurrency slot; and what follows every event (the ticket's state,
the metrics, the sinks, the budgets). An `AttemptRunner` decides *where* it runs, and says every
event of it through the `Attempt` it is handed:

- `LocalRunner` (`local.py`): on this machine, lfg's own agent loop or a coding agent, in the
  ticket's worktree when it has one (the default);
- `BrokerRunner` (`broker/coordinator.py`): on a worker of a Redis broker, its events adopted from
  the run's event stream as this run's own;
- next: a tournament contestant, a fork.

A runner uses only the run's public face and this `Attempt`: it never reaches into the scheduler.
An attempt's first event is its `AttemptStarted`, said by whatever runs it (the runner, or the
worker whose start a broker runner adopts); every view's times (TTFT, tok/s, the history's whole
milliseconds) count from that one event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lfgtui.events import Event, EventFactory

if TYPE_CHECKING:
    from lfgtui.run.scheduler import Run, TicketState
    from lfgtui.tickets.ticket import Ticket


@dataclass
class Attempt:
    """One attempt of a ticket as its runner sees it: the ticket's state, the run it belongs to, and
    how to say its events (through the run: its state, metrics, sinks and budgets follow each one)."""

    run: Run
    state: TicketState
    emit: Callable[[Event], None]
    """Say one event of this attempt (made with `ev`, or adopted by it)."""

    @property
    def ticket(self) -> Ticket:
        return self.state.ticket

    @property
    def number(self) -> int:
        return self.state.attempt

    @property
    def ev(self) -> EventFactory:
        """What stamps this attempt's events (a new one after `renumber`)."""
        assert self.state.ev is not None, "the scheduler numbers an attempt before its runner runs it"
        return self.state.ev

    def say(self, event_type: type[Event], **fields: Any) -> None:
        """Say an event of this attempt made here and now."""
        self.emit(self.ev(event_type, **fields))

    def renumber(self, number: int) -> EventFactory:
        """Go on as attempt `number`, not yet ended: what runs it elsewhere (a broker's worker that took
        the ticket over) numbered it anew. Returns what stamps its events from now on."""
        state = self.state
        state.attempt, state.outcome = number, None
        state.ev = EventFactory(state.ticket.id, number, clock=self.run.clock)
        return state.ev


class AttemptRunner(Protocol):
    """Where a run's attempts run (see the module docstring)."""

    async def run_attempt(self, attempt: Attempt) -> None:
        """Run `attempt` to its end, saying each of its events through `attempt.emit`, its
        `AttemptStarted` first and its `AttemptEnded` last. Cancelled (a person, a budget, the process
        stopping), it stops what runs the attempt; the scheduler says the attempt's end then."""
        ...
