"""An agent's `session/update` notifications read straight off its pipe: each one as the SDK reads it
(text chunks without its models), in the agent's order, everything else left to the SDK."""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import fields
from typing import Any

import pytest
from acp import schema
from pydantic import ValidationError

from lfgtui.events import EventFactory
from lfgtui.run.agents.transport import AgentPipe
from lfgtui.run.agents.updates import TextChunk, UpdateReader, session_update

SESSION = "s1"


def chunk(text: Any = "Hi", kind: Any = "agent_message_chunk", **fields: Any) -> dict[str, Any]:
    return {"sessionUpdate": kind, "content": {"type": "text", "text": text}, **fields}


PARAMS: list[Any] = [
    {"sessionId": SESSION, "update": chunk()},
    {"sessionId": SESSION, "update": chunk("", messageId="m1")},
    {"sessionId": SESSION, "update": chunk("Hm.", "agent_thought_chunk", messageId="m2")},
    {"sessionId": SESSION, "update": chunk("x", messageId=7)},  # a bad messageId is dropped, not the chunk
    {"sessionId": SESSION, "update": chunk("x", messageId=None, _meta={"claudeCode": {}})},
    {"sessionId": SESSION, "update": chunk("x", _meta="not an object"), "_meta": 3},
    {"sessionId": SESSION, "update": chunk("x", message_id="m3")},  # the SDK takes field names too
    {"sessionId": SESSION, "update": chunk("x", other=1)},
    {"sessionId": SESSION, "update": {**chunk(), "content": {"type": "text", "text": "x", "_meta": 1}}},
    {
        "sessionId": SESSION,
        "update": {**chunk(), "content": {"type": "text", "text": "x", "annotations": None}},
    },
    {"sessionId": SESSION, "update": {**chunk(), "content": {"type": "text", "text": "x", "extra": 1}}},
    {
        "sessionId": SESSION,
        "update": {**chunk(), "content": {"type": "image", "data": "", "mimeType": "a/b"}},
    },
    {"sessionId": SESSION, "update": chunk(5)},
    {"sessionId": SESSION, "update": chunk(None)},
    {"sessionId": SESSION, "update": chunk(kind="user_message_chunk")},
    {"sessionId": SESSION, "update": chunk(kind="no_such_update")},
    {"sessionId": SESSION, "update": chunk(kind=["agent_message_chunk"])},
    {"sessionId": SESSION, "update": {"sessionUpdate": "agent_message_chunk"}},
    {"sessionId": SESSION, "update": {"sessionUpdate": "usage_update", "used": 10, "size": 100}},
    {"sessionId": SESSION, "update": {"sessionUpdate": "tool_call", "toolCallId": "c1", "title": "Read"}},
    {"sessionId": 1, "update": chunk()},
    {"session_id": SESSION, "update": chunk()},
    {"update": chunk()},
    {"sessionId": SESSION, "update": "text"},
    {"sessionId": SESSION},
    [],
    None,
]


def sdk_update(params: Any) -> Any | None:
    """What the SDK hands a client's `session_update`: its schema's reading, or nothing."""
    try:
        return schema.SessionNotification.model_validate(params).update
    except ValidationError:
        return None


def shown(update: Any) -> list[tuple[str, dict[str, Any]]]:
    """The events one update makes, without their times."""
    reader = UpdateReader(EventFactory("t", 1))
    return [
        (type(e).__name__, {f.name: getattr(e, f.name) for f in fields(e) if f.name != "t"})
        for e in ([] if update is None else reader.events(update))
    ]


@pytest.mark.parametrize("params", PARAMS, ids=[json.dumps(p)[:60] for p in PARAMS])
def test_an_update_reads_as_the_sdk_reads_it(params: Any) -> None:
    ours, theirs = session_update(params), sdk_update(params)
    assert (ours is None) == (theirs is None)
    assert shown(ours) == shown(theirs)


def test_a_plain_text_chunk_is_read_without_the_sdks_models() -> None:
    assert session_update(PARAMS[0]) == TextChunk("Hi", None)
    assert session_update(PARAMS[2]) == TextChunk("Hm.", "m2", thought=True)
    assert session_update(PARAMS[3]) == TextChunk("x", None)


async def test_updates_go_to_the_session_in_order_and_everything_else_to_the_sdk() -> None:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    taken: list[Any] = []
    pipe = AgentPipe(reader, writer, taken.append)
    lines = [
        {
            "jsonrpc": "2.0",
            "method": "session/update",
            "params": {"sessionId": SESSION, "update": chunk("a")},
        },
        {
            "jsonrpc": "2.0",
            "method": "session/update",
            "params": {"sessionId": SESSION, "update": chunk("b")},
        },
        {"jsonrpc": "2.0", "id": 0, "result": {"stopReason": "end_turn"}},
        {"jsonrpc": "2.0", "id": 5, "method": "session/update", "params": {}},  # a request: the SDK's
        {"jsonrpc": "2.0", "method": "session/update", "params": "not params"},
    ]
    theirs.sendall(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    theirs.close()
    try:
        assert await pipe.receive() == lines[2]
        assert [params["update"]["content"]["text"] for params in taken] == ["a", "b"]
        assert await pipe.receive() == lines[3]
        assert await pipe.receive() is None
        assert taken[-1] == "not params" and pipe.problem is None
    finally:
        await pipe.close()
