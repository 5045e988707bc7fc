"""A run: every ticket of a tickets file, scheduled concurrently and fanned out to the consumers.

Tickets run up to `max_concurrency` at a time and wait for their `depends_on`; dependents of a
ticket that did not complete end as `skipped`. Each attempt is one asyncio task, so cancelling a
ticket cancels exactly its stream (and closes its connection). Every event goes to every sink in
the order it happened; sinks must be cheap, since text events arrive once per token.

A completed ticket can be continued: a new attempt sends a follow-up prompt after the whole earlier
conversation (answers, tool calls and results). A resumed run starts from `Earlier` states (what
the history recorded) and runs nothing until a ticket is retried or continued.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lfgtui.agent import AgentTask, Approve, Toolbox, run_agent
from lfgtui.events import (
    AttemptEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    Outcome,
    RequestSent,
    SessionOpened,
    Status,
    TextDelta,
    ToolCallReady,
)
from lfgtui.providers.base import AssistantMessage, Message, ModelCall, UserMessage
from lfgtui.providers.catalog import AGENT_ENV
from lfgtui.providers.registry import Providers
from lfgtui.tickets import Ticket, render_prompt
from lfgtui.tools import BUILTIN_TOOLS, command_env
from lfgtui.tools.base import ToolContext

if TYPE_CHECKING:
    from lfgtui.acp.attempt import AgentSession

Sink = Callable[[Event], None]
logger = logging.getLogger(__name__)


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

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def seed(self, earlier: Earlier) -> None:
        """Take up where the recorded attempts left off; nothing runs until a retry or a follow-up."""
        self.attempt, self.outcome = earlier.attempts, earlier.outcome
        self.conversation, self.base = earlier.conversation, earlier.base
        self.follow_up, self.continues = earlier.follow_up, earlier.continues
        self.agent_session = earlier.agent_session
        answers = [m for m in earlier.conversation if isinstance(m, AssistantMessage)]
        self.answer = answers[-1].text if answers else ""
        self.finished.set()


class Run:
    def __init__(
        self,
        tickets: tuple[Ticket, ...],
        providers: Providers,
        approver: Callable[[Ticket], Approve],
        sinks: list[Sink],
        max_concurrency: int = 8,
        tool_env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        earlier: Mapping[str, Earlier] | None = None,
        keep_agents: bool = False,
    ) -> None:
        self.states = {ticket.id: TicketState(ticket) for ticket in tickets}
        for ticket_id, seed in (earlier or {}).items():
            self.states[ticket_id].seed(seed)
        self._seeded = frozenset(earlier or ())
        self.providers = providers
        self.approver = approver
        self.sinks = sinks
        self.tool_env = dict(tool_env or {})
        self.clock = clock
        self._slots = asyncio.Semaphore(max_concurrency)
        self.agents: dict[str, AgentSession] | None = {} if keep_agents else None
        """Coding-agent sessions whose attempt completed, kept for a follow-up (where one can come)."""

    def start(self) -> None:
        """Start every ticket, except those a resumed run was seeded with."""
        for state in self.states.values():
            if state.ticket.id not in self._seeded:
                state.task = asyncio.create_task(self._ticket(state), name=f"ticket {state.ticket.id}")

    async def wait(self) -> dict[str, Outcome]:
        """Wait until no ticket is running (retries started meanwhile included); return the outcomes."""
        while running := [s.task for s in self.states.values() if s.task is not None and not s.task.done()]:
            await asyncio.wait(running)
        return {tid: s.outcome or Outcome.CANCELLED for tid, s in self.states.items()}

    async def close_agents(self) -> None:
        """End the coding agents kept for follow-ups."""
        kept, self.agents = self.agents or {}, None
        for session in kept.values():
            await session.close()

    def cancel(self, ticket_id: str) -> bool:
        state = self.states[ticket_id]
        if not state.running:
            return False
        assert state.task is not None
        state.task.cancel()
        return True

    def cancel_all(self) -> None:
        for ticket_id in self.states:
            self.cancel(ticket_id)

    def retry(self, ticket_id: str) -> bool:
        """Start a new attempt of a ticket that ended without completing; earlier attempts are kept."""
        state = self.states[ticket_id]
        if state.running or state.outcome is Outcome.COMPLETED:
            return False
        self._launch(state, "retry")
        return True

    def retry_all(self) -> list[str]:
        """Retry every ticket that ended without completing (or never started); returns their ids."""
        return [ticket_id for ticket_id in self.states if self.retry(ticket_id)]

    def can_continue(self, ticket_id: str) -> bool:
        state = self.states[ticket_id]
        return not state.running and state.outcome is Outcome.COMPLETED and bool(state.conversation)

    def continue_with(self, ticket_id: str, follow_up: str) -> bool:
        """Start a new attempt that sends `follow_up` after the latest attempt's whole conversation."""
        if not follow_up.strip() or not self.can_continue(ticket_id):
            return False
        state = self.states[ticket_id]
        state.base, state.follow_up, state.continues = state.conversation, follow_up, state.attempt
        self._launch(state, "follow-up")
        return True

    def _launch(self, state: TicketState, why: str) -> None:
        state.finished.clear()
        state.outcome = None
        state.task = asyncio.create_task(self._ticket(state), name=f"ticket {state.ticket.id} {why}")

    def _emit(self, state: TicketState, event: Event) -> None:
        match event:
            case RequestSent():
                state.answer_parts = []
            case TextDelta(text=text):
                state.answer_parts.append(text)
            case SessionOpened(session_id=session_id):
                state.agent_session = session_id
            case AttemptEnded(outcome=outcome):
                state.outcome = outcome
                state.answer = "".join(state.answer_parts)
                if outcome is Outcome.COMPLETED:
                    state.conversation = tuple(state.transcript)
        for sink in self.sinks:
            sink(event)

    async def _ticket(self, state: TicketState) -> None:
        state.attempt += 1
        state.ev = ev = EventFactory(state.ticket.id, state.attempt, clock=self.clock)
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
            async with self._slots:
                async for event in await self._attempt(state, ev):
                    self._emit(state, event)
        except asyncio.CancelledError:
            if state.outcome is None:
                self._emit(state, ev(AttemptEnded, outcome=Outcome.CANCELLED))
        except Exception as exc:  # a bug of ours must end this ticket, not the run
            logger.exception("ticket %s failed inside lfg", state.ticket.id)
            if state.outcome is None:
                error = ErrorInfo(ErrorKind.INTERNAL, f"lfg failed: {type(exc).__name__}: {exc}")
                self._emit(state, ev(AttemptEnded, outcome=Outcome.FAILED, error=error))
        finally:
            state.finished.set()

    async def _attempt(self, state: TicketState, ev: EventFactory) -> AsyncIterator[Event]:
        """The events of one attempt: lfg's own agent loop over a model API, or a coding agent (ACP)
        that runs its own loop."""
        state.transcript = []
        ticket = state.ticket
        config = self.providers.configs[ticket.provider]
        if config.kind == "acp":
            from lfgtui.acp.attempt import AgentLaunch, run_acp  # imports the ACP SDK only when needed

            env = command_env(os.environ, (*AGENT_ENV, *config.env, *ticket.env_passthrough), ticket.workdir)
            toolbox = Toolbox(
                {"write_file": BUILTIN_TOOLS["write_file"]}, self._context(ticket), self.approver(ticket)
            )
            kept = None if self.agents is None else self.agents.pop(ticket.id, None)
            if kept is not None and state.follow_up is None:  # not a follow-up: a fresh agent
                await kept.close()
                kept = None
            task = self._task(state)
            load = state.agent_session if state.follow_up is not None else None
            launch = AgentLaunch(config, env)
            return run_acp(launch, task, ev, toolbox, state.transcript, kept, self.agents, load)
        provider = await self.providers.get(ticket.provider)
        return run_agent(provider, self._task(state), ev, self._toolbox(state), transcript=state.transcript)

    def prompt(self, ticket_id: str) -> str:
        """The ticket's prompt with its dependencies' final answers filled in."""
        ticket = self.states[ticket_id].ticket
        return render_prompt(ticket, {d: self.states[d].answer for d in ticket.depends_on})

    def sent_prompt(self, ticket_id: str) -> tuple[str, int | None]:
        """What the current attempt asks (its follow-up, or the prompt) and the attempt it continues."""
        state = self.states[ticket_id]
        if state.follow_up is not None:
            return state.follow_up, state.continues
        return self.prompt(ticket_id), None

    def _task(self, state: TicketState) -> AgentTask:
        ticket = state.ticket
        prompt, _ = self.sent_prompt(ticket.id)
        call = ModelCall(
            model=ticket.model,
            messages=(*state.base, UserMessage(prompt)),
            system=ticket.system,
            tools=tuple(BUILTIN_TOOLS[name].spec for name in ticket.tools),
            max_tokens=ticket.max_tokens,
            temperature=ticket.temperature,
        )
        return AgentTask(call, max_turns=ticket.max_turns, max_output_chars=ticket.max_output_chars)

    def _toolbox(self, state: TicketState) -> Toolbox | None:
        ticket = state.ticket
        if not ticket.tools:
            return None
        tools = {name: BUILTIN_TOOLS[name] for name in ticket.tools}
        return Toolbox(tools, self._context(ticket), self.approver(ticket))

    def _context(self, ticket: Ticket) -> ToolContext:
        return ToolContext(
            workdir=ticket.workdir,
            env=command_env(self.tool_env, ticket.env_passthrough, ticket.workdir),
            allow_git_writes=ticket.allow_git_writes,
        )


def headless_approver(yes: bool) -> Callable[[Ticket], Approve]:
    """Without a person to ask, risky tools run only with `--yes` or the ticket's `auto_approve`."""

    def for_ticket(ticket: Ticket) -> Approve:
        async def approve(call: ToolCallReady) -> str | None:
            name = call.name
            if yes or ticket.auto_approves(name):
                return None
            return (
                f"{name} needs approval and nobody can approve it in a headless run; "
                f"rerun with --yes or add {name!r} to the ticket's auto_approve"
            )

        return approve

    return for_ticket
