"""The server under peers that do not play along: idle or garbage connections, a watcher that stops
reading, ids it never gave; and `lfg attach` under a server that lies about ids, clocks and counts,
answers 502 or greets and drops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web

from lfgtui.commands import main as cli
from lfgtui.events import AttemptEnded, Event, TextDelta, Usage
from lfgtui.remote.attach import MAX_RUN_BYTES, Attachment
from lfgtui.remote.following import AttachError
from lfgtui.remote.server import BACKLOG, MAX_UNAUTHENTICATED, Address
from lfgtui.remote.tokens import ServeError, token_in
from lfgtui.run.retry import RetryPolicy
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.remote import TICKET, flood
from tests.support.serving import TICKETS, TOKEN, lookalike, on_loopback, served

FAST = RetryPolicy(max_retries=4, base_delay_s=0.01, max_delay_s=0.05)
"""Reconnect waits short enough for a test; the same backoff with jitter as `lfg attach`'s."""


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    """Wait until `condition()` holds; `within_s` (stretched in a wide run: tests/support/patience.py)."""
    async with asyncio.timeout(within_s * PATIENCE):
        while not condition():
            await asyncio.sleep(0.02)


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """What the server sends until it closes the connection (bounded, not to hang a failing test)."""
    async with asyncio.timeout(10 * PATIENCE):
        with contextlib.suppress(ConnectionError):
            return await reader.read()
    return b""


async def test_connections_are_capped_and_timed_out_before_they_show_the_token(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path, auth_timeout_s=1.0) as run:
        port = int(run.url.rsplit(":", 1)[1])
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(MAX_UNAUTHENTICATED)]
        await until(lambda: run.server.connections == MAX_UNAUTHENTICATED)
        extra, _ = await asyncio.open_connection("127.0.0.1", port)
        busy = await read_all(extra)
        assert busy.startswith(b"HTTP/1.1 503 ")
        head, body = busy.split(b"\r\n\r\n", 1)
        assert b"Content-Type: application/json" in head, "said in words, not an empty body"
        assert json.loads(body)["error"].startswith("lfg is serving as many connections as it takes")
        await until(lambda: run.server.connections == 0)  # past the time to show the token: all closed
        assert [await read_all(reader) for reader, _ in idle] == [b""] * MAX_UNAUTHENTICATED
        async with run.client() as client:
            assert (await client.get("/v1/run")).status_code == 200
        guessing, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /v1/run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n" * 2)
        answered = await read_all(guessing)
    assert answered.count(b"401 Unauthorized") == 1, "one guess per connection"
    for _, writer in idle:
        writer.close()


async def test_a_burst_of_connections_accepted_at_once_is_capped_like_any_other(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path) as run:
        port = int(run.url.rsplit(":", 1)[1])
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(MAX_UNAUTHENTICATED - 1)]
        await until(lambda: run.server.connections == MAX_UNAUTHENTICATED - 1)
        burst: list[socket.socket] = []
        flood(port, BACKLOG, burst)  # connected before the server's loop runs: accepted in one go
        gate, every = run.server.gate, MAX_UNAUTHENTICATED - 1 + BACKLOG
        assert gate is not None
        await until(lambda: run.server.connections + gate.refused == every)  # each let in or refused
        assert (run.server.connections, gate.refused) == (MAX_UNAUTHENTICATED, BACKLOG - 1)
        for sock in burst:
            sock.close()
        for _, writer in idle:
            writer.close()


async def test_attach_started_while_others_hold_every_slot_before_the_token_waits_its_turn(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path) as run:
        port = int(run.url.rsplit(":", 1)[1])
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(MAX_UNAUTHENTICATED)]
        await until(lambda: run.server.connections == MAX_UNAUTHENTICATED)
        attachment = Attachment(run.url, TOKEN, reconnects=FAST)
        said: list[str] = []
        describing = asyncio.create_task(attachment.describe(said.append))
        await until(lambda: bool(said) or describing.done())
        for _, writer in idle:  # the slots come free (as they do when the server times them out)
            writer.close()
        async with asyncio.timeout(10 * PATIENCE):
            described = await describing
        await attachment.aclose()
    assert described.run_id == run.run.run_id
    assert said[0].startswith("the server answered 503: asking again in "), said


