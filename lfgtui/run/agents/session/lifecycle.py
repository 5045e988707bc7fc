"""An agent session's lifecycle: the agent's process started, and closed again with its session
(`session/close` where offered), what lfg waits on given up (`$/cancel_request`), its process
group stopped and its last words kept in its log."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

from lfgtui.events import EventFactory
from lfgtui.run.agents.agent_log import AgentLog, open_agent_log
from lfgtui.run.agents.launch import AgentLaunch
from lfgtui.run.agents.process import STOP_WAIT_S, start_agent, stop_process
from lfgtui.run.agents.session.state import SessionState
from lfgtui.run.approvals import Elicit
from lfgtui.tools.toolbox import Toolbox

CLOSE_WAIT_S = 2.0
"""How long lfg waits for an agent to close its session before it stops the agent anyway."""


class SessionLifecycle(SessionState):
    """The agent's process started, and ended with its session closed and nothing left behind."""

    @classmethod
    async def start(
        cls, launch: AgentLaunch, model: str, ev: EventFactory, toolbox: Toolbox, elicit: Elicit | None = None
    ) -> Self:
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
