"""A lead ticket (`lead = true`) on a run coordinated on a broker's workers (`lfg run --broker`), as
real processes on a real redis-server, each under an ACL user of exactly the rules docs/fleet.md
lists for its role: the worker running the lead serves it its door (lfg's MCP
server in its session, on a socket of its own: broker/lead_door.py), and what the lead asks there
reaches the coordinator's run over the broker (broker/lead_asks.py). Driven through that MCP server
with the MCP SDK's client, as the lead's agent drives it: it adds two tickets, which run on the worker
and complete, waits for them and reads their answers; it cannot reach a ticket it did not add.
Another worker's ACL user cannot put an ask on the lead's worker's asks stream (the broker refuses
it), and what it asks on its own, even after rewriting the run's `ran` hash, is refused by the
coordinator, which says so, as is an ask for a ticket the lead did not add even from its own worker."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.exceptions
from mcp import ClientSession

from lfgtui.broker.layout import Layout, dumps, loads
from lfgtui.broker.lead_asks import AskEntry, new_reply
from lfgtui.run.requests import AddTicket, Cancel, Steer
from tests.support import warm_lfg
from tests.support.agents import mcp_recording_agent, mcp_requests
from tests.support.fleet import (
    STEADY,
    Fleet,
    acl_user,
    coordinate,
    documented_rules,
    ends,
    eventually,
    holds,
    ran_on,
    terminated,
    until,
)
from tests.support.mcp_client import mcp_client
from tests.support.patience import PATIENCE

LEAD = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=400"
lead = true

[[ticket]]
id = "other"
prompt = "Say hello."
model = "hello"
"""
HELLO = {"prompt": "Say hello.", "model": "hello"}


def text(result: Any) -> str:
    return result.content[0].text


class Drained:
    """A process's NDJSON stdout and its stderr read as they come (a full pipe would stall it)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.events: list[dict[str, Any]] = []
        self.err: list[str] = []
        out, err = process.stdout, process.stderr
        self.threads = [
            threading.Thread(target=lambda: self.events.extend(map(json.loads, out)), daemon=True),
            threading.Thread(target=lambda: self.err.extend(err), daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def joined(self) -> None:
        for thread in self.threads:
            thread.join(30 * PATIENCE)


def asked(client: redis.Redis, run_id: str, worker: str, ask: AskEntry) -> str:
    """Put an ask on worker `worker`'s asks stream of the run as `client` (an ACL user that may write
    it), and wait for the coordinator's answer to its reply token."""
    layout = Layout()
    entry = client.xadd(layout.asks(worker, run_id), ask.fields()).decode()  # type: ignore[arg-type, union-attr]
    return answered(client, run_id, ask, f"{int(entry.partition('-')[0]) - 1}-0")


def answered(client: redis.Redis, run_id: str, ask: AskEntry, last: str = "0-0") -> str:
    """The coordinator's answer to `ask`'s reply token, waited for on the run's answers stream (a
    minute, stretched: tests/support/patience.py)."""
    deadline = time.monotonic() + 60 * PATIENCE
    while time.monotonic() < deadline:
        for _, answers in client.xread({Layout().answers(run_id): last}, block=1_000):  # type: ignore[union-attr]
            for entry_id, answer in answers:
                if answer[b"reply"] == ask.reply.encode():
                    return answer[b"data"].decode()
                last = entry_id
    raise AssertionError(f"the coordinator never answered {ask.what()}")


def asks_streams_read(admin: redis.Redis, reads: int) -> list[list[str]]:
    """The asks streams named by each of the next `reads` reads of them (the coordinator's `XREAD`s
    of its leads' asks, one per loop), as the broker's MONITOR shows the commands it runs."""
    seen: list[list[str]] = []
    with admin.monitor() as monitor:
        for command in monitor.listen():
            args = command["command"].split(" ")
            if args[0].upper() == "XREAD" and any(":asks:" in arg for arg in args):
                seen.append([arg for arg in args if ":asks:" in arg])
                if len(seen) == reads:
                    return seen
    return seen


