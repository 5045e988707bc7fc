"""`LocalRunner`: an attempt run on this machine, the scheduler's default `AttemptRunner`.

lfg's own tool loop over a model API (`tool_loop.py`), or a coding agent that runs its own loop
over ACP (`agents/attempt.py`); in the ticket's git worktree when it has one (made before its
first attempt, its diff kept current while it runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.events import (
    AGENT_STATE_CHANGED,
    AttemptEnded,
    AttemptStarted,
    DiffUpdated,
    ErrorInfo,
    ErrorKind,
    Event,
    Outcome,
    PromptSent,
    Status,
    TextDelta,
    ToolResult,
    WorktreeReady,
)
from lfgtui.providers.base import ModelCall, OnQuota, UserMessage
from lfgtui.providers.catalog import AGENT_ENV
from lfgtui.providers.kinds import kind_of
from lfgtui.providers.sdk_import import import_sdk
from lfgtui.run.disk_guard import Writer, guard
from lfgtui.run.failover import has_next
from lfgtui.run.requests import YOU, Approve, CancelChild, Refusal, Request, Told
from lfgtui.run.retry import RetryPolicy
from lfgtui.run.tool_loop import AttemptTask, run_tool_loop
from lfgtui.tickets.ticket import agent_cut_off
from lfgtui.tools import BUILTIN_TOOLS, command_env, containers
from lfgtui.tools.base import ToolContext
from lfgtui.tools.sandbox import Sandbox, sandbox_of
from lfgtui.tools.toolbox import Approve as ApproveCall
from lfgtui.tools.toolbox import Toolbox

if TYPE_CHECKING:
    from lfgtui.run.agents.launch import LeadDoor
    from lfgtui.run.attempts import Attempt, RunFace, TicketState
    from lfgtui.worktrees.diff_watch import DiffWatch
    from lfgtui.worktrees.tree import DiffStat, Worktree


class LocalRunner:
    """Runs each attempt here (see the module docstring)."""

    far = False

    def reach(self, run: RunFace, state: TicketState, request: Request, who: str) -> Told:
        """Here the run's approvals answer a call, and the coding agent's session whose turn runs asks
        its agent to cancel a sub-agent (`AgentSession.cancel_child`)."""
        if isinstance(request, Approve):
            run.approvals.answer(request.ticket, request.call, request.allowed, who)
            return None
        if not isinstance(request, CancelChild):
            raise TypeError(f"{request.kind} does not reach an attempt")
        session = run.live_agents.get(state.ticket.id)
        if session is None:
            return Refusal(f"{state.ticket.id} runs no coding agent's turn now")
        why = session.cancel_child(request.child, None if who == YOU else who)
        return None if why is None else Refusal(why)

    async def run_attempt(self, attempt: Attempt) -> None:
        if not await self._sandboxed(attempt):
            return
        if attempt.ticket.isolation == "worktree" and not await self._isolate(attempt):
            return
        async with self._guarded(attempt):
            await self._run_events(attempt)

    @staticmethod
    @contextlib.asynccontextmanager
    async def _guarded(attempt: Attempt) -> AsyncIterator[None]:
        """A boxed attempt's writable folders looked after while it runs (run/disk_guard.py), with
        its agent's copy of its own state; an unboxed one may write anywhere, so none is."""
        box = LocalRunner._context(attempt).sandbox
        reserve = attempt.run.disk_reserve_mb
        if box is None or not reserve:
            yield
            return
        from lfgtui.run.agents.agent_state import copy_folder

        own = copy_folder(attempt.run.run_id, attempt.ticket.id)
        ticket, run = attempt.ticket.id, attempt.run
        writer = Writer((*box.writable, own), reserve, lambda why: run.fail(ticket, why))
        async with guard().writing(writer):
            yield

    async def _run_events(self, attempt: Attempt) -> None:
        watch = self._watch(attempt)
        try:  # closed here, not when collected: a coding agent's ends before the attempt does
            async with contextlib.aclosing(await self._events(attempt)) as events:
                emit = attempt.emit
                async for event in events:
                    if type(event) is TextDelta:  # a token: nothing to do here but say it
                        emit(event)
                        continue
                    if isinstance(event, AttemptEnded) and watch is not None:
                        event = await self._last_diff(attempt, watch, event)
                        watch = None
                    if isinstance(event, AttemptEnded):
                        event = await self._state_changed(attempt, event)
                    attempt.emit(event)
                    if isinstance(event, AttemptStarted):
                        self._started(attempt)
                    elif isinstance(event, ToolResult) and watch is not None:
                        watch.poke()
        finally:
            if watch is not None:  # cancelled: the diff as it was left, before the attempt's end
                await watch.finish()
            await containers.removed(attempt.ticket)

    @staticmethod
    async def _last_diff(attempt: Attempt, watch: DiffWatch, ended: AttemptEnded) -> AttemptEnded:
        """Say the worktree's last diff before the attempt's end, which was numbered before the diff
        was taken: the two swap numbers, so `seq` follows the order said (a watcher drops an event
        numbered before one it has)."""
        taken: list[DiffUpdated] = []
        report = watch.report
        watch.report = lambda stat, text: taken.append(
            attempt.ev(DiffUpdated, text=text, added=stat.added, removed=stat.removed, files=stat.files)
        )
        try:
            await watch.finish()
        finally:
            watch.report = report
        for diff in taken:
            attempt.emit(dataclasses.replace(diff, seq=ended.seq))
            ended = dataclasses.replace(ended, seq=diff.seq)
        return ended

    @staticmethod
    async def _failed(attempt: Attempt, error: ErrorInfo) -> AsyncIterator[Event]:
        """An attempt that fails before its agent starts, saying why."""
        yield attempt.ev(AttemptStarted, provider=attempt.ticket.provider, model=attempt.ticket.model)
        yield attempt.ev(AttemptEnded, outcome=Outcome.FAILED, error=error)

    @staticmethod
    async def _state_changed(attempt: Attempt, ended: AttemptEnded) -> AttemptEnded:
        """Say what a boxed coding agent changed in its ticket's copy of its own state, before its
        attempt's end (numbered as `_last_diff` numbers the diff)."""
        from lfgtui.run.agents.agent_state import PLACES, copy_folder, opened

        folder = copy_folder(attempt.run.run_id, attempt.ticket.id)
        if attempt.ticket.sandbox == "none" or not (folder / PLACES).is_file():
            return ended
        try:
            said = await asyncio.to_thread(lambda: opened(folder).said())
        except (OSError, ValueError) as exc:
            said = f"{AGENT_STATE_CHANGED}? lfg could not compare its copy in {folder}: {exc}"
        if said is None:
            return ended
        status = attempt.ev(Status, message=said)
        attempt.emit(dataclasses.replace(status, seq=ended.seq))
        return dataclasses.replace(ended, seq=status.seq)

    @staticmethod
    def _started(attempt: Attempt) -> None:
        """Right after `AttemptStarted`: what it asks; then say so when a budget cannot hold (no price
        is known for the attempt's model), and where the ticket works when it has a worktree."""
        run, state, ticket = attempt.run, attempt.state, attempt.ticket
        prompt, continues = run.sent_prompt(state)
        attempt.say(PromptSent, text=prompt, continues=continues)
        if state.why is not None:
            attempt.say(Status, message=state.why)
            state.why = None
        metrics = run.book.attempts.get((ticket.id, attempt.number))
        budgeted = ticket.max_cost_usd is not None or run.max_cost_usd is not None
        if budgeted and metrics is not None and metrics.pricer is None:
            model = f"{ticket.provider}/{ticket.model}"
            agent = kind_of(run.providers.configs[ticket.provider]).coding_agent
            counted = "only a cost the agent reports counts" if agent else "its cost is not counted"
            attempt.say(Status, message=f"no price is known for {model}: {counted} in max_cost_usd")
        if (tree := state.worktree) is not None:
            message = f"working in {tree.workdir} on branch {tree.branch}"
            where = {"path": str(tree.path), "branch": tree.branch, "base": tree.base}
            attempt.say(WorktreeReady, message=message, **where)
            for note in state.prepared:
                attempt.say(Status, message=note)
            state.prepared = []
        if (sandbox := LocalRunner._context(attempt).sandbox) is not None:
            attempt.say(Status, message=sandbox.allows())

    @staticmethod
    async def _sandboxed(attempt: Attempt) -> bool:
        """Whether the sandbox the ticket asked for can be made, with what its agent needs; when not,
        it fails without running (never unsandboxed)."""
        ticket = attempt.ticket
        if ticket.sandbox == "none":
            return True
        from lfgtui.tools.sandbox import unavailable

        agent = kind_of(attempt.run.providers.configs[ticket.provider]).coding_agent
        if agent and not ticket.sandbox_network:
            why = agent_cut_off(ticket.provider)
        elif ticket.sandbox in containers.ENGINES:
            why = await containers.unavailable(ticket.sandbox)
        else:
            why = await unavailable()
        if why is None and agent:
            why = await LocalRunner._nests(attempt)
        if why is None:
            return True
        attempt.say(AttemptStarted, provider=ticket.provider, model=ticket.model)
        attempt.say(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(ErrorKind.SANDBOX, why))
        return False

    @staticmethod
    async def _nests(attempt: Attempt) -> str | None:
        """Why the ticket's agent, in the mode it will run in, cannot sandbox its commands inside the
        ticket's box (tools/nesting.py); None when it sandboxes none or can."""
        from lfgtui.run.agents.choices import wanted
        from lfgtui.tools import nesting

        ticket, run = attempt.ticket, attempt.run
        config = run.providers.configs[ticket.provider]
        mode = wanted(config, ticket.model, ticket.mode, run.approvals.yes).mode
        others = config.agent.unsandboxed_modes
        home_shown = ticket.sandbox_home != "hidden"
        if (
            others is None
            or mode in others
            or (why := await nesting.refused(ticket.sandbox, home_shown)) is None
        ):
            return None
        return nesting.own_sandbox_refused(ticket.provider, mode, ticket.sandbox, why, others)

    @staticmethod
    async def _isolate(attempt: Attempt) -> bool:
        """Give the ticket its git worktree (the one it had, on a retry); when none can be made, the
        attempt fails saying why."""
        from lfgtui.run.prepare import SetupFailed, prepare
        from lfgtui.worktrees.git import GitError
        from lfgtui.worktrees.tree import create_worktree, fork_worktree, worktrees_root

        state, run = attempt.state, attempt.run
        if state.worktree is not None:
            return True
        ticket = state.ticket
        try:
            root = run.worktrees or worktrees_root()
            parent = state.forks
            if parent is not None:  # a fork: the parent's worktree as it is now (its own, found again)
                tree = parent.worktree or await create_worktree(
                    parent.ticket.workdir, run.run_id, parent.ticket.id, root
                )
                tree = await fork_worktree(tree, ticket.id, root)
            else:
                tree = await create_worktree(ticket.workdir, run.run_id, ticket.id, root)
            context = LocalRunner._context(attempt, tree)
            state.prepared = await prepare(tree, ticket.setup, context)  # once per worktree
            state.worktree = tree
        except (GitError, OSError, SetupFailed) as exc:
            attempt.say(AttemptStarted, provider=ticket.provider, model=ticket.model)
            attempt.say(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(ErrorKind.WORKTREE, str(exc)))
            return False
        return True

    @staticmethod
    def _watch(attempt: Attempt) -> DiffWatch | None:
        """Keep the worktree's diff size current in the events while the attempt runs."""
        if (tree := attempt.state.worktree) is None:
            return None
        from lfgtui.worktrees.diff_watch import DiffWatch

        ev = attempt.ev

        def report(stat: DiffStat, text: str | None) -> None:
            fields = {"added": stat.added, "removed": stat.removed, "files": stat.files}
            attempt.emit(ev(DiffUpdated, text=text, **fields))

        watch = DiffWatch(tree, report)
        watch.start()
        return watch

    async def _events(self, attempt: Attempt) -> AsyncIterator[Event]:
        """The events of one attempt: lfg's own tool loop over a model API, or a coding agent (ACP)
        that runs its own loop."""
        run, state, ev = attempt.run, attempt.state, attempt.ev
        state.transcript = []
        ticket = state.ticket
        config = run.providers.configs[ticket.provider]
        if kind_of(config).coding_agent:
            import_sdk("lfgtui.run.agents.attempt")  # the ACP SDK, only when needed (sdk_import.py)
            from lfgtui.run.agents.agent_state import copy_folder
            from lfgtui.run.agents.attempt import run_acp
            from lfgtui.run.agents.launch import AgentLaunch
            from lfgtui.run.agents.process import sandboxed

            context = self._context(attempt)
            servers = ticket.mcp_servers
            if ticket.lead:  # lfg's MCP server, on the socket its box is shown
                door = run.lead_doors.get(ticket.id)
                if door is None or isinstance(door, str) or not isinstance(context.sandbox, Sandbox | None):
                    return self._failed(attempt, ErrorInfo(ErrorKind.BAD_REQUEST, no_door(door)))
                servers = (*servers, door.server)
                if context.sandbox is not None:
                    sandbox = context.sandbox.with_door(door.socket, door.token_file)
                    context = dataclasses.replace(context, sandbox=sandbox)
            env = command_env(
                os.environ, (*AGENT_ENV, *config.agent.env, *ticket.env_passthrough), context.workdir
            )
            if context.sandbox is not None:  # the agent's whole process inside, not only its tools
                home = Path(env["HOME"]) if env.get("HOME") else None
                copy = copy_folder(run.run_id, ticket.id)
                box = (config, context.sandbox, context.workdir, home, env, copy)
                try:
                    config = await asyncio.to_thread(sandboxed, *box)  # seeds the copy: files copied
                except OSError as exc:
                    why = f"cannot copy the agent's own settings for its sandbox into {copy}: {exc}"
                    return self._failed(attempt, ErrorInfo(ErrorKind.SANDBOX, why))
            toolbox = Toolbox({"write_file": BUILTIN_TOOLS["write_file"]}, context, self._approve(attempt))
            kept = None if run.agents is None else run.agents.pop(ticket.id, None)
            if kept is not None and state.follow_up is None:  # not a follow-up: a fresh agent
                await kept.close()
                kept = None
            task = self._task(attempt)
            load = state.agent_session if state.follow_up is not None else None
            forks = state.forks if state.ticket.fork_turn is None else None  # a cut fork: told in its prompt
            fork = forks.agent_session if load is None and forks is not None else None
            launch = AgentLaunch(
                config,
                env,
                ticket.mode,
                servers,
                run.approvals.yes,
                ticket.resume_session,
                functools.partial(run.trace_context, ticket.id, ev.attempt),
                ticket.additional_directories,
            )
            elicit = run.approvals.questions(ticket, attempt.say)
            calibration = run.book.calibration
            return run_acp(
                launch,
                task,
                ev,
                toolbox,
                state.transcript,
                kept,
                run.agents,
                load,
                fork,
                elicit,
                calibration,
                run.live_agents,
                state.inbox,
            )
        provider = await run.providers.get(ticket.provider)
        moving = has_next(state.written, state.link)  # only a ticket that can move on stops waiting
        policy = RetryPolicy(
            config.max_retries,
            max_wait_s=ticket.max_wait_s if moving else None,
            on_quota=OnQuota(ticket.on_quota),
            resume=state.hold if run.pauses else None,
        )
        return run_tool_loop(
            provider,
            self._task(attempt),
            ev,
            self._toolbox(attempt),
            policy,
            transcript=state.transcript,
            limiter=run.limiters[ticket.provider],
            calibration=run.book.calibration,
            inbox=state.inbox,
        )

    @staticmethod
    def _task(attempt: Attempt) -> AttemptTask:
        state, ticket = attempt.state, attempt.ticket
        prompt, _ = attempt.run.sent_prompt(state)
        call = ModelCall(
            model=ticket.model,
            messages=(*state.base, UserMessage(prompt)),
            system=ticket.system,
            tools=tuple(BUILTIN_TOOLS[name].spec for name in ticket.tools),
            max_tokens=ticket.max_tokens,
            temperature=ticket.temperature,
            reasoning=ticket.reasoning,
        )
        return AttemptTask(call, max_calls=ticket.max_calls, max_output_chars=ticket.max_output_chars)

    def _toolbox(self, attempt: Attempt) -> Toolbox | None:
        ticket = attempt.ticket
        if not ticket.tools:
            return None
        tools = {name: BUILTIN_TOOLS[name] for name in ticket.tools}
        return Toolbox(tools, self._context(attempt), self._approve(attempt))

    @staticmethod
    def _approve(attempt: Attempt) -> ApproveCall:
        return attempt.run.approvals.gate(attempt.ticket, attempt.say)

    @staticmethod
    def _context(attempt: Attempt, tree: Worktree | None = None) -> ToolContext:
        """Where the ticket's tools run: its worktree's workdir (`tree`, else the one it has), else its
        workdir."""
        state, ticket = attempt.state, attempt.ticket
        tree = tree or state.worktree
        workdir = ticket.workdir if tree is None else tree.workdir
        return ToolContext(
            workdir=workdir,
            env=command_env(attempt.run.tool_env, ticket.env_passthrough, workdir),
            allow_git_writes=ticket.allow_git_writes,
            sandbox=containers.contained(sandbox_of(ticket, workdir if tree is None else tree.path), ticket),
        )


def no_door(door: LeadDoor | str | None) -> str:
    """Why a lead ticket cannot be given lfg's MCP server."""
    if isinstance(door, str):  # why its door could not be served
        return door
    if door is None:
        return (
            "a lead ticket needs lfg to serve its run to it, which lfg run does for the run it runs here, "
            "and a broker's worker for the lead attempts it runs (it could not read the run from the broker)"
        )
    return (
        'a lead ticket is boxed by sandbox = "bwrap" or none: a container cannot reach its run\'s socket yet'
    )
