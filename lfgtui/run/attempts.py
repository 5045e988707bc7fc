"""Where an attempt runs: the one seam between the scheduler and what runs an attempt.

The scheduler (`scheduler.py`) decides *when* a ticket's attempt runs: after its dependencies,
within the prompt cap, in a concurrency slot; and what follows every event (the ticket's state,
the metrics, the sinks, the budgets). An `AttemptRunner` decides *where* it runs, and says every
event of it through the `Attempt` it is handed:

- `LocalRunner` (`local.py`): on this machine, lfg's own tool loop or a coding agent, in the
  ticket's worktree when it has one (the default);
- `BrokerRunner` (`broker/coordinator.py`): on a worker of a Redis broker, its events adopted from
  the run's event stream as this run's own;
- next: a tournament contestant.

A fork (fork.py) is a ticket of its own whose attempts continue another's conversation: its runner
forks that ticket's (`forks`) agent session and worktree where it can.

A runner uses only what `RunFace` names of the run and the `Attempt` it is handed (the ticket's
`TicketState`, kept here beside it): it never reaches into the scheduler.
An attempt's first event is its `AttemptStarted`, said by its runner: metrics and the history
count the attempt's output times in whole milliseconds from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lfgtui.events import ErrorInfo, Event, EventFactory, HeldMessage, Outcome
from lfgtui.providers.base import AssistantMessage, Message
from lfgtui.run.steering import Inbox
from lfgtui.tickets.ticket import Ticket

if TYPE_CHECKING:
    from lfgtui.cost.metrics import MetricsBook
    from lfgtui.providers.registry import Providers
    from lfgtui.run.agents.session.agent import AgentSession
    from lfgtui.run.approvals import Approvals
    from lfgtui.run.ratelimit import Limiters
    from lfgtui.run.requests import Request, Told
    from lfgtui.worktrees.tree import Worktree


@dataclass(frozen=True)
class Earlier:
    """What a ticket's recorded attempts leave to a resumed run.

    `conversation` is the whole conversation of the latest attempt when it completed (what a
    follow-up continues). `follow_up` and `continues` describe the latest attempt when it was itself
    a continuation, so retrying it asks the same follow-up after the same `base` conversation.
    """

    attempts: int
    outcome: Outcome | None
    conversation: tuple[Message, ...] = ()
    base: tuple[Message, ...] = ()
    follow_up: str | None = None
    continues: int | None = None
    agent_session: str | None = None
    """A coding agent's session id, which a follow-up may load (ACP `session/load`)."""
    steers: tuple[tuple[str, str], ...] = ()
    """The latest attempt's steers (text, who sent it), in order: what a retry of it sends again."""
    held: tuple[HeldMessage, ...] = ()
    """What the ticket held, not sent, when its record ends (the run stopped, or lfg died, while it
    held them): what `lfg resume` offers to send, drop or keep (run/held.py)."""


@dataclass
class TicketState:
    """Where one ticket stands; `answer` is the text of its latest model call.

    The next attempt sends `base` and then `follow_up` (a continuation, of attempt `continues`) or
    else the ticket's prompt; `conversation` is the full conversation of the latest completed attempt.
    """

    ticket: Ticket
    attempt: int = 0
    outcome: Outcome | None = None
    answer_parts: list[str] = field(default_factory=list)
    answer: str = ""
    ev: EventFactory | None = None
    task: asyncio.Task[None] | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    base: tuple[Message, ...] = ()
    follow_up: str | None = None
    continues: int | None = None
    transcript: list[Message] = field(default_factory=list)
    conversation: tuple[Message, ...] = ()
    agent_session: str | None = None
    worktree: Worktree | None = None
    """The git worktree the ticket works in (isolation = "worktree"); its retries work there too."""
    forks: TicketState | None = None
    """For a fork made in this run: the ticket it forked. Its first attempt forks that ticket's coding
    agent session (ACP `session/fork`) where the agent can, and copies its worktree as it is then."""
    stop: tuple[Outcome, ErrorInfo] | None = None
    """How and why lfg itself ended the attempt, when it did: failed on a budget, or interrupted by
    the process running it stopping (a broker worker)."""
    streamed: int = 0
    prepared: list[str] = field(default_factory=list)
    """What making its new worktree ready did (run/prepare.py), said once the attempt has started."""
    why: str | None = None
    """Who asked for the next attempt from elsewhere (`lfg attach`), or why it runs on a fallback,
    said once it has started."""
    error: ErrorInfo | None = None
    """Why the latest attempt failed, when it did."""
    link: int = 0
    """Which of the ticket's links it runs on (run/failover.py): 0 its own provider and model."""
    written: Ticket = field(init=False)
    """The ticket as written; `ticket` is it on its current link."""
    paused: asyncio.Event | None = None
    """Set by the person to resume the ticket, while on_quota = "pause" holds it (`hold`)."""
    live: bool = False
    """An attempt of the ticket has started and not ended: what the run says of it goes in it."""
    inbox: Inbox = field(default_factory=Inbox)
    """The person's steers and queued messages for the ticket, not sent yet (run/steering.py)."""
    left_held: tuple[HeldMessage, ...] = ()
    """The ticket's messages an attempt that did not complete left unsent (cancelled, failed, or lfg
    stopped while it ran; a resumed ticket's from its record): the ticket's, not that attempt's, so
    every later attempt's `Holding` says them and a retry, the TUI and `lfg resume` offer them
    (run/held.py) until they are sent or dropped."""

    def __post_init__(self) -> None:
        self.written = self.ticket

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def hold(self) -> None:
        """Wait, paused, until the person resumes the ticket (`Run.resume`)."""
        self.paused = asyncio.Event()
        try:
            await self.paused.wait()
        finally:
            self.paused = None

    def seed(self, earlier: Earlier) -> None:
        """Take up where the recorded attempts left off; nothing runs until a retry or a follow-up."""
        self.attempt, self.outcome = earlier.attempts, earlier.outcome
        self.conversation, self.base = earlier.conversation, earlier.base
        self.follow_up, self.continues = earlier.follow_up, earlier.continues
        self.agent_session = earlier.agent_session
        self.inbox.after(earlier.held)  # before `took`: no new message takes a number shown for one of them
        self.inbox.took(earlier.steers)
        self.left_held = earlier.held
        answers = [m for m in earlier.conversation if isinstance(m, AssistantMessage)]
        self.answer = answers[-1].text if answers else ""
        self.finished.set()


