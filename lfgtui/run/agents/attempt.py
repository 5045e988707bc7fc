"""One attempt of a coding-agent ticket: start the agent, open a session in the workdir, send the
prompt, stream what the agent does, and leave no process behind.

An agent process and its session serve one attempt, and the follow-ups of a completed one where
the caller keeps it. Its stderr goes to a private log file, never to the screen; the tail of it is
quoted when the agent fails. An agent that crashes, writes something other than ACP to its
stdout, or never answers `initialize` fails only its own ticket (`connection`, `malformed`,
`timeout`). Cancelling sends `session/cancel`, waits a moment for the agent to end its turn, then
ends the process (stdin closed, SIGTERM, SIGKILL to its whole process group).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import acp
from acp import schema

from lfgtui import __version__
from lfgtui.config.mcp import McpServer
from lfgtui.cost.tokens import OutputCalibration
from lfgtui.events import (
    AgentStarted,
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    ModelShare,
    Outcome,
    RequestSent,
    SessionOpened,
    Stalled,
    Status,
    TextDelta,
    ToolResult,
)
from lfgtui.inert import inert
from lfgtui.providers.base import AssistantMessage, Message, ProviderConfig, ProviderError, UserMessage
from lfgtui.providers.usage import UsageCheck
from lfgtui.run.agents.agent_log import AgentLog, open_agent_log
from lfgtui.run.agents.choices import Offered, choose, session_models, wanted
from lfgtui.run.agents.choices import said as _said
from lfgtui.run.agents.client import AgentClient
from lfgtui.run.agents.folder_settings import FolderWatch, leaves_out
from lfgtui.run.agents.login import AUTH_REQUIRED, AuthMethod, login_guidance, offered_methods, usable_method
from lfgtui.run.agents.mcp import AcpServer, given_line, session_servers
from lfgtui.run.agents.process import STOP_WAIT_S, start_agent, stop_process
from lfgtui.run.agents.stall import IdleWatch
from lfgtui.run.agents.transport import AgentPipe
from lfgtui.run.agents.updates import AgentView, describes_inputs
from lfgtui.run.approvals import Elicit
from lfgtui.run.tool_loop import AttemptTask, output_limit, streamed_chars
from lfgtui.tools.toolbox import Toolbox

CANCEL_GRACE_S = 3.0
"""How long the agent has to take `session/cancel` and end its turn, both, before it is stopped:
with `stop_process`'s steps, what bounds quitting with many agents mid-turn."""
STDERR_TAIL_BYTES = 1500
PROMPT_DONE = object()
STOPPED = {
    "max_tokens": (ErrorKind.MAX_TOKENS, "the agent stopped at its token limit (max_tokens)"),
    "max_turn_requests": (
        ErrorKind.MAX_CALLS,
        "the agent stopped at its limit of model calls for one turn (max_turn_requests)",
    ),
    "refusal": (ErrorKind.REFUSED, "the agent refused to go on (refusal)"),
}


@dataclass(eq=False)
class Look:
    """The turn's next look at the agent's silence (`AgentSession._look`); one left in the inbox by an
    earlier look or turn is stale and passed over."""

    timer: asyncio.TimerHandle = field(init=False)


CLOSE_WAIT_S = 2.0
"""How long lfg waits for an agent to close its session before it stops the agent anyway."""
MAX_LIST_PAGES = 100
"""The most `session/list` pages lfg reads: an agent's cursor that never ends cannot hold it."""
RESOURCE_NOT_FOUND = -32002
"""ACP's `resource_not_found` error code: an agent's answer for a session it does not have."""


@dataclass(frozen=True)
class AgentLaunch:
    """How to start one agent: its command line (with `{model}` filled in), environment and limits,
    and the ticket's mode and MCP servers."""

    config: ProviderConfig
    env: Mapping[str, str]
    mode: str | None = None
    mcp_servers: tuple[McpServer, ...] = ()
    yes: bool = False
    """The run's `--yes`: the provider's `yes_mode`, where it names one, is the mode then."""
    resume: str | None = None
    """The ticket's `resume_session`: the agent's own session a new session of it continues."""
    trace_context: Callable[[], dict[str, str]] = dict
    """The W3C trace context of the attempt's open request (a traced run's): each prompt carries it
    in its `_meta`, as ACP's meta-propagation RFD says, so the agent's spans nest under lfg's."""
    additional_directories: tuple[Path, ...] = ()
    """The ticket's folders beside its workdir (ACP `additionalDirectories`), absolute and resolved:
    sent on every request that opens the session, where lfg's file and terminal requests are
    confined too."""

    def command(self, model: str) -> list[str]:
        return [part.replace("{model}", model) for part in self.config.agent.command]

    def environment(self, model: str) -> dict[str, str]:
        """Its environment, with the ticket's model in the agent's own model variable if it has one."""
        chosen = wanted(self.config, model, self.mode).model
        variable = self.config.agent.model_env
        return {**self.env, variable: chosen} if variable and chosen else dict(self.env)


