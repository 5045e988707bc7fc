"""A run: every ticket of a tickets file, scheduled concurrently and fanned out to the consumers.

Tickets run up to `max_concurrency` at a time and wait for their `depends_on`; dependents of a
ticket that did not complete end as `skipped`. Each attempt is one asyncio task, so cancelling a
ticket cancels exactly its stream (and closes its connection). Every event goes to every sink in
the order it happened; sinks must be cheap, since text events arrive once per token. What the run
finds out itself (a tournament's check results and verdicts, events.py `RunFact`) goes to the same
sinks (`tell`).

Where an attempt runs is not the scheduler's to know: it hands each attempt to the run's
`AttemptRunner` (attempts.py), here by default (`LocalRunner`, local.py), or a broker's workers.

A completed ticket can be continued: a new attempt sends a follow-up prompt after the whole earlier
conversation (answers, tool calls and results). A running one can be steered or sent a queued
message (run/steering.py): a queued message is such a follow-up, sent once the turn completes. A
resumed run starts from `Earlier` states (what the history recorded) and runs nothing until a
ticket is retried or continued.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from lfgtui.config.load import DEFAULT_DISK_RESERVE_MB
from lfgtui.cost.metrics import MetricsBook
from lfgtui.cost.prices import format_usd
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    ContextUsed,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    HeldMessage,
    Holding,
    Outcome,
    ReasoningDelta,
    RequestSent,
    RunFact,
    SessionOpened,
    Status,
    SteerOffer,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolResult,
    Usage,
)
from lfgtui.providers.kinds import kind_of
from lfgtui.providers.registry import Providers
from lfgtui.run.approvals import Approvals
from lfgtui.run.attempts import Attempt, AttemptRunner, Earlier, TicketState, no_trace_context
from lfgtui.run.decisions import (
    children,
    counted,
    decision,
    forbidden,
    live_children,
    over_budget,
    paced,
    refused_lead,
    too_soon,
)
from lfgtui.run.failover import has_next, moved, moves_on, on_link
from lfgtui.run.fork import CannotFork, cut_said, fork_id, forked
from lfgtui.run.local import LocalRunner
from lfgtui.run.ratelimit import Limiters
from lfgtui.run.requests import Added, Refusal, Request, Told
from lfgtui.run.steer_words import held_to_steer
from lfgtui.run.steering import MAX_HELD, still_unsent, summary, unfit
from lfgtui.surrogates import mended, said
from lfgtui.tickets.ticket import PromptTooLong, Ticket, render_prompt

if TYPE_CHECKING:
    from lfgtui.cost.prices import PriceBook
    from lfgtui.run.agents.launch import LeadDoor
    from lfgtui.run.agents.session.agent import AgentSession
    from lfgtui.run.decisions import Admits

Sink = Callable[[Event], None]
F = TypeVar("F", bound=RunFact)


class Recording(Protocol):
    """A sink that records the run under an id of its own (the history's `RunHistory`)."""

    run_id: str
    calibration: Mapping[tuple[str, str], float]
    """Tokens per character of (provider, model)'s output by the earlier runs' counts."""

    def __call__(self, event: Event) -> None: ...

    def add_ticket(self, ticket: Ticket, lead: str | None = None) -> None:
        """Record a ticket the run took on while it ran (a fork; one `lead` added), before its events."""
        ...

    def held_dropped(self, ticket_id: str, attempt: int, said: str) -> None:
        """Record that the person dropped what `attempt` held, unsent, when the run stopped (held.py)."""
        ...


COSTLY = (Usage, ContextUsed, CallEnded, ToolCallReady, ToolResult)
"""Events after which a budget is checked: a cost changes with usage (a coding agent's own report of
it included), and between them a long answer
or a tool call's arguments stream in: those are checked every `CHECK_EVERY` chunks, on the estimate."""
STREAMED = (TextDelta, ReasoningDelta, ToolCallArgsDelta)
CHECK_EVERY = 64
logger = logging.getLogger(__name__)


class Run:
    def __init__(
        self,
        tickets: tuple[Ticket, ...],
        providers: Providers,
        approvals: Approvals,
        sinks: list[Sink],
        max_concurrency: int = 8,
        tool_env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        earlier: Mapping[str, Earlier] | None = None,
        keep_agents: bool = False,
        worktrees: Path | None = None,
        prices: PriceBook | None = None,
        max_cost_usd: float | None = None,
        disk_reserve_mb: int = DEFAULT_DISK_RESERVE_MB,
        runner: AttemptRunner | None = None,
        again: Collection[str] = (),
    ) -> None:
        self.states = {ticket.id: TicketState(ticket) for ticket in tickets}
        for ticket_id, seed in (earlier or {}).items():
            self.states[ticket_id].seed(seed)
        self._seeded = frozenset(earlier or ())
        self._held = {ticket.id for ticket in tickets if ticket.judges is not None}
        """Tickets that start only when `release`d: a tournament's judge, once its contestants are done."""
        self._again = tuple(again)
        self.providers = providers
        self.approvals = approvals
        self.sinks = sinks
        self.tool_env = dict(tool_env or {})
        self.clock = clock
        self._slots = asyncio.Semaphore(max_concurrency)
        self.agents: dict[str, AgentSession] | None = {} if keep_agents else None
        """Coding-agent sessions whose attempt completed, kept for a follow-up (where one can come)."""
        self.live_agents: dict[str, AgentSession] = {}
        """Coding-agent sessions whose turn runs, by ticket (where a sub-agent's cancel goes)."""
        self.run_id = secrets.token_hex(6)
        """Names the run's worktree branches; the history sets it to the id it records the run under."""
        self.worktrees = worktrees
        """The folder that holds the run's worktrees (None: the user data folder's, see worktrees.py)."""
        self.limiters = Limiters(providers.configs, clock=clock)
        """Each provider's limits, shared by all its tickets (and told of a 429 by any of them)."""
        self.book = MetricsBook(prices=prices)
        """Every attempt's metrics and cost, kept before any sink sees the event (sinks may read it)."""
        self.max_cost_usd = max_cost_usd
        """The run's budget: reaching it ends every running ticket (failed, `budget`)."""
        self.disk_reserve_mb = disk_reserve_mb
        """A boxed ticket here is stopped where its disk has less free (run/disk_guard.py; 0: never)."""
        self.runner: AttemptRunner = runner or LocalRunner()
        """Where the attempts run (attempts.py): here by default, or on a broker's workers."""
        self.recording: Recording | None = None
        """What records the run (`record`)."""
        self.trace_context: Callable[[str, int], dict[str, str]] = no_trace_context
        """The W3C trace context (`traceparent`, ...) of an attempt's open request, for a coding agent's
        prompt to carry so its own spans nest under lfg's: set by `--otel` (telemetry/spans.py)."""
        self._facts = itertools.count()
        """Numbers the run's facts (`tell`)."""
        self._fanning = 0
        """How deep in fanning an event out to the sinks the run is (a sink may make the run say more)."""
        self._later: list[RunFact] = []
        """Facts told while an event was being fanned out: said once it has reached every sink."""
        self.added: list[Callable[[Ticket], None]] = []
        """Told of each ticket the run takes on while it runs (a fork, a synthesis) before its first
        event: the server that describes the run to its watchers."""
        self.readers: list[Callable[[str], None]] = []
        """Told each time the person looks at a ticket in the TUI (zooms its pane, opens its diff, reads
        its answer to the end): the broker's run index counts the ended tickets not yet read."""
        self.pauses = False
        """Whether a person is here to resume a ticket on_quota = "pause" paused (the TUI says so)."""
        self.admits: Admits | None = None
        """What checks a ticket asked to be added while the run runs (run/decisions.py `Admits`): set
        by `lfg run`, which loaded its tickets file; None: the run takes no new tickets."""
        self.added_keys: dict[tuple[str, str], Added] = {}
        """What each add-ticket's idempotency key added, by whose keys it is among (a lead's, or the
        person's) and the key: asked again, it adds nothing. Kept for the life of this process (a
        resumed run starts with none)."""
        self._refused: dict[tuple[str, str], int] = {}
        """How many changes of a held message each (ticket, asker) had refused: said the 1st, 2nd, 4th,
        8th... time, with the count, so a watcher retrying refused edits cannot flood the ticket's
        events (the pane's hold line shows the latest said)."""
        self.parents: dict[str, str] = {}
        """The lead (`lead = true`) that added each ticket a lead added, by the ticket's id: what the
        lead may reach (run/decisions.py `forbidden`), and what stops with it (`cancel`)."""
        self._uncounted_said: set[str] = set()
        """The tickets a lead's pane said its budget counted nothing of (`_uncounted`): said once."""
        self.lead_paces: dict[str, collections.deque[float]] = {}
        """When each lead added a ticket or sent a message in the last minute, on the run's clock: its
        `lead_max_per_minute` (run/decisions.py `paced`)."""
        self.open_until: asyncio.Event | None = None
        """For a run kept open for new tickets (`lfg run --open`): set when the person ends it (a
        signal, or the `end` request), after which it takes no ticket and ends once those at work
        have; None: it ends when its tickets have ended (run/decisions.py `_end`)."""
        self.lead_doors: dict[str, LeadDoor | str] = {}
        """Each lead ticket's way to this run (remote/leads.py `serving_leads`): its session's MCP
        server, its socket and token, or why it could not be served one (in one line). A lead
        without one fails at start, saying so."""
        self.steers_only = False
        """Whether a steer with no safe point is refused rather than queued: on a broker's worker,
        whose coordinator sends the ticket's next turns (run/decisions.py `_steer`)."""

    def record(self, recording: Recording) -> None:
        """Feed `recording` before every other sink, and take the id it records the run under (the
        worktree branches are named after it)."""
        self.run_id = recording.run_id
        self.recording = recording
        self.book.calibration.seed(recording.calibration)
        self.sinks.insert(0, recording)

    def start(self) -> None:
        """Start every ticket, except those a resumed run was seeded with: of those, only the ones
        it was told to run `again` (attempts a coordinator before left open, retried first)."""
        for ticket_id in self._again:
            self.retry(ticket_id)
        for state in self.states.values():
            if state.ticket.id not in self._seeded and state.ticket.id not in self._held:
                state.task = asyncio.create_task(self._ticket(state), name=f"ticket {state.ticket.id}")

    async def wait(self) -> dict[str, Outcome]:
        """Wait until no ticket is running (retries started meanwhile included); return the outcomes."""
        while running := [s.task for s in self.states.values() if s.task is not None and not s.task.done()]:
            await asyncio.wait(running)
        return {tid: s.outcome or Outcome.CANCELLED for tid, s in self.states.items()}

    async def close_agents(self) -> None:
        """End the coding agents kept for follow-ups, all at once: each may take seconds to exit."""
        kept, self.agents = self.agents or {}, None
        await asyncio.gather(*(session.close() for session in kept.values()))

    def cancel(self, ticket_id: str, why: str | None = None, *, keep_tickets: bool = False) -> bool:
        """Cancel a running ticket; `why` (who asked, from elsewhere) is said in its events first. A
        lead's unfinished tickets stop with it (`_with_lead`), unless the person at this terminal
        chose to keep them running (`keep_tickets`: ui/run/handle.py `LocalHandle.cancel` asks)."""
        state = self.states[ticket_id]
        if not state.running:
            return False
        if why is not None and state.ev is not None:
            self._emit(state, state.ev(Status, message=why))
        assert state.task is not None
        state.task.cancel()
        if not keep_tickets:
            self._with_lead(state)
        elif (kept := live_children(self, ticket_id)) and state.ev is not None:
            self._emit(state, state.ev(Status, message=f"its tickets keep running: {', '.join(kept)}"))
        return True

    def _with_lead(self, lead: TicketState) -> None:
        """A lead stopped, by a person or by lfg (a budget): every ticket it added that has not ended,
        at work or still waiting to start (its `depends_on`, a slot), is cancelled with it, saying so,
        and the lead says which. Those lfg stops otherwise already (a budget) are left to that."""
        stopping = [child for child in live_children(self, lead.ticket.id) if self.states[child].stop is None]
        if not stopping:
            return
        if lead.ev is not None:
            self._emit(lead, lead.ev(Status, message=f"its tickets stop with it: {', '.join(stopping)}"))
        for child in stopping:
            self.cancel(child, f"cancelled with its lead {lead.ticket.id}")

    def ask(self, request: Request, who: str) -> Told | Awaitable[Told]:
        """A person's request of the run, from `who` (`YOU` at this terminal, a watcher's address, a
        coordinator's name), decided as run/decisions.py `DECISIONS` says: None once done, else the
        `Refusal` saying why not. What must reach where the attempt runs and be answered from there (a
        sub-agent's cancel on a coordinated run) answers once it has: an awaitable of the same."""
        if (whole := mended(request)) is not request:  # a person's text that UTF-8 cannot hold
            said(f"{type(request).__name__} from {who}", request)
            request = whole
        ticket = getattr(request, "ticket", None)
        if isinstance(ticket, str) and ticket not in self.states:
            return Refusal(f"the run has no ticket {ticket!r}")
        if (why := forbidden(self, request, who)) is not None:
            return refused_lead(self, who, why)
        times = paced(self, request, who)
        if times is not None and (why := too_soon(self, who, times)) is not None:
            return Refusal(why)
        told = decision(request).decide(self, request, who)
        return told if times is None else counted(self, who, times, told)

    def cancel_all(self) -> None:
        for ticket_id in self.states:
            self.cancel(ticket_id)

    def retry(self, ticket_id: str, why: str | None = None) -> bool:
        """Start a new attempt of a ticket that ended without completing; earlier attempts are kept.
        `why` (who asked, from elsewhere) is said in the new attempt's events, after its prompt."""
        state = self.states[ticket_id]
        if state.running or state.outcome is Outcome.COMPLETED or ticket_id in self._held:
            return False
        state.why = why
        state.link, state.ticket = 0, state.written  # a retry starts again from the first link
        self._launch(state, "retry")
        return True

    def resume(self, ticket_id: str) -> bool:
        """Resume a ticket on_quota = "pause" paused; False when it is not paused."""
        paused = self.states[ticket_id].paused
        if paused is None or paused.is_set():
            return False
        paused.set()
        return True

    def retry_all(self) -> list[str]:
        """Retry every ticket that ended without completing (or never started); returns their ids."""
        return [ticket_id for ticket_id in self.states if self.retry(ticket_id)]

    def steer(self, ticket_id: str, text: str, by: str = "you") -> str | None:
        """Put `text` into the ticket's running turn at its next safe point (run/steering.py); one
        whose attempt has none left gets it queued as its next turn instead, saying so. None when
        held, else why not, for the person. `by`: who sent it."""
        return self._hold(ticket_id, text, True, by)

    def queue(self, ticket_id: str, text: str, by: str = "you") -> str | None:
        """Send `text` as the running ticket's next turn once this one completes (run/steering.py):
        None when held, else why not, for the person. `by`: who sent it."""
        return self._hold(ticket_id, text, False, by)

    def unqueue(self, ticket_id: str, message_id: int, by: str = "you") -> str | None:
        """Take a held message back, unsent: None when done, else why not."""
        state = self.states.get(ticket_id)
        if state is None:
            return f"the run has no ticket {ticket_id!r}"
        message = state.inbox.remove(message_id) if state.running else None
        if message is None:
            return self._not_held(state, message_id, "take-back", by)
        self._holding(state, f"taken back by {by}: {summary(message)}")
        return None

    def edit_queued(self, ticket_id: str, message_id: int, text: str, by: str = "you") -> str | None:
        """Change a held message's words, keeping its place: None when done, else why not."""
        if (problem := unfit(text, "message")) is not None:
            return problem
        state = self.states.get(ticket_id)
        if state is None:
            return f"the run has no ticket {ticket_id!r}"
        message = state.inbox.edit(message_id, text) if state.running else None
        if message is None:
            return self._not_held(state, message_id, "edit", by)
        self._holding(state, f"edited by {by}: {summary(message)}")
        return None

    def _not_held(self, state: TicketState, message_id: int, verb: str, by: str) -> str:
        """Why a held message cannot be changed (sent already, taken back, or its ticket ended), said
        in the ticket's events too while its attempt runs (`Holding`: the pane's hold line): an
        asker's change never vanishes unsaid, and the same one refused again is counted (`_refused`)."""
        name = state.ticket.id
        if state.running:
            problem = f"{name} holds no message {message_id}: it was sent already, or taken back"
        else:
            outcome = state.outcome
            ended = "is not running" if outcome is None else f"has ended ({outcome.value})"
            problem = (
                f"{name} {ended}: it holds no message {message_id} any more (each was sent, or said "
                "unsent, as its turn ended)"
            )
        times = self._refused[name, by] = self._refused.get((name, by), 0) + 1
        if state.ev is not None and state.live and times & (times - 1) == 0:  # the 1st, 2nd, 4th, 8th...
            so_far = "" if times == 1 else f" ({times} of {by}'s changes refused so far)"
            self._holding(state, f"{verb} by {by} refused{so_far}: {problem}")
        return problem

    def steerable(self, ticket_id: str) -> bool:
        """Whether a steer sent now would wait for a safe point of the running turn (else it is queued)."""
        state = self.states.get(ticket_id)
        return state is not None and state.running and state.inbox.steerable

    def steer_kept(self, ticket_id: str) -> str:
        """Why a steer sent now would be kept until the ticket's coding agent goes on after the
        person's answer to its request, or until the tool call it began has run, rather than sent at
        once ("": it would be sent; `Inbox.keeps`)."""
        keeps = self.states[ticket_id].inbox.keeps if ticket_id in self.states else None
        return keeps() if self.steerable(ticket_id) and keeps is not None else ""

    def _hold(self, ticket_id: str, text: str, steer: bool, by: str) -> str | None:
        state = self.states.get(ticket_id)
        if state is None:
            return f"the run has no ticket {ticket_id!r}"
        if (
            problem := self._unreachable(state) or unfit(text, "steer" if steer else "queued message")
        ) is not None:
            return problem
        if len(state.inbox.held) + len(state.left_held) >= MAX_HELD:
            if state.left_held:  # each later attempt says them all: kept bounded as held ones are
                return (
                    f"{ticket_id} holds {MAX_HELD} messages already, {len(state.left_held)} of them left "
                    "unsent by an attempt that did not complete: send or drop those first (r, lfg resume)"
                )
            return f"{ticket_id} holds {MAX_HELD} messages already: take one back, or wait for one to be sent"
        steered = steer and state.inbox.steerable
        if steer and not steered and self.steers_only:
            return f"{ticket_id} has no safe point to steer at on this worker: its coordinator queues it"
        message = state.inbox.hold(text, steered, by)
        if steered:
            said = held_to_steer(message, state.inbox.offer)
        elif steer:
            state.inbox.were_steers.add(message.id)
            said = (
                f"steer from {by} queued as the next turn: {ticket_id} has no safe point to steer at "
                "(an API ticket's tool loop has one between rounds; a coding agent, only if it takes "
                f"ACP steering): {summary(message)}"
            )
        else:
            said = f"queued by {by} as the next turn: {summary(message)}"
        self._holding(state, said)
        return None

    def _unreachable(self, state: TicketState) -> str | None:
        """Why nothing can be sent to the ticket now, or None while its turn runs."""
        name, ended = state.ticket.id, state.outcome
        if state.running and state.ev is None:
            return f"{name} has not started yet: send once its attempt has begun"
        if state.running and (state.live or ended in (None, Outcome.COMPLETED)):
            return None
        if state.running:  # between an attempt that did not complete and the next link's
            return f"{name}'s attempt ended {ended.value}: send once its next attempt has started"
        if state.outcome is Outcome.CANCELLED:
            return f"{name} was cancelled: nothing more is sent to it (retry it first)"
        if state.outcome is Outcome.COMPLETED:
            return f"{name} has ended: send it a follow-up instead"
        if state.outcome is None:
            return f"{name} is not running"
        return f"{name} has ended ({state.outcome.value}): retry it first"

    def _holding(
        self, state: TicketState, said: str, now: bool = False, unsent: tuple[HeldMessage, ...] = ()
    ) -> None:
        """Say what the ticket holds now (`Holding`), and what changed: in the attempt under way, or
        (between attempts) once the next has started; `now`: in the attempt about to end, which did
        not send `unsent`."""
        if state.ev is not None and (state.live or now):
            held = tuple(state.inbox.held)
            if not self.steers_only:  # a worker's unsent are its coordinator's to send (`_emit_far`)
                unsent = (*state.left_held, *(m for m in unsent if m not in state.left_held))
            self._emit(state, state.ev(Holding, message=said, held=held, unsent=unsent))
        else:
            state.inbox.tell(said)

    def _turn_ends(self, state: TicketState, ended: AttemptEnded) -> None:
        """Before the attempt's end is said: the steers no safe point took are queued as next turns;
        a turn that did not complete, with no fallback attempt to follow, sends nothing more, and
        says what it held."""
        inbox, name = state.inbox, state.ticket.id
        if ended.outcome is Outcome.COMPLETED and self.steers_only:  # a worker: its coordinator's turns
            handed = inbox.drop_all()
            words = "; ".join(summary(m) for m in handed)
            said = f"handed back to the coordinator, which sends each as {name}'s next turn: {words}"
            self._holding(state, said, now=True, unsent=tuple(handed))
            return
        if ended.outcome is Outcome.COMPLETED:
            if missed := inbox.steers_to_queue():
                said = f"{len(missed)} steer(s) came after the last tool round: each sent as a next turn"
                self._holding(state, said, now=True)
            return
        failing_over = (
            ended.outcome is Outcome.FAILED
            and state.stop is None
            and moves_on(ended.error)
            and has_next(state.written, state.link)
        )
        if failing_over:  # the turn goes on, on the ticket's next link: its steers are replayed there
            return
        dropped = inbox.drop_all()
        unsent = "; ".join(f"{'steer' if m.steer else 'queued'} from {m.by}: {m.text}" for m in dropped)
        said = f"not sent, since {name} ended {ended.outcome.value}: {unsent}"
        if not self.steers_only:
            state.left_held = (*state.left_held, *dropped)
            said += " (kept for the ticket: a retry in the TUI or lfg resume offers them)"
        self._holding(state, said, now=True, unsent=tuple(dropped))

    def _next_turn(self, state: TicketState) -> HeldMessage | None:
        """After a turn that completed: the first message queued for the next (None: none)."""
        if state.outcome is not Outcome.COMPLETED or not state.conversation:
            return None
        message = state.inbox.next_queued()
        if message is not None:
            state.inbox.tell(f"sending the next turn, {state.inbox.sent_by(message)}: {summary(message)}")
        return message

    def can_continue(self, ticket_id: str) -> bool:
        state = self.states[ticket_id]
        return not state.running and state.outcome is Outcome.COMPLETED and bool(state.conversation)

    def continue_with(self, ticket_id: str, follow_up: str, why: str | None = None) -> bool:
        """Start a new attempt that sends `follow_up` after the latest attempt's whole conversation.
        `why` (who sent it, from elsewhere) is said in the new attempt's events, after its prompt."""
        if not follow_up.strip() or not self.can_continue(ticket_id):
            return False
        state = self.states[ticket_id]
        state.base, state.follow_up, state.continues = state.conversation, follow_up, state.attempt
        state.why = why
        state.inbox.landed = []  # a new turn: no steer of the one before is replayed
        self._launch(state, "follow-up")
        return True

    def follow_up(
        self, ticket_id: str, follow_up: str, why: str | None = None, by: str = "you"
    ) -> str | None:
        """`continue_with`, saying why the follow-up cannot be sent (None: it was); to a ticket still
        working, it is queued as its next turn (`queue`, sent by `by`)."""
        if self.states[ticket_id].running:
            return self.queue(ticket_id, follow_up, by)
        if not follow_up.strip():
            return "a follow-up needs some text"
        if not self.continue_with(ticket_id, follow_up, why):
            return (
                f"{ticket_id} cannot take a follow-up: its latest attempt did not complete (retry it first)"
            )
        return None

    def add(self, ticket: Ticket, why: str | None = None, *, record: bool = False) -> None:
        """Start a ticket the run did not have (a tournament's synthesis, an add-ticket): every sink
        hears its events as any ticket's, so whoever shows or records the run is told of it first.
        `why` (who asked, from elsewhere) is said in its first attempt's events, after its prompt;
        `record`: the history records the ticket here (a synthesis is recorded as one by its starter)."""
        if ticket.id in self.states:
            raise ValueError(f"the run already has a ticket {ticket.id}")
        self.states[ticket.id] = state = TicketState(ticket)
        state.why = why
        if record and self.recording is not None:
            self.recording.add_ticket(ticket, self.parents.get(ticket.id))
        for told in self.added:
            told(ticket)
        self._launch(state, "added")

    def release(self, ticket_id: str, prompt: str) -> bool:
        """Start a new attempt of a held ticket (a tournament's judge), unless it is running, on
        `prompt`, which becomes its prompt from now on (a retry asks it again)."""
        state = self.states[ticket_id]
        if state.running:
            return False
        self._held.discard(ticket_id)
        state.ticket = state.written = replace(state.written, prompt=prompt)
        state.base, state.follow_up, state.continues, state.link = (), None, None, 0
        state.inbox.landed = []
        self._launch(state, "released")
        return True

    def looked(self, ticket_id: str) -> None:
        """The person looked at the ticket (see `readers`)."""
        for reader in self.readers:
            reader(ticket_id)

    def fork(self, ticket_id: str, prompt: str, model: str | None = None, at: int | None = None) -> Ticket:
        """Start a fork of a completed ticket (run/fork.py): a new ticket of this run that sends
        `prompt` after the ticket's whole conversation, or after its user turn `at`; returns it.
        Raises CannotFork."""
        written = self.states[ticket_id].written
        if written.isolation == "worktree" and not isinstance(self.runner, LocalRunner):
            raise CannotFork(f"{ticket_id}'s worktree is on a worker: a coordinated run cannot fork it yet")
        if written.isolation == "worktree" and self.states[ticket_id].outcome is Outcome.COMPLETED:
            from lfgtui.worktrees.tree import work_gone, worktrees_root

            root = self.worktrees or worktrees_root()
            gone = work_gone(self.states[ticket_id].worktree, root, self.run_id, ticket_id)
            if gone is not None:
                raise CannotFork(f"{ticket_id}'s work is gone: {gone}")
        parent = self.states[ticket_id]
        state = forked(parent, fork_id(ticket_id, self.states), prompt, model, at)
        if state.ticket.fork_turn is not None:  # said in its pane and events once it starts
            agent = kind_of(self.providers.configs[state.ticket.provider]).coding_agent
            state.why = cut_said(parent, state.ticket.fork_turn, agent)
        self.states[state.ticket.id] = state
        if self.recording is not None:
            self.recording.add_ticket(state.ticket)
        for told in self.added:
            told(state.ticket)
        self._launch(state, "fork")
        return state.ticket

    def _launch(self, state: TicketState, why: str) -> None:
        state.finished.clear()
        state.outcome = None
        state.task = asyncio.create_task(self._ticket(state), name=f"ticket {state.ticket.id} {why}")

    def _emit_far(self, state: TicketState, event: Event) -> None:
        """An event of an attempt a worker runs (`far` runner). What the worker's run hands back
        unsent as the turn ends (a steer its agent turned down mid-turn, queued there; one that came
        after the last tool round) is this run's to send as the next turn, as a worker never starts a
        turn of its own: held here, queued, before the attempt's end comes; the end decides, as for a
        turn run here (sent as the next turn once it completed, replayed on a fallback, else unsent)."""
        self._emit(state, event)
        if isinstance(event, Holding) and event.unsent and state.live:  # the worker said so already
            for message in event.unsent:
                state.inbox.hold(message.text, False, message.by)

    def _emit(self, state: TicketState, event: Event) -> None:
        started = False
        match event:
            case TextDelta(text=text):  # first: once per token
                state.answer_parts.append(text)
            case RequestSent():
                state.answer_parts = []
            case SessionOpened(session_id=session_id):
                state.agent_session = session_id
            case SteerOffer():
                state.inbox.offer = event
            case AttemptStarted():
                state.live = started = True
            case AttemptEnded(outcome=outcome, error=error):
                if state.inbox.held:
                    self._turn_ends(state, event)
                state.live, state.inbox.offer = False, None
                state.outcome, state.error = outcome, error
                state.answer = "".join(state.answer_parts)
                if outcome is Outcome.COMPLETED:
                    state.conversation = tuple(state.transcript)
        self._fan_out(event)
        if isinstance(event, AttemptEnded) and not state.written.lead:
            self._uncounted(state)
        if started and (note := state.inbox.take_note()) is not None:  # what changed since the last
            self._holding(state, note)
        elif started and state.left_held and not self.steers_only:  # its record must say them too
            self._holding(state, still_unsent(state.left_held))
        budgeted = state.ticket.max_cost_usd is not None or self.max_cost_usd is not None
        if not budgeted and self._lead_budget(state) is None:
            return
        if isinstance(event, COSTLY):
            self._check_budgets(state)
        elif isinstance(event, STREAMED):
            state.streamed += 1
            if state.streamed % CHECK_EVERY == 0:
                self._check_budgets(state)

    def _fan_out(self, event: Event) -> None:
        """`event` to the metrics book, then to every sink in order; then the facts told meanwhile."""
        self.book(event)
        self._fanning += 1
        try:
            for sink in self.sinks:
                sink(event)
        finally:
            self._fanning -= 1
        if self._later and not self._fanning:
            later, self._later = self._later, []
            for fact in later:
                self._fan_out(fact)

    def tell(self, fact: type[F], ticket: str, attempt: int, **fields: Any) -> F:
        """Say a fact of the run (events.py `RunFact`: a check's result, a verdict) about `ticket`'s
        `attempt` (0: none) to every sink, as any event is said, numbered among the run's facts and
        timed on its clock now. Told while an event is being fanned out (a verdict decided on an
        attempt's end), it follows that event, so every sink hears the end first."""
        said = fact(ticket=ticket, attempt=attempt, seq=next(self._facts), t=self.clock(), **fields)
        if self._fanning:
            self._later.append(said)
        else:
            self._fan_out(said)
        return said

    def _check_budgets(self, state: TicketState) -> None:
        """End the ticket once it has cost its `max_cost_usd`, every running one once the run has cost
        the run's; an estimate counts, so a budget holds before the provider reports usage."""
        ticket, metrics = state.ticket, self.book.attempts.get((state.ticket.id, state.attempt))
        cost = None if metrics is None else metrics.cost_usd
        if ticket.max_cost_usd is not None and cost is not None and cost >= ticket.max_cost_usd:
            spent = format_usd(cost, metrics is not None and metrics.cost_estimated)
            limit = f"${ticket.max_cost_usd:g}"
            why = f"this attempt cost {spent}, reaching the ticket's max_cost_usd {limit}"
            self._stop(state, Outcome.FAILED, ErrorInfo(ErrorKind.BUDGET, why))
        if self.max_cost_usd is not None:
            total, estimated = self.book.cost_usd()
            if total is not None and total >= self.max_cost_usd:
                spent, limit = format_usd(total, estimated), f"${self.max_cost_usd:g}"
                why = ErrorInfo(
                    ErrorKind.BUDGET, f"the run cost {spent}, reaching [run] max_cost_usd {limit}"
                )
                for other in sorted(self.states.values(), key=lambda s: s.written.lead):  # leads last
                    self._stop(other, Outcome.FAILED, why)  # so each fails on the budget, not with its lead
        lead = self._lead_budget(state)
        if lead is not None and (over := over_budget(self, lead)) is not None:
            why = ErrorInfo(ErrorKind.BUDGET, over)
            for child in children(self, lead):  # first: each fails on the budget, not with its lead
                self._stop(self.states[child], Outcome.FAILED, why)
            self._stop(self.states[lead], Outcome.FAILED, why)

    def _uncounted(self, state: TicketState) -> None:
        """Say once in a lead's pane that its `lead_budget_usd` counted nothing of an attempt of a
        ticket it added: a coding agent that reported no cost (`$?`; run/decisions.py `_unpriced`
        refuses any other ticket with no price under a budget)."""
        lead = self._lead_budget(state)
        metrics = self.book.attempts.get((state.ticket.id, state.attempt))
        if lead is None or metrics is None or not metrics.requests or metrics.cost_usd is not None:
            return
        boss = self.states[lead]
        if boss.ev is None or not boss.live or state.ticket.id in self._uncounted_said:
            return
        self._uncounted_said.add(state.ticket.id)
        budget = f"lead_budget_usd ${boss.written.lead_budget_usd:g}"
        said = f"{budget} counted nothing of {state.ticket.id}: its agent reported no cost ($?)"
        self._emit(boss, boss.ev(Status, message=said))

    def _lead_budget(self, state: TicketState) -> str | None:
        """The lead whose `lead_budget_usd` the ticket's cost counts against (itself, or the lead that
        added it), when that lead has one."""
        lead = state.ticket.id if state.written.lead else self.parents.get(state.ticket.id)
        return lead if lead is not None and self.states[lead].written.lead_budget_usd is not None else None

    def fail(self, ticket_id: str, why: ErrorInfo) -> None:
        """End the ticket's running attempt failed with `why`, what it did kept (as a budget does)."""
        self._stop(self.states[ticket_id], Outcome.FAILED, why)

    def interrupt(self, ticket_id: str, why: ErrorInfo) -> None:
        """Cancel a running ticket so that it ends `interrupted` (its output kept): the process running
        it is stopping, and the attempt is for someone else to run again, not cancelled by a person."""
        self._stop(self.states[ticket_id], Outcome.INTERRUPTED, why)

    def _stop(self, state: TicketState, outcome: Outcome, why: ErrorInfo) -> None:
        """Cancel a running ticket so that it ends `outcome` with `why` (its output is kept); a lead's
        unfinished tickets stop with it (`_with_lead`)."""
        if state.running and state.stop is None:
            state.stop = outcome, why
            assert state.task is not None
            state.task.cancel()
            self._with_lead(state)

    async def _ticket(self, state: TicketState) -> None:
        """Run the ticket's turn and then, while the person queued more (run/steering.py) and each
        turn completes, each as a follow-up of the turn before; done once no attempt follows."""
        try:
            await self._turn(state)
            while (queued := self._next_turn(state)) is not None:
                state.base, state.follow_up, state.continues = state.conversation, queued.text, state.attempt
                state.why = state.inbox.sent_by(queued)
                await self._turn(state)
        finally:
            state.finished.set()

    async def _turn(self, state: TicketState) -> None:
        """Run an attempt and, while one fails in a way the ticket's next link may not, an attempt on
        that link (run/failover.py)."""
        await self._one_attempt(state)
        while (
            state.outcome is Outcome.FAILED
            and state.stop is None
            and moves_on(state.error)
            and has_next(state.written, state.link)
        ):
            assert state.error is not None
            state.link += 1
            state.ticket = on_link(state.written, state.link)
            state.why = moved(state.written, state.link, state.error)
            await self._one_attempt(state)

    async def _one_attempt(self, state: TicketState) -> None:
        state.attempt += 1
        state.stop = None
        state.ev = ev = EventFactory(state.ticket.id, state.attempt, clock=self.clock)
        if state.inbox.landed:  # the turn's attempt before was steered: this one is, at its own safe points
            state.inbox.replay()
            self._holding(
                state, f"the steers of attempt {state.attempt - 1} held again, sent as it sent them"
            )
        try:
            follow_up = state.follow_up is not None  # its conversation already holds what it depended on
            unfinished = [] if follow_up else [self.states[d] for d in state.ticket.depends_on]
            for dependency in unfinished:
                await dependency.finished.wait()
            failed = [d.ticket.id for d in unfinished if d.outcome is not Outcome.COMPLETED]
            if failed:
                self._emit(state, ev(Status, message=f"skipped: {', '.join(failed)} did not complete"))
                self._emit(state, ev(AttemptEnded, outcome=Outcome.SKIPPED))
                return
            if not self._prompt_fits(state, ev):
                return
            emit = self._emit_far if self.runner.far else self._emit
            async with self._slots:
                await self.runner.run_attempt(Attempt(self, state, functools.partial(emit, state)))
        except asyncio.CancelledError:
            if state.outcome is None:
                outcome, error = (Outcome.CANCELLED, None) if state.stop is None else state.stop
                self._emit(state, state.ev(AttemptEnded, outcome=outcome, error=error))
        except Exception as exc:  # a bug of ours must end this ticket, not the run
            logger.exception("ticket %s failed inside lfg", state.ticket.id)
            if state.outcome is None:
                error = ErrorInfo(ErrorKind.INTERNAL, f"lfg failed: {type(exc).__name__}: {exc}")
                self._emit(state, state.ev(AttemptEnded, outcome=Outcome.FAILED, error=error))

    def _prompt_fits(self, state: TicketState, ev: EventFactory) -> bool:
        """Whether the prompt, its dependencies' answers filled in, is within the cap; when it is not,
        the attempt fails before anything is sent, saying which answer took it past."""
        try:
            self.sent_prompt(state)
        except PromptTooLong as exc:
            ticket = state.ticket
            self._emit(state, ev(AttemptStarted, provider=ticket.provider, model=ticket.model))
            error = ErrorInfo(ErrorKind.BAD_REQUEST, str(exc))
            self._emit(state, ev(AttemptEnded, outcome=Outcome.FAILED, error=error))
            return False
        return True

    def sent_prompt(self, state: TicketState) -> tuple[str, int | None]:
        """What the ticket's current attempt asks and the attempt it continues: its follow-up, or else
        the ticket's prompt with its dependencies' final answers filled in (`answers`)."""
        if state.follow_up is not None:
            return state.follow_up, state.continues
        return render_prompt(state.ticket, self.answers(state.ticket)), None

    def answers(self, ticket: Ticket) -> dict[str, str]:
        """The final answers of the ticket's dependencies, by ticket id."""
        return {d: self.states[d].answer for d in ticket.depends_on}
