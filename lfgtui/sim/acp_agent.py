"""An offline ACP agent over stdio, scripted by the sim scenarios (`provider = "sim-acp"`, no API key).

It speaks the Agent Client Protocol through the official SDK's agent side, so lfg's ACP client is
tested against the real protocol and a real subprocess. One prompt plays every model call of a
scenario as one agent run, like the sim's generic agent protocol: thoughts, messages, a plan, and
tool calls that ask permission and read and write files through the client. The scenario's faults
become what an agent process can do wrong: crash, write garbage on stdout, go silent, or answer
with an error.
Sessions are saved after every prompt (see `acp_sessions`), so a later process can `session/load` them.

Stdout is the JSON-RPC channel, so everything human goes to stderr through `logging`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import acp
from acp.agent.connection import AgentSideConnection
from acp.core import DEFAULT_STDIO_BUFFER_LIMIT_BYTES
from acp.helpers import (
    ContentBlock,
    SessionUpdate,
    ToolCallContentVariant,
    update_agent_message_text,
    update_available_commands,
    update_user_message_text,
)
from acp.schema import (
    AgentCapabilities,
    AvailableCommand,
    ClientCapabilities,
    DeniedOutcome,
    Implementation,
    InitializeResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PermissionOption,
    PromptResponse,
    SessionMode,
    SessionModeState,
    SetSessionModeResponse,
    StopReason,
    TextContentBlock,
    ToolCallLocation,
    ToolCallUpdate,
    ToolKind,
    Usage,
    UsageUpdate,
)

from lfgtui.sim.acp_sessions import (
    Message,
    SavedSession,
    SessionStore,
    default_sessions_dir,
    new_session_id,
)
from lfgtui.sim.protocols.agent import AgentProtocol, tool_call_id, wire_arguments
from lfgtui.sim.scenario import (
    Fault,
    FaultKind,
    Scenario,
    ScenarioError,
    ScenarioLibrary,
    SimCall,
    split_tokens,
    user_scenario_dir,
)
from lfgtui.sim.wire import Piece, PieceKind, SimRequest

log = logging.getLogger(__name__)
T = TypeVar("T")

AGENT_NAME = "lfg-sim-acp"
DEFAULT_SCENARIO = "agent-demo"
CONTEXT_WINDOW = 200_000  # the `size` of usage updates, in tokens, like a current model's context
STOP_REASONS: tuple[StopReason, ...] = ("end_turn", "max_tokens", "max_turn_requests", "refusal")
TOOL_KINDS: dict[str, ToolKind] = {
    "read_file": "read",
    "write_file": "edit",
    "run_command": "execute",
    "list_dir": "search",
    "search_files": "search",
}
NEEDS_PERMISSION = frozenset({"write_file", "run_command"})
PERMISSION_OPTIONS = (
    PermissionOption(option_id="allow_once", name="Allow once", kind="allow_once"),
    PermissionOption(option_id="allow_always", name="Always allow", kind="allow_always"),
    PermissionOption(option_id="reject_once", name="Reject", kind="reject_once"),
)
ALLOWING = frozenset({"allow_once", "allow_always"})
MODES = (
    SessionMode(id="default", name="Default", description="Ask before editing files or running commands"),
    SessionMode(id="plan", name="Plan", description="Think and plan before acting"),
)
SCENARIO_COMMAND = AvailableCommand(name="scenario", description="Say which sim scenario this agent plays")
INTERNAL_ERROR = -32603  # JSON-RPC's code for a failure inside the agent: how a model call failure surfaces
AUTH_REQUIRED = -32000  # ACP's code for a missing or bad credential: how an HTTP 401 fault surfaces
# A JSON-RPC message cut off mid-string, as a broken agent might print it.
GARBAGE_LINE = b'{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"sess-\n'


@dataclass(frozen=True, slots=True)
class AgentOptions:
    scenario: Scenario
    stop_reason: StopReason = "end_turn"  # how a run that is not cancelled ends
    stall_initialize: bool = False  # never answer `initialize`: a client's handshake timeout is tested
    sessions_dir: Path = field(default_factory=default_sessions_dir)  # where sessions outlive the process


@dataclass
class SimSession:
    """What the agent remembers of a session between prompts."""

    id: str
    cwd: Path
    mode: str = MODES[0].id
    prompts: int = 0
    used_tokens: int = 0  # the context filled so far, for usage updates
    always_allowed: set[str] = field(default_factory=set)  # tools the user chose "Always allow" for
    messages: list[Message] = field(default_factory=list)  # the conversation, saved for `session/load`
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)


class PromptCancelled(Exception):
    """The client cancelled the prompt: the run stops and answers `cancelled`."""


class ToolFailed(Exception):
    """A tool call that could not run (rejected, bad arguments, a file error); the run goes on."""


def tool_title(name: str, arguments: dict[str, Any] | str) -> str:
    """The tool and its main argument, e.g. `read_file README.md`, as a person would say it."""
    if isinstance(arguments, dict):
        for key in ("path", "command", *arguments):
            value = arguments.get(key)
            if isinstance(value, str) and value.strip():
                return f"{name} {_shorten(value)}"
    return name


def plan_label(answer: SimCall) -> str:
    """A plan entry for a model call: the tools it runs, else the first line of what it says."""
    if answer.tool_calls:
        return ", ".join(tool_title(call.name, wire_arguments(call)) for call in answer.tool_calls)
    lines = (line.strip("#> \t") for line in (answer.text or answer.reasoning).splitlines())
    return _shorten(next((line for line in lines if line), "Answer"))


def _shorten(text: str, limit: int = 60) -> str:
    """The first line, cut to `limit` characters: titles stay one short line."""
    line = next(iter(text.strip().splitlines()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def prompt_words(prompt: list[ContentBlock]) -> int:
    """The prompt's size as the sim counts input tokens: its words."""
    return sum(len(block.text.split()) for block in prompt if isinstance(block, TextContentBlock))


