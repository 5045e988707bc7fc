"""Cancels in an agent's session: its turn (`session/cancel`, a moment's grace), or one sub-agent
alone (`session/cancel` with the child's session id)."""

from __future__ import annotations

import asyncio
import contextlib

from lfgtui.events import Status
from lfgtui.run.agents.session.state import SessionState

CANCEL_GRACE_S = 3.0
"""How long the agent has to take `session/cancel` and end its turn, both, before it is stopped:
with `stop_process`'s steps, what bounds quitting with many agents mid-turn."""


class SessionCancels(SessionState):
    """The turn cancelled, or one sub-agent of it."""

    async def _cancel(self) -> None:
        """Ask the agent to end its turn (`session/cancel`), then wait a moment for it to do so."""
        self.client.cancelling = True
        if self.prompt is None or self.prompt.done() or self.session_id is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CANCEL_GRACE_S):
                await self.conn.cancel(session_id=self.session_id)
                await asyncio.shield(self.prompt)

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
