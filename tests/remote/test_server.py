"""The served run as any HTTP client sees it: the token, the stream, resuming, control, slow watchers."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx2
import pytest

from lfgtui.events import AttemptEnded, Event, Outcome, Status, TextDelta
from lfgtui.remote.codec import EVENT_TYPES, decode
from lfgtui.sim.server import SimServer
from tests.remote.serving import TOKEN, Served, finish, served


async def read_stream(
    served: Served, last_id: str = "", messages: int | None = None
) -> tuple[list[Event], str, list[str]]:
    """Read `/v1/events` (after `last_id`) until `end`, or until `messages` batches came: the events,
    the last id, and the kinds of message seen."""
    events: list[Event] = []
    kinds: list[str] = []
    headers = {"Last-Event-ID": last_id} if last_id else {}
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
    return events, last_id, kinds


def identities(events: list[Event]) -> list[tuple[str, int, int, str]]:
    return [(e.ticket, e.attempt, e.seq, type(e).__name__) for e in events]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"bearer {TOKEN}"],
)
async def test_a_missing_or_wrong_token_gets_401_and_learns_nothing(
    sim: SimServer, tmp_path: Path, authorization: str | None
) -> None:
    async with served(sim, tmp_path, control=True) as run:
        run.run.start()
        headers = {"Authorization": authorization} if authorization else {}
        async with httpx2.AsyncClient(base_url=run.url, headers=headers, timeout=10) as client:
            answers = [
                await client.get("/v1/run"),
                await client.get("/v1/events"),
                await client.post("/v1/tickets/slow/cancel"),
                await client.get("/v1/no-such-thing"),
            ]
        for answer in answers:
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"] == "Bearer"
            assert run.run.run_id not in answer.text and "slow" not in answer.text
        assert run.run.states["slow"].running, "a refused cancel cancelled nothing"
        async with run.client() as client:
            described = (await client.get("/v1/run")).json()
        assert described["run_id"] == run.run.run_id
        assert [t["ticket"] for t in described["tickets"]] == ["slow", "quick"]
        assert described["control"] is True


async def test_a_watcher_that_drops_resumes_with_last_event_id_and_gets_each_event_once(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path) as run:
        run.run.start()
        before, last_id, kinds = await read_stream(run, messages=3)
        assert kinds[0] == "hello" and last_id.startswith(f"{run.hub.instance}.")
        await finish(run)
        after, _, kinds = await read_stream(run, last_id)
        assert kinds[0] == "hello" and kinds[-1] == "end"
        assert identities(before + after) == identities(run.events), "nothing lost, nothing twice"
        texts = [(e.ticket, e.text) for e in before + after if isinstance(e, TextDelta)]
        assert texts == [(e.ticket, e.text) for e in run.events if isinstance(e, TextDelta)]

        again, _, _ = await read_stream(run, "someone-elses.7")
        assert identities(again) == identities(run.events), "an id from another server starts over"


async def test_a_quiet_stream_sends_heartbeats(sim: SimServer, tmp_path: Path) -> None:
    async with served(sim, tmp_path, heartbeat_s=0.05) as run:  # the run is never started: silence
        async with run.client() as client, client.stream("GET", "/v1/events") as response:
            seen = b""
            async for chunk in response.aiter_bytes():
                seen += chunk
                if seen.count(b": keep-alive\n\n") >= 2:
                    break
        assert seen.startswith(b"retry: 2000\nevent: hello\n")


async def test_cancel_and_retry_need_control_and_are_recorded_with_who_asked(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path) as read_only:
        read_only.run.start()
        async with read_only.client() as client:
            refused = await client.post("/v1/tickets/slow/cancel")
        assert refused.status_code == 403 and "--control" in refused.json()["error"]
        assert read_only.run.states["slow"].running

    async with served(sim, tmp_path, control=True) as run:
        run.run.start()
        async with run.client() as client:
            while not any(isinstance(e, TextDelta) and e.ticket == "slow" for e in run.events):
                await asyncio.sleep(0.01)
            assert (await client.post("/v1/tickets/slow/cancel")).json() == {"ok": True}
            await run.run.states["slow"].finished.wait()
            missing = await client.post("/v1/tickets/nobody/cancel")
            again = await client.post("/v1/tickets/slow/cancel")
            retried = await client.post("/v1/tickets/slow/retry")
            wrong = await client.get("/v1/tickets/slow/retry")
        assert missing.status_code == 404
        assert again.status_code == 409 and "not running" in again.json()["error"]
        assert retried.status_code == 200
        assert wrong.status_code == 405
        await finish(run)
    notes = [(e.attempt, e.message) for e in run.events if type(e) is Status and e.ticket == "slow"]
    assert notes == [
        (1, "cancel asked by 127.0.0.1 (lfg attach)"),
        (2, "retry asked by 127.0.0.1 (lfg attach)"),
    ]
    ends = [e.outcome for e in run.events if isinstance(e, AttemptEnded) and e.ticket == "slow"]
    assert ends == [Outcome.CANCELLED, Outcome.COMPLETED]


LONG = """
[defaults]
provider = "sim"
model = "long-answer:tokens_per_s=20000,repeat=40"
""" + "".join(f'\n[[ticket]]\nid = "flood{i}"\nprompt = "go"\n' for i in range(8))


async def read_to_the_end(served: Served) -> list[Event]:
    """What a well-behaved watcher gets: it reads, and when dropped comes back with Last-Event-ID."""
    events: list[Event] = []
    last_id, kinds = "", [""]
    while kinds[-1] != "end":
        more, last_id, kinds = await read_stream(served, last_id)
        events += more
    return events


async def test_a_watcher_that_stops_reading_is_dropped_while_the_others_get_everything(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path, LONG, write_timeout_s=0.3) as run:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # takes a little, then nothing
        host, port = run.url.removeprefix("http://").split(":")
        stuck.connect((host, int(port)))
        reader, writer = await asyncio.open_connection(sock=stuck)
        writer.write(f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        await writer.drain()
        while run.server.watchers < 1:
            await asyncio.sleep(0.01)
        run.run.start()
        watched = asyncio.create_task(read_to_the_end(run))
        await finish(run)
        assert identities(await watched) == identities(run.events)
        assert run.server.dropped >= 1
        received = await asyncio.wait_for(reader.read(), 10)  # what it had been sent, then the end of it
        assert b"event: end" not in received and len(received) < run.hub.total, (
            "the stuck watcher was dropped"
        )
        writer.close()


def test_the_endpoint_document_names_every_event_type() -> None:
    document = (Path(__file__).parents[2] / "docs" / "watching.md").read_text()
    assert [name for name in EVENT_TYPES if f"`{name}`" not in document] == []
