"""What the sim ACP agent sends of ACP's updates that its SDK (schema v1.19) cannot: a `notice`, a
compaction, a sub-agent's session, an update of a kind no client knows, and a burst of message chunks
in one write (the SDK writes each message alone). Each is sent as raw JSON,
only when the client advertised the capability the spec asks for (the unknown kind always), in the
shapes claude-agent-acp 0.101.0 sends them (recorded 2026-11-26).

The sim's own, not lfg's types (`run/agents/stable_updates.py`): the sim is what lfg's ACP client
is checked against, so it shares none of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Send = Callable[..., Awaitable[None]]
"""Sends updates (their `update` objects) on a session (its id, the first argument), in one write."""
Hold = Callable[[str], Awaitable[None]]
"""Waits until the client cancels a sub-agent (its session id)."""
Ask = Callable[[str, dict[str, Any]], Awaitable[bool]]
"""Asks the client's permission for a tool call (its fields) on a session: whether it was allowed."""
SUBAGENT_TEXT = "Sub-agent here, reading the notes. SUB-DONE"
"""What the sim's sub-agent says in its own session: never the parent's answer."""
APPROACH = "# Approach\n\n1. Look around the project.\n2. Answer **briefly**."
"""The Markdown plan the sim keeps beside its steps while a turn runs (`--plan-ops`)."""
SUBAGENT_COST_USD = 0.0042
"""What the sim's sub-agent reports its own session cost (a `usage_update` on its session: the
spec's, which claude-agent-acp 0.101.0 does not send for a child), to be rolled up into the parent's."""


def offers(capabilities: dict[str, Any], *path: str) -> bool:
    """Whether the client's raw `clientCapabilities` hold an object at `path` (`{}` advertises)."""
    here: Any = capabilities
    for key in path:
        here = here.get(key) if isinstance(here, dict) else None
    return isinstance(here, dict)


def text_chunk(text: str, message_id: str | None = None) -> dict[str, Any]:
    chunk = {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": text}}
    return chunk if message_id is None else chunk | {"messageId": message_id}


@dataclass
class StableUpdates:
    """One prompt's stable updates, for session `session_id`'s prompt number `prompt`."""

    send: Send
    session_id: str
    prompt: int
    capabilities: dict[str, Any]
    ask: Ask | None = None
    """Where the sub-agent asks permission for its tool call (None: it does not ask)."""
    hold: Hold | None = None
    """Where the sub-agent, which then offers its cancel, waits to be cancelled (None: it does not)."""

    async def burst(self, texts: list[str]) -> None:
        """Message chunks in one write, as an agent relays an error it got whole: the client reads
        them at once, however loaded the machine (sent one by one, a CI run read two 25 ms apart)."""
        await self.send(self.session_id, *(text_chunk(text) for text in texts))

    async def notice(self, title: str) -> None:
        """An ACP `notice` (a warning), where the client takes notices."""
        if offers(self.capabilities, "session", "notices"):
            await self.send(
                self.session_id, {"sessionUpdate": "notice", "severity": "warning", "title": title}
            )

    async def unknown(self, kind: str) -> None:
        """An update of a kind no schema has, as a newer agent may send."""
        await self.send(self.session_id, {"sessionUpdate": kind, "detail": {"anything": [1, 2]}})

    async def compaction(self) -> None:
        """A compaction as Claude Code reports `/compact`: in progress, completed with its summary,
        completed again without (the same entry, patched)."""
        if not offers(self.capabilities, "session", "compaction"):
            return
        entry = {"sessionUpdate": "compaction_update", "compactionId": f"cmp-{self.session_id}-{self.prompt}"}
        await self.send(self.session_id, entry | {"status": "in_progress"})
        summary = [{"type": "text", "text": "The conversation so far, in short."}]
        await self.send(self.session_id, entry | {"status": "completed", "summary": summary})
        await self.send(self.session_id, entry | {"status": "completed"})

    async def plans(self, steps: list[dict[str, Any]], current: int, calls: int) -> bool:
        """The plan as ACP's plan operations, where the client takes them (False: it does not, and
        the caller sends the legacy plan): the steps as an items plan, and beside it while the turn
        runs a Markdown plan of its approach, removed when the turn ends (`current` == `calls`)."""
        if not offers(self.capabilities, "plan"):
            return False
        session, ids = self.session_id, f"{self.session_id}-{self.prompt}"
        items = {"type": "items", "planId": f"steps-{ids}", "entries": steps}
        await self.send(session, {"sessionUpdate": "plan_update", "plan": items})
        approach = f"approach-{ids}"
        if current == 0:
            markdown = {"type": "markdown", "planId": approach, "content": APPROACH}
            await self.send(session, {"sessionUpdate": "plan_update", "plan": markdown})
        elif current == calls:
            await self.send(session, {"sessionUpdate": "plan_removed", "planId": approach})
        return True

    async def subagent(self, title: str, number: int = 0) -> None:
        """A sub-agent (in the background amid the parent's answer, or in the foreground between its
        model calls: the caller's choice): announced and running on the parent, the task as a session
        message on both, its own text, tool call and cost on its session (ids of its own: distinct
        per conversation and `number`; with `ask`, asking permission for it on its own session), idle
        on the parent, its hand-back."""
        if not offers(self.capabilities, "subagents"):
            return
        parent, child = (
            self.session_id,
            f"{self.session_id}-sub{self.prompt}" + (f"-{number}" if number else ""),
        )
        announced = {"sessionUpdate": "subagent_update", "sessionId": child}
        offered = {"capabilities": {"cancel": {}}} if self.hold is not None else {}
        await self.send(parent, announced | {"title": title, "description": "general-purpose"} | offered)
        await self.send(parent, announced | {"state": {"state": "running"}})
        task = {
            "sessionUpdate": "session_message",
            "messageId": f"{child}-task",
            "senderSessionId": parent,
            "recipientSessionId": child,
            "content": [{"type": "text", "text": f"{title}, then report."}],
        }
        await self.send(parent, task)
        await self.send(child, task)
        call = {"toolCallId": f"{child}_call0", "title": "Write notes.txt", "kind": "edit"}
        await self.send(child, call | {"sessionUpdate": "tool_call", "status": "pending"})
        first, rest = SUBAGENT_TEXT.split(". ", 1)
        await self.send(child, text_chunk(first + ".", f"{child}-m1"))
        if self.hold is not None:  # until the client cancels it: it stops, the parent goes on
            await self.hold(child)
            await self.send(child, call | {"sessionUpdate": "tool_call_update", "status": "failed"})
            await self.send(parent, announced | {"state": {"state": "idle", "stopReason": "cancelled"}})
            return
        allowed = self.ask is None or await self.ask(child, call)
        ended = "completed" if allowed else "failed"
        await self.send(child, call | {"sessionUpdate": "tool_call_update", "status": ended})
        await self.send(child, text_chunk(" " + rest, f"{child}-m2"))
        cost = {"amount": SUBAGENT_COST_USD, "currency": "USD"}
        await self.send(child, {"sessionUpdate": "usage_update", "used": 1200, "size": 200000, "cost": cost})
        await self.send(parent, announced | {"state": {"state": "idle", "stopReason": "end_turn"}})
        back = task | {"messageId": f"{child}-reply", "senderSessionId": child, "recipientSessionId": parent}
        await self.send(parent, back | {"content": [{"type": "text", "text": SUBAGENT_TEXT}]})