def prompt_text(messages: tuple[Message, ...]) -> str:
    """The prompt to send: the last user message, after the earlier conversation written out when
    there is one (for a new session, which remembers nothing of it)."""
    *earlier, last = messages
    asked = last.text if isinstance(last, UserMessage) else ""
    if not earlier:
        return asked
    lines = ["This continues an earlier conversation with you, which follows.", ""]
    for message in earlier:
        if isinstance(message, UserMessage):
            lines += ["## The user asked", "", message.text, ""]
        elif isinstance(message, AssistantMessage) and message.text:
            lines += ["## You answered", "", message.text, ""]
    return "\n".join([*lines, "## Now the user asks", "", asked])


def _stderr_tail(log: Path) -> str:
    try:
        with log.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - STDERR_TAIL_BYTES))
            tail = file.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [inert(line).strip() for line in tail.splitlines() if line.strip()]
    return " | ".join(lines[-5:])


async def run_acp(
    launch: AgentLaunch,
    task: AttemptTask,
    ev: EventFactory,
    toolbox: Toolbox,
    transcript: list[Message] | None = None,
    session: AgentSession | None = None,
    keep: dict[str, AgentSession] | None = None,
    load: str | None = None,
    fork: str | None = None,
    elicit: Elicit | None = None,
    calibration: OutputCalibration | None = None,
    live: dict[str, AgentSession] | None = None,
) -> AsyncIterator[Event]:
    """One attempt, framed by `AttemptStarted` and `AttemptEnded`, like `tool_loop.run_tool_loop`.

    `session` is a live session an earlier attempt kept (a follow-up goes on in it: the agent has the
    whole conversation); without one a new agent process starts. With `keep`, a session whose attempt
    completed is kept there under the ticket's id for the next follow-up instead of being ended.
    `load` is the session id of an earlier lfg's agent (a resumed run), which a new agent that can
    load sessions goes on with. `fork` is the session id of the ticket a fork started from, which a
    new agent that can fork sessions (ACP `session/fork`) forks; else the fork's prompt carries the
    conversation. `elicit` asks the person the agent's questions (None: nobody can answer them, and
    each is declined, said in the pane). `calibration`, when given, is what the run learnt of each
    model's tokens per character, which the turn's live estimate uses, as a model call's does, read
    again when the agent's count comes (the run may have learnt it meanwhile). `live`, when given,
    holds the session under the ticket's id while its turn runs (a person's cancel of one sub-agent
    reaches it there).
    Cancellation is the caller's, as there: the caller records the `cancelled` outcome.
    """
    yield ev(AttemptStarted, provider=launch.config.name, model=task.call.model)
    provider, model = launch.config.name, task.call.model

    def per_char() -> float | None:
        return None if calibration is None else calibration.tokens_per_char(provider, model)

    if session is not None and not session.alive:
        await session.close()
        session = None
    if session is None:
        try:
            session = await AgentSession.start(launch, task.call.model, ev, toolbox, elicit)
        except OSError as exc:
            message = (
                f"could not start the agent: {launch.command(task.call.model)[0]}: {exc.strerror or exc}"
            )
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(ErrorKind.CONNECTION, message))
            return
        first = ev(AgentStarted, message=session.started, log=str(session.log_path))
    else:
        first = ev(Status, message="the same agent session goes on: the agent has the whole conversation")
    completed = False
    if live is not None:
        live[ev.ticket] = session
    try:  # from the first yield: a consumer may stop at any one, and the agent must end then too
        yield first
        async for event in session.turn(task, ev, transcript, load, fork, per_char):
            completed = isinstance(event, AttemptEnded) and event.outcome is Outcome.COMPLETED
            yield event
    finally:
        if live is not None and live.get(ev.ticket) is session:
            del live[ev.ticket]
        if completed and keep is not None and session.alive:
            keep[ev.ticket] = session
        else:
            await session.close()


