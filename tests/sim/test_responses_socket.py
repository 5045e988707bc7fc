"""The Responses API's WebSocket mode, as Codex uses it: `response.create` messages on a socket opened
at `/v1/responses`, events back as text messages, `previous_response_id` continuing the socket's last
response with only new input, `generate: false` warm-ups. aiohttp's WebSocket client is the other end.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import openai

from lfgtui.sim.scenario import FaultKind
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.streams import write_scenario

TWO_CALLS = """
ttft_ms = 0
tokens_per_s = 0
[[call]]
text = "Looking."
[[call.tool_call]]
name = "exec_command"
arguments = { cmd = "ls" }
[[call]]
text = "Done."
"""
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"
CUSTOM = f"""
ttft_ms = 0
tokens_per_s = 0
[[call]]
[[call.tool_call]]
name = "apply_patch"
input = '''{PATCH}'''
"""
USER = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}]


async def answer(socket: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The events of one response, up to its last (`response.completed`, or an error)."""
    events = []
    while True:
        message = await asyncio.wait_for(socket.receive(), 10 * PATIENCE)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        events.append(json.loads(message.data))
        if events[-1]["type"] in ("response.completed", "response.failed", "error"):
            return events


def create(model: str, items: list[Any], **fields: Any) -> dict[str, Any]:
    return {"type": "response.create", "model": model, "input": items, "store": False, **fields}


async def test_a_socket_answers_each_call_and_continues_from_its_last_response(
    sim: SimServer, scenario_dir: Path
) -> None:
    model = write_scenario(scenario_dir, "two", TWO_CALLS)
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.url + "/v1/responses") as socket:
        await socket.send_json(create(model, [], generate=False))
        warmup = await answer(socket)
        await socket.send_json(create(model, USER, previous_response_id=warmup[-1]["response"]["id"]))
        first = await answer(socket)
        done = first[-1]["response"]
        [call] = [item for item in done["output"] if item["type"] == "function_call"]
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": "a.txt"}
        await socket.send_json({"type": "response.processed", "response_id": done["id"]})
        await socket.send_json(create(model, [output], previous_response_id=done["id"]))
        second = await answer(socket)
    assert [e["type"] for e in warmup] == ["response.created", "response.in_progress", "response.completed"]
    assert warmup[-1]["response"]["output"] == []
    assert [e["sequence_number"] for e in first] == list(range(len(first)))
    assert "response.output_text.delta" in [e["type"] for e in first]
    assert (call["name"], json.loads(call["arguments"])) == ("exec_command", {"cmd": "ls"})
    assert second[-1]["type"] == "response.completed"
    assert second[-1]["response"]["output"][-1]["content"][0]["text"] == "Done."
    calls = [(r.method, r.call_index, r.status) for r in sim.log]
    assert calls == [("WS", 0, 200), ("WS", 0, 200), ("WS", 1, 200)]


async def test_an_unknown_previous_response_is_an_error_event_and_the_socket_stays(
    sim: SimServer, scenario_dir: Path
) -> None:
    model = write_scenario(scenario_dir, "two", TWO_CALLS)
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.url + "/v1/responses") as socket:
        await socket.send_json(create(model, USER, previous_response_id="resp_gone"))
        [refused] = await answer(socket)
        await socket.send_json(create(model, USER))
        again = await answer(socket)
    assert refused["type"] == "error" and refused["status"] == 400
    assert refused["error"]["code"] == "previous_response_not_found"
    assert "resp_gone" in refused["error"]["message"]
    assert again[-1]["type"] == "response.completed"


async def test_an_http_fault_on_a_socket_is_an_error_event_with_its_status(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.url + "/v1/responses") as socket:
        await socket.send_json(create("fault-429", USER))
        [limited] = await answer(socket)
        await socket.send_json(create("fault-429", USER))
        retried = await answer(socket)
    assert limited["status"] == 429 and limited["headers"] == {"retry-after": "1"}
    assert limited["error"]["code"] == "rate_limit_exceeded"
    assert retried[-1]["type"] == "response.completed"


