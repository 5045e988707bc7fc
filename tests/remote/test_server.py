"""The served run as any HTTP client sees it: the token, the stream, resuming, control, slow watchers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest

from lfgtui.events import ApprovalAnswered, ApprovalAsked, AttemptEnded, Event, Outcome, Status, TextDelta
from lfgtui.remote.codec import EVENT_TYPES
from lfgtui.sim.server import SimServer
from tests.support import warm_lfg
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.remote import identities, read_stream
from tests.support.serving import TOKEN, WRITER, Served, asked, finish, served


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
        async with httpx2.AsyncClient(base_url=run.url, headers=headers, timeout=10 * PATIENCE) as client:
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
            named = {"LFG-Watcher": "ada@lab \u009b2J".encode()}  # the name a watcher gives, made inert
            assert (await client.post("/v1/tickets/slow/cancel", headers=named)).json() == {"ok": True}
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
        (1, "cancel asked by 127.0.0.1 (ada@lab \\x9b2J)"),
        (2, "retry asked by 127.0.0.1"),
    ]
    ends = [e.outcome for e in run.events if isinstance(e, AttemptEnded) and e.ticket == "slow"]
    assert ends == [Outcome.CANCELLED, Outcome.COMPLETED]


async def test_approve_and_deny_answer_a_waiting_call_and_are_recorded_with_who_asked(
    sim: SimServer, tmp_path: Path
) -> None:
    (tmp_path / "README.md").write_text("# Widget\n")
    async with served(sim, tmp_path, WRITER, control=True, yes=False) as run:
        run.run.start()
        async with run.client() as client:
            write = await asked(run, 1)
            unknown = await client.post("/v1/tickets/w/calls/nope/approve")
            approved = await client.post(f"/v1/tickets/w/calls/{quote(write.call_id, safe='')}/approve")
            again = await client.post(f"/v1/tickets/w/calls/{quote(write.call_id, safe='')}/deny")
            command = await asked(run, 2)
            denied = await client.post(f"/v1/tickets/w/calls/{quote(command.call_id, safe='')}/deny")
        await finish(run)
    assert unknown.status_code == 409 and "waits for approval" in unknown.json()["error"]
    assert approved.json() == {"ok": True} and denied.json() == {"ok": True}
    assert again.status_code == 409, "a call is answered once"
    answers = [(e.call_id, e.message) for e in run.events if isinstance(e, ApprovalAsked | ApprovalAnswered)]
    assert answers == [
        (write.call_id, "write_file waits for approval"),
        (write.call_id, "write_file approved by 127.0.0.1"),
        (command.call_id, "run_command waits for approval"),
        (command.call_id, "run_command denied by 127.0.0.1"),
    ]
    assert (tmp_path / "notes" / "summary.md").exists()


async def test_a_read_only_run_asks_nobody_and_refuses_answers(sim: SimServer, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Widget\n")
    async with served(sim, tmp_path, WRITER, yes=False) as run:
        run.run.start()
        await finish(run)
        async with run.client() as client:
            refused = await client.post("/v1/tickets/w/calls/any/approve")
    assert refused.status_code == 403 and "--control" in refused.json()["error"]
    assert not [e for e in run.events if isinstance(e, ApprovalAsked)]
    assert not (tmp_path / "notes").exists()


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
        received = b""
        with contextlib.suppress(ConnectionResetError):  # cut off: what it had been sent, then a reset
            received = await asyncio.wait_for(reader.read(), 10 * PATIENCE)
        assert b"event: end" not in received and len(received) < run.hub.total, (
            "the stuck watcher was dropped"
        )
        writer.close()


def test_the_endpoint_document_names_every_event_type() -> None:
    document = (Path(__file__).parents[2] / "docs" / "watching.md").read_text()
    assert [name for name in EVENT_TYPES if f"`{name}`" not in document] == []


def test_a_headless_run_served_with_control_waits_for_a_watchers_answer(tmp_path: Path) -> None:
    """`lfg run --headless --json --serve 0 --control`: each approval is asked on stdout and waits; a
    watcher's POST answers it; unserved, the same run refuses at once (see test_approvals.py)."""
    env = Lfg(tmp_path)
    (env.workdir / "token").write_text(TOKEN)
    tickets = env.tickets(WRITER.replace('provider = "sim"', 'provider = "sim"\nworkdir = "."'))
    token_file = str(env.workdir / "token")
    command = env.args(
        tickets, "--json", "--no-history", "--serve", "0", "--control", "--token-file", token_file
    )
    process = warm_lfg.popen(command, env=env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    try:
        served_at = re.search(r"serving this run at (\S+)", process.stderr.readline())
        assert served_at is not None
        url, lines = served_at.group(1), []
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for answer in ("approve", "deny"):
            while (line := json.loads(process.stdout.readline()))["type"] != "approval":
                lines.append(line)
            lines.append(line)
            path = f"{url}/v1/tickets/w/calls/{quote(line['id'], safe='')}/{answer}"
            assert httpx2.post(path, headers=headers).json() == {"ok": True}
        rest, _ = process.communicate(timeout=30 * PATIENCE)
    finally:
        process.kill()
    lines += [json.loads(line) for line in rest.splitlines()]
    assert process.returncode == 0
    asked = [(line["name"], line["message"]) for line in lines if line["type"] == "approval"]
    assert asked == [
        ("write_file", "write_file waits for approval"),
        ("run_command", "run_command waits for approval"),
    ]
    answers = [(line["allowed"], line["by"]) for line in lines if line["type"] == "approval_answer"]
    assert answers == [(True, "127.0.0.1"), (False, "127.0.0.1")]  # a client that gives no name
    assert (env.workdir / "notes" / "summary.md").exists()