async def test_a_watcher_that_stops_reading_is_cut_off_and_leaves_nothing_queued(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path, write_timeout_s=0.5) as run:
        text = "x" * 1000
        run.hub.publish_all(TextDelta(ticket="slow", attempt=1, seq=n, t=0.0, text=text) for n in range(4000))
        stalled = socket.create_connection(("127.0.0.1", int(run.url.rsplit(":", 1)[1])))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(
            f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
        )
        await until(lambda: run.server.dropped >= 1)
        await until(lambda: run.server.connections == 0)  # never read, yet gone: nothing kept for it
        stalled.close()


async def test_an_id_the_server_never_gave_starts_the_stream_over(sim: SimServer, tmp_path: Path) -> None:
    async with served(sim, tmp_path) as run:
        run.run.start()
        await until(lambda: len(run.hub.messages) >= 2)
        instance = run.hub.instance
        for given in (f"{instance}.²", f"{instance}.{'9' * 5000}", f"{instance}.-1", "x.1", "é"):
            assert run.hub.place(given).index == 0, given
        assert run.hub.place(f"{instance}.1").index == 1
        async with (
            run.client() as client,
            client.stream("GET", "/v1/events", headers={"Last-Event-ID": f"{instance}.²".encode()}) as answer,
        ):
            assert answer.status_code == 200


