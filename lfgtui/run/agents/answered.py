"""Whether an agent has gone on after the person's last answer to one of its requests, as its
updates show: what a steer to Claude Code is kept for (session/steering.py `_keeps`).

claude-agent-acp 0.101.0 takes a steer at priority `later` while a permission or question waits in
its `openUserInputs`, and its model reads such a steer only after the turn's last answer. Any update
read after the answer left does not show that the wait closed: the agent may have written it before
it took the answer (a call's streamed `tool_use` refining it after its permission request, say). The
answered call's own status change does (`in_progress`, `completed`, `failed`: the tool ran, or was
refused, so the answer was taken). And an agent that goes on may ask again at once: Claude Code
announces a round's calls before it asks about the first (0.101.0 against the sim, 2026-11-28), so
while a call it announced has not run (still `pending`) it may be about to ask. A question tied to no
call (an MCP server's form) has no status to watch: any update read after its answer is taken as
the agent going on.

The same announcement is what a steer may cost: Claude Code announces a call (`pending`) as its
`tool_use` begins to stream, and a steer it takes at priority `now` aborts the model message being
written, so a call still streaming never runs (claude-agent-acp closes it `failed`, "Claude stopped
this tool call before it ran."). The adapter sends no status as a call starts to run (only its
result, or a long call's progress beat `in_progress`), so an announced call still `pending` may be
streaming: `call_pending` says one is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acp import schema

WAITING = frozenset({None, "pending"})
"""The statuses of a call that has not run yet: no status, or `pending`."""


@dataclass
class AnswerWatch:
    """The person's last answer to the agent, from its leaving until the agent shows it went on."""

    unread: bool = False
    """An answer left and the agent has not shown yet that it went on after it."""
    call: str | None = None
    """The call the answer was for, as the agent names it (None: a question tied to no call)."""
    moved: bool = False
    """Since the answer left: `call` changed its status (or, for no call, any update was read)."""
    waiting: set[str] = field(default_factory=set)
    """The calls the agent announced this turn that have not run yet (it may ask about each)."""

    @property
    def call_pending(self) -> bool:
        """Whether a call the agent announced this turn has not run yet: it may still be writing it."""
        return bool(self.waiting)

    def answered(self, call: str | None) -> None:
        """An answer to the agent's request about `call` leaves."""
        self.unread, self.call, self.moved = True, call, False

    def read(self, update: Any) -> None:
        """One update of the agent's (of its session or a sub-agent's), as its pipe reads it."""
        if isinstance(update, schema.ToolCallStart | schema.ToolCallProgress):
            call_id, status = update.tool_call_id, update.status
            if isinstance(update, schema.ToolCallStart) and status in WAITING:
                self.waiting.add(call_id)
            elif status not in WAITING:
                self.waiting.discard(call_id)
                self.moved = self.moved or call_id == self.call
        if self.call is None:
            self.moved = True
        if self.moved and not self.waiting:
            self.unread = False

    def new_turn(self) -> None:
        """A turn begins: what the last one announced and left open is not waited for."""
        self.unread, self.call, self.moved = False, None, False
        self.waiting.clear()
