"""What one running agent and its session hold (`SessionState`), and how a failure is told in terms
of what the agent did, quoting the end of its log."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

import acp
from acp import schema

from lfgtui.events import ErrorInfo, ErrorKind, EventFactory, HeldMessage
from lfgtui.inert import inert
from lfgtui.run.agents.agent_log import AgentLog
from lfgtui.run.agents.choices import Offered
from lfgtui.run.agents.choices import said as _said
from lfgtui.run.agents.client import AgentClient
from lfgtui.run.agents.folder_settings import FolderWatch
from lfgtui.run.agents.launch import AgentLaunch
from lfgtui.run.agents.login import AUTH_REQUIRED, AuthMethod, login_guidance
from lfgtui.run.agents.process import STOP_WAIT_S
from lfgtui.run.agents.stall import IdleWatch
from lfgtui.run.agents.transport import AgentPipe
from lfgtui.run.agents.updates import AgentView
from lfgtui.run.approvals import Elicit
from lfgtui.tools.toolbox import Toolbox

STDERR_TAIL_BYTES = 1500


def _stderr_tail(log: Path) -> str:
    try:
        with log.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - STDERR_TAIL_BYTES))
            tail = file.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [inert(line).strip() for line in tail.splitlines() if line.strip()]
    return " | ".join(lines[-5:])


class SessionState:
    """One running agent and its one session, which may serve several attempts (follow-ups): what
    it holds, and how what went wrong is told."""

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
        self.steering = False
        """The agent takes `_session/steering` into a running turn (its `initialize` said so)."""
        self._steers_sent: list[HeldMessage] = []
        """The steers the agent took into the running turn, in the order sent: not yet known read
        (steering.py)."""
        self._sent_during: frozenset[str | None] = frozenset()
        """The ids of the agent's model messages (ACP `messageId`) streaming as it took the first of
        `_steers_sent`: Claude Code's model reads them at the next message it begins (steering.py)."""
        self._kept_at_end = ""
        """Why steers were still kept, unsent, as the running turn's prompt was answered ("": none
        were; steering.py `_keeps`): the turn's end sends them as next turns, saying why."""
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

    @property
    def alive(self) -> bool:
        """The agent runs, its session is open and nothing it sent was broken."""
        return self.process.returncode is None and self.session_id is not None and self.pipe.problem is None

    @property
    def ev(self) -> EventFactory:
        return self.client.ev

    def _agent(self) -> str:
        """The agent as a message names it: its provider, and its name and version as it gave them."""
        info = self.agent_info
        name = f"{info.name} {info.version}".strip() if info is not None else ""
        provider = inert(self.launch.config.name)
        return f"the agent of provider {provider}" + (f" ({inert(name)})" if name else "")

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
