"""The agent's requests against its turn: a file read sent after a permission request that waits to
be shown is answered only once it is shown. A CI run's sim agent (`--answers-early`) asked, read,
and answered its prompt once its read was answered; lfg had answered the read at once, so the
turn could end before the permission was shown, which it then was after the attempt's end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from acp import schema

from lfgtui.events import ApprovalAsked, Event, EventFactory
from lfgtui.run.agents.client import AgentClient
from lfgtui.run.agents.updates import AgentView
from lfgtui.run.approvals import Approvals
from lfgtui.tools import ToolContext
from lfgtui.tools.toolbox import Toolbox
from tests.support.agents import agent_ticket, of
from tests.support.fleet import until

OPTIONS = [
    schema.PermissionOption(option_id="yes", name="Allow", kind="allow_once"),
    schema.PermissionOption(option_id="no", name="Reject", kind="reject_once"),
]
CALL = schema.ToolCallUpdate(tool_call_id="call-1", title="Write notes.md", kind="edit")


def asking(project: Path) -> tuple[AgentClient, list[Event], asyncio.Task[Any]]:
    """The client of an agent session that has announced `CALL` and asks permission for it: the
    client, what its person (who never answers) is told, and the request's handler task."""
    said: list[Event] = []
    ev = EventFactory("t", 1)

    def say(kind: type[Event], **fields: Any) -> None:
        said.append(ev(kind, **fields))

    gate = Approvals(askable=True).gate(agent_ticket(project), say)
    client = AgentClient(ev, Toolbox({}, ToolContext(workdir=project, env={}), gate), AgentView())
    announced = schema.ToolCallStart(
        session_update="tool_call", tool_call_id="call-1", title="Write notes.md"
    )
    assert client.events(announced), "the call the agent asks about is in the pane"
    return client, said, asyncio.create_task(client.request_permission("s", CALL, OPTIONS))


async def test_a_request_reached_as_its_turn_ends_is_still_asked(project: Path) -> None:
    """docs/guides/coding-agents.md: a request that came before the prompt's answer is asked as
    usual, even once the attempt has ended, however the turn's loop and the request's handler take
    turns: here the loop reaches its marker and then the prompt's answer without a pause."""
    client, said, asked = asking(project)
    await until(lambda: not client.inbox.empty())
    assert not client.events(client.inbox.get_nowait())
    client.turn_over()
    await until(lambda: asked.done() or of(said, ApprovalAsked))
    assert of(said, ApprovalAsked) and not asked.done(), "asked, and waiting for the person"
    asked.cancel()


async def test_a_file_read_sent_after_a_permission_request_is_answered_after_it_is_shown(
    project: Path,
) -> None:
    client, said, asked = asking(project)
    reading = asyncio.create_task(client.read_text_file("s", str(project / "README.md")))
    await until(lambda: reading.done() or client.inbox.qsize() == 2)
    assert not reading.done(), "the read waits behind the request sent before it"

    async def streamed() -> None:
        while True:
            client.events(await client.inbox.get())

    streaming = asyncio.create_task(streamed())
    try:
        read = await reading
        assert of(said, ApprovalAsked), "the request was shown before the read was answered"
        assert read.content == (project / "README.md").read_text()
    finally:
        streaming.cancel()
        asked.cancel()
