"""Issue 53, item 3: ACP's `$/cancel_request` (stable since 2026-06-29), both ways. An agent that
withdraws a permission request or a form it sent lfg takes it out of the pane, said withdrawn by the
agent, with nothing answered later, and lfg answers the request -32800; lfg asks an agent to cancel
what it still waits on when it gives up on it (stops it while `session/list` waits)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from acp import RequestError, schema

from lfgtui.events import (
    BY_AGENT,
    ApprovalAnswered,
    ApprovalAsked,
    ElicitationAnswered,
    ElicitationAsked,
    Event,
    EventFactory,
    Outcome,
    ToolResult,
)
from lfgtui.run.agents.attempt import run_acp
from lfgtui.run.agents.cancel_requests import AGENT_REQUEST, REQUEST_CANCELLED
from lfgtui.run.agents.client import AgentClient
from lfgtui.run.agents.session.agent import AgentSession
from lfgtui.run.agents.updates import AgentView
from lfgtui.run.approvals import Approvals, Reply
from lfgtui.run.tool_loop import AttemptTask
from lfgtui.tools import BUILTIN_TOOLS, ToolContext
from lfgtui.tools.toolbox import Toolbox
from tests.support.agents import FAST, agent_ticket, ending, of, sim_agent
from tests.support.fleet import until
from tests.support.streams import ask

OPTIONS = [
    schema.PermissionOption(option_id="yes", name="Allow", kind="allow_once"),
    schema.PermissionOption(option_id="no", name="Reject", kind="reject_once"),
]
FORM = schema.ElicitationSchema.model_validate(
    {"type": "object", "properties": {"name": {"type": "string", "title": "Name"}}}
)


class Asked:
    """A person who never answers: the run's approvals, with what they were told."""

    def __init__(self, project: Path) -> None:
        self.approvals = Approvals(askable=True, forms=True)
        self.ev = EventFactory("t", 1)
        self.said: list[Event] = []
        self.project = project
        ticket = agent_ticket(project)
        self.gate = self.approvals.gate(ticket, self.say)
        self.questions = self.approvals.questions(ticket, self.say)
        self.withdraw_when: Path | None = None
        """A file made each time this person is asked: the sim agent's `--withdraw-when`."""

    def say(self, kind: type[Event], **fields: Any) -> None:
        self.said.append(self.ev(kind, **fields))
        if kind is ApprovalAsked and self.withdraw_when is not None:
            self.withdraw_when.touch()

    def client(self) -> AgentClient:
        """The client of an agent session whose questions this person is asked."""
        toolbox = Toolbox({}, ToolContext(workdir=self.project, env={}), self.gate)
        return AgentClient(self.ev, toolbox, AgentView(), self.questions)


async def streamed(client: AgentClient) -> None:
    """Stream the client's inbox as an attempt does (a request waits until what it is about is shown)."""
    while True:
        client.events(await client.inbox.get())


async def as_request(request_id: int, asking: Any) -> Any:
    """`asking` as the SDK's handler task of the agent's request `request_id` runs it."""
    AGENT_REQUEST.set(request_id)
    return await asking


async def withdrawn(
    client: AgentClient, request_id: int, asking: Any, shown: Callable[[], bool], others: tuple[Any, ...] = ()
) -> RequestError:
    """Run `asking` as the agent's request `request_id`; once `shown()`, the agent cancels `others`
    (which must change nothing), then it: what the request is answered."""
    streaming = asyncio.create_task(streamed(client))
    task = asyncio.create_task(as_request(request_id, asking))
    try:
        await until(shown, 10)
        for other in others:
            client.withdrawals.take({"requestId": other})
        await asyncio.sleep(0)
        assert not task.done(), "another request's cancel withdraws nothing"
        client.withdrawals.take({"requestId": request_id, "_meta": {"why": "its turn was cancelled"}})
        with pytest.raises(RequestError) as answered:
            await task
    finally:
        streaming.cancel()
    return answered.value


async def test_a_permission_request_the_agent_withdraws_leaves_the_pane_and_is_answered_cancelled(
    project: Path,
) -> None:
    person = Asked(project)
    call = schema.ToolCallUpdate(tool_call_id="call-1", title="Write notes.md", kind="edit")
    client = person.client()
    asking = client.request_permission("s", call, OPTIONS)
    answered = await withdrawn(client, 7, asking, lambda: bool(of(person.said, ApprovalAsked)), (8, "7"))
    assert answered.code == REQUEST_CANCELLED
    [asked] = of(person.said, ApprovalAsked)
    [withdrawal] = of(person.said, ApprovalAnswered)
    assert (withdrawal.call_id, withdrawal.allowed, withdrawal.by) == (asked.call_id, False, BY_AGENT)
    assert withdrawal.message == "Write notes.md: the agent withdrew its request; nothing is answered"
    assert not person.approvals.answer("t", asked.call_id, True, "you"), "a later yes reaches nothing"