async def test_a_dropped_stream_closes_the_socket_and_pings_are_answered(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.url + "/v1/responses") as socket:
        await socket.ping(b"hi")
        await socket.send_json(create("fault-drop", USER))
        kinds = []
        while (
            message := await asyncio.wait_for(socket.receive(), 10 * PATIENCE)
        ).type is aiohttp.WSMsgType.TEXT:
            kinds.append(json.loads(message.data)["type"])
    assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    assert "response.output_text.delta" in kinds and "response.completed" not in kinds
    assert sim.log[-1].fault is FaultKind.DROP


async def test_a_freeform_tool_call_is_a_custom_tool_call_over_http_and_socket(
    sim: SimServer, scenario_dir: Path
) -> None:
    model = write_scenario(scenario_dir, "patch", CUSTOM)
    client = openai.AsyncOpenAI(api_key="x", base_url=sim.url + "/v1", max_retries=0)
    async with client:
        async with client.responses.stream(model=model, input="go") as stream:
            kinds = [event.type async for event in stream]
            streamed = await stream.get_final_response()
        whole = await client.responses.create(model=model, input="go")
    for response in (streamed, whole):
        [call] = response.output
        assert call.type == "custom_tool_call"
        assert (call.name, call.input) == ("apply_patch", PATCH)
    assert "response.custom_tool_call_input.delta" in kinds
    assert "response.custom_tool_call_input.done" in kinds
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.url + "/v1/responses") as socket:
        await socket.send_json(create(model, USER))
        events = await answer(socket)
        [item] = events[-1]["response"]["output"]
        output = {"type": "custom_tool_call_output", "call_id": item["call_id"], "output": "Done!"}
        await socket.send_json(create(model, [output], previous_response_id=events[-1]["response"]["id"]))
        await answer(socket)
    assert item["input"] == PATCH
    assert sim.log[-1].call_index == 1, "the custom call counts as the model's answer to call 0"