class AgentSession:
    """One running agent and its one session, which may serve several attempts (follow-ups)."""

    def __init__(
        self,
        launch: AgentLaunch,
        ev: EventFactory,
        toolbox: Toolbox,
        process: asyncio.subprocess.Process,
        log: AgentLog,
        elicit: Elicit | None = None,
    ) -> None:
        assert process.stdin is not None and process.stderr is not None  # piped by start_agent
        self.launch, self.process, self.log = launch, process, log
        self.log_path = log.path
        self._log_pump = asyncio.create_task(log.pump(process.stderr))
        self.view = AgentView()
        """What the agent said about its session (details, context, cost): it outlives a turn."""
        self.idle = IdleWatch(launch.config.idle_timeout_s)
        """The current turn's silence; the person's approvals pause it."""
        paused = Toolbox(toolbox.tools, toolbox.ctx, self.idle.pausing(toolbox.approve))
        self.client = AgentClient(
            ev,
            paused,
            self.view,
            None if elicit is None else self.idle.pausing(elicit),
            launch.additional_directories,
        )
        self.pipe = AgentPipe(process.stdin, self.client.take_update, self.client.withdrawals.take)
        # elicitation/create is unstable in the SDK: it routes it to the client only when told to
        self.conn = acp.connect_to_agent(self.client, self.pipe, use_unstable_protocol=True)
        self.session_id: str | None = None
        self.loaded = False
        self.can_close = False
        """The agent offers `session/close` (its `initialize` said so)."""
        self.resumed: str | None = None
        """How the ticket's `resume_session` was continued: `session/resume` or `session/load`."""
        self.forked = False
        """The session is a fork of another (session/fork): loaded with its conversation."""
        self.prompt: asyncio.Task[schema.PromptResponse] | None = None
        self._child_cancels: set[asyncio.Task[None]] = set()
        """The `session/cancel`s of single sub-agents on their way (kept till sent)."""
        self.started = ""
        self._answer: list[str] = []
        self.env: Mapping[str, str] = launch.env
        """What the agent was started with: where a key for its auth methods is looked for."""
        self.methods: list[AuthMethod] = []
        self.authenticated: str | None = None
        self.offered = Offered((), None)
        """What the session lets lfg choose (its model and mode options)."""
        self.agent_info: schema.Implementation | None = None
        """The agent's name and version as its `initialize` answer gives them."""
        self.mcp_capabilities: schema.McpCapabilities | None = None
        """The MCP transports the agent takes besides stdio, as its `initialize` answer says (None
        before it answered)."""
        self.folder: FolderWatch | None = None
        """The work folder's own agent settings, looked at as the session opens (folder_settings.py)."""

    @classmethod
    async def start(
        cls, launch: AgentLaunch, model: str, ev: EventFactory, toolbox: Toolbox, elicit: Elicit | None = None
    ) -> AgentSession:
        """Start the agent's process (its session opens with the first turn); raises OSError.
        `elicit`: who answers its questions (as `run_acp` says)."""
        command = launch.command(model)
        log_path, log = open_agent_log(ev.ticket, ev.attempt)
        try:
            process, stdout = await start_agent(
                command, launch.environment(model), toolbox.ctx.workdir, launch.config.agent.nice
            )
        except BaseException:
            log.close()
            raise
        session = cls(launch, ev, toolbox, process, AgentLog(log_path, log), elicit)
        try:
            await session.pipe.read_from(stdout)
        except BaseException:
            stdout.close()
            await session.close()
            raise
        session.env = launch.environment(model)
        session.started = f"agent started: {' '.join(command)} (pid {process.pid}); its log: {log_path}"
        return session

    @property
    def alive(self) -> bool:
        """The agent runs, its session is open and nothing it sent was broken."""
        return self.process.returncode is None and self.session_id is not None and self.pipe.problem is None

    async def turn(
        self,
        task: AttemptTask,
        ev: EventFactory,
        transcript: list[Message] | None,
        load: str | None,
        fork: str | None,
        per_char: Callable[[], float | None],
    ) -> AsyncIterator[Event]:
        """One prompt and everything the agent does for it, as the events of attempt `ev`. The first
        turn opens the session (loading `load`, or forking `fork`, where it can); its output is
        estimated at what `per_char` says a character is worth when the prompt leaves, until the agent
        reports its count, which carries what it says then."""
        self.client.new_reader(ev)
        self.client.cancelling = False
        self._answer = []
        fresh = self.session_id is None
        try:
            said = await self._open(load, task.call.model, fork) if fresh else []
            whole = fresh and not self.loaded  # a session that has none of the conversation yet
            assert self.session_id is not None
            if fresh:
                how = " (forked)" if self.forked else " (resumed)" if self.resumed else ""
                how = how or (" (loaded)" if self.loaded else "")
                opened = f"agent session {self.session_id}{how}"
            else:  # recorded for this attempt too: a resumed run loads the latest attempt's session
                opened = f"agent session {self.session_id} (goes on)"
            yield ev(SessionOpened, message=opened, session_id=self.session_id, loaded=fresh and self.loaded)
            yield ev(RequestSent, call=0, tokens_per_char=per_char())
            for event in self.client.reader.carried():
                yield event
            for line in said:
                yield ev(Status, message=line)
            if whole and len(task.call.messages) > 1:
                yield ev(Status, message="a new agent session: the earlier conversation is in the prompt")
            async for event in self._turn(task, whole):
                yield event
            response = await self._response()
        except ProviderError as failed:
            reader = self.client.reader
            for event in [*reader.unfinished(), *reader.ignored(), *reader.unsaid()]:
                yield event
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=failed.info)
            return
        except asyncio.CancelledError:
            await self._cancel()
            raise
        reader = self.client.reader
        worth = per_char()
        counted = from_usage(ev, response.usage, worth) or from_quota(ev, response.field_meta, worth)
        for event in [*reader.unfinished(), *reader.ignored(), *reader.unsaid(), *counted]:
            yield event
        stop = response.stop_reason
        yield ev(CallEnded, stop_reason=stop)
        refused = stop == "cancelled" and not self.client.cancelling and bool(self.client.reader.denied)
        if refused:  # the person's no ended the agent's turn (Codex's "tell it what to do differently")
            message = "the agent ended its turn when told no: follow up to tell it what to do instead"
            yield ev(Status, message=message)
        if stop == "cancelled" and not refused:
            yield ev(AttemptEnded, outcome=Outcome.CANCELLED)
        elif stop in STOPPED:
            kind, message = STOPPED[stop]
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(kind, message))
        else:
            if transcript is not None:
                transcript.extend([*task.call.messages, AssistantMessage("".join(self._answer))])
            yield ev(AttemptEnded, outcome=Outcome.COMPLETED)

    async def open(self, model: str) -> list[str]:
        """Open a new session and choose `model` in it, sending no prompt (`lfg agents --check`);
        returns what the pane would be told, raises `ProviderError` as a turn would fail."""
        return await self._open(None, model)

    async def _open(self, load: str | None, model: str, fork: str | None = None) -> list[str]:
        """initialize, then session/load of `load` when the agent can load sessions (or session/fork
        of `fork` when it can fork them; or the ticket's `resume_session`, which must open), else
        session/new (logging in as `login.py` says), then the ticket's mode and model, all within
        the provider's `connect_timeout_s`; returns what the pane is told."""
        config = self.launch.config
        limit = config.connect_timeout_s
        said: list[str] = []
        try:
            async with asyncio.timeout(limit):
                capabilities, logged_in = await self._handshake()
                said += logged_in
                await self._check_directories(capabilities)
                want = wanted(config, model, self.launch.mode, self.launch.yes)
                name = self.agent_info.name if self.agent_info is not None else None
                left_out = leaves_out(want.mode, self.launch.yes)
                self.folder = FolderWatch(self.client.toolbox.ctx.workdir, name, left_out)
                said += [line for line in [self.folder.opened()] if line]
                servers = session_servers(self.launch.mcp_servers, self.mcp_capabilities)
                if load:
                    said.append(await self._load(load, bool(capabilities.load_session), servers))
                elif fork:
                    offers = capabilities.session_capabilities
                    can_fork = offers is not None and offers.fork is not None
                    said.append(await self._fork(fork, can_fork, servers))
                elif self.launch.resume is not None:
                    said.append(await self._resume(self.launch.resume, capabilities, servers))
                if self.session_id is None:
                    opened, logged_in = await self._new_session(servers)
                    said += logged_in
                    self.session_id = opened.session_id
                    self.offered = self._offered(opened, "session/new")
                if servers:
                    method = "session/load" if self.loaded else "session/new"
                    method = "session/fork" if self.forked else method
                    method = self.resumed or method
                    said.append(given_line(self.launch.mcp_servers, method))
                agent, said_mode = self._agent(), self.client.mode_said
                chose, self.offered = await choose(
                    self.conn, self.session_id, self.offered, want, config, agent, said_mode
                )
                said += chose
                self.client.reader.opened(self.offered)
        except TimeoutError:
            message = f"the agent did not start a session within {limit:g} s (connect_timeout_s)"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.TIMEOUT, message))) from None
        except ProviderError:
            raise
        except Exception as exc:  # whatever breaks the start fails only this ticket
            raise ProviderError(await self._failure(exc)) from None
        return said

    async def _handshake(self) -> tuple[schema.AgentCapabilities, list[str]]:
        """ACP `initialize`, then `authenticate` when the provider names its `auth_method`: what the
        agent can do, and what the pane is told."""
        started = await self.conn.initialize(
            protocol_version=acp.PROTOCOL_VERSION,
            client_capabilities=schema.ClientCapabilities(
                fs=schema.FileSystemCapabilities(read_text_file=True, write_text_file=True),
                terminal=True,
                elicitation=schema.ElicitationCapabilities(form=schema.ElicitationFormCapabilities()),
            ),
            client_info=schema.Implementation(name="lfg", title="lfgtui", version=__version__),
        )
        config = self.launch.config
        self.methods = offered_methods(started, config)
        self.agent_info = started.agent_info
        self.view.describes_inputs = describes_inputs(started.agent_info)
        capabilities = started.agent_capabilities or schema.AgentCapabilities()
        self.mcp_capabilities = capabilities.mcp_capabilities or schema.McpCapabilities()
        offers = capabilities.session_capabilities
        self.can_close = offers is not None and offers.close is not None
        if config.agent.auth_method is None:
            return capabilities, []
        return capabilities, [await self._authenticate(config.agent.auth_method)]

    @property
    def _directories(self) -> list[str] | None:
        """The ticket's `additionalDirectories` as requests carry them; None (left out) for none."""
        return [str(folder) for folder in self.launch.additional_directories] or None

    async def _check_directories(self, capabilities: schema.AgentCapabilities) -> None:
        """A ticket's additional directories need an agent that takes them
        (`sessionCapabilities.additionalDirectories`, which ACP asks a client to wait for), and each
        must still be a folder: otherwise the ticket fails saying why, rather than run without
        them, where the agent's own tools would not reach what the person named."""
        folders = self.launch.additional_directories
        if not folders:
            return
        offers = capabilities.session_capabilities
        if offers is None or offers.additional_directories is None:
            message = (
                f"additional_directories: {self._agent()} does not take additional directories (no "
                "sessionCapabilities.additionalDirectories); run the ticket without them, or on an agent "
                "that takes them"
            )
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.BAD_REQUEST, message)))
        for folder in folders:
            if not folder.is_dir() or folder.resolve() != folder:
                message = (
                    f"additional_directories: {inert(str(folder))!r} is no longer a folder (or is now a link)"
                )
                raise ProviderError(ErrorInfo(ErrorKind.BAD_REQUEST, message))

    async def sessions(self, cwd: str | None) -> list[schema.SessionInfo]:
        """The agent's own sessions, of `cwd` when given (ACP `session/list`, every page up to
        `MAX_LIST_PAGES`), within the provider's `connect_timeout_s`: what a ticket's
        `resume_session` may name (`lfg agents sessions`). Raises `ProviderError`, saying so of an
        agent that does not list them."""
        limit = self.launch.config.connect_timeout_s
        try:
            async with asyncio.timeout(limit):
                capabilities, _ = await self._handshake()
                offers = capabilities.session_capabilities
                if offers is None or offers.list is None:
                    message = f"{self._agent()} does not list its sessions (no sessionCapabilities.list)"
                    raise ProviderError(ErrorInfo(ErrorKind.BAD_REQUEST, message))
                found: list[schema.SessionInfo] = []
                cursor: str | None = None
                for _ in range(MAX_LIST_PAGES):
                    page = await self.conn.list_sessions(cursor=cursor, cwd=cwd)
                    found += page.sessions
                    cursor = page.next_cursor
                    if cursor is None:
                        break
                return found
        except TimeoutError:
            message = f"the agent did not list its sessions within {limit:g} s (connect_timeout_s)"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.TIMEOUT, message))) from None
        except ProviderError:
            raise
        except Exception as exc:  # whatever the agent does wrong, the command says it and ends
            raise ProviderError(await self._failure(exc)) from None

    def _agent(self) -> str:
        """The agent as a message names it: its provider, and its name and version as it gave them."""
        info = self.agent_info
        name = f"{info.name} {info.version}".strip() if info is not None else ""
        provider = inert(self.launch.config.name)
        return f"the agent of provider {provider}" + (f" ({inert(name)})" if name else "")

    @property
    def _opening(self) -> dict[str, Any]:
        """The `_meta` of a request that opens a session: what the folder's settings leave out."""
        return {} if self.folder is None else self.folder.meta()

    async def _new_session(self, servers: list[AcpServer]) -> tuple[schema.NewSessionResponse, list[str]]:
        """session/new with the ticket's MCP servers; when the agent asks to log in first, once more
        after authenticating with the first of its methods whose variables lfg passes it. Returns
        what the pane is told too."""
        cwd = str(self.client.toolbox.ctx.workdir)
        try:
            return await self.conn.new_session(
                cwd=cwd, mcp_servers=servers, additional_directories=self._directories, **self._opening
            ), []
        except acp.RequestError as exc:
            method = usable_method(self.methods, self.env)
            if exc.code != AUTH_REQUIRED or method is None or self.authenticated is not None:
                raise
        said = await self._authenticate(method.id)
        answer = await self.conn.new_session(
            cwd=cwd, mcp_servers=servers, additional_directories=self._directories, **self._opening
        )
        return answer, [said]

    async def _authenticate(self, method_id: str) -> str:
        """Log the agent in with `method_id` (ACP `authenticate`); a failure says what to do."""
        guidance = login_guidance(self.launch.config, self.methods, self.env)
        if method_id not in {method.id for method in self.methods}:
            message = f"auth_method {inert(method_id)!r} is not one the agent offers; {guidance}"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.AUTH, message)))
        try:
            await self.conn.authenticate(method_id=method_id)
        except acp.RequestError as exc:
            message = f"logging the agent in with {inert(method_id)} failed: {_said(exc)}; {guidance}"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.AUTH, message))) from None
        self.authenticated = method_id
        return f"logged the agent in with its method {inert(method_id)} (authenticate)"

    async def _load(self, session_id: str, can_load: bool, servers: list[AcpServer]) -> str:
        """Load the agent's earlier session with the ticket's MCP servers; what it replays of it is
        not shown again (the pane has it). When the agent cannot, or the load fails, the caller opens
        a new session instead."""
        if not can_load:
            return "this agent cannot load its earlier session"
        self.client.replaying = True
        try:
            loaded = await self.conn.load_session(
                cwd=str(self.client.toolbox.ctx.workdir),
                session_id=session_id,
                mcp_servers=servers,
                additional_directories=self._directories,
                **self._opening,
            )
        except acp.RequestError as exc:
            return f"loading the agent's earlier session failed: {inert(str(exc))}"
        finally:
            await asyncio.sleep(0)  # the replay's last notifications are handled before this resumes
            self.client.replaying = False
        self.session_id, self.loaded = session_id, True
        self.offered = self._offered(loaded, "session/load")
        return "the agent's earlier session was loaded (session/load): it has the whole conversation"

    async def _resume(
        self, session_id: str, capabilities: schema.AgentCapabilities, servers: list[AcpServer]
    ) -> str:
        """Continue the agent's own session the ticket names (`resume_session`): `session/resume`
        where the agent offers it (nothing replayed), else `session/load` (its replay not shown: the
        pane starts from the ticket's prompt). The person chose that session, so an agent that can
        do neither, or refuses it, fails the ticket saying why; lfg never opens another instead."""
        offers = capabilities.session_capabilities
        named = inert(session_id)
        cwd = str(self.client.toolbox.ctx.workdir)
        try:
            if offers is not None and offers.resume is not None:
                answer: (
                    schema.ResumeSessionResponse | schema.LoadSessionResponse
                ) = await self.conn.resume_session(
                    cwd=cwd,
                    session_id=session_id,
                    mcp_servers=servers,
                    additional_directories=self._directories,
                    **self._opening,
                )
                self.resumed = "session/resume"
            elif capabilities.load_session:
                self.client.replaying = True
                try:
                    answer = await self.conn.load_session(
                        cwd=cwd,
                        session_id=session_id,
                        mcp_servers=servers,
                        additional_directories=self._directories,
                        **self._opening,
                    )
                finally:
                    await asyncio.sleep(0)  # the replay's last notifications are handled before this resumes
                    self.client.replaying = False
                self.resumed = "session/load"
            else:
                message = (
                    f"resume_session: {self._agent()} can neither resume nor load a session "
                    f"(no sessionCapabilities.resume, no loadSession), so session {named} cannot be continued"
                )
                raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.BAD_REQUEST, message)))
        except acp.RequestError as exc:
            message = f"resume_session: the agent would not continue session {named}: {_said(exc)}"
            kind = ErrorKind.NOT_FOUND if exc.code == RESOURCE_NOT_FOUND else ErrorKind.BAD_REQUEST
            raise ProviderError(await self._with_log(ErrorInfo(kind, message))) from None
        self.session_id, self.loaded = session_id, True
        self.offered = self._offered(answer, self.resumed)
        return f"the agent's own session {named} goes on ({self.resumed}): it has its conversation"

    async def _fork(self, session_id: str, can_fork: bool, servers: list[AcpServer]) -> str:
        """Fork the session a fork started from (ACP `session/fork`, unstable in the protocol: the
        SDK's client side sends it as any request), in the fork's workdir; the new session has the
        whole conversation. When the agent cannot, or the fork fails, the caller opens a new session,
        told the conversation in its prompt."""
        if not can_fork:
            return "this agent cannot fork a session (session/fork): the conversation goes in the prompt"
        try:
            forked = await self.conn.fork_session(
                session_id=session_id,
                cwd=str(self.client.toolbox.ctx.workdir),
                mcp_servers=servers,
                additional_directories=self._directories,
                **self._opening,
            )
        except acp.RequestError as exc:
            failed = inert(str(exc))
            return f"forking the agent's session failed: {failed}; the conversation goes in the prompt"
        self.session_id, self.loaded, self.forked = forked.session_id, True, True
        self.offered = self._offered(forked, "session/fork")
        return f"the agent forked session {inert(session_id)} (session/fork): it has the whole conversation"

    def _offered(
        self,
        answer: (
            schema.NewSessionResponse
            | schema.LoadSessionResponse
            | schema.ForkSessionResponse
            | schema.ResumeSessionResponse
        ),
        method: str,
    ) -> Offered:
        """What the session lets lfg choose, as the agent's answer to `method` said (its older
        `models` read from the raw answer: the SDK's schema has them no more)."""
        models = session_models(self.pipe.results.get(method))
        return Offered(answer.config_options or [], answer.modes, models)

    async def _turn(self, task: AttemptTask, whole: bool) -> AsyncIterator[Event]:
        """Everything the agent streams until its prompt is answered. A new session is sent the
        earlier conversation too; a live one has it already and gets the last prompt only."""
        assert self.session_id is not None
        messages = task.call.messages
        text = acp.text_block(prompt_text(messages if whole else messages[-1:]))
        traced = self.launch.trace_context()  # root keys of the prompt's `_meta`
        self.prompt = asyncio.create_task(
            self.conn.prompt(session_id=self.session_id, prompt=[text], **traced)
        )
        self.prompt.add_done_callback(lambda _: self.client.inbox.put_nowait(PROMPT_DONE))
        self.idle.restart()
        streamed, limit = 0, task.max_output_chars
        look = self._look()
        try:
            while True:
                item = await self.client.inbox.get()
                if isinstance(item, Look):
                    if item is look:
                        for event in await self._quiet():
                            yield event
                        look = self._look()
                    continue
                if (stalled := self.idle.heard()) is not None:
                    yield self.ev(
                        Status, message=f"the agent goes on after {stalled:.0f} s without an update"
                    )
                if item is PROMPT_DONE:
                    break
                for event in self.client.events(item):
                    if isinstance(event, TextDelta):
                        self._answer.append(event.text)
                    streamed += streamed_chars(event)
                    yield event
                    if isinstance(event, ToolResult) and self.folder and (changed := self.folder.changed()):
                        yield self.ev(Status, message=changed)
                if streamed > limit:
                    await self._cancel()
                    raise ProviderError(output_limit(limit))
        finally:
            look.timer.cancel()

    def _look(self) -> Look:
        """A look at the agent's silence, due in the inbox when its notice or limit may have come:
        one timer, not one per update (the agent's updates only move `idle.last` on)."""
        look = Look()
        look.timer = asyncio.get_running_loop().call_later(
            self.idle.wait_s(), self.client.inbox.put_nowait, look
        )
        return look

    async def _quiet(self) -> list[Event]:
        """The agent has been silent a while: past the notice it is stalled (said once, with the end
        of its log, where an agent retrying a dead network says so); at the limit the turn is
        cancelled and the attempt fails as `timeout`."""
        idle, watch = self.idle.idle_s(), self.idle
        if idle is None:  # the person is asked: that takes as long as it takes
            return []
        limit = watch.limit_s
        if idle >= limit:
            await self._cancel()
            message = f"the agent sent nothing for {limit:g} s while its turn was under way (idle_timeout_s)"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.TIMEOUT, message)))
        if watch.stalled or idle < watch.notice_s:
            return []
        watch.stalled = True
        tail = _stderr_tail(self.log_path)
        said = f"; its log says: {tail}" if tail else ""
        silent = f"no update from the agent for {idle:.0f} s"
        message = f"stalled: {silent}; it fails at {limit:g} s (idle_timeout_s){said}"
        return [self.ev(Stalled, message=message, idle_s=idle, limit_s=limit)]

    @property
    def ev(self) -> EventFactory:
        return self.client.ev

    async def _response(self) -> schema.PromptResponse:
        assert self.prompt is not None
        try:
            return self.prompt.result()
        except Exception as exc:  # see _failure
            raise ProviderError(await self._failure(exc)) from None

    async def _failure(self, exc: BaseException) -> ErrorInfo:
        """What went wrong, in terms of what the agent did."""
        if self.pipe.problem is not None:
            return await self._with_log(ErrorInfo(ErrorKind.MALFORMED, self.pipe.problem))
        if isinstance(exc, acp.RequestError) and exc.code == AUTH_REQUIRED:
            guidance = login_guidance(self.launch.config, self.methods, self.env)
            message = f"the agent asks to log in: {_said(exc)} (code {exc.code}); {guidance}"
            return await self._with_log(ErrorInfo(ErrorKind.AUTH, message))
        if isinstance(exc, acp.RequestError):
            message = f"the agent answered an error: {_said(exc)} (code {exc.code})"
            return await self._with_log(ErrorInfo(ErrorKind.STREAM_ERROR, message))
        if isinstance(exc, ConnectionError):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), STOP_WAIT_S)
            code = self.process.returncode
            how = "ended" if code is None else f"exited with code {code}"
            message = f"the agent {how} before it finished"
            return await self._with_log(ErrorInfo(ErrorKind.CONNECTION, message))
        message = f"the agent sent a message lfg cannot read: {type(exc).__name__}: {inert(str(exc))[:300]}"
        return await self._with_log(ErrorInfo(ErrorKind.MALFORMED, message))

    async def _with_log(self, info: ErrorInfo) -> ErrorInfo:
        """`info` quoting the end of the agent's log, once what it wrote before it ended is there."""
        if self.process.returncode is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._log_pump), STOP_WAIT_S)
        else:
            await asyncio.sleep(0)  # what the pipe has brought is written
        tail = _stderr_tail(self.log_path)
        return ErrorInfo(info.kind, f"{info.message}; its log says: {tail}" if tail else info.message)

    def cancel_child(self, child: str, by: str | None = None) -> str | None:
        """Ask the agent to stop sub-agent `child` alone: ACP's `session/cancel` with the child's
        session id, which the child's `capabilities.cancel` permits (schema v1.34's subagent
        sessions; claude-agent-acp 0.101.0 stops the child's task, the parent goes on). None once
        asked; else why not (the child offered no cancel, or is not running), said to the person.
        `by`: who asked, from elsewhere (a watcher, a coordinator), said with it."""
        why = self.view.children.cannot_cancel(child)
        if why is not None:
            return why
        task = self.view.children.records[child].task or child
        asked = f"asked the agent to cancel sub-agent {task}" + (f" (asked by {by})" if by else "")
        self.client.inbox.put_nowait(self.client.ev(Status, message=asked))
        cancelling = asyncio.create_task(self.conn.cancel(session_id=child))
        self._child_cancels.add(cancelling)
        cancelling.add_done_callback(self._child_cancels.discard)
        return None

    async def _cancel(self) -> None:
        """Ask the agent to end its turn (`session/cancel`), then wait a moment for it to do so."""
        self.client.cancelling = True
        if self.prompt is None or self.prompt.done() or self.session_id is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CANCEL_GRACE_S):
                await self.conn.cancel(session_id=self.session_id)
                await asyncio.shield(self.prompt)

    async def close(self) -> None:
        """Close the connection and end the agent, its terminals and everything it started. Cancelled
        on the way (a second cancel, lfg quitting), it still stops the agent and reaps it before it
        ends: a process left to the loop would outlive it."""
        ended = self.prompt is None or self.prompt.done()
        if self.prompt is not None and not ended:
            self.prompt.cancel()
        try:
            if ended:
                await self._close_session()
            await self._give_up()
            await self.client.terminals.close()
            with contextlib.suppress(Exception):
                await self.conn.close()
        finally:
            await self._stop()

    async def _close_session(self) -> None:
        """ACP `session/close`, where the agent offers it and its session is open and well: so it
        ends the session as it would its own (saved, its resources freed) before lfg stops it; at
        most `CLOSE_WAIT_S`, never fatal. A session whose turn lfg cancelled is not closed first:
        stopping the agent must not wait on it."""
        if not self.can_close or not self.alive:
            return
        assert self.session_id is not None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self.conn.close_session(session_id=self.session_id)

    async def _give_up(self) -> None:
        """Ask the agent to cancel what lfg still waits on from it (ACP `$/cancel_request`: a
        `session/list` or `session/load` cut short by a timeout or a cancel, a `session/close` that took
        too long), so it can drop that work before it is stopped; at most `CLOSE_WAIT_S`, never fatal."""
        if self.process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_WAIT_S):
                await self.pipe.give_up()

    async def _stop(self) -> None:
        """End the agent's process and keep its last words in its log."""
        try:
            await stop_process(self.process)
            with contextlib.suppress(TimeoutError):  # its last words, once every holder of the pipe is gone
                await asyncio.wait_for(asyncio.shield(self._log_pump), STOP_WAIT_S)
        finally:
            self._log_pump.cancel()
            self.log.close()