async def test_a_form_the_agent_withdraws_leaves_the_pane_and_is_answered_cancelled(project: Path) -> None:
    person = Asked(project)
    mode = schema.ElicitationFormSessionMode(session_id="s", requested_schema=FORM)
    client = person.client()
    asking = client.create_elicitation("Your name?", mode)
    answered = await withdrawn(client, 3, asking, lambda: bool(of(person.said, ElicitationAsked)))
    assert answered.code == REQUEST_CANCELLED
    [asked] = of(person.said, ElicitationAsked)
    [withdrawal] = of(person.said, ElicitationAnswered)
    assert (withdrawal.elicitation_id, withdrawal.action, withdrawal.by) == (
        asked.elicitation_id,
        "cancel",
        BY_AGENT,
    )
    assert "the agent withdrew its question" in withdrawal.message
    reply = Reply("accept", {"name": "x"})
    assert not person.approvals.reply("t", asked.elicitation_id, reply), "a later answer reaches nothing"


async def test_a_request_withdrawn_before_it_is_asked_is_never_asked(project: Path) -> None:
    """The agent may cancel while lfg still shows what came before the request."""
    person = Asked(project)
    client = person.client()
    call = schema.ToolCallUpdate(tool_call_id="call-1", title="Write notes.md", kind="edit")
    asking = asyncio.create_task(as_request(7, client.request_permission("s", call, OPTIONS)))
    await until(lambda: not client.inbox.empty(), 10)  # the call it never announced, to show first
    client.withdrawals.take({"requestId": 7})
    streaming = asyncio.create_task(streamed(client))
    with pytest.raises(RequestError) as answered:
        await asking
    streaming.cancel()
    assert answered.value.code == REQUEST_CANCELLED and not person.said


async def test_a_malformed_cancel_request_is_ignored(project: Path) -> None:
    client = Asked(project).client()
    for params in (None, {}, {"requestId": [7]}, "7"):
        client.withdrawals.take(params)


async def test_the_sim_agent_withdraws_an_unanswered_permission_request(
    project: Path, private_logs: Path
) -> None:
    """End to end: the sim agent (`--withdraw-when`) sends `$/cancel_request`, lfg answers it -32800,
    the call fails as withdrawn and the turn goes on."""
    person = Asked(project)
    person.withdraw_when = project.parent / "withdraw"  # each ask withdrawn once the person saw it
    toolbox = Toolbox(
        {"write_file": BUILTIN_TOOLS["write_file"]}, ToolContext(workdir=project, env={}), person.gate
    )
    launch = sim_agent("--withdraw-when", str(person.withdraw_when))
    events = [e async for e in run_acp(launch, AttemptTask(ask(f"writer:{FAST}")), person.ev, toolbox)]
    assert ending(events).outcome is Outcome.COMPLETED
    asked = of(person.said, ApprovalAsked)
    withdrawn = of(person.said, ApprovalAnswered)
    assert len(asked) == 2, "the scenario's write and its command"
    assert [(a.call_id, a.by) for a in withdrawn] == [(a.call_id, BY_AGENT) for a in asked]
    results = [r.output for r in of(events, ToolResult)]
    assert sum("withdrawn by the agent ($/cancel_request)" in output for output in results) == 2, results
    assert not (project / "notes").exists(), "nothing was written"


async def test_lfg_cancels_a_session_list_it_gives_up_on(project: Path, private_logs: Path) -> None:
    """Stopped while `session/list` waits, lfg sends `$/cancel_request` for it before it stops the
    agent; the sim agent answers it -32800, as the official SDK answers an aborted request."""
    launch = sim_agent("--stall", "session/list")
    toolbox = Toolbox({}, ToolContext(workdir=project, env={}), Asked(project).gate)
    session = await AgentSession.start(launch, "hello", EventFactory("t", 1), toolbox)
    listing = asyncio.create_task(session.sessions(None))
    await until(lambda: "stalling: session/list" in session.log_path.read_text(), 30)
    listing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listing
    await session.close()
    log = session.log_path.read_text()
    assert "session/list (request 1) cancelled by the client ($/cancel_request): -32800" in log, log
