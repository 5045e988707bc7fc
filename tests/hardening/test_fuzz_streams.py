"""Byte streams split anywhere parse the same: each adapter, through its official SDK (or httpx2's SSE
reader for the agent protocol), reads a stream delivered in hypothesis-chosen pieces, including cuts
inside multi-byte UTF-8 characters and between `\\r` and `\\n`, and must produce exactly the events
it produces from the stream in one piece.

The stream is what the sim's encoder writes for a model call with reasoning, non-ASCII text and tool
calls, also with CRLF line endings. A loopback server in this file is the network boundary: it sends each
piece as its own HTTP chunk, flushed, with TCP_NODELAY, so the client receives the cuts as they are.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lfgtui.events import Event, EventFactory
from lfgtui.providers.base import Provider, ProviderError
from lfgtui.sim.protocols import default_protocols
from lfgtui.sim.scenario import parse_scenario
from lfgtui.sim.wire import SimRequest, count_usage
from tests.support.adapters import ADAPTERS, Adapter
from tests.support.patience import PATIENCE
from tests.support.streams import ask

T = TypeVar("T")

SCENARIO = parse_scenario(
    "split",
    """
    [[call]]
    reasoning = "Thinking in ünïcödé: 漢字, ✓ and 🚀 — cut me anywhere."
    text = "Answer: naïve café ✓ 🚀🚀 漢字 end.\\nSecond line — ok."
    [[call.tool_call]]
    name = "read_file"
    arguments = { path = "docs/ünï 🚀.md" }
    result = "café ✓"
    [[call.tool_call]]
    name = "list_dir"
    arguments = { path = "." }
    result = "a/\\nb.txt"
    """,
    "test",
)


ENDPOINTS = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "anthropic": "/v1/messages",
    "agent": "/agent",
}


def body_for(adapter: Adapter) -> bytes:
    """The stream the sim sends this adapter for the first model call of the scenario (for the agent,
    its whole run)."""
    (protocol,) = [p for p in default_protocols() if p.path == ENDPOINTS[adapter.name]]
    request = SimRequest(model="split", input_tokens=12)
    pieces = protocol.plan(SCENARIO, request)
    encoder = protocol.encoder(SCENARIO, request)
    frames = [*encoder.open(), *(f for piece in pieces for f in encoder.piece(piece))]
    return b"".join([*frames, *encoder.finish(count_usage(pieces, request))])


def cut_points(body: bytes) -> list[int]:
    """Where a cut is most likely to hurt: inside each multi-byte character and between CR and LF."""
    inside = [i for i, byte in enumerate(body) if 0x80 <= byte < 0xC0]
    return inside + [i + 1 for i in range(len(body) - 1) if body[i : i + 2] == b"\r\n"]


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    await reader.readexactly(length)


class Replayer:
    """A loopback server answering every request with an event stream sent as `pieces`, and the
    adapter under test, both living on one event loop in a thread for all of a test's examples (an
    adapter is built once: the Responses one warms its SDK's parser, which takes a while)."""

    def __init__(self, adapter: Adapter) -> None:
        self.pieces: list[bytes] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self.run(asyncio.start_server(self._serve, "127.0.0.1", 0))
        url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        self.provider: Provider = self.run(self._make(adapter, url))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30 * PATIENCE)

    @staticmethod
    async def _make(adapter: Adapter, url: str) -> Provider:
        return adapter.make(url, api_key="sk-test")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
            b"connection: close\r\n\r\n"
        )
        for piece in self.pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    def parse(self, pieces: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
        """The events the adapter makes of a stream delivered as `pieces`."""
        self.pieces = pieces
        return comparable(self.run(self._collect()))

    async def _collect(self) -> list[Event]:
        try:
            return [event async for event in self.provider.stream(ask("split"), EventFactory("t", 1))]
        except ProviderError as exc:
            pytest.fail(f"{self.provider.config.kind}: {exc}")

    def close(self) -> None:
        self.run(self.provider.aclose())
        self.server.close()
        self.run(self.server.wait_closed())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5 * PATIENCE)
        self.loop.close()


def comparable(events: list[Event]) -> list[tuple[str, dict[str, Any]]]:
    """Each event's type and content, without its sequence number and arrival time."""
    stamps = {"ticket", "attempt", "seq", "t"}
    return [
        (type(e).__name__, {k: v for k, v in dataclasses.asdict(e).items() if k not in stamps})
        for e in events
    ]


def split(body: bytes, cuts: set[int]) -> list[bytes]:
    edges = [0, *sorted(cuts), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges) if b > a]


SPLITS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LINE_ENDINGS: dict[str, Callable[[bytes], bytes]] = {
    "lf": lambda body: body,
    "crlf": lambda body: body.replace(b"\n", b"\r\n"),
}


@pytest.fixture
def replayer(adapter: Adapter) -> Iterator[Replayer]:
    made = Replayer(adapter)
    yield made
    made.close()


@pytest.mark.parametrize("endings", sorted(LINE_ENDINGS))
@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_a_stream_split_anywhere_gives_the_same_events(
    adapter: Adapter, replayer: Replayer, endings: str
) -> None:
    body = LINE_ENDINGS[endings](body_for(adapter))
    whole = replayer.parse([body])
    kinds = {kind for kind, _ in whole}
    assert {"TextDelta", "ReasoningDelta", "ToolCallReady", "CallEnded"} <= kinds
    assert "🚀" in "".join(e["text"] for kind, e in whole if kind == "TextDelta")
    hurtful = cut_points(body)
    assert hurtful

    @SPLITS
    @given(cuts=st.sets(st.sampled_from(hurtful) | st.integers(1, len(body) - 1), min_size=1, max_size=60))
    def same_events(cuts: set[int]) -> None:
        assert replayer.parse(split(body, cuts)) == whole

    same_events()
    assert replayer.parse(split(body, set(hurtful))) == whole, "cut at every hurtful place at once"