def prompt_text(prompt: list[ContentBlock]) -> str:
    """What the user said: the prompt's text blocks, which are pieces of one message."""
    return "".join(block.text for block in prompt if isinstance(block, TextContentBlock))


def fault_error(fault: Fault) -> acp.RequestError:
    """The JSON-RPC error a failing model call becomes; an HTTP fault keeps its status as data."""
    if fault.kind is FaultKind.HTTP:
        code = AUTH_REQUIRED if fault.status == 401 else INTERNAL_ERROR
        return acp.RequestError(code, fault.message, {"status": fault.status})
    return acp.RequestError(INTERNAL_ERROR, fault.message)


class Pacer:
    """Chunks on an absolute timeline, the first after the TTFT and then 1/rate apart (the sim
    server's pacing); time spent waiting for the client is not caught up afterwards in a burst."""

    def __init__(self, scenario: Scenario) -> None:
        self.interval = 1 / scenario.tokens_per_s if scenario.tokens_per_s > 0 else 0.0
        self.due = time.monotonic() + scenario.ttft_ms / 1000

    async def wait(self, cancelled: asyncio.Event) -> None:
        """Sleep until the next chunk is due, waking early if the prompt is cancelled."""
        delay = self.due - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cancelled.wait(), delay)
        self.due += self.interval

    def resume(self) -> None:
        """After a client round trip: the next chunk is due now at the earliest."""
        self.due = max(self.due, time.monotonic())