def no_trace_context(ticket: str, attempt: int) -> dict[str, str]:
    """A run that is not traced has no trace context to pass on."""
    return {}


class RunFace(Protocol):
    """What a runner may use of the run its attempts belong to: the scheduler's `Run` is one. A
    runner reads these and says events through its `Attempt`; it changes nothing else of the run."""

    run_id: str
    providers: Providers
    approvals: Approvals
    book: MetricsBook
    limiters: Limiters
    agents: dict[str, AgentSession] | None
    live_agents: dict[str, AgentSession]
    tool_env: dict[str, str]
    worktrees: Path | None
    max_cost_usd: float | None
    disk_reserve_mb: int
    """`[run] disk_reserve_mb`: a boxed ticket is stopped where its disk has less free (0: never)."""
    clock: Callable[[], float]
    trace_context: Callable[[str, int], dict[str, str]]
    pauses: bool
    """Whether a person can resume a paused ticket (the TUI): where none can, on_quota = "pause"
    waits for the reset instead."""

    def sent_prompt(self, state: TicketState) -> tuple[str, int | None]:
        """What the ticket's current attempt asks, and the attempt it continues."""
        ...

    def answers(self, ticket: Ticket) -> dict[str, str]:
        """The final answers of the ticket's dependencies, by ticket id."""
        ...

    def fail(self, ticket_id: str, why: ErrorInfo) -> None:
        """End the ticket's running attempt failed with `why`, what it did kept (a budget's way)."""
        ...

    def steer(self, ticket_id: str, text: str, by: str = "you") -> str | None:
        """Hold a steer for the ticket (queued as its next turn where its turn has no safe point):
        None when held, else why not. A coordinator's runner holds so a steer its worker refused late."""
        ...


@dataclass
class Attempt:
    """One attempt of a ticket as its runner sees it: the ticket's state, the run it belongs to, and
    how to say its events (through the run: its state, metrics, sinks and budgets follow each one)."""

    run: RunFace
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

    far: bool
    """Whether the attempts run elsewhere (a broker's worker), where a steer must be carried to reach
    the turn's safe point (run/decisions.py `_steer`)."""

    async def run_attempt(self, attempt: Attempt) -> None:
        """Run `attempt` to its end, saying each of its events through `attempt.emit`, its
        `AttemptStarted` first (one that ends before it could start says only its end) and its
        `AttemptEnded` last. Cancelled (a person, a budget, the process stopping), it stops what runs
        the attempt; the scheduler says the attempt's end then."""
        ...

    def reach(self, run: RunFace, state: TicketState, request: Request, who: str) -> Told | Awaitable[Told]:
        """Carry a request that must reach where the ticket's attempt runs (run/decisions.py sends
        those: a sub-agent's cancel, an approval) there, `who` asking: None once carried, else why
        not, in words for the asker; an awaitable of that where the answer comes from afar (a worker
        of a coordinated run)."""
        ...
