"""Per-token frames made from a shape (`FrameShapes`) are byte for byte what `json.dumps` writes."""

from __future__ import annotations

import json

import pytest

from lfgtui.sim.protocols import default_protocols
from lfgtui.sim.protocols.gemini import GeminiProtocol
from lfgtui.sim.scenario import Scenario, SimCall, SimToolCall
from lfgtui.sim.wire import HOLES, FrameShapes, SimRequest, SimUsage, WireProtocol, sse, sse_data

TRICKY = [
    "plain",
    "",
    ' say "hi"',
    "back\\slash \\u0041 \\n",
    "ctl \x00\x01\x1f\x7f\t\r\n\b\f",
    "non-ASCII é ß 漢字 🙂 \u2028\u2029",
    "</script>&<>'",
    "lfgsimhole0",  # a hole's prefix is only text
]


def test_a_shaped_frame_is_the_dumped_one_for_any_text() -> None:
    shapes = FrameShapes()

    def build(text: str, seq: int) -> bytes:
        return sse({"type": "delta", "sequence_number": seq, "delta": text, "after": "x"}, event="delta")

    for seq, text in enumerate(TRICKY):
        assert shapes.frame("delta", build, text, seq) == build(text, seq)


def test_a_frame_sent_alone_on_a_socket_is_its_json_for_any_text() -> None:
    """The Responses WebSocket sends a frame's data alone; a line separator inside the JSON (which it
    leaves unescaped) must not break it."""
    for text in TRICKY:
        data = {"type": "delta", "delta": text}
        assert json.loads(sse_data(sse(data, event="delta"))) == data


def test_a_lone_surrogate_is_escaped_as_the_dumped_frame_escapes_it() -> None:
    """A lone surrogate is escaped as the dumped frame escapes it: JSON's escape, as JavaScript's
    `JSON.stringify` writes one (the sim's `surrogate` fault sends it), read back as the same lone
    surrogate."""
    shapes = FrameShapes()

    def build(text: str) -> bytes:
        return sse({"delta": text})

    shapes.frame("delta", build, "made")
    frame = shapes.frame("delta", build, "a \ud800 b")
    assert frame == build("a \ud800 b") == b'data: {"delta":"a \\ud800 b"}\n\n'
    assert json.loads(sse_data(frame)) == {"delta": "a \ud800 b"}


def test_a_frame_holding_a_hole_by_chance_is_built_whole() -> None:
    shapes = FrameShapes()

    def build(text: str) -> bytes:
        return sse({"model": HOLES[0], "delta": text})

    assert shapes.frame("delta", build, ' "x"') == build(' "x"')


def _strings(value: object) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [text for item in value for text in _strings(item)] if isinstance(value, list) else []


def _data(frame: bytes) -> str:
    """The data of a frame's `data:` lines (split at line feeds only: the text may hold U+2028)."""
    lines = frame.decode().replace("\r\n", "\n").split("\n")
    return "\n".join(line[len("data: ") :] for line in lines if line.startswith("data: "))


@pytest.mark.parametrize(
    "protocol",
    [*default_protocols(), GeminiProtocol("gemini-x", "streamGenerateContent")],
    ids=lambda p: type(p).__name__,
)
def test_every_protocols_frames_are_dumped_json_with_the_text_whole(protocol: WireProtocol) -> None:
    """Each frame's data is exactly `json.dumps` of what it holds, and a token's frame holds its text."""
    text = " ".join(TRICKY)
    arguments = json.dumps({"path": 'a "b"\\c', "text": "é\x01🙂"})
    call = SimCall(reasoning=text, text=text, tool_calls=(SimToolCall("write", arguments),))
    scenario = Scenario(name="tricky", calls=(call, call))
    for index in (0, 1):  # the second model call: new item ids and block indexes
        request = SimRequest(model="m", call_index=index)
        encoder = protocol.encoder(scenario, request)
        frames = [*encoder.open()]
        for piece in protocol.plan(scenario, request):
            sent = encoder.piece(piece)
            if piece.is_token and sent:
                assert piece.text in _strings(json.loads(_data(sent[-1])))
            frames += sent
        frames += encoder.finish(SimUsage(1, 2, 0))
        assert len(frames) > 10
        for frame in frames:
            data = _data(frame)
            if data != "[DONE]":
                assert data == json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False)
