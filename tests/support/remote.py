"""Watching a served run in tests: a lying server, the attached app, the SSE stream read,
events' identities, a flood of connections."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator

import httpx2
from aiohttp import web

from lfgtui.events import Event
from lfgtui.providers.registry import Providers
from lfgtui.remote.attach import Attachment
from lfgtui.remote.codec import decode
from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from tests.support.compose import attach_app
from tests.support.serving import TOKEN, Served, lookalike, on_loopback


@contextlib.asynccontextmanager
async def lying_server(run: object, messages: list[bytes]) -> AsyncIterator[str]:
    """An HTTP server that says it is lfg, describes `run` and then streams `messages` and `end`."""

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'event: hello\ndata: {"now": 0, "instance": "x"}\n\n')
        for n, data in enumerate(messages):
            await response.write(b"id: x.%d\nevent: events\ndata: " % n + data + b"\n\n")
        await response.write(b"event: end\ndata: {}\n\n")
        return response

    async with on_loopback(lookalike(run, events)) as url:
        yield url


TICKET = {
    "ticket": "a",
    "title": "a",
    "prompt": "p",
    "system": None,
    "provider": "p",
    "model": "m",
    "tools": [],
    "depends_on": [],
    "max_calls": None,
    "max_tokens": None,
    "temperature": None,
    "workdir": None,
}


async def attached_app(url: str, sim: SimServer) -> tuple[LfgApp, Attachment]:
    """The TUI as `lfg attach` opens it on the run served at `url`, and its attachment (to close at
    the end)."""
    attachment = Attachment(url, TOKEN)
    remote = await attachment.describe()
    app = attach_app(remote, attachment, Providers(sim=sim))
    return app, attachment


async def read_stream(
    served: Served, last_id: str = "", messages: int | None = None
) -> tuple[list[Event], str, list[str]]:
    """Read `/v1/events` (after `last_id`) until `end`, or until `messages` batches came: the events,
    the last id, and the kinds of message seen."""
    events: list[Event] = []
    kinds: list[str] = []
    headers = {"Last-Event-ID": last_id} if last_id else {}
    try:
        async with served.client() as client, client.sse("/v1/events", headers=headers) as source:
            assert source.response.status_code == 200
            assert source.response.headers["content-type"] == "text/event-stream"
            assert "content-encoding" not in source.response.headers, "no compression on a stream"
            async for message in source:
                kinds.append(message.event)
                if message.event == "events":
                    events.extend(decode(item, 0.0) for item in json.loads(message.data)["events"])
                    last_id = message.id
                    if messages is not None and kinds.count("events") >= messages:
                        break
                elif message.event == "end":
                    break
    except (httpx2.RemoteProtocolError, httpx2.ReadError):  # cut off as too slow (a loaded machine)
        kinds.append("cut")
    return events, last_id, kinds


def identities(events: list[Event]) -> list[tuple[str, int, int, str]]:
    return [(e.ticket, e.attempt, e.seq, type(e).__name__) for e in events]


def flood(port: int, count: int, into: list[socket.socket]) -> None:
    """`count` connections to `port` that send nothing (put in `into`, for the caller to close)."""
    for _ in range(count):
        idle = socket.socket()
        idle.setblocking(False)
        into.append(idle)
        with contextlib.suppress(BlockingIOError):
            idle.connect(("127.0.0.1", port))