def present(client: redis.Redis, name: str) -> None:
    """Say worker `name` is on the broker for ten minutes, as its ACL user may (broker/presence.py)."""
    seconds, micros = client.time()  # type: ignore[misc]
    now = seconds + micros / 1_000_000
    client.hset(Layout().worker(name), mapping={"serves": dumps({"providers": ["sim"]}), "seen": now})
    client.zadd(Layout().workers, {name: now + 600})


def picking_up(fleet: Fleet, run_id: str, config: Path) -> subprocess.Popen[str]:
    """`lfg resume RUN --broker URL --json`, its NDJSON on a pipe."""
    resume = [sys.executable, "-m", "lfgtui", "resume", run_id, "--broker", fleet.url, "--json"]
    return warm_lfg.popen(
        [*resume, "--config", str(config)],
        env=fleet.lfg.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def completed(mcp: ClientSession, tickets: list[str]) -> None:
    """Wait for the tickets as a lead does (`wait_for_tickets`, again while they run), and read each
    one's answer: the sim's hello."""
    waited: dict[str, Any] = {"done": False}
    while not waited["done"]:
        result = await mcp.call_tool("wait_for_tickets", {"tickets": tickets, "timeout_s": 20})
        assert not result.is_error, text(result)
        waited = json.loads(text(result))
        assert all(t["state"] != "failed" for t in waited["tickets"]), waited
    assert {t["state"] for t in waited["tickets"]} == {"completed"}, waited
    for ticket in tickets:
        report = json.loads(text(await mcp.call_tool("read_ticket", {"ticket": ticket})))
        assert report["outcome"] == "completed", report
        assert "Hello" in report["answer"], report


@pytest.mark.timeout(180)
async def test_a_lead_on_a_worker_adds_waits_for_and_reads_its_tickets_and_forged_asks_are_refused(
    fleet: Fleet, admin: redis.Redis, tmp_path: Path
) -> None:
    record = tmp_path / "mcp.jsonl"
    config = fleet.config(STEADY + mcp_recording_agent("sim-acp", record, tmp_path / "sessions"))
    acl_user(admin, "coordinator", documented_rules("coordinator", "w1"))  # what docs/fleet.md says
    acl_user(admin, "worker", documented_rules("worker", "w1"))
    acl_user(admin, "w2", documented_rules("worker", "w2"))
    host = fleet.url.removeprefix("redis://")
    Fleet(fleet.lfg, f"redis://worker:worker-secret@{host}", fleet.workers).start("w1", config=config)
    coordinating = Fleet(fleet.lfg, f"redis://coordinator:coordinator-secret@{host}")
    coordinator = coordinate(coordinating, fleet.lfg.tickets(LEAD), config=config)
    drained = Drained(coordinator)
    try:
        await until(lambda: any(r["mcpServers"] for r in mcp_requests(record)), 90)
        [server] = next(r["mcpServers"] for r in mcp_requests(record) if r["mcpServers"])
        assert server["name"] == "lfg" and server["args"][:4] == ["-m", "lfgtui", "mcp", "http://lfg"]
        socket = Path(server["args"][7])
        assert oct(socket.parent.stat().st_mode & 0o777) == "0o700", "this user's alone"
        [run_id] = {m.group(1) for line in drained.err if (m := re.search(r"lfg attach \S+ (\w+)", line))}

        async with mcp_client(server["command"], server["args"], tmp_path / "mcp.err") as client:
            mcp = client.session
            hello = client.hello
            assert hello.instructions is not None
            assert hello.instructions.startswith(f"You are boss, the lead ticket of lfg run {run_id}.")
            first_list = await mcp.call_tool("list_tickets", {})
            assert not first_list.is_error, text(first_list)
            listed = json.loads(text(first_list))
            assert [t["ticket"] for t in listed["tickets"]] == ["boss"], "only itself, so far"

            unseen = await mcp.call_tool("read_ticket", {"ticket": "other"})
            assert unseen.is_error and "the run has no ticket 'other'" in text(unseen)
            not_its = await mcp.call_tool("cancel_ticket", {"ticket": "other"})
            assert not_its.is_error
            assert "the run has no ticket 'other' (its tickets: boss)" in text(not_its)

            first = await mcp.call_tool("add_ticket", {"ticket": HELLO, "key": "one"})
            assert not first.is_error, text(first)
            second = await mcp.call_tool("add_ticket", {"ticket": HELLO, "key": "two"})
            assert not second.is_error, text(second)
            again = await mcp.call_tool("add_ticket", {"ticket": HELLO, "key": "one"})
            children = [json.loads(text(result))["ticket"] for result in (first, second, again)]
            assert children[0] != children[1] and children[2] == children[0], "a key adds once"

            await completed(mcp, children[:2])
            message = {"ticket": children[0], "text": "Say it once more.", "mode": "queue"}
            queued = await mcp.call_tool("message_ticket", message)
            assert not queued.is_error, text(queued)
            listed = json.loads(text(await mcp.call_tool("list_tickets", {})))
            assert [t["ticket"] for t in listed["tickets"]] == ["boss", *children[:2]]

            # A ticket entry forged on the run's stream, naming the lead: shown, never reached.
            described = loads(admin.hget(Layout().run(run_id), "run"))["tickets"]
            [other] = [ticket for ticket in described if ticket["ticket"] == "other"]
            entry = dumps({"now": 0, "ticket": {**other, "ticket": "forged"}, "lead": "boss"})
            admin.xadd(Layout().events(run_id), {"kind": "ticket", "n": "f0f0f0f0.1", "data": entry})
            while "forged" not in text(await mcp.call_tool("list_tickets", {})):
                await asyncio.sleep(0.05)
            reached = await mcp.call_tool("cancel_ticket", {"ticket": "forged"})
            assert reached.is_error and "the run has no ticket 'forged'" in text(reached), text(reached)

        # A second worker's ACL user, of exactly the documented rules, on the broker as a worker.
        w2 = redis.Redis.from_url(f"redis://w2:w2-secret@{host}")
        present(w2, "w2")
        work = loads(admin.hget(Layout().work_index(run_id), "boss")).get("entry")
        assert isinstance(work, str)
        forged = AskEntry(AddTicket(HELLO), "boss", work, new_reply())
        nokey = "no permissions to access one of the keys"
        with pytest.raises(redis.exceptions.NoPermissionError, match=nokey):
            w2.xadd(Layout().asks("w1", run_id), forged.fields())  # type: ignore[arg-type]
        with pytest.raises(redis.exceptions.NoPermissionError, match=nokey):  # the coordinators' proof
            w2.hset(Layout().holders(run_id), f"w2/{work}", dumps({"lead": "boss", "work": work}))
        boss = "\n".join(
            f"{e['attempt']} {e.get('message') or e.get('outcome')} {e.get('error')}"
            for e in drained.events
            if e["ticket"] == "boss" and e["type"] in ("attempt_ended", "status")
        )
        # On the broker, it never ran the lead: its asks stream is not read, until it names itself in
        # the `ran` hash, which every worker may write; then what it asked is refused, in words.
        w2.xadd(Layout().asks("w2", run_id), forged.fields())  # type: ignore[arg-type]
        w2.hset(Layout().ran(run_id), "boss#1", "w2")
        refused = json.loads(answered(w2, run_id, forged))["refused"]
        assert refused.startswith("worker 'w2' does not run boss's attempt 1 (worker 'w1' does)"), boss
        again = AskEntry(AddTicket(HELLO), "boss", work, new_reply())
        refused = json.loads(asked(w2, run_id, "w2", again))["refused"]
        assert refused.startswith("worker 'w2' does not run boss's attempt 1 (worker 'w1' does)"), boss
        admin.hset(Layout().ran(run_id), "boss#1", "w1")
        stale = AskEntry(AddTicket(HELLO), "boss", "1-1", new_reply())  # as worker w1 could
        assert "is not the one boss's running attempt waits for" in asked(admin, run_id, "w1", stale)
        other = AskEntry(Cancel("other"), "boss", work, new_reply())
        not_its = json.loads(asked(admin, run_id, "w1", other))["refused"]
        assert not_its.startswith(
            "lead boss may reach only the tickets it added, and it did not add 'other' (refused asks count"
        ), "the door is not the only check, and the run paces it"
        not_a_lead = AskEntry(AddTicket(HELLO), "other", work, new_reply())
        assert "the run has no lead ticket 'other'" in asked(admin, run_id, "w1", not_a_lead)

        # An entry that is no ask is refused once, marked, so no coordinator after says it again.
        bad = admin.xadd(Layout().asks("w1", run_id), {"data": "\x1b[2J\u202e"}).decode()  # type: ignore[union-attr]
        eventually(lambda: admin.hget(Layout().asked(run_id), f"w1/{bad}") == b"done")
        # Thousands of names any worker may add to the workers' set cost the coordinator nothing:
        # it reads the asks of the workers that ran its lead (w1; w2, named in `ran` a while), no more.
        seconds, _ = w2.time()  # type: ignore[misc]
        w2.zadd(Layout().workers, {f"fake-{n}": seconds + 600 for n in range(5_000)})
        reads = asks_streams_read(admin, 4)
        assert all(len(read) <= 2 for read in reads), [len(read) for read in reads]
        assert not any("fake-" in key for read in reads for key in read), reads
        w2.close()
    finally:
        if coordinator.poll() is None:
            coordinator.send_signal(signal.SIGTERM)
        try:
            coordinator.wait(60 * PATIENCE)
        except subprocess.TimeoutExpired:
            coordinator.kill()
            coordinator.wait(10 * PATIENCE)
        drained.joined()
        fleet.stop()
    err = "".join(drained.err)
    events = drained.events
    assert {ends(events)[(child, 1)] for child in children[:2]} == {"completed"}, err
    assert all(ran_on(events, child) == {"w1"} for child in children[:2])
    said = [e["message"] for e in events if e["type"] == "status" and e["ticket"] == children[0]]
    assert any(m.startswith("added by lead boss") for m in said), said
    follow_up = [e for e in events if e["ticket"] == children[0] and e["type"] == "prompt"]
    assert follow_up[-1]["text"] == "Say it once more.", "its follow-up went through the coordinator"
    assert "refused ask" in err and "worker 'w2' does not run boss's attempt 1" in err
    assert "Traceback" not in err + fleet.said("w1"), err + fleet.said("w1")
    assert not socket.parent.exists(), "the door's folder goes with the attempt"


@pytest.mark.timeout(240)
async def test_a_lead_on_a_worker_goes_on_once_its_killed_coordinator_is_picked_up_with_lfg_resume(
    fleet: Fleet, admin: redis.Redis, tmp_path: Path
) -> None:
    """The coordinator killed with SIGKILL while its lead runs on a worker: the worker runs the lead on,
    its door open. What the lead asks while no coordinator runs waits on the broker: `lfg resume RUN
    --broker` adopts the lead's attempt and answers it, once (before, the resumed coordinator read the
    asks from their end, and the ask was lost: "may or may not have been done"), so the ticket it added
    runs and completes beside the one it added before. An ask the killed coordinator took and never
    answered is answered as lost, quoting what was asked. Then another coordinator takes the run
    (its lease's generation moves on) as an ask comes: the resumed one answers nothing, and stands down."""
    record = tmp_path / "mcp.jsonl"
    config = fleet.config(STEADY + mcp_recording_agent("sim-acp", record, tmp_path / "sessions"))
    fleet.start("w1", config=config)
    coordinator = coordinate(fleet, fleet.lfg.tickets(LEAD), config=config)
    drained, resumed = Drained(coordinator), None
    try:
        await until(lambda: any(r["mcpServers"] for r in mcp_requests(record)), 90)
        [server] = next(r["mcpServers"] for r in mcp_requests(record) if r["mcpServers"])
        [run_id] = {m.group(1) for line in drained.err if (m := re.search(r"lfg attach \S+ (\w+)", line))}
        asks = Layout().asks("w1", run_id)
        async with mcp_client(server["command"], server["args"], tmp_path / "mcp.err") as client:
            mcp = client.session
            first = json.loads(text(await mcp.call_tool("add_ticket", {"ticket": HELLO, "key": "one"})))
            await completed(mcp, [first["ticket"]])
            coordinator.send_signal(signal.SIGKILL)
            coordinator.wait(30 * PATIENCE)
            drained.joined()
            before = admin.xlen(asks)
            second = asyncio.create_task(mcp.call_tool("add_ticket", {"ticket": HELLO, "key": "two"}))
            await until(lambda: admin.xlen(asks) > before, 30)  # on the broker, no coordinator reading
            work = loads(admin.hget(Layout().work_index(run_id), "boss")).get("entry")
            assert isinstance(work, str)
            lost = AskEntry(Steer(first["ticket"], "\x1b[2J\u202eagain\ud800"), "boss", work, new_reply())
            taken = admin.xadd(asks, lost.fields()).decode()  # type: ignore[arg-type, union-attr]
            admin.hset(Layout().asked(run_id), f"w1/{taken}", "taken 5eed")  # as the killed one left it
            resumed = picking_up(fleet, run_id, config)
            picked_up = Drained(resumed)
            said = await second
            assert not said.is_error or "waits on the broker" in text(said), text(said)
            while len(json.loads(text(await mcp.call_tool("list_tickets", {})))["tickets"]) < 3:
                await asyncio.sleep(0.1)
            listed = json.loads(text(await mcp.call_tool("list_tickets", {})))
            child = listed["tickets"][2]["ticket"]
            assert [t["ticket"] for t in listed["tickets"]] == ["boss", first["ticket"], child]
            await completed(mcp, [child])
            again = await mcp.call_tool("add_ticket", {"ticket": HELLO, "key": "two"})
            assert json.loads(text(again))["ticket"] == child, "asked again by its key: nothing new"
            assert json.loads(await asyncio.to_thread(answered, admin, run_id, lost)) == {
                "refused": "lost: the run's coordinator before this one took this ask ("
                + lost.what()
                + ") and stopped before answering it: it may or may not have been done"
            }
            late = AskEntry(AddTicket(HELLO), "boss", work, new_reply())
            with admin.pipeline(transaction=True) as pipe:  # another coordinator took the run as it came
                pipe.incr(Layout().generation(run_id))
                pipe.xadd(asks, late.fields())  # type: ignore[arg-type]
                pipe.execute()
            code = await asyncio.to_thread(resumed.wait, 60 * PATIENCE)
            assert code == 4, "".join(picked_up.err)
            answers = admin.xrange(Layout().answers(run_id))
            assert all(fields[b"reply"] != late.reply.encode() for _, fields in answers), (
                "it answered nothing"
            )
    finally:
        terminated((coordinator, resumed), within_s=60 * PATIENCE)
        fleet.stop()
    assert resumed is not None
    picked_up.joined()
    err = "".join(picked_up.err)
    assert ends(picked_up.events)[(child, 1)] == "completed", err
    added = [
        e for e in picked_up.events if e["type"] == "status" and e["message"].startswith("added by lead")
    ]
    assert [e["ticket"] for e in added] == [child], "added once"
    assert "another coordinator took this run over" in err, err
    assert "Traceback" not in err + fleet.said("w1"), err + fleet.said("w1")


@pytest.mark.timeout(180)
async def test_an_ask_of_a_worker_gone_from_the_broker_is_answered_by_the_coordinator_that_picks_up(
    fleet: Fleet, admin: redis.Redis, tmp_path: Path
) -> None:
    """The coordinator killed, then the worker running the lead killed with an ask of the lead on its
    asks stream that no coordinator read, and another worker taking the lead over: `lfg resume RUN
    --broker` reads the asks of the workers the run's records say ran its lead (the `ran` hash),
    present or not, and decides that ask as the lead's, once: the coordinator before recorded that
    the broker gave w1 the lead's entry (the `holders` hash, which only coordinators write), and the
    ask came while it did. The lead's next attempt, on w2, hears of it: the ticket it added is in its
    `list_tickets`. Before, the ask was never read (only the workers on the broker were), and once
    read it was refused: w1 no longer ran the lead."""
    record = tmp_path / "mcp.jsonl"
    config = fleet.config(STEADY + mcp_recording_agent("sim-acp", record, tmp_path / "sessions"))
    fleet.start("w1", config=config)
    coordinator = coordinate(fleet, fleet.lfg.tickets(LEAD), config=config)
    drained, resumed = Drained(coordinator), None
    try:
        await until(lambda: any(r["mcpServers"] for r in mcp_requests(record)), 90)
        [run_id] = {m.group(1) for line in drained.err if (m := re.search(r"lfg attach \S+ (\w+)", line))}
        work = loads(admin.hget(Layout().work_index(run_id), "boss")).get("entry")
        assert isinstance(work, str)
        await until(lambda: admin.hget(Layout().holders(run_id), f"w1/{work}") is not None, 30)
        coordinator.send_signal(signal.SIGKILL)
        coordinator.wait(30 * PATIENCE)
        drained.joined()
        ask = AskEntry(AddTicket(HELLO, "gone"), "boss", work, new_reply())  # as w1's door puts it
        admin.xadd(Layout().asks("w1", run_id), ask.fields())  # type: ignore[arg-type]
        fleet.workers["w1"].kill()
        fleet.workers["w1"].wait(30 * PATIENCE)

        def lapsed() -> bool:
            seconds, _ = admin.time()  # type: ignore[misc]
            score = admin.zscore(Layout().workers, "w1")
            return score is None or float(score) <= seconds  # type: ignore[arg-type]

        await until(lapsed, 60)
        fleet.start("w2", config=config)
        await until(lambda: holds(admin, "w2", "lfg:work:sim-acp"), 90)
        resumed = picking_up(fleet, run_id, config)
        picked_up = Drained(resumed)
        answer = json.loads(await asyncio.to_thread(answered, admin, run_id, ask))
        assert set(answer) == {"added", "by"}, answer

        def added() -> list[str]:
            entries = admin.xrange(Layout().events(run_id))  # type: ignore[union-attr]
            tickets = [loads(fields[b"data"]) for _, fields in entries if fields[b"kind"] == b"ticket"]
            return [t["ticket"]["ticket"] for t in tickets if t.get("lead") == "boss"]

        await until(lambda: added() == [answer["added"]], 30)
        await until(lambda: len([r for r in mcp_requests(record) if r["mcpServers"]]) == 2, 60)
        [server] = [r["mcpServers"] for r in mcp_requests(record) if r["mcpServers"]][-1]
        async with mcp_client(server["command"], server["args"], tmp_path / "mcp.err") as client:
            listed: list[str] = []
            while answer["added"] not in listed:
                result = await client.session.call_tool("list_tickets", {})
                listed = [t["ticket"] for t in json.loads(text(result))["tickets"]]
                await asyncio.sleep(0.1)
        # w1 back (or a stale w1 woken) asks after w2 took over: refused. Its stream takes no entry
        # below its last one, so no id it picks comes before what it held.
        late = AskEntry(AddTicket(HELLO, "late"), "boss", work, new_reply())
        refused = json.loads(await asyncio.to_thread(asked, admin, run_id, "w1", late))["refused"]
        assert refused.startswith("worker 'w1' does not run boss's attempt 2 (worker 'w2' does)"), refused
    finally:
        terminated((coordinator, resumed), within_s=60 * PATIENCE)
        fleet.stop()
    assert resumed is not None
    picked_up.joined()
    err = "".join(picked_up.err)
    assert added() == [answer["added"]], "added once"
    assert "Traceback" not in err, err