def from_usage(ev: EventFactory, usage: schema.Usage | None, tokens_per_char: float | None) -> list[Event]:
    """The turn's token counts as the agent reported them, each checked, with what lfg's calibration
    says a character is worth now; without them the gauges keep estimating."""
    if usage is None:
        return []
    check = UsageCheck(ev)
    return check.events(
        input_tokens=check.count("usage.inputTokens", usage.input_tokens),
        output_tokens=check.count("usage.outputTokens", usage.output_tokens),
        reasoning_tokens=check.count("usage.thoughtTokens", usage.thought_tokens),
        tokens_per_char=tokens_per_char,
    )


QUOTA_COUNT = "_meta.quota.token_count"
"""Where Gemini CLI puts the turn's token counts in its `session/prompt` answer: the sums over the
turn's model calls of each one's `promptTokenCount` and `candidatesTokenCount` (its answer and its
tool calls' arguments; its thoughts are not in it)."""


def from_quota(ev: EventFactory, meta: dict[str, Any] | None, tokens_per_char: float | None) -> list[Event]:
    """The turn's token counts from the answer's `_meta.quota.token_count` (Gemini CLI's), each
    checked, as `from_usage`'s; none when it has none. Its output count holds none of the thoughts
    (`reasoning_tokens` 0), so the rate leaves them out too (`RequestMetrics.thinking_apart`)."""
    quota = meta.get("quota") if isinstance(meta, dict) else None
    counted = quota.get("token_count") if isinstance(quota, dict) else None
    if not isinstance(counted, dict):
        return []
    check = UsageCheck(ev)
    return check.events(
        input_tokens=check.count(f"{QUOTA_COUNT}.input_tokens", counted.get("input_tokens")),
        output_tokens=(output := check.count(f"{QUOTA_COUNT}.output_tokens", counted.get("output_tokens"))),
        reasoning_tokens=None if output is None else 0,
        models=_shares(check, quota.get("model_usage")),
        tokens_per_char=tokens_per_char,
    )


QUOTA_MODELS = "_meta.quota.model_usage"
"""Where Gemini CLI splits the turn's counts by the model that answered: `[{"model": …,
"token_count": {"input_tokens": …, "output_tokens": …}}, …]`."""


def _shares(check: UsageCheck, listed: object) -> tuple[ModelShare, ...]:
    """Each model's part of the turn's counts, so that each is priced as that model; none unless every
    entry names its model and both counts (a part left out would be a cost left out)."""
    if not isinstance(listed, list):
        return ()
    shares = []
    for n, entry in enumerate(listed):
        where = f"{QUOTA_MODELS}[{n}]"
        entry = entry if isinstance(entry, dict) else {}
        counted = entry.get("token_count")
        counted = counted if isinstance(counted, dict) else {}
        model = check.model(f"{where}.model", entry.get("model", ""))
        input_tokens = check.count(f"{where}.token_count.input_tokens", counted.get("input_tokens"))
        output_tokens = check.count(f"{where}.token_count.output_tokens", counted.get("output_tokens"))
        if model is None or input_tokens is None or output_tokens is None:
            return ()
        shares.append(ModelShare(model, input_tokens, output_tokens))
    return tuple(shares)
