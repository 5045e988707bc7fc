"""One prompt of the sim ACP agent: a scenario's turns played as session updates, paced like the
sim server, tool calls asking permission and going through the client's file system, faults played
where the scenario puts them, and the scenario's question asked first as a form (`[elicit]`, its answer
in the text's `{{ elicitation }}`) (see acp_agent.py for the agent around it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import acp
from acp.agent.connection import AgentSideConnection
from acp.helpers import ContentBlock, SessionUpdate, ToolCallContentVariant
from acp.schema import (
    AcceptElicitationResponse,
    DeclineElicitationResponse,
    DeniedOutcome,
    ElicitationFormSessionMode,
    ElicitationSchema,
    PermissionOption,
    SessionInfoUpdate,
    StopReason,
    TextContentBlock,
    ToolCallLocation,
    ToolCallUpdate,
    ToolKind,
)

from lfgtui.sim.acp_sessions import Message
from lfgtui.sim.acp_stable import StableUpdates
from lfgtui.sim.acp_steering import LATE_READ
from lfgtui.sim.protocols.agent import AgentProtocol, tool_call_id, wire_arguments
from lfgtui.sim.scenario import Fault, FaultKind, Scenario, SimCall, split_tokens
from lfgtui.sim.wire import Piece, PieceKind, SimRequest, plan_call

log = logging.getLogger(__name__)
T = TypeVar("T")
Withdraw = Callable[["asyncio.Future[Any]"], Awaitable[None]]
"""Sends `$/cancel_request` for the request the given task sent the client."""
REQUEST_CANCELLED = -32800
WITHDRAW_POLL_S = 0.02
"""How often `--withdraw-when`'s file is looked for."""

TOOL_KINDS: dict[str, ToolKind] = {
    "read_file": "read",
    "write_file": "edit",
    "run_command": "execute",
    "list_dir": "search",
    "search_files": "search",
}
ELICITATION = "{{ elicitation }}"
"""Where a scenario's text says the answer to its question (`[elicit]`)."""
NEEDS_PERMISSION = frozenset({"write_file", "run_command"})
PERMISSION_OPTIONS = (
    PermissionOption(option_id="allow_once", name="Allow once", kind="allow_once"),
    PermissionOption(option_id="allow_always", name="Always allow", kind="allow_always"),
    PermissionOption(option_id="reject_once", name="Reject", kind="reject_once"),
)
ALLOWING = frozenset({"allow_once", "allow_always"})
AUTO_MODE = "auto"
"""The mode (`--start-mode auto`) where the agent decides its permissions itself and asks nobody, as
Claude Code's `auto` does: a client that wants the person asked must set another."""
STOPPED_BEFORE_RAN = "Claude stopped this tool call before it ran."
"""What claude-agent-acp 0.101.0 says of a call Claude dropped (its renderer's `unfinished()`)."""
LATE_WORD = "(a late word, after this turn's prompt was answered)"
"""What `--late-word` sends once its prompt was answered."""
LATE_ASKS = "late asks: "
"""How `--late-asks` begins the chunk (and log line) saying what its requests got."""
INTERNAL_ERROR = -32603  # JSON-RPC's code for a failure inside the agent: how a model call failure surfaces
AUTH_REQUIRED = -32000  # ACP's code for a missing or bad credential: how an HTTP 401 fault surfaces
# A JSON-RPC message cut off mid-string, as a broken agent might print it.
GARBAGE_LINE = b'{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"sess-\n'


@dataclass
class SimSession:
    """What the agent remembers of a session between prompts."""

    id: str
    cwd: Path
    mode: str
    model: str | None = None  # the model it runs, when the agent offers models (`--models`)
    mcp_servers: tuple[str, ...] = ()  # the MCP servers the client gave it, described (acp_mcp.py)
    directories: tuple[str, ...] = ()  # the additional directories the client gave it
    prompts: int = 0
    used_tokens: int = 0  # the context filled so far, for usage updates
    cost_usd: float = 0.0  # what the session cost so far, for usage updates (`--cost`)
    always_allowed: set[str] = field(default_factory=set)  # tools the user chose "Always allow" for
    messages: list[Message] = field(default_factory=list)  # the conversation, saved for `session/load`
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    own_turns: list[str] = field(default_factory=list)  # steers it starts turns of its own with, once idle
    cut: bool = False  # a steer was taken: the model call streaming now is cut off (`Quirks.steer_cuts`)
    asking: int = 0  # permission requests waiting for the client's answer now
    late: list[str] = field(default_factory=list)  # steers read after the last answer (`steer_reads_late`)
    steered: asyncio.Event = field(default_factory=asyncio.Event)  # a steer came (`answer_taken_ms`)
    read_next: list[str] = field(default_factory=list)  # steers read at the next model call (`message_ids`)