class AgentRun:
    """One prompt: the scenario's model calls in order, each update awaited before the next is sent."""

    def __init__(
        self, conn: AgentSideConnection, session: SimSession, scenario: Scenario, stdout: asyncio.StreamWriter
    ) -> None:
        self.conn = conn
        self.session = session
        self.scenario = scenario
        self.stdout = stdout
        self.pacer = Pacer(scenario)
        self.chunks = 0  # thoughts and message pieces sent: the run's output tokens
        self.said: list[str] = []  # the message pieces sent, for the saved conversation

    async def play(self) -> None:
        """Every model call: its plan step, its thoughts and text (meeting any fault due), its tool calls."""
        pieces = AgentProtocol().plan(self.scenario, SimRequest(model=self.scenario.name))
        calls = len(self.scenario.calls)
        for index in range(calls):
            await self._plan(index)
            mine = [piece for piece in pieces if piece.call == index]
            chunks = [piece for piece in mine if piece.kind in (PieceKind.REASONING, PieceKind.TEXT)]
            for position, piece in enumerate(chunks):
                await self._faults(index, position)
                await self._chunk(piece)
            await self._faults(index, len(chunks))
            for piece in mine:
                if piece.kind is PieceKind.TOOL_END:
                    await self._tool_call(index, piece.tool_index)
        await self._plan(calls)

    async def say(self, text: str) -> None:
        for token in split_tokens(text, self.scenario.chunk_chars):
            await self._chunk(Piece(PieceKind.TEXT, token))

    async def _update(self, update: SessionUpdate) -> None:
        if self.session.cancelled.is_set():
            raise PromptCancelled
        await self.conn.session_update(self.session.id, update)

    async def _plan(self, current: int) -> None:
        """The whole plan: calls before `current` completed, `current` in progress, the rest pending."""
        entries = [
            acp.plan_entry(
                plan_label(self.scenario.call(index)),
                status="completed" if index < current else "in_progress" if index == current else "pending",
            )
            for index in range(len(self.scenario.calls))
        ]
        await self._update(acp.update_plan(entries))

    async def _chunk(self, piece: Piece) -> None:
        await self.pacer.wait(self.session.cancelled)
        if piece.kind is PieceKind.REASONING:
            await self._update(acp.update_agent_thought_text(piece.text))
        else:
            await self._update(acp.update_agent_message_text(piece.text))
            self.said.append(piece.text)
        self.chunks += 1

    async def _faults(self, call: int, position: int) -> None:
        """Play the faults due after `position` chunks of `call`; `times` is moot in a one-shot process."""
        for fault in self.scenario.faults:
            if fault.call != call or fault.after_tokens != position:
                continue
            log.info("fault %s in model call %d after %d chunks", fault.kind.value, call, position)
            match fault.kind:
                case FaultKind.MALFORMED:
                    self.stdout.write(GARBAGE_LINE)  # after every awaited update, never inside one
                case FaultKind.DROP:
                    os._exit(1)
                case FaultKind.STALL:
                    await self.session.cancelled.wait()
                    raise PromptCancelled
                case FaultKind.HTTP | FaultKind.ERROR_EVENT:
                    raise fault_error(fault)

    async def _tool_call(self, answering: int, index: int) -> None:
        """Announce tool call `index` of model call `answering`, ask permission if it changes things,
        run it through the client, report."""
        call = self.scenario.call(answering).tool_calls[index]
        call_id = f"p{self.session.prompts}_{tool_call_id(answering, index)}"
        arguments = wire_arguments(call)
        title, kind = tool_title(call.name, arguments), TOOL_KINDS.get(call.name, "other")
        path = self._path(arguments)
        locations = [ToolCallLocation(path=str(path))] if path else None
        await self._update(
            acp.start_tool_call(
                call_id, title, kind=kind, status="pending", locations=locations, raw_input=arguments
            )
        )
        try:
            if isinstance(arguments, str):
                raise ToolFailed(call.result or "tool arguments are not a JSON object")
            if call.name in NEEDS_PERMISSION and call.name not in self.session.always_allowed:
                request = ToolCallUpdate(
                    tool_call_id=call_id,
                    title=title,
                    kind=kind,
                    status="pending",
                    locations=locations,
                    raw_input=arguments,
                )
                await self._ask_permission(call.name, request)
            await self._update(acp.update_tool_call(call_id, status="in_progress"))
            output, content = await self._run(call.name, call.result, arguments, path)
        except ToolFailed as exc:
            failure = [acp.tool_content(acp.text_block(str(exc)))]
            await self._update(
                acp.update_tool_call(
                    call_id, status="failed", content=failure, raw_output={"error": str(exc)}
                )
            )
        else:
            await self._update(
                acp.update_tool_call(
                    call_id, status="completed", content=content, raw_output={"output": output}
                )
            )
        self.pacer.resume()

    def _path(self, arguments: dict[str, Any] | str) -> Path | None:
        value = arguments.get("path") if isinstance(arguments, dict) else None
        return self.session.cwd / value if isinstance(value, str) and value else None

    async def _ask_permission(self, tool: str, request: ToolCallUpdate) -> None:
        response = await self._unless_cancelled(
            self.conn.request_permission(self.session.id, request, list(PERMISSION_OPTIONS))
        )
        if isinstance(response.outcome, DeniedOutcome):
            raise PromptCancelled  # the client's answer to a permission request of a cancelled prompt
        if response.outcome.option_id == "allow_always":
            self.session.always_allowed.add(tool)
        if response.outcome.option_id not in ALLOWING:
            raise ToolFailed("rejected by the user")

    async def _unless_cancelled(self, request: Coroutine[Any, Any, T]) -> T:
        """The client's answer, unless the prompt is cancelled first: then the request is abandoned."""
        answer = asyncio.ensure_future(request)
        cancelled = asyncio.ensure_future(self.session.cancelled.wait())
        try:
            done, _ = await asyncio.wait((answer, cancelled), return_when=asyncio.FIRST_COMPLETED)
        finally:
            answer.cancel()
            cancelled.cancel()
        if answer not in done:
            raise PromptCancelled
        return answer.result()

    async def _run(
        self, tool: str, result: str, arguments: dict[str, Any], path: Path | None
    ) -> tuple[str, list[ToolCallContentVariant]]:
        """Files go through the client's file system; every other tool reports the scenario's result."""
        if tool == "read_file" and path:
            text = (await self._client(self.conn.read_text_file(self.session.id, str(path)))).content
            return text, [acp.tool_content(acp.text_block(text))]
        if tool == "write_file" and path:
            new_text = str(arguments.get("content", ""))
            try:
                old_text: str | None = (await self.conn.read_text_file(self.session.id, str(path))).content
            except acp.RequestError:
                old_text = None  # a new file
            await self._client(self.conn.write_text_file(self.session.id, str(path), new_text))
            return result, [acp.tool_diff_content(str(path), new_text, old_text)]
        return result, [acp.tool_content(acp.text_block(result))]

    async def _client(self, request: Coroutine[Any, Any, T]) -> T:
        try:
            return await request
        except acp.RequestError as exc:
            raise ToolFailed(str(exc)) from None


