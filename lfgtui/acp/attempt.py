"""One attempt of a coding-agent ticket: start the agent, open a session in the workdir, send the
prompt, stream what the agent does, and leave no process behind.

One agent process per attempt. Its stderr goes to a private log file, never to the screen; the tail
of it is quoted when the agent fails. An agent that crashes, writes something other than ACP to its
stdout, or never answers `initialize` fails only its own ticket (`connection`, `malformed`,
`timeout`). Cancelling sends `session/cancel`, waits a moment for the agent to end its turn, then
ends the process (stdin closed, SIGTERM, SIGKILL to its whole process group).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import BinaryIO

import acp
import platformdirs
from acp import schema

from lfgtui.acp.client import AgentClient
from lfgtui.acp.process import STOP_WAIT_S, start_agent, stop_process
from lfgtui.acp.transport import AgentPipe
from lfgtui.acp.updates import UpdateReader
from lfgtui.agent import AgentTask, Toolbox, output_limit
from lfgtui.events import (
    AgentStarted,
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    Outcome,
    ReasoningDelta,
    RequestSent,
    Status,
    TextDelta,
    ToolResult,
    Usage,
)
from lfgtui.history.store import private_folder
from lfgtui.inert import inert
from lfgtui.providers.base import AssistantMessage, Message, ProviderConfig, UserMessage

CANCEL_GRACE_S = 3.0
"""How long the agent has to end its turn after `session/cancel` before it is stopped."""
STDERR_TAIL_BYTES = 1500
PROMPT_DONE = object()
STOPPED = {
    "max_tokens": (ErrorKind.STOPPED, "the agent stopped at its token limit (max_tokens)"),
    "max_turn_requests": (
        ErrorKind.MAX_TURNS,
        "the agent stopped at its limit of model requests for one turn (max_turn_requests)",
    ),
    "refusal": (ErrorKind.STOPPED, "the agent refused to go on (refusal)"),
}


@dataclass(frozen=True)
class AgentLaunch:
    """How to start one agent: its command line (with `{model}` filled in), environment and limits."""

    config: ProviderConfig
    env: Mapping[str, str]

    def command(self, model: str) -> list[str]:
        return [part.replace("{model}", model) for part in self.config.command]


def open_agent_log(ticket: str, attempt: int) -> tuple[Path, BinaryIO]:
    """A new file readable only by us, for one attempt's stderr, in lfg's log folder."""
    folder = Path(platformdirs.user_log_dir("lfgtui")) / "agents"
    private_folder(folder)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in ticket)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{attempt}-{os.getpid()}.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return path, os.fdopen(fd, "ab", buffering=0)


def prompt_text(messages: tuple[Message, ...]) -> str:
    """The prompt to send: the last user message, after the earlier conversation written out when
    there is one (a follow-up starts a new agent session, which remembers nothing)."""
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


def _size(event: Event) -> int:
    match event:
        case TextDelta(text=text) | ReasoningDelta(text=text):
            return len(text)
        case ToolResult(output=output):
            return len(output)
    return 0


class _Failed(Exception):
    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


async def run_acp(
    launch: AgentLaunch,
    task: AgentTask,
    ev: EventFactory,
    toolbox: Toolbox,
    transcript: list[Message] | None = None,
) -> AsyncIterator[Event]:
    """One attempt, framed by `AttemptStarted` and `AttemptEnded`, like `agent.run_agent`.

    Cancellation is the caller's, as there: the caller records the `cancelled` outcome.
    """
    yield ev(AttemptStarted, provider=launch.config.name, model=task.call.model)
    command = launch.command(task.call.model)
    log_path, log = open_agent_log(ev.ticket, ev.attempt)
    try:
        process = await start_agent(command, launch.env, toolbox.ctx.workdir, log)
    except OSError as exc:
        log.close()
        message = f"could not start the agent: {command[0]}: {exc.strerror or exc}"
        yield ev(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(ErrorKind.CONNECTION, message))
        return
    started = f"agent started: {' '.join(command)} (pid {process.pid}); its log: {log_path}"
    yield ev(AgentStarted, message=started, log=str(log_path))
    session = _Session(launch, task, ev, toolbox, process, log_path)
    try:
        async for event in session.run(transcript):
            yield event
    finally:
        await session.close()
        log.close()


class _Session:
    """The connection to one running agent and its one session."""

    def __init__(
        self,
        launch: AgentLaunch,
        task: AgentTask,
        ev: EventFactory,
        toolbox: Toolbox,
        process: asyncio.subprocess.Process,
        log_path: Path,
    ) -> None:
        assert process.stdin is not None and process.stdout is not None  # piped by run_acp
        self.launch, self.task, self.ev, self.process, self.log_path = launch, task, ev, process, log_path
        self.client = AgentClient(UpdateReader(ev), toolbox)
        self.pipe = AgentPipe(process.stdout, process.stdin)
        self.conn = acp.connect_to_agent(self.client, self.pipe)
        self.session_id: str | None = None
        self.prompt: asyncio.Task[schema.PromptResponse] | None = None
        self._answer: list[str] = []

    async def run(self, transcript: list[Message] | None) -> AsyncIterator[Event]:
        ev = self.ev
        try:
            await self._open()
            yield ev(RequestSent, call=0)
            if len(self.task.call.messages) > 1:
                yield ev(Status, message="a new agent session: the earlier conversation is in the prompt")
            async for event in self._turn():
                yield event
            response = await self._response()
        except _Failed as failed:
            for event in self.client.reader.unfinished():
                yield event
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=failed.info)
            return
        except asyncio.CancelledError:
            await self._cancel()
            raise
        for event in [*self.client.reader.unfinished(), *from_usage(ev, response.usage)]:
            yield event
        stop = response.stop_reason
        yield ev(CallEnded, stop_reason=stop)
        if stop == "cancelled":
            yield ev(AttemptEnded, outcome=Outcome.CANCELLED)
        elif stop in STOPPED:
            kind, message = STOPPED[stop]
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(kind, message))
        else:
            if transcript is not None:
                text = "".join(self._answer)
                transcript.extend([*self.task.call.messages, AssistantMessage(text)])
            yield ev(AttemptEnded, outcome=Outcome.COMPLETED)

    async def _open(self) -> None:
        """initialize and session/new, within the provider's `connect_timeout_s`."""
        limit = self.launch.config.connect_timeout_s
        try:
            async with asyncio.timeout(limit):
                await self.conn.initialize(
                    protocol_version=acp.PROTOCOL_VERSION,
                    client_capabilities=schema.ClientCapabilities(
                        fs=schema.FileSystemCapabilities(read_text_file=True, write_text_file=True),
                        terminal=False,
                    ),
                    client_info=schema.Implementation(name="lfg", title="lfgtui", version=version("lfgtui")),
                )
                session = await self.conn.new_session(
                    cwd=str(self.client.toolbox.ctx.workdir), mcp_servers=[]
                )
        except TimeoutError:
            message = f"the agent did not start a session within {limit:g} s (connect_timeout_s)"
            raise _Failed(self._with_log(ErrorInfo(ErrorKind.TIMEOUT, message))) from None
        except Exception as exc:  # whatever breaks the start fails only this ticket
            raise _Failed(await self._failure(exc)) from None
        self.session_id = session.session_id

    async def _turn(self) -> AsyncIterator[Event]:
        """Everything the agent streams until its prompt is answered."""
        assert self.session_id is not None
        text = acp.text_block(prompt_text(self.task.call.messages))
        self.prompt = asyncio.create_task(self.conn.prompt(session_id=self.session_id, prompt=[text]))
        self.prompt.add_done_callback(lambda _: self.client.inbox.put_nowait(PROMPT_DONE))
        streamed, limit = 0, self.task.max_output_chars
        while (item := await self.client.inbox.get()) is not PROMPT_DONE:
            for event in self.client.events(item):
                if isinstance(event, TextDelta):
                    self._answer.append(event.text)
                streamed += _size(event)
                yield event
            if streamed > limit:
                await self._cancel()
                raise _Failed(output_limit(limit))

    async def _response(self) -> schema.PromptResponse:
        assert self.prompt is not None
        try:
            return self.prompt.result()
        except Exception as exc:  # see _failure
            raise _Failed(await self._failure(exc)) from None

    async def _failure(self, exc: BaseException) -> ErrorInfo:
        """What went wrong, in terms of what the agent did."""
        if self.pipe.problem is not None:
            return self._with_log(ErrorInfo(ErrorKind.MALFORMED, self.pipe.problem))
        if isinstance(exc, acp.RequestError):
            detail = exc.data.get("details") if isinstance(exc.data, dict) else None
            text = inert(f"{exc} ({detail})" if detail else str(exc))
            kind = ErrorKind.AUTH if exc.code == -32000 else ErrorKind.STREAM_ERROR
            return self._with_log(ErrorInfo(kind, f"the agent answered an error: {text} (code {exc.code})"))
        if isinstance(exc, ConnectionError):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), STOP_WAIT_S)
            code = self.process.returncode
            how = "ended" if code is None else f"exited with code {code}"
            message = f"the agent {how} before it finished"
            return self._with_log(ErrorInfo(ErrorKind.CONNECTION, message))
        message = f"the agent sent a message lfg cannot read: {type(exc).__name__}: {inert(str(exc))[:300]}"
        return self._with_log(ErrorInfo(ErrorKind.MALFORMED, message))

    def _with_log(self, info: ErrorInfo) -> ErrorInfo:
        tail = _stderr_tail(self.log_path)
        return ErrorInfo(info.kind, f"{info.message}; its log says: {tail}" if tail else info.message)

    async def _cancel(self) -> None:
        """Ask the agent to end its turn (`session/cancel`), then wait a moment for it to do so."""
        self.client.cancelling = True
        if self.prompt is None or self.prompt.done() or self.session_id is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.conn.cancel(session_id=self.session_id), CANCEL_GRACE_S)
            await asyncio.wait_for(asyncio.shield(self.prompt), CANCEL_GRACE_S)

    async def close(self) -> None:
        """Close the connection and end the agent and everything it started."""
        if self.prompt is not None and not self.prompt.done():
            self.prompt.cancel()
        with contextlib.suppress(Exception):
            await self.conn.close()
        await stop_process(self.process)


def from_usage(ev: EventFactory, usage: schema.Usage | None) -> list[Event]:
    """The turn's token counts as the agent reported them; without them the gauges keep estimating."""
    if usage is None:
        return []
    counts = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.thought_tokens,
    }
    return [ev(Usage, **counts)]