@dataclass(frozen=True, slots=True)
class Quirks:
    """What real agents do that a client must show faithfully, each a switch of `lfg sim acp`."""

    bare_messages: bool = False
    """Each model call's text is a message of its own, sent as is: no blank line is added between
    them, as Claude Code sends them."""
    empty_first_chunk: bool = False
    """An empty message chunk as soon as a prompt arrives, before the model's output."""
    notice: str = ""
    """The agent's own warning, sent whole as soon as a prompt arrives, before the model's output."""
    informational: str = ""
    """The agent's own warning as Claude Code sends its auto mode's: a message chunk with no message
    id, marked `_meta.claudeCode.kind: "informational"`, between the first model call and the next."""
    tool_ms: float = 0.0
    """How long each tool call runs in the agent (after any permission)."""
    paced_tool_input: bool = False
    """Each tool call's arguments take their time at the scenario's pace, a token a fragment, before
    the call is shown whole (with `late_tool_input`, between its bare announcement and its input), as
    a real agent's model streams them; its count holds them either way."""
    burst: str = ""
    """The answer to every prompt instead of the scenario: this text at once, in two chunks (its
    first word, then the rest), as an agent relays an error it got whole."""
    terminals: bool = False
    """`run_command` runs for real in the client's terminal when the client offers terminals
    (create, wait for exit, output, release; killed past the call's `timeout_s`), embedded in the
    call's content; the client, which runs it, asks the person, so the agent does not ask first."""
    own_terminal: bool = False
    """`run_command` runs in the agent itself, which streams its output (the scenario's result, a line
    at a time at the scenario's pace) in the call's `_meta` (`terminal_output_delta`, then
    `terminal_exit`), the call embedding a terminal of its own id: how Codex shows a client like lfg
    the commands it runs."""
    own_writes: bool = False
    """`write_file` writes the file in the agent itself, as Codex's `apply_patch` does (not through the
    client's `fs/write_text_file`), the call's content its diff; a write the disk refuses (the box's
    read-only disk) ends the call with `status: failed` alone, no content or output, as codex-acp 2.6
    ends a fileChange that failed."""
    cost_usd: float = 0.0
    """What each prompt costs: usage updates then carry the session's cumulative cost in USD."""
    rate_limit: float | None = None
    """Each prompt's end first reports the account's limit as Claude Code does (a usage update with
    `_meta["_claude/rateLimit"]`): a five-hour window with this share (0 to 1) used, resetting in an
    hour; at 1 the limit is reached."""
    progress: str = ""
    """A note on what the session is about (`session_info_update` with this title), sent as soon as a
    prompt arrives, as Codex names its thread."""
    fallback_model: str = ""
    """The model each prompt runs, whatever was chosen, said in a config option update where the
    models are config options, as an agent falls back from an overloaded model."""
    quota_meta: bool = False
    """Each prompt's counts are in its answer's `_meta.quota.token_count` (`input_tokens`,
    `output_tokens` without the thoughts), with no `usage` and no usage update, as Gemini CLI reports
    them."""
    answered_by: tuple[str, ...] = ()
    """With `quota_meta`, the models its `model_usage` says answered, the counts split between them
    (the first takes what does not divide), as Gemini CLI names each model a turn called."""
    after_denial: StopReason | None = None
    """How the turn ends at once when the client rejects a permission request (None: the run goes
    on). Codex ends it `cancelled` when the person picks "tell Codex what to do differently"."""
    acp_notice: str = ""
    """An ACP `notice` (a warning with this title) as soon as a prompt arrives, where the client takes
    notices (`session.notices`)."""
    compaction: bool = False
    plan_ops: bool = False
    """The plan as ACP's plan operations (an items plan of the steps, and a Markdown plan of the
    approach while the turn runs) where the client takes them, not the legacy `plan`."""
    """Each prompt ends with a compaction (`compaction_update`), where the client takes them."""
    subagent: str = ""
    """A background sub-agent with this title, in the middle of the first model call's text, where the
    client takes sub-agents (`subagents`): see `acp_stable.StableUpdates.subagent`."""
    subagents: int = 1
    """With `subagent`, how many sub-agents, one after another (a tree of thousands, for its speed)."""
    subagent_asks: bool = False
    """With `subagent`, the sub-agent asks permission for its tool call, on its own session."""
    subagent_waits: bool = False
    """With `subagent`, the sub-agent offers its cancel (`capabilities.cancel`) and, once it has said
    its first words, waits until the client cancels it (`session/cancel` with its session id)."""
    subagent_foreground: bool = False
    """With `subagent`, the sub-agent runs in the foreground: once the first model call's text is
    whole, the parent saying nothing until it is done (else in the background, amid that text)."""
    unknown_update: str = ""
    """An update of this kind, which no schema has, as soon as a prompt arrives."""
    answers_early: bool = False
    """The prompt is answered (`end_turn`) while the turn's first permission request waits for the
    person, and the turn goes on once it is answered: what follows no `session/prompt` owns any more,
    as Codex went on after codex-acp answered its prompt when its model's Responses interrupt was
    refused (issue 78)."""
    late_word: bool = False
    """Once a prompt is answered, and lfg has answered a file read asked after it, one more message
    chunk of that turn (`LATE_WORD`): an update that comes after its `session/prompt` returned, as a
    Codex still streaming when codex-acp answered (issue 78)."""
    late_asks: bool = False
    """Once a prompt is answered, and lfg has answered a file read asked after it, a permission
    request, a file write and a command of that turn, then a chunk saying what came back
    (`LATE_ASKS`): requests after its `session/prompt` returned, as a Codex going on could send."""
    steer_cuts: bool = False
    """A steer taken mid-answer (`--steering injected`) cuts the model call streaming now off, as
    Claude Code does (issue 73): the rest of its text is never sent, none of its tokens is in the
    turn's count, and another call answers anew, its first token after the TTFT. One taken while a
    tool call's arguments stream (`paced_tool_input`) cuts its message off too: that call and the
    later ones of the message never run, each shown closed `failed` as the turn ends, saying
    `STOPPED_BEFORE_RAN` (claude-agent-acp 0.101.0 `unfinished()`: a `tool_use` that never reached a
    complete assistant message), and the next model call reads the steer."""
    steer_reads_late: bool = False
    """A steer taken (`--steering injected`) while a permission request waits is read only after the
    turn's last answer, as one more model call, as Claude Code (claude-agent-acp 0.101.0) does (issue
    73): a steer taken mid-answer is read at once, so two can be read in the reverse of the order sent."""
    message_ids: bool = False
    """Each model call's message has an id of its own (`messageId` on its chunks), as Claude Code's
    do (the model API's message id); a steer it takes while no permission waits is read at its next
    model call, said as that call's message begins (one more call at the end, if none is left), as
    Claude Code reads one it takes at priority `now`."""
    announce_round: bool = False
    """A model call's tool calls are all announced (`tool_call`, pending) before the first is asked
    about or run, as Claude Code does: claude-agent-acp 0.101.0 announced both `Write`s of one answer
    before it asked about the first (against the sim, 2026-11-28); without it each is announced as
    its turn comes, right before it is asked about."""
    answer_taken_ms: float = 0.0
    """Once a permission request is answered, the agent first refines the asked call (a
    `tool_call_update` of its input, no status: what claude-agent-acp sends when a call's streamed
    `tool_use` block comes after its permission request), and takes the answer only once a steer
    comes or this long has passed, waiting on the person meanwhile (with `steer_reads_late`, a steer
    that comes then is read after the turn's last answer): an update written before the agent took
    the answer, which the client reads after its answer left (issue 73)."""
    deaf_to_cancel: bool = False
    """`session/cancel` is heard and ignored: the turn runs on, as a hung agent's does, until the
    client ends the process."""
    withdraw_when: str = ""
    """A file whose appearing withdraws the permission request or form waiting unanswered (ACP
    `$/cancel_request`, `--withdraw-when`), as an agent withdraws what its cancelled work asked: the
    client must still answer it (-32800), and the call goes on as rejected, the form as cancelled.
    The file is removed as it is withdrawn: the next ask waits for it anew."""