async def test_malformed_requests_get_400_and_print_no_traceback(
    sim: SimServer, tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    garbage = [
        b"GARBAGE\r\n\r\n",
        b"GET /v1/run HTTP/1.1\r\n\r\n",
        b"GET /v1/run HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /v1/run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
        b"GET /v1/run HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 10000 + b"\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    ]
    async with served(sim, tmp_path) as run:
        port = int(run.url.rsplit(":", 1)[1])
        for request in garbage:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            assert (await read_all(reader)).startswith(b"HTTP/1.0 400 "), request
            writer.close()
    assert "Traceback" not in capfd.readouterr().err
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def test_lfg_refuses_to_serve_beyond_this_machine_unless_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert Address(host, 0).refused(insecure_bind=False) is None
    for host in ("0.0.0.0", "::", "192.168.1.20", "runner.example.com"):
        assert "plain HTTP" in (Address(host, 0).refused(insecure_bind=False) or ""), host
        assert Address(host, 0).refused(insecure_bind=True) is None
    tickets = tmp_path / "tickets.toml"
    tickets.write_text(TICKETS)
    assert cli.main(["run", str(tickets), "--headless", "--no-history", "--serve", "0.0.0.0:0"]) == 2
    assert "refusing to serve on 0.0.0.0: lfg speaks plain HTTP" in capsys.readouterr().err


def test_a_token_file_with_a_bom_is_read_and_a_token_an_http_header_cannot_carry_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_bom = tmp_path / "token"
    with_bom.write_text(f"\ufeff{TOKEN}\n", encoding="utf-8")
    assert token_in(with_bom) == TOKEN
    (tmp_path / "accents").write_text("tökén-0123456789abcdef")
    with pytest.raises(ServeError, match="printable ASCII"):
        token_in(tmp_path / "accents")
    assert cli.main(["attach", "http://127.0.0.1:9", "--json", "--token", "tökén-0123456789abcdef"]) == 2
    assert "the token must be printable ASCII" in capsys.readouterr().err


@contextlib.asynccontextmanager
async def hostile_server(
    run: object, connections: list[Callable[[web.Request], object]]
) -> AsyncIterator[tuple[str, list[str | None]]]:
    """Describes `run`; its n-th `/v1/events` connection is answered by `connections[n]` (the last
    one from then on), which returns a status to answer with or the bytes to stream (no end unless
    they hold one). Yields its URL and the `Last-Event-ID` each connection came with."""
    resumed: list[str | None] = []

    async def events(request: web.Request) -> web.StreamResponse:
        resumed.append(request.headers.get("Last-Event-ID"))
        answer = connections[min(len(resumed), len(connections)) - 1](request)
        if isinstance(answer, int):
            return web.Response(status=answer, text="Bad Gateway")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        assert isinstance(answer, bytes)
        await response.write(answer)
        return response

    async with on_loopback(lookalike(run, events)) as url:
        yield url, resumed


def message(event_id: str, *events: dict[str, object]) -> bytes:
    data = json.dumps({"now": 1, "events": list(events)})
    return f"id: {event_id}\nevent: events\ndata: {data}\n\n".encode()


def stamp(seq: int, kind: str, **fields: object) -> dict[str, object]:
    return {"type": kind, "ticket": "a", "attempt": 1, "seq": seq, "t": 0.5} | fields


HELLO = b'event: hello\ndata: {"now": %d, "instance": "x"}\n\n' % 10**400
END = b"event: end\ndata: {}\n\n"


async def test_attach_takes_no_bad_id_clock_count_or_event_after_an_attempts_end() -> None:
    first = (
        HELLO
        + message("x.1", stamp(0, "text_delta", text="one"))
        + message("x.2é", stamp(1, "usage", input_tokens=-5, output_tokens=3))
        + message("x.3", stamp(2, "attempt_ended", outcome="completed"))
        + message("x.4", stamp(3, "text_delta", text="after the end"))
    )
    async with hostile_server({"run_id": "r", "tickets": [TICKET]}, [lambda _: first, lambda _: END]) as (
        url,
        resumed,
    ):
        attachment = Attachment(url, TOKEN, reconnects=FAST)
        await attachment.describe()
        got: list[Event] = []
        said: list[str] = []
        await attachment.follow(got.append, said.append)
        await attachment.aclose()
    assert [type(e) for e in got] == [TextDelta, AttemptEnded]
    assert not any(isinstance(e, Usage) for e in got)
    assert any("input_tokens: expected an integer from 0" in s for s in said), said
    assert resumed == [None, "x.4"]  # the non-ASCII id was not kept to resume from


async def test_attach_backs_off_from_a_502_and_gives_up_on_a_server_that_greets_and_drops() -> None:
    ends = [
        lambda _: 502,
        lambda _: 502,
        lambda _: HELLO + message("x.1", stamp(0, "text_delta", text="a")),
        lambda _: END,
    ]
    async with hostile_server({"run_id": "r", "tickets": [TICKET]}, ends) as (url, _):
        attachment = Attachment(url, TOKEN, reconnects=FAST)
        await attachment.describe()
        said: list[str] = []
        await attachment.follow(lambda _: None, said.append)
        await attachment.aclose()
    assert sum("reconnecting" in s and "(the server answered 502)" in s for s in said) == 2

    async with hostile_server({"run_id": "r", "tickets": [TICKET]}, [lambda _: HELLO]) as (url, resumed):
        attachment = Attachment(url, TOKEN, reconnects=FAST)
        await attachment.describe()
        async with asyncio.timeout(20 * PATIENCE):
            with pytest.raises(AttachError, match="gave up after 4 reconnects"):
                await attachment.follow(lambda _: None, lambda _: None)
        await attachment.aclose()
    assert len(resumed) == 5


async def test_attach_takes_no_description_of_a_run_past_its_size_limit() -> None:
    huge = {"run_id": "r", "tickets": [TICKET | {"prompt": "p" * MAX_RUN_BYTES}]}
    async with hostile_server(huge, [lambda _: END]) as (url, _):
        attachment = Attachment(url, TOKEN)
        with pytest.raises(AttachError, match="more than"):
            await attachment.describe()
        await attachment.aclose()


async def test_attach_skips_a_ticket_message_that_holds_no_ticket_and_goes_on() -> None:
    odd = b'event: ticket\ndata: {"now": 1}\n\nevent: ticket\ndata: {"now": 1, "ticket": [1]}\n\n'
    stream = HELLO + odd + message("x.1", stamp(0, "text_delta", text="on")) + END
    async with hostile_server({"run_id": "r", "tickets": [TICKET]}, [lambda _: stream]) as (url, _):
        attachment = Attachment(url, TOKEN, reconnects=FAST)
        await attachment.describe()
        got: list[Event] = []
        said: list[str] = []
        await attachment.follow(got.append, said.append)
        await attachment.aclose()
    assert [type(e) for e in got] == [TextDelta], "it went on"
    skipped = [s for s in said if s.startswith("skipped a ticket that is not valid")]
    assert len(skipped) == 2 and all("ticket is not an object" in s for s in skipped), said
