"""An agent's `session/update` notifications read straight off its pipe: each one as the SDK reads it
(text chunks without its models), in the agent's order, everything else left to the SDK."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from dataclasses import fields
from typing import Any

import pytest
from acp import schema
from pydantic import ValidationError

from lfgtui.events import EventFactory
from lfgtui.run.agents import transport
from lfgtui.run.agents.transport import HELD_MESSAGES, AgentPipe
from lfgtui.run.agents.updates import TextChunk, Unknown, UpdateReader, session_update
from tests.support.fleet import until

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
    if isinstance(ours, Unknown):  # a kind no schema lfg has: the SDK drops it, lfg counts it
        ours = None
    assert (ours is None) == (theirs is None)
    assert shown(ours) == shown(theirs)


def test_a_plain_text_chunk_is_read_without_the_sdks_models() -> None:
    assert session_update(PARAMS[0]) == TextChunk("Hi", None)
    assert session_update(PARAMS[2]) == TextChunk("Hm.", "m2", thought=True)
    assert session_update(PARAMS[3]) == TextChunk("x", None)


LINES: list[dict[str, Any]] = [
    {"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": SESSION, "update": chunk("a")}},
    {"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": SESSION, "update": chunk("b")}},
    {"jsonrpc": "2.0", "id": 0, "result": {"stopReason": "end_turn"}},
    {"jsonrpc": "2.0", "id": 5, "method": "session/update", "params": {}},  # a request: the SDK's
    {"jsonrpc": "2.0", "method": "session/update", "params": "not params"},
]
WRITTEN = b"".join(json.dumps(line).encode() + b"\n" for line in LINES)


async def stdin_writer() -> tuple[asyncio.StreamWriter, socket.socket]:
    """A writer for the pipe's `send` (the agent's stdin), and its other end."""
    ours, theirs = socket.socketpair()
    _, writer = await asyncio.open_connection(sock=ours)
    return writer, theirs


async def test_updates_go_to_the_session_in_order_and_everything_else_to_the_sdk() -> None:
    writer, theirs = await stdin_writer()
    taken: list[Any] = []
    pipe = AgentPipe(writer, taken.append)
    read_end, write_end = os.pipe()
    await pipe.read_from(os.fdopen(read_end, "rb", buffering=0))
    os.write(write_end, WRITTEN)
    os.close(write_end)
    try:
        assert await pipe.receive() == LINES[2]  # the updates before it were taken before it
        assert [params["update"]["content"]["text"] for params in taken[:2]] == ["a", "b"]
        assert await pipe.receive() == LINES[3]
        assert await pipe.receive() is None
        assert taken[-1] == "not params" and pipe.problem is None
    finally:
        await pipe.close()
        theirs.close()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(WRITTEN)])
async def test_lines_read_the_same_however_the_pipe_cuts_them(size: int) -> None:
    """A read ends anywhere: in a line, at its newline, after several lines; the last line may lack
    its newline."""
    writer, theirs = await stdin_writer()
    taken: list[Any] = []
    pipe = AgentPipe(writer, taken.append)
    data = WRITTEN + json.dumps(LINES[2]).encode()
    for at in range(0, len(data), size):
        pipe.data_received(data[at : at + size])
    pipe.eof_received()
    try:
        assert [await pipe.receive() for _ in range(4)] == [LINES[2], LINES[3], LINES[2], None]
        assert taken == [LINES[0]["params"], LINES[1]["params"], "not params"]
    finally:
        await pipe.close()
        theirs.close()


async def test_the_sdks_messages_wait_in_the_pipe_while_the_sdk_is_behind() -> None:
    """More responses than the pipe holds for the SDK: its reading pauses (after the read that brought
    them) and goes on as they are taken."""
    writer, theirs = await stdin_writer()
    pipe = AgentPipe(writer, print)
    read_end, write_end = os.pipe()
    await pipe.read_from(os.fdopen(read_end, "rb", buffering=0))
    count = 5 * HELD_MESSAGES
    responses = [{"jsonrpc": "2.0", "id": n, "result": {}} for n in range(count)]
    os.write(write_end, b"".join(json.dumps(r).encode() + b"\n" for r in responses))
    os.close(write_end)
    try:
        while len(pipe._messages) < HELD_MESSAGES:  # what it has read ahead of the SDK
            await asyncio.sleep(0.01)
        assert pipe._reading is not None and not pipe._reading.is_reading()
        assert [await pipe.receive() for _ in range(count + 1)] == [*responses, None]
    finally:
        await pipe.close()
        theirs.close()


async def test_a_flowing_pipe_is_read_on_the_hold_clocks_ticks_and_woken_for_again_once_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While an agent streams, its pipe stays out of the loop's selector and each tick of the hold
    clock reads what came: a line per tick, not a wake-up of its own each. Once silent `FLOWING_S`,
    the selector wakes for it again; its end is read either way."""
    monkeypatch.setattr(transport, "FLOWING_S", 3600.0)  # one flow however slow this machine is
    writer, theirs = await stdin_writer()
    taken: list[Any] = []
    pipe = AgentPipe(writer, taken.append)
    ticks = 0
    tick = pipe.released

    def counted() -> None:
        nonlocal ticks
        ticks += 1
        tick()

    monkeypatch.setattr(pipe, "released", counted)
    read_end, write_end = os.pipe()
    await pipe.read_from(os.fdopen(read_end, "rb", buffering=0))
    reading = pipe._reading
    assert reading is not None

    update = LINES[0]
    try:
        os.write(write_end, json.dumps(update).encode() + b"\n")
        await until(lambda: len(taken) == 1)
        os.write(write_end, json.dumps(update).encode() + b"\n")  # flowing: held after this read
        await until(lambda: len(taken) == 2)
        assert not reading.is_reading()
        seen = ticks
        await until(lambda: ticks >= seen + 2)
        assert not reading.is_reading(), "ticks with nothing to read leave a flowing pipe held"
        for count in range(3, 6):
            os.write(write_end, json.dumps(update).encode() + b"\n")
            await until(lambda count=count: len(taken) == count)  # read by a tick
            assert not reading.is_reading()
        monkeypatch.setattr(transport, "FLOWING_S", 0.0)  # silent long enough
        seen = ticks
        await until(lambda: ticks > seen)
        assert reading.is_reading(), "a silent pipe wakes the selector for its next line"
        os.write(write_end, json.dumps(update).encode() + b"\n")
        os.close(write_end)
        assert await pipe.receive() is None
        assert taken == [update["params"]] * 6 and pipe.problem is None
    finally:
        await pipe.close()
        theirs.close()


async def test_a_held_pipe_that_ends_is_read_to_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent exits while its pipe is held: a tick reads its last lines, then its end."""
    monkeypatch.setattr(transport, "FLOWING_S", 3600.0)  # one flow however slow this machine is
    writer, theirs = await stdin_writer()
    taken: list[Any] = []
    pipe = AgentPipe(writer, taken.append)
    read_end, write_end = os.pipe()
    await pipe.read_from(os.fdopen(read_end, "rb", buffering=0))
    line = json.dumps(LINES[0]).encode() + b"\n"
    try:
        for count in (1, 2):
            os.write(write_end, line)
            await until(lambda count=count: len(taken) == count)
        assert pipe._reading is not None and not pipe._reading.is_reading(), "held"
        os.write(write_end, line * 3)
        os.close(write_end)
        assert await pipe.receive() is None
        assert len(taken) == 5 and pipe.problem is None
    finally:
        await pipe.close()
        theirs.close()