class PromptCancelled(Exception):
    """The client cancelled the prompt: the run stops and answers `cancelled`."""


class ToolFailed(Exception):
    """A tool call that could not run (rejected, bad arguments, a file error); the run goes on."""


class TerminalFailed(ToolFailed):
    """A command that failed or was killed in the client's terminal, which the call still shows."""

    def __init__(self, content: list[ToolCallContentVariant], output: str) -> None:
        super().__init__(output)
        self.content = content


class WriteFailed(Exception):
    """The agent's own write failed (`Quirks.own_writes`): the call ends failed, saying nothing."""


class Rejected(ToolFailed):
    """The client rejected the call's permission request."""


class TurnEnded(Exception):
    """The agent ends its turn early with `stop_reason` (after a rejection, with `after_denial`)."""

    def __init__(self, stop_reason: StopReason) -> None:
        super().__init__(stop_reason)
        self.stop_reason: StopReason = stop_reason


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
        self,
        conn: AgentSideConnection,
        session: SimSession,
        scenario: Scenario,
        stdout: asyncio.StreamWriter,
        quirks: Quirks | None = None,
        client_terminals: bool = False,
        client_forms: bool = False,
        stable: StableUpdates | None = None,
        withdraw: Withdraw | None = None,
        sent: Mapping[asyncio.Task[Any], Any] | None = None,
    ) -> None:
        self.conn = conn
        self.withdraw = withdraw
        """How an ask is withdrawn (with `Quirks.withdraw_when`)."""
        self.sent: Mapping[asyncio.Task[Any], Any] = {} if sent is None else sent
        """The id of the last request each task sent the client, once the pipe has written it."""
        self.stable = stable
        """Where the updates the SDK cannot send go (None: none are sent)."""
        self.session = session
        self.scenario = scenario
        self.stdout = stdout
        self.quirks = quirks or Quirks()
        self.terminals = self.quirks.terminals and client_terminals
        """Whether commands run in the client's terminals."""
        self.client_forms = client_forms
        """Whether the client takes questions as forms (its `elicitation.form` capability)."""
        self.pacer = Pacer(scenario)
        self.output_tokens = 0
        """The run's output tokens, as a real agent reports them: the thoughts and message pieces it
        streamed, and its tool calls' arguments, a token per piece a model API would stream them in,
        though the agent sends each call whole."""
        self.thought_tokens = 0
        """The thoughts' part of `output_tokens`."""
        self.said: list[str] = []  # the message pieces sent, for the saved conversation
        self.bare: set[str] = set()  # the calls announced bare as their arguments began (`paced_tool_input`)
        self.announced: set[str] = set()  # the calls announced with their round (`announce_round`)
        self.dropped: list[str] = []  # the calls shown that a steer stopped before they ran (`steer_cuts`)
        self.answer_now = asyncio.Event()
        self.message_id: str | None = None
        """The id of the model call's message streaming now (`Quirks.message_ids`)."""
        self.messages = 0
        """Set (`answers_early`) when the prompt is to be answered though the turn goes on."""

    async def play(self) -> None:
        """Every model call: its plan step, its thoughts and text (meeting any fault due), its tool calls.
        The agent's own words (an empty chunk, a notice, a relayed error) come first, unpaced."""
        quirks = self.quirks
        if quirks.progress:
            await self._update(SessionInfoUpdate(session_update="session_info_update", title=quirks.progress))
        if quirks.empty_first_chunk:
            await self._update(acp.update_agent_message_text(""))
        if quirks.notice:
            await self._own_words([quirks.notice])
        stable = self.stable
        if stable is not None and quirks.acp_notice:
            await stable.notice(quirks.acp_notice)
        if stable is not None and quirks.unknown_update:
            await stable.unknown(quirks.unknown_update)
        if quirks.burst and stable is not None:
            first, *rest = split_tokens(quirks.burst) or [""]
            chunks = [first, "".join(rest)]
            await stable.burst(chunks)
            self.said += chunks
            self.output_tokens += 2  # the agent reports what it relays as its output
            return
        if self.scenario.elicit:
            answer = await self._elicit(json.loads(self.scenario.elicit))
            calls_filled = tuple(
                replace(call, text=call.text.replace(ELICITATION, answer)) for call in self.scenario.calls
            )
            self.scenario = replace(self.scenario, calls=calls_filled)
        calls = len(self.scenario.calls)
        delegate = stable.subagent if stable is not None and quirks.subagent else None
        if quirks.bare_messages:
            chunk_chars = self.scenario.chunk_chars
            pieces = [p for i in range(calls) for p in plan_call(self.scenario.call(i), i, chunk_chars)]
        else:
            pieces = AgentProtocol().plan(self.scenario, SimRequest(model=self.scenario.name))
        for index in range(calls):
            await self._plan(index)
            self.pacer.resume()  # a slow start (the plan's round trip) is not caught up in a burst
            await self._model_call()
            mine = [piece for piece in pieces if piece.call == index]
            chunks = [piece for piece in mine if piece.kind in (PieceKind.REASONING, PieceKind.TEXT)]
            counted = self.output_tokens, self.thought_tokens
            position = 0
            while position < len(chunks):
                if self.session.cut:  # a steer came: this call is cut off, uncounted; another answers
                    self.session.cut, position = False, 0
                    self.output_tokens, self.thought_tokens = counted
                    self.pacer = Pacer(self.scenario)
                    await self._model_call()
                    continue
                await self._faults(index, position)
                await self._chunk(chunks[position])
                if delegate is not None and index == 0 and position == 0 and not quirks.subagent_foreground:
                    await self._delegate(delegate, quirks)  # in the background, amid the answer
                position += 1
            await self._faults(index, len(chunks))
            if delegate is not None and index == 0 and quirks.subagent_foreground:
                await self._delegate(delegate, quirks)  # in the foreground: the parent waits
            for piece in mine if quirks.announce_round else ():
                if piece.kind is PieceKind.TOOL_END:
                    await self._tool_call(index, piece.tool_index, announce_only=True)
            for piece in mine:
                if piece.kind is PieceKind.TOOL_START and quirks.paced_tool_input:
                    self.session.cut = False  # a steer taken before this call streamed is not its own
                    await self._bare_call(index, piece.tool_index)
                elif piece.kind is PieceKind.TOOL_ARGS:
                    if quirks.paced_tool_input:
                        await self.pacer.wait(self.session.cancelled)
                    self.output_tokens += piece.tokens
                    if quirks.paced_tool_input and self.session.cut:  # its message cut off: not run
                        self._drop_calls(index, piece.tool_index)
                        self.output_tokens, self.thought_tokens = counted
                        break
                elif piece.kind is PieceKind.TOOL_END:
                    await self._tool_call(index, piece.tool_index)
            if index == 0 and quirks.informational:
                await self._informational(quirks.informational)
        if self.session.read_next:  # steers taken during the last call: one more reads them
            await self._model_call()
        if self.session.late:  # one more model call, answering what it read last
            await self._model_call()
        for steer in self.session.late:
            await self.say(LATE_READ.format(text=steer))
        self.session.late.clear()
        for call_id in self.dropped:  # closed as the turn settles, as claude-agent-acp closes them
            stopped = [acp.tool_content(acp.text_block(STOPPED_BEFORE_RAN))]
            await self._update(acp.update_tool_call(call_id, status="failed", content=stopped))
        await self._plan(calls)
        if stable is not None and quirks.compaction:
            await stable.compaction()

    async def _model_call(self) -> None:
        """A model call begins: with `message_ids` its message gets an id of its own and it says
        first the steers taken since the last one began (`SimSession.read_next`), which it reads."""
        if not self.quirks.message_ids:
            return
        self.messages += 1
        self.message_id = f"msg-{self.session.prompts}-{self.messages}"
        for said in self.session.read_next:
            await self.say(said)
        self.session.read_next.clear()

    async def _elicit(self, asked: dict[str, Any]) -> str:
        """Ask the scenario's question as a form; the answer as `{{ elicitation }}` says it."""
        if not self.client_forms:
            return "not asked: the client offers no forms"
        form = ElicitationSchema.model_validate(asked["schema"])
        mode = ElicitationFormSessionMode(session_id=self.session.id, requested_schema=form)
        try:
            reply = await self._asked(self.conn.create_elicitation(message=asked["message"], mode=mode))
        except acp.RequestError as exc:
            if exc.code != REQUEST_CANCELLED:
                raise
            return "withdrawn"
        self.pacer.resume()
        if isinstance(reply, AcceptElicitationResponse):
            return "accepted: " + json.dumps(reply.content or {}, sort_keys=True)
        return "declined" if isinstance(reply, DeclineElicitationResponse) else "cancelled"

    async def say(self, text: str) -> None:
        for token in split_tokens(text, self.scenario.chunk_chars):
            await self._chunk(Piece(PieceKind.TEXT, token))

    async def _own_words(self, chunks: list[str]) -> None:
        """Text the agent sends itself, all at once: not the model's output, so not its tokens."""
        for text in chunks:
            await self._update(acp.update_agent_message_text(text))
            self.said.append(text)

    async def _informational(self, text: str) -> None:
        """The agent's own warning, marked as Claude Code marks it (see `Quirks.informational`)."""
        marked = {"claudeCode": {"kind": "informational", "level": "warning"}}
        await self._update(acp.update_agent_message_text(text).model_copy(update={"field_meta": marked}))

    async def _update(self, update: SessionUpdate) -> None:
        if self.session.cancelled.is_set():
            raise PromptCancelled
        await self.conn.session_update(self.session.id, update)

    async def _plan(self, current: int) -> None:
        """The whole plan: calls before `current` completed, `current` in progress, the rest pending."""
        calls = len(self.scenario.calls)
        entries = [
            acp.plan_entry(
                plan_label(self.scenario.call(index)),
                status="completed" if index < current else "in_progress" if index == current else "pending",
            )
            for index in range(calls)
        ]
        if self.quirks.plan_ops and self.stable is not None:
            steps = [entry.model_dump(mode="json", exclude_none=True) for entry in entries]
            if await self.stable.plans(steps, current, calls):
                return
        await self._update(acp.update_plan(entries))

    async def _chunk(self, piece: Piece) -> None:
        await self.pacer.wait(self.session.cancelled)
        thought = piece.kind is PieceKind.REASONING
        chunk = (acp.update_agent_thought_text if thought else acp.update_agent_message_text)(piece.text)
        if self.message_id is not None:
            chunk = chunk.model_copy(update={"message_id": self.message_id})
        await self._update(chunk)
        if thought:
            self.thought_tokens += 1
        else:
            self.said.append(piece.text)
        self.output_tokens += 1

    @staticmethod
    async def _delegate(delegate: Callable[[str, int], Awaitable[None]], quirks: Quirks) -> None:
        """The sub-agents of `--subagent` (`--subagents N` of them), one after another."""
        for number in range(quirks.subagents):
            await delegate(quirks.subagent if number == 0 else f"{quirks.subagent} {number + 1}", number)

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

    async def _tool_call(self, answering: int, index: int, announce_only: bool = False) -> None:
        """Announce tool call `index` of model call `answering` (unless its round announced it:
        `announce_only` does that), ask permission if it changes things, run it through the client,
        report."""
        call = self.scenario.call(answering).tool_calls[index]
        call_id = self._call_id(answering, index)
        arguments = wire_arguments(call)
        title, kind = tool_title(call.name, arguments), TOOL_KINDS.get(call.name, "other")
        path = self._path(arguments)
        locations = [ToolCallLocation(path=str(path))] if path else None
        if call_id not in self.announced:
            await self._announce(call_id, title, kind, locations, arguments)
        if announce_only:
            self.announced.add(call_id)
            return
        try:
            if isinstance(arguments, str):
                raise ToolFailed(call.result or "tool arguments are not a JSON object")
            in_terminal = self.terminals and call.name == "run_command"
            auto = self.session.mode == AUTO_MODE  # the agent's own say: nobody is asked
            allowed = call.name in self.session.always_allowed or in_terminal or auto
            if call.name in NEEDS_PERMISSION and not allowed:
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
            if self.quirks.tool_ms > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.session.cancelled.wait(), self.quirks.tool_ms / 1000)
            ending: dict[str, Any] | None = None
            if in_terminal:
                output, content = await self._in_terminal(call_id, arguments)
            elif self.quirks.own_terminal and call.name == "run_command":
                output, content = await self._own_terminal(call_id, call.result)
                ending = {"terminal_exit": {"terminal_id": call_id, "exit_code": 0, "signal": None}}
            elif self.quirks.own_writes and call.name == "write_file" and path:
                output, content = await self._own_write(call_id, call.result, arguments, path)
            else:
                output, content = await self._run(call.name, call.result, arguments, path)
        except WriteFailed:
            await self._update(acp.update_tool_call(call_id, status="failed"))
        except ToolFailed as exc:
            failure = [acp.tool_content(acp.text_block(str(exc)))]
            if isinstance(exc, TerminalFailed):
                failure = exc.content
            await self._update(
                acp.update_tool_call(
                    call_id, status="failed", content=failure, raw_output={"error": str(exc)}
                )
            )
            if isinstance(exc, Rejected) and self.quirks.after_denial is not None:
                raise TurnEnded(self.quirks.after_denial) from None
        else:
            done = acp.update_tool_call(
                call_id, status="completed", content=content, raw_output={"output": output}
            )
            await self._update(done.model_copy(update={"field_meta": ending}))
        self.pacer.resume()

    def _drop_calls(self, answering: int, index: int) -> None:
        """A steer cut model call `answering` off while it streamed tool call `index`'s arguments
        (`Quirks.steer_cuts`): that call and the later ones of its message never run, and those
        shown are closed as the turn ends (`STOPPED_BEFORE_RAN`); the next model call reads the steer."""
        self.session.cut = False
        calls = len(self.scenario.call(answering).tool_calls)
        ids = [self._call_id(answering, n) for n in range(index, calls)]
        self.dropped += [call_id for call_id in ids if call_id in self.bare or call_id in self.announced]
        log.info("a steer cut model call %d off in tool call %d: not run", answering, index)

    def _call_id(self, answering: int, index: int) -> str:
        return f"p{self.session.prompts}_{tool_call_id(answering, index)}"

    async def _bare_call(self, answering: int, index: int) -> None:
        """With `late_tool_input`, the call announced bare as its arguments begin to stream, as Claude
        Code announces a tool use at its block's start, and at once its first argument of several
        (claude-agent-acp refines the input at each top-level comma: a real `Write`'s path came 2 ms
        after its announcement, its content once whole)."""
        if self.scenario.late_tool_input:
            call_id = self._call_id(answering, index)
            await self._update(acp.start_tool_call(call_id, "", status="pending", raw_input={}))
            self.bare.add(call_id)
            arguments = wire_arguments(self.scenario.call(answering).tool_calls[index])
            if isinstance(arguments, dict) and len(arguments) > 1:
                first = dict([next(iter(arguments.items()))])
                await self._update(acp.update_tool_call(call_id, raw_input=first))

    async def _announce(
        self,
        call_id: str,
        title: str,
        kind: ToolKind,
        locations: list[ToolCallLocation] | None,
        arguments: dict[str, Any] | str,
    ) -> None:
        """The call's `tool_call`: whole, or (`late_tool_input`) bare and then described in two
        `tool_call_update`s, its title and kind first, its locations and input after, the way Claude
        Code streams a call before its input is known."""
        if not self.scenario.late_tool_input:
            start = acp.start_tool_call(
                call_id, title, kind=kind, status="pending", locations=locations, raw_input=arguments
            )
            await self._update(start)
            return
        if call_id not in self.bare:
            await self._update(acp.start_tool_call(call_id, "", status="pending", raw_input={}))
        await self._update(acp.update_tool_call(call_id, title=title, kind=kind))
        await self._update(acp.update_tool_call(call_id, locations=locations, raw_input=arguments))

    def _path(self, arguments: dict[str, Any] | str) -> Path | None:
        value = arguments.get("path") if isinstance(arguments, dict) else None
        return self.session.cwd / value if isinstance(value, str) and value else None

    async def _ask_permission(self, tool: str, request: ToolCallUpdate) -> None:
        self.session.asking += 1
        try:
            await self._permission(tool, request)
        finally:
            self.session.asking -= 1

    async def _permission(self, tool: str, request: ToolCallUpdate) -> None:
        asking = asyncio.ensure_future(
            self.conn.request_permission(self.session.id, request, list(PERMISSION_OPTIONS))
        )
        if self.quirks.answers_early and not self.answer_now.is_set() and request.locations:
            # the request written first, then a file read (agents read before they write): once the
            # client has answered the read, it has the request too, which waits as the prompt is
            # answered. The request's task writes it as it first runs: unwaited, after the read.
            while asking not in self.sent and not asking.done():  # noqa: ASYNC110 (that first run)
                await asyncio.sleep(0)
            with contextlib.suppress(acp.RequestError):
                await self.conn.read_text_file(self.session.id, request.locations[0].path)
            self.answer_now.set()
        try:
            response = await self._asked(asking)
        except acp.RequestError as exc:
            if exc.code != REQUEST_CANCELLED:
                raise
            raise Rejected("withdrawn by the agent ($/cancel_request)") from None
        if isinstance(response.outcome, DeniedOutcome):
            raise PromptCancelled  # the client's answer to a permission request of a cancelled prompt
        if self.quirks.answer_taken_ms > 0:
            await self._answer_taken_late(request)
        if response.outcome.option_id == "allow_always":
            self.session.always_allowed.add(tool)
        if response.outcome.option_id not in ALLOWING:
            raise Rejected("rejected by the user")

    async def _answer_taken_late(self, request: ToolCallUpdate) -> None:
        """`Quirks.answer_taken_ms`: the asked call refined, then the answer taken once a steer comes
        or the time is up, the request still waiting meanwhile (`SimSession.asking`)."""
        self.session.steered.clear()
        await self._update(acp.update_tool_call(request.tool_call_id, raw_input=request.raw_input))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.session.steered.wait(), self.quirks.answer_taken_ms / 1000)

    async def _asked(self, request: Coroutine[Any, Any, T]) -> T:
        """The client's answer to a question for the person, as `_unless_cancelled` waits for it;
        with `withdraw_when`, one still unanswered once that file exists is withdrawn
        (`$/cancel_request`) and its answer still awaited: the client answers it -32800 (Request
        Cancelled), raised."""
        answer = asyncio.ensure_future(request)
        if self.withdraw is not None and self.quirks.withdraw_when:
            due = asyncio.ensure_future(self._withdrawal_due(Path(self.quirks.withdraw_when)))
            try:
                done, _ = await asyncio.wait({answer, due}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                due.cancel()
            if answer not in done:
                await self.withdraw(answer)
        return await self._unless_cancelled(answer)

    @staticmethod
    async def _withdrawal_due(trigger: Path) -> None:
        """Until `trigger` exists, which it then removes: a test makes it once it has seen the ask,
        so no machine is too slow to show an ask before it goes."""
        while not _taken(trigger):  # noqa: ASYNC110 (a file another process makes: no event to await)
            await asyncio.sleep(WITHDRAW_POLL_S)

    async def _unless_cancelled(self, request: Awaitable[T]) -> T:
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
                old_text = None
            old_text = old_text or None  # a new file: a client answers it empty (lfg does) or not found
            await self._client(self.conn.write_text_file(self.session.id, str(path), new_text))
            return result, [acp.tool_diff_content(str(path), new_text, old_text)]
        return result, [acp.tool_content(acp.text_block(result))]

    async def _in_terminal(
        self, call_id: str, arguments: dict[str, Any]
    ) -> tuple[str, list[ToolCallContentVariant]]:
        """Run the command in a terminal of the client, embedded in the call as soon as it starts;
        past `timeout_s` it is killed. A command that fails, or is killed, fails the call."""
        command = str(arguments.get("command", ""))
        created = await self._client(self.conn.create_terminal(self.session.id, command))
        terminal_id = created.terminal_id
        content: list[ToolCallContentVariant] = [acp.tool_terminal_ref(terminal_id)]
        await self._update(acp.update_tool_call(call_id, content=content))
        try:
            waiting = self.conn.wait_for_terminal_exit(self.session.id, terminal_id)
            timeout_s = arguments.get("timeout_s")
            try:
                await asyncio.wait_for(self._unless_cancelled(waiting), timeout_s)
            except TimeoutError:
                await self.conn.kill_terminal(self.session.id, terminal_id)
            ended = await self.conn.terminal_output(self.session.id, terminal_id)
        finally:
            with contextlib.suppress(acp.RequestError, ConnectionError):
                await self.conn.release_terminal(self.session.id, terminal_id)
        status = ended.exit_status
        code = status.exit_code if status else None
        if code != 0:
            how = f"killed by {status.signal}" if status and status.signal else f"exit code {code}"
            raise TerminalFailed(content, f"{ended.output}[{how}]")
        return ended.output, content

    async def _own_write(
        self, call_id: str, result: str, arguments: dict[str, Any], path: Path
    ) -> tuple[str, list[ToolCallContentVariant]]:
        """Write the file in the agent itself (`Quirks.own_writes`), its diff shown first; raises
        WriteFailed where the disk refuses it."""
        new_text = str(arguments.get("content", ""))
        try:
            old_text: str | None = await asyncio.to_thread(path.read_text, encoding="utf-8") or None
        except OSError:
            old_text = None
        content: list[ToolCallContentVariant] = [acp.tool_diff_content(str(path), new_text, old_text)]
        await self._update(acp.update_tool_call(call_id, content=content))
        try:
            await asyncio.to_thread(path.write_text, new_text, encoding="utf-8")
        except OSError:
            raise WriteFailed from None
        return result, content

    async def _own_terminal(self, call_id: str, result: str) -> tuple[str, list[ToolCallContentVariant]]:
        """Run the command in the agent itself: its output, the scenario's result, streamed a line at a
        time in the call's `_meta`, in a terminal of the call's own id (see `Quirks.own_terminal`)."""
        content: list[ToolCallContentVariant] = [acp.tool_terminal_ref(call_id)]
        started = acp.update_tool_call(call_id, content=content)
        info = {"terminal_info": {"cwd": str(self.session.cwd), "terminal_id": call_id}}
        await self._update(started.model_copy(update={"field_meta": info}))
        for line in result.splitlines(keepends=True):
            await self.pacer.wait(self.session.cancelled)
            chunk = {"terminal_output_delta": {"terminal_id": call_id, "data": line}}
            await self._update(acp.update_tool_call(call_id).model_copy(update={"field_meta": chunk}))
        return result, content

    async def _client(self, request: Coroutine[Any, Any, T]) -> T:
        try:
            return await request
        except acp.RequestError as exc:
            raise ToolFailed(str(exc)) from None


def _taken(trigger: Path) -> bool:
    """Whether `trigger` was there, removing it (`--withdraw-when`)."""
    try:
        trigger.unlink()
    except FileNotFoundError:
        return False
    return True
