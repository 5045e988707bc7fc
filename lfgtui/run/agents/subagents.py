"""A coding agent's sub-agents (ACP child sessions, stable since schema v1.34): one record each, kept
by the parent's session, and the events that show them in the parent's pane as a tree.

A `subagent_update` on the parent's session announces a child (its session id, a title: its task)
before any of the child's own traffic, then patches its state (`running`, then `idle` with a stop
reason). The child's own session then sends what any session sends: its text, its tool calls, its
usage. `AgentClient.take_update` hands the child's updates here as `ChildUpdate`s, so they never
reach the parent's answer or tool log (a background child speaks while the parent writes), and
`UpdateReader` turns each into the child's events (`SubagentChanged`, `SubagentDelta`,
`SubagentToolCall`): the pane's tree, the NDJSON, the history's timeline and the telemetry's child
spans all read those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lfgtui.cost.tokens import tokens_in
from lfgtui.events import (
    Event,
    EventFactory,
    SubagentChanged,
    SubagentDelta,
    SubagentToolCall,
)
from lfgtui.run.agents.stable_updates import SubagentUpdate


@dataclass(frozen=True, slots=True)
class ChildUpdate:
    """An update of a sub-agent's own session, as read (`session_update`), kept apart from the parent's."""

    session_id: str
    update: Any


UNDER_WAY = frozenset({"running", "requires_action"})
"""A child's states while it works: `requires_action` is Claude Code's while it waits for the person
(claude-agent-acp 0.101.0 native-subagents.js `awaitingUser`), not a finish."""
CALL_ENDED = frozenset({"completed", "failed"})
UNSAID = "ended"
"""A call's state once its sub-agent stopped without saying how the call ended: claude-agent-acp
0.101.0 ends a child's call with a `tool_call_update` that carries its result and no status."""
FINISHED = {"end_turn": "done"}
"""The state a child is in once idle, by its stop reason: any other reason (cancelled, refusal,
max_tokens...) is `failed`; idle with none is `idle` (it may be asked again)."""


def child_state(state: str, stop_reason: str | None) -> str:
    """lfg's state for a child from ACP's: running, idle, done or failed."""
    if state != "idle":
        return state
    if stop_reason is None:
        return "idle"
    return FINISHED.get(stop_reason, "failed")


@dataclass
class Subagent:
    """One child as the parent's pane shows it: its task, its state, its text's size, its cost and
    its tool calls' states."""

    task: str = ""
    state: str = "running"
    stop_reason: str | None = None
    can_cancel: bool = False
    """It offered its cancel (`capabilities.cancel`): lfg may stop it alone (`session/cancel`)."""
    chars: int = 0
    cost_usd: float | None = None
    calls: dict[str, str] = field(default_factory=dict)
    """Each of its tool calls' state, by its own id."""
    titles: dict[str, str] = field(default_factory=dict)
    """Each of its tool calls' title, by its own id."""


@dataclass
class Children:
    """A session's sub-agents, by their session ids, kept across its attempts."""

    records: dict[str, Subagent] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    """The children's session ids as soon as the pipe reads their announcement, before the reader
    makes their records (their own traffic follows it in the inbox)."""

    def known(self, session_id: str) -> bool:
        return session_id in self.sessions

    def task(self, session_id: str) -> str | None:
        """The child's task as last announced ("" before one was); None: no child of this session."""
        if session_id not in self.sessions:
            return None
        record = self.records.get(session_id)
        return "" if record is None else record.task

    def announced(self, ev: EventFactory, update: SubagentUpdate) -> list[Event]:
        """A `subagent_update` on the parent: the child's record made or patched, and an event when
        its task, state or cost changed (its start and its finish each a line naming it)."""
        record = self.records.get(update.session_id)
        new = record is None
        if record is None:
            record = self.records[update.session_id] = Subagent()
        before = (record.task, record.state)
        if update.capabilities is not None:
            record.can_cancel = isinstance(update.capabilities.get("cancel"), dict)
        if update.title is not None and update.title.strip():
            record.task = update.title.strip()
        if update.state is not None:
            record.state = child_state(update.state.state, update.state.stop_reason)
            record.stop_reason = update.state.stop_reason
        if not new and (record.task, record.state) == before:
            return []
        task = record.task or "a sub-agent"
        ended: list[Event] = []
        if new:
            said = f"sub-agent started: {task}"
        elif record.state != before[1] and record.state not in UNDER_WAY:
            said = f"sub-agent finished: {task} ({record.stop_reason or record.state})"
            for call_id in [c for c, state in record.calls.items() if state not in CALL_ENDED]:
                ended += self.tool(ev, update.session_id, call_id, None, UNSAID)
        else:
            said = f"sub-agent {task}: {record.state}"
        return [*ended, self._changed(ev, update.session_id, said)]

    def cannot_cancel(self, child: str) -> str | None:
        """Why the person cannot cancel sub-agent `child` alone (None: they can)."""
        record = self.records.get(child)
        if record is None:
            return "no such sub-agent in this ticket's session"
        task = record.task or "this sub-agent"
        if record.state not in UNDER_WAY:
            return f"{task} is not running ({record.state})"
        if not record.can_cancel:
            return f"the agent does not let lfg cancel {task} alone (it offered no cancel for it)"
        return None

    def text(self, ev: EventFactory, child: str, text: str) -> list[Event]:
        """More of the child's own text: never the parent's answer."""
        if not text:
            return []
        self.records.setdefault(child, Subagent()).chars += len(text)
        return [ev(SubagentDelta, child=child, text=text)]

    def tool(
        self, ev: EventFactory, child: str, call_id: str, title: str | None, status: str | None
    ) -> list[Event]:
        """One of the child's tool calls began or changed state: an event when its state or title did."""
        record = self.records.setdefault(child, Subagent())
        state = status or record.calls.get(call_id, "pending")
        named = (title or "").strip() or record.titles.get(call_id) or "tool"
        if record.calls.get(call_id) == state and record.titles.get(call_id) == named:
            return []
        record.calls[call_id], record.titles[call_id] = state, named
        said = f"sub-agent {record.task or 'a sub-agent'}: {named} ({state})"
        return [ev(SubagentToolCall, message=said, child=child, call_id=call_id, title=named, state=state)]

    def cost(self, ev: EventFactory, child: str, amount: float) -> list[Event]:
        """The child's own session reported its cumulative cost, in US dollars."""
        record = self.records.setdefault(child, Subagent())
        if record.cost_usd == amount:
            return []
        record.cost_usd = amount
        return [self._changed(ev, child, f"sub-agent {record.task or 'a sub-agent'}: ${amount:.4f}")]

    def _changed(self, ev: EventFactory, child: str, said: str) -> SubagentChanged:
        record = self.records[child]
        return ev(
            SubagentChanged,
            message=said,
            child=child,
            task=record.task,
            state=record.state,
            output_tokens=tokens_in(record.chars, None),
            cost_usd=record.cost_usd,
        )
