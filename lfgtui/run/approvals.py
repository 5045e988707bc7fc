"""Who answers a tool call that needs approval.

A risky call runs at once with `--yes` or the ticket's `auto_approve`. Otherwise it waits for a
person: the TUI's keys, or a watcher of a run served with `--control`, whichever answers first. The
question and its answer are events (`ApprovalAsked`, `ApprovalAnswered`), so every pane, watcher and
the history see them alike; a run that nobody can answer refuses the call and says how to allow it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from lfgtui.events import ApprovalAnswered, ApprovalAsked, ToolCallReady
from lfgtui.tickets.ticket import Ticket
from lfgtui.tools.toolbox import Approve

Say = Callable[..., None]
"""Emits one of the ticket's events in its current attempt: `say(EventType, **fields)`."""


@dataclass(frozen=True, slots=True)
class Answer:
    allowed: bool
    by: str


@dataclass
class Approvals:
    """The run's approval policy and the calls waiting on it, by (ticket, call id).

    `yes`: every call runs (`--yes`). `askable`: someone can answer (a TUI, or watchers allowed to
    control the run); without it a call that needs a person is refused.
    """

    yes: bool = False
    askable: bool = False
    _waiting: dict[tuple[str, str], asyncio.Future[Answer]] = field(default_factory=dict, repr=False)

    def gate(self, ticket: Ticket, say: Say) -> Approve:
        """The `Approve` of one ticket's toolbox."""

        async def approve(call: ToolCallReady) -> str | None:
            if self.yes or ticket.auto_approves(call.name):
                return None
            if not self.askable:
                return (
                    f"{call.name} needs approval and nobody can approve it in a headless run; "
                    f"rerun with --yes, add {call.name!r} to the ticket's auto_approve, "
                    "or serve the run with --control so that a watcher can answer"
                )
            answer = await self._ask(ticket.id, call, say)
            return None if answer.allowed else f"the user did not approve this {call.name} call"

        return approve

    async def _ask(self, ticket_id: str, call: ToolCallReady, say: Say) -> Answer:
        key = (ticket_id, call.call_id)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        try:
            say(
                ApprovalAsked,
                message=f"{call.name} waits for approval",
                call_id=call.call_id,
                name=call.name,
                arguments=call.arguments,
            )
            answer = await future
        finally:
            if self._waiting.get(key) is future:
                del self._waiting[key]
        verb = "approved" if answer.allowed else "denied"
        say(
            ApprovalAnswered,
            message=f"{call.name} {verb} by {answer.by}",
            call_id=call.call_id,
            allowed=answer.allowed,
            by=answer.by,
        )
        return answer

    def answer(self, ticket_id: str, call_id: str, allowed: bool, by: str) -> bool:
        """Answer a waiting call; False when it is not waiting (answered already, or its ticket ended)."""
        future = self._waiting.get((ticket_id, call_id))
        if future is None or future.done():
            return False
        future.set_result(Answer(allowed, by))
        return True