def client_frame(opcode: int, payload: bytes, final: bool = True, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    """A client's frame by hand (aiohttp never fragments): masked unless `mask` is empty."""
    head = bytes([(0x80 if final else 0) | opcode, (0x80 if mask else 0) | len(payload)])
    return head + mask + (bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if mask else payload)


async def test_fragments_are_joined_around_a_ping_and_an_unmasked_frame_ends_the_socket(
    sim: SimServer,
) -> None:
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    writer.write(
        b"GET /v1/responses HTTP/1.1\r\nHost: sim\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101") and b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    message = json.dumps(create("hello", USER)).encode()
    half = len(message) // 2
    writer.write(client_frame(0x1, message[:half], final=False))
    writer.write(client_frame(0x9, b"ping"))
    writer.write(client_frame(0x0, message[half:]))
    pong = await reader.readexactly(6)
    assert pong == b"\x8a\x04ping"
    events = b""
    while b"response.completed" not in events:
        events += await asyncio.wait_for(reader.read(65536), 10 * PATIENCE)
    writer.write(client_frame(0x1, b"{}", mask=b""))
    closed = await asyncio.wait_for(reader.read(), 10 * PATIENCE)
    assert closed == b"", "the server closes a socket that breaks the rules"
    writer.close()
    assert [r.status for r in sim.log] == [200]


SLOW = """
ttft_ms = 0
tokens_per_s = 40
[[call]]
text = "Done: one two three four five six seven eight nine ten eleven twelve thirteen fourteen."
[[call.tool_call]]
name = "exec_command"
arguments = { cmd = "ls" }
[[call]]
text = "Heard: {{ prompt }}"
"""
"""The first call's text streams for about half a second (a steer lands in it); the next quotes the
last thing it was told, from the whole conversation the socket continues."""


async def until_delta(socket: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The events of the response under way, up to its first text delta."""
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != "response.output_text.delta":
        message = await asyncio.wait_for(socket.receive(), 10 * PATIENCE)
        events.append(json.loads(message.data))
    return events


async def test_an_interrupt_stops_the_response_at_once_and_the_next_call_goes_on_from_it(
    sim: SimServer, scenario_dir: Path
) -> None:
    """Codex's steer mid-answer: `response.interrupt` (discard_partial_items) ends the response with
    its acceptance, the open item dropped, and `response.incomplete` (reason `interrupted`); the call
    is asked again with the steer, continuing from the interrupted response, which kept no item."""
    model = write_scenario(scenario_dir, "slow", SLOW)
    steer = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "PELICAN"}]}]
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.url + "/v1/responses") as socket:
        await socket.send_json(create(model, USER))
        begun = await until_delta(socket)
        response_id = begun[0]["response"]["id"]
        await socket.send_json({"type": "response.interrupt", "response_id": response_id, **DISCARD})
        stopped = await answer_or_incomplete(socket)
        await socket.send_json(create(model, steer, previous_response_id=response_id))
        again = await answer(socket)
    kinds = [e["type"] for e in stopped]
    assert kinds[-3:] == [
        "response.interrupt.accepted",
        "response.output_item.interrupted",
        "response.incomplete",
    ]
    accepted, dropped, incomplete = stopped[-3:]
    assert accepted["response_id"] == dropped["response_id"] == response_id
    message = next(e for e in begun if e["type"] == "response.output_item.added")["item"]
    assert (dropped["item_id"], dropped["output_index"]) == (message["id"], 0)
    response = incomplete["response"]
    assert (response["id"], response["status"]) == (response_id, "incomplete")
    assert response["incomplete_details"] == {"reason": "interrupted"}
    assert response["output"] == [], "the partial message is discarded"
    assert 0 < response["usage"]["output_tokens"] < 15, "it stopped mid-answer"
    numbers = [e["sequence_number"] for e in begun + stopped]
    assert numbers == list(range(len(numbers)))
    assert again[-1]["type"] == "response.completed"
    assert again[-1]["response"]["output"][0]["content"][0]["text"].startswith("Done: one"), "asked again"
    first, interrupt, second = sim.log
    assert first.interrupted_at is not None and first.usage is not None
    assert (interrupt.body["type"], interrupt.status) == ("response.interrupt", 200)
    assert second.call_index == 0


async def test_an_interrupt_after_the_response_ended_is_let_be_and_a_wrong_one_refused(
    sim: SimServer, scenario_dir: Path
) -> None:
    model = write_scenario(scenario_dir, "two", TWO_CALLS)
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.url + "/v1/responses") as socket:
        await socket.send_json(create(model, USER))
        done = (await answer(socket))[-1]["response"]
        await socket.send_json({"type": "response.interrupt", "response_id": done["id"], **DISCARD})
        await socket.send_json({"type": "response.interrupt", "response_id": "resp_other", **DISCARD})
        [unknown] = await answer(socket)
        await socket.send_json({"type": "response.interrupt", "response_id": done["id"], "mode": "keep"})
        [mode] = await answer(socket)
        output = {"type": "function_call_output", "call_id": done["output"][-1]["call_id"], "output": "a"}
        await socket.send_json(create(model, [output], previous_response_id=done["id"]))
        second = await answer(socket)
    assert (unknown["status"], unknown["error"]["code"]) == (400, "response_not_found")
    assert unknown["error"]["message"] == "Response with id 'resp_other' not found."
    assert (mode["status"], mode["error"]["code"]) == (400, "invalid_value")
    assert mode["error"]["message"] == "Invalid value: 'keep'. Supported values are: 'discard_partial_items'."
    assert second[-1]["response"]["output"][-1]["content"][0]["text"] == "Done.", "the ended one went on"


DISCARD = {"mode": "discard_partial_items"}


async def answer_or_incomplete(socket: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The events of the response under way, up to its `response.incomplete`."""
    events = []
    while not events or events[-1]["type"] != "response.incomplete":
        message = await asyncio.wait_for(socket.receive(), 10 * PATIENCE)
        events.append(json.loads(message.data))
    return events