class SimAcpAgent:
    """The agent the SDK drives: it calls these methods, each incoming message in its own task."""

    def __init__(self, options: AgentOptions, stdout: asyncio.StreamWriter) -> None:
        self.options = options
        self.stdout = stdout  # the protocol's own writer, for a malformed line between messages
        self.sessions: dict[str, SimSession] = {}
        self.store = SessionStore(options.sessions_dir)
        self._conn: AgentSideConnection | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def conn(self) -> AgentSideConnection:
        if self._conn is None:
            raise RuntimeError("the SDK has not connected the agent yet")
        return self._conn

    def on_connect(self, conn: AgentSideConnection) -> None:
        self._conn = conn

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        **kwargs: Any,
    ) -> InitializeResponse:
        client = f"{client_info.name} {client_info.version}" if client_info else "an unnamed client"
        log.info("initialize from %s (protocol %d)", client, protocol_version)
        if self.options.stall_initialize:
            log.info("stalling: initialize is never answered")
            await asyncio.Event().wait()
        return InitializeResponse(
            protocol_version=acp.PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(load_session=True),
            agent_info=Implementation(
                name=AGENT_NAME, title="lfg simulator (ACP)", version=version("lfgtui")
            ),
        )

    async def new_session(
        self, cwd: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> NewSessionResponse:
        session = SimSession(id=new_session_id(), cwd=Path(cwd))
        self.sessions[session.id] = session
        log.info("session %s started in %s", session.id, cwd)
        self._after_response(
            self.conn.session_update(session.id, update_available_commands([SCENARIO_COMMAND]))
        )
        return NewSessionResponse(session_id=session.id, modes=_modes(session))

    async def load_session(
        self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> LoadSessionResponse:
        """Continue a session saved by this or an earlier process, in the cwd given now. ACP wants
        the conversation replayed as updates before the response: a client rebuilds its view from it."""
        saved = self.store.load(session_id)
        for message in saved.messages:
            replay = update_user_message_text if message.role == "user" else update_agent_message_text
            await self.conn.session_update(session_id, replay(message.text))
        session = SimSession(id=session_id, cwd=Path(cwd), prompts=saved.prompts, messages=saved.messages)
        self.sessions[session_id] = session
        log.info("session %s loaded with %d messages", session_id, len(saved.messages))
        self._after_response(
            self.conn.session_update(session_id, update_available_commands([SCENARIO_COMMAND]))
        )
        return LoadSessionResponse(modes=_modes(session))

    def _after_response(self, update: Coroutine[Any, Any, None]) -> None:
        """Send an update once the current request is answered, so the client knows the session id.

        The SDK queues the response before this task first runs.
        """
        task = asyncio.create_task(update)
        self._background.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        """Forget a finished background update; one the client left before is only logged."""
        self._background.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.info("an update was not sent: %r", error)

    async def set_session_mode(self, session_id: str, mode_id: str, **kwargs: Any) -> SetSessionModeResponse:
        if mode_id not in {mode.id for mode in MODES}:
            raise acp.RequestError.invalid_params({"modeId": mode_id})
        self._session(session_id).mode = mode_id
        log.info("session %s mode %s", session_id, mode_id)
        return SetSessionModeResponse()

    async def prompt(self, session_id: str, prompt: list[ContentBlock], **kwargs: Any) -> PromptResponse:
        """Play the scenario (again, for a follow-up), or answer the `/scenario` command."""
        session = self._session(session_id)
        session.cancelled.clear()
        session.prompts += 1
        words = prompt_words(prompt)
        log.info("prompt %d in %s: %d words", session.prompts, session.id, words)
        run = AgentRun(self.conn, session, self.options.scenario, self.stdout)
        stop_reason: StopReason = self.options.stop_reason
        try:
            if _command(prompt) == SCENARIO_COMMAND.name:
                scenario = self.options.scenario
                await run.say(f"I play the sim scenario **{scenario.name}**: {scenario.description}")
            else:
                await run.play()
        except PromptCancelled:
            stop_reason = "cancelled"
        finally:  # a failed prompt too: the client saw what the agent said before the failure
            session.messages += [Message("user", prompt_text(prompt)), Message("agent", "".join(run.said))]
            self.store.save(session.id, SavedSession(str(session.cwd), session.prompts, session.messages))
        usage = Usage(input_tokens=words, output_tokens=run.chunks, total_tokens=words + run.chunks)
        session.used_tokens += usage.total_tokens
        await self.conn.session_update(
            session.id,
            UsageUpdate(session_update="usage_update", used=session.used_tokens, size=CONTEXT_WINDOW),
        )
        log.info("prompt %d in %s: %s after %d chunks", session.prompts, session.id, stop_reason, run.chunks)
        return PromptResponse(stop_reason=stop_reason, usage=usage)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        if session := self.sessions.get(session_id):
            log.info("cancel in %s", session_id)
            session.cancelled.set()

    def _session(self, session_id: str) -> SimSession:
        if session := self.sessions.get(session_id):
            return session
        raise acp.RequestError.invalid_params({"sessionId": session_id, "reason": "no such session"})


def _modes(session: SimSession) -> SessionModeState:
    return SessionModeState(current_mode_id=session.mode, available_modes=list(MODES))


def _command(prompt: list[ContentBlock]) -> str | None:
    """The slash command a prompt starts with, if any."""
    text = next((block.text for block in prompt if isinstance(block, TextContentBlock)), "").strip()
    return text[1:].split(maxsplit=1)[0] if text.startswith("/") and len(text) > 1 else None


async def serve(options: AgentOptions) -> None:
    """Speak ACP on stdin/stdout until the client closes stdin."""
    reader, writer = await acp.stdio_streams(limit=DEFAULT_STDIO_BUFFER_LIMIT_BYTES)
    try:
        await acp.run_agent(SimAcpAgent(options, writer), writer, reader)
    finally:
        writer.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lfg sim acp",
        description="An offline ACP agent on stdin/stdout that plays a sim scenario (log on stderr).",
    )
    parser.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        metavar="NAME[:opt=val,...]",
        help=f"the scenario and its options, e.g. long-answer:tokens_per_s=200 (default {DEFAULT_SCENARIO})",
    )
    parser.add_argument(
        "--scenario-dir",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="another folder of scenario files (repeatable; later folders win on a name clash)",
    )
    parser.add_argument(
        "--stop-reason",
        choices=STOP_REASONS,
        default="end_turn",
        help="how a prompt that is not cancelled ends (default end_turn)",
    )
    parser.add_argument(
        "--stall-initialize", action="store_true", help="never answer initialize (handshake timeouts)"
    )
    parser.add_argument(
        "--sessions-dir",
        type=Path,
        default=default_sessions_dir(),
        metavar="DIR",
        help="where sessions are saved for session/load by a later agent process (default %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """The entry point of `python -m lfgtui.sim.acp_agent`, and of `lfg sim acp` given its arguments."""
    parser = build_parser()
    args = parser.parse_args(argv)
    library = ScenarioLibrary(extra_dirs=(user_scenario_dir(), *args.scenario_dir))
    try:
        scenario = library.resolve(args.scenario)
    except ScenarioError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    log.info("sim acp agent: scenario %s", args.scenario)
    options = AgentOptions(
        scenario,
        stop_reason=args.stop_reason,
        stall_initialize=args.stall_initialize,
        sessions_dir=args.sessions_dir,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(options))


if __name__ == "__main__":
    main()
