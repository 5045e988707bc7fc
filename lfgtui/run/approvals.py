"""Who answers a tool call that needs approval.

A risky call runs at once with `--yes` or the ticket's `auto_approve`. Otherwise it waits for a
person: the TUI's keys, or a watcher of a run served with `--control`, whichever answers first. The
question and its answer are events (`ApprovalAsked`, `ApprovalAnswered`), so every pane, watcher and
the history see them alike; a run that nobody can answer refuses the call and says how to allow it.

A coding agent's question as a form (ACP elicitation) is asked the same way (`ElicitationAsked`,
`ElicitationAnswered`) of whoever can fill it in (`forms`: the TUI's person); `--yes` does not
answer one (it approves calls, it fills in nothing). A run where nobody can says the question
(`waits=False`) and declines it at once, saying why, so the agent can go on; so does a question whose
form is too big to show (agents/elicitation.py `entering`). Every answer, from the TUI or a watcher, is
checked against the form with the one check the TUI's form uses (agents/elicitation.py `check`): one that
does not fit never reaches the agent, and what is sent is the content as that check types it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from lfgtui.events import (
    BY_AGENT,
    BY_LFG,
    ApprovalAnswered,
    ApprovalAsked,
    ElicitationAnswered,
    ElicitationAsked,
    ToolCallReady,
)
from lfgtui.run.agents.elicitation import Form, answer_text, check, entering, read_form
from lfgtui.tickets.ticket import Ticket
from lfgtui.tools.toolbox import Approve

WITHDRAWN = "withdrawn by the agent"
"""The message of the cancellation of an ask whose request the agent withdrew (ACP
`$/cancel_request`, run/agents/cancel_requests.py): the ask says so, answered by the agent, and ends."""


def withdrawn(cancelled: asyncio.CancelledError) -> bool:
    """Whether this cancellation is the agent withdrawing its request (`WITHDRAWN`)."""
    return WITHDRAWN in cancelled.args


Say = Callable[..., None]
"""Emits one of the ticket's events in its current attempt: `say(EventType, **fields)`."""


@dataclass(frozen=True, slots=True)
class Answer:
    allowed: bool
    by: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to an agent's form: ACP's `accept` (with `content`), `decline` or `cancel`."""

    action: str
    content: dict[str, Any] | None = None
    by: str = "you"


Elicit = Callable[[str, dict[str, Any]], Awaitable[Reply]]
"""Asks the person an agent's question (its message, its requested schema); returns their reply."""

NOBODY_ANSWERS = (
    "nobody can answer an agent's question in this run (a headless run, or an attempt on a broker's "
    "worker): lfg declined it; run it in the TUI, or serve it with --control for a watcher to answer"
)


@dataclass
class Approvals:
    """The run's approval policy and the calls waiting on it, by (ticket, call id).

    `yes`: every call runs (`--yes`). `askable`: someone can answer (a TUI, or watchers allowed to
    control the run); without it a call that needs a person is refused. `forms`: someone can fill in
    a coding agent's form (the TUI, or watchers allowed to control the run); without it lfg declines
    them.
    """

    yes: bool = False
    askable: bool = False
    forms: bool = False
    _waiting: dict[tuple[str, str], asyncio.Future[Answer]] = field(default_factory=dict, repr=False)
    _questions: dict[tuple[str, str], asyncio.Future[Reply]] = field(default_factory=dict, repr=False)
    _forms: dict[tuple[str, str], Form] = field(default_factory=dict, repr=False)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

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
        except asyncio.CancelledError as cancelled:
            if withdrawn(cancelled):  # the prompt goes, saying why; a later answer reaches nothing
                message = f"{call.name}: the agent withdrew its request; nothing is answered"
                say(ApprovalAnswered, message=message, call_id=call.call_id, allowed=False, by=BY_AGENT)
            raise
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

    def waits(self, ticket_id: str, call_id: str) -> bool:
        """Whether that call waits for an answer (not answered yet, its ticket not ended)."""
        future = self._waiting.get((ticket_id, call_id))
        return future is not None and not future.done()

    def answer(self, ticket_id: str, call_id: str, allowed: bool, by: str) -> bool:
        """Answer a waiting call; False when it is not waiting (answered already, or its ticket ended)."""
        if not self.waits(ticket_id, call_id):
            return False
        self._waiting[ticket_id, call_id].set_result(Answer(allowed, by))
        return True

    def questions(self, ticket: Ticket, say: Say) -> Elicit:
        """The `Elicit` of one ticket's coding agent."""

        async def elicit(question: str, form: dict[str, Any]) -> Reply:
            elicitation_id = f"elicitation-{next(self._numbers)}"
            entered = entering(question, form)
            asked = {"elicitation_id": elicitation_id, "question": entered.question, "form": entered.form}
            message = f"the agent asks you: {entered.question}"
            declined = NOBODY_ANSWERS if not self.forms else entered.refused
            if declined:
                say(ElicitationAsked, message=message, waits=False, **asked)
                reply = Reply("decline", by=BY_LFG)
                say(
                    ElicitationAnswered,
                    message=f"declined by lfg: {declined}",
                    elicitation_id=elicitation_id,
                    action="decline",
                    by=BY_LFG,
                )
                return reply
            key = (ticket.id, elicitation_id)
            future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
            self._questions[key] = future
            self._forms[key] = read_form(entered.form)
            try:
                say(ElicitationAsked, message=message, **asked)
                reply = await future
            except asyncio.CancelledError as cancelled:
                if withdrawn(cancelled):
                    said = "the agent withdrew its question; nothing is answered"
                    answered = {"elicitation_id": elicitation_id, "action": "cancel", "by": BY_AGENT}
                    say(ElicitationAnswered, message=said, **answered)
                raise
            finally:
                if self._questions.get(key) is future:
                    del self._questions[key]
                    del self._forms[key]
            say(
                ElicitationAnswered,
                message=f"{answer_text(reply.action, reply.content)} by {reply.by}",
                elicitation_id=elicitation_id,
                action=reply.action,
                content=reply.content,
                by=reply.by,
            )
            return reply

        return elicit

    def unfit(self, ticket_id: str, elicitation_id: str, reply: Reply) -> str | None:
        """Why `reply` cannot answer that waiting question: an accept of a form that cannot be accepted,
        or whose content does not fit it (each field's problem named). None: it fits, it is not an
        accept, or the question is not waiting (`reply` says so)."""
        form = self._forms.get((ticket_id, elicitation_id))
        if form is None or reply.action != "accept":
            return None
        if not form.answerable:
            return "this form cannot be accepted (lfg cannot fill in what it requires): decline or cancel it"
        problems = check(form, reply.content or {})[1]
        if not problems:
            return None
        said = "; ".join(f"{name}: {problem}" for name, problem in problems.items())
        return f"the answer does not fit the form: {said}"

    def reply(self, ticket_id: str, elicitation_id: str, reply: Reply) -> bool:
        """Answer a waiting question; False when it is not waiting (answered already, or it ended) or
        when an accept does not fit its form (`unfit` says why). An accept's content is sent as the
        form's check types it."""
        key = (ticket_id, elicitation_id)
        future = self._questions.get(key)
        if future is None or future.done() or self.unfit(ticket_id, elicitation_id, reply) is not None:
            return False
        if reply.action == "accept":
            reply = replace(reply, content=check(self._forms[key], reply.content or {})[0])
        future.set_result(reply)
        return True
