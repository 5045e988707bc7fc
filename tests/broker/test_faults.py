"""The faults a fleet meets, with real `lfg worker` and `lfg run --broker` processes on a real
redis-server: a worker dead behind many live entries, a broker that lost everything (FLUSHALL, a
restart without persistence), a worker paused or cut off past its lease, a stale attempt's end
racing a takeover. Each ends with every ticket completed, once: nothing stuck, nothing run twice."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import threading
from typing import Any

import pytest
import redis

from lfgtui.sim.server import SimServer
from tests.support.fleet import (
    LEASE,
    STEADY,
    Fleet,
    coordinate,
    ends,
    eventually,
    finish,
    same_tickets,
    until,
)
from tests.support.paid import Coordinator
from tests.support.patience import PATIENCE
from tests.support.proxy import partition
from tests.support.redis_server import RedisServer

STREAM = "lfg:work:sim"
SLOW = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "long-answer:tokens_per_s=40"\n'


def completions(fleet: Fleet, *workers: str) -> dict[str, int]:
    """How many times each ticket ran to completion on these workers, as they said."""
    said = "".join(fleet.said(name) for name in workers)
    counts: dict[str, int] = {}
    for ticket in re.findall(r"(\S+) of run \S+ \(attempt \d+\): completed", said):
        counts[ticket] = counts.get(ticket, 0) + 1
    return counts


def once_taken_over(events: list[dict[str, Any]]) -> bool:
    """Whether the ticket completed once, on an attempt after the first: another worker's. (On a
    loaded machine a lease of `LEASE` may lapse once more on the way.)"""
    outcomes = ends(events)
    completed = [attempt for (_, attempt), outcome in outcomes.items() if outcome == "completed"]
    return len(completed) == 1 and completed[0] > 1 and outcomes[("t", 1)] == "interrupted"


@pytest.mark.timeout(120)  # a lease to lapse and a takeover: bounded waits that add up
def test_a_dead_workers_entry_is_taken_over_behind_any_number_of_live_ones(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """XAUTOCLAIM looks at ten pending entries a call: with 30 live ones older than the dead
    worker's, a worker that drops its cursor never finds it. The takeover must."""
    admin.xgroup_create(STREAM, "workers", id="0", mkstream=True)
    live = [admin.xadd(STREAM, {"data": b"{}"}) for _ in range(30)]
    admin.xreadgroup("workers", "busy", {STREAM: ">"}, count=30)
    stop = threading.Event()

    def busy() -> None:  # a worker that renews its 30 leases, as a live one does
        while not stop.wait(0.2):
            admin.xclaim(STREAM, "workers", "busy", 0, live, justid=True)

    renewing = threading.Thread(target=busy, daemon=True)
    renewing.start()
    try:
        coordinator = coordinate(
            fleet, fleet.lfg.tickets(SLOW.replace("tokens_per_s=40", "tokens_per_s=400"))
        )
        eventually(lambda: admin.xlen(STREAM) > len(live))
        admin.xreadgroup("workers", "dead", {STREAM: ">"}, count=1)  # then died
        fleet.start("w1", config=fleet.config(LEASE, "lease.toml"))
        code, events, err = finish(coordinator)
    finally:
        stop.set()
        renewing.join()
    assert code == 0, err
    assert ends(events) == {("t", 1): "interrupted", ("t", 2): "completed"}, err
    assert "took over t of run" in fleet.said("w1")
    assert {e["consumer"] for e in admin.xpending_range(STREAM, "workers", "-", "+", 100)} == {b"busy"}


@pytest.mark.timeout(150)  # six tickets, several run twice: past the default 60 s on a loaded machine
@pytest.mark.parametrize("loss", ["flushall", "restart"])
async def test_a_broker_that_lost_everything_mid_run_ends_with_every_ticket_completed_once(
    fleet: Fleet, admin: redis.Redis, redis_server: RedisServer, sim: SimServer, loss: str
) -> None:
    """FLUSHALL, or redis-server killed and started again without persistence: the consumer group,
    the work entries (taken and waiting) and the run's keys are gone. Workers make the group again
    and stop the attempts whose entries are gone; the coordinator enqueues those again. The answers
    come from this test's sim through a proxy that holds them mid-stream through the loss: lost
    once three streamed at the coordinator, on a loaded machine every ticket could have ended first."""
    names = [f"t{n}" for n in range(6)]
    tickets = fleet.lfg.tickets(same_tickets(names, "long-answer:tokens_per_s=80,repeat=2"))
    with partition(("127.0.0.1", sim.port)) as link:
        provider = f'[providers.sim]\nkind = "sim"\nbase_url = "http://127.0.0.1:{link.port}/v1"\n'
        config = fleet.config(LEASE + provider, "lease.toml")
        for name in ("w1", "w2"):  # four run at once, two wait on the work stream
            fleet.start(name, "--max-concurrency", "2", config=config)
        coordinator = Coordinator.start(fleet, tickets, config)
        try:
            await until(lambda: sum(bool(r.token_times) and r.ended_at is None for r in sim.log) >= 3, 90)
            link.black_hole()  # nothing awaited since: three answers, at least, wait mid-stream
            if loss == "flushall":
                admin.flushall()
            else:
                redis_server.kill()
                redis_server.start()  # the same port, nothing kept
            link.heal()
            code = await asyncio.to_thread(coordinator.wait, 90)
        finally:
            await coordinator.killed()
    events, err = coordinator.events, coordinator.err.read_text()
    assert code == 0, err
    completed = sorted(ticket for (ticket, _), outcome in ends(events).items() if outcome == "completed")
    assert completed == names, "every ticket completed, once"
    assert completions(fleet, "w1", "w2") == dict.fromkeys(names, 1), fleet.said("w1") + fleet.said("w2")
    lost = [e for e in events if e["type"] == "attempt_ended" and e["outcome"] == "interrupted"]
    assert lost, "the attempts whose entries were lost ended interrupted"


@pytest.mark.timeout(120)  # a lease to lapse and a takeover: bounded waits that add up
def test_a_worker_cut_off_past_its_lease_stops_its_attempt_before_another_takes_it_over(
    fleet: Fleet, redis_server: RedisServer
) -> None:
    """A partition (the worker's connection black-holed: nothing refused, nothing answered): the
    worker's renewals hang, and it must stop the attempt itself rather than run it on beside the
    worker that takes it over."""
    config = fleet.config(LEASE, "lease.toml")
    with partition(("127.0.0.1", redis_server.port)) as link:
        cut_off = Fleet(fleet.lfg, f"redis://127.0.0.1:{link.port}")
        cut_off.workers = fleet.workers  # stopped with the others
        cut_off.start("w1", config=config)
        coordinator = coordinate(fleet, fleet.lfg.tickets(SLOW), config=config)
        eventually(lambda: "took t of run" in fleet.said("w1"))
        assert coordinator.stdout is not None
        for line in coordinator.stdout:  # the answer streams from w1
            if json.loads(line)["type"] == "text":
                break
        link.black_hole()
        fleet.start("w2", config=config)
        code, events, err = finish(coordinator)
        eventually(lambda: "(attempt 1):" in fleet.said("w1"))
        link.reset()
    assert code == 0, err
    assert once_taken_over(events), err
    said = fleet.said("w1")
    assert "t of run" in said and "(attempt 1): interrupted" in said, said
    assert "its lease was not renewed" in said, said
    assert completions(fleet, "w1", "w2") == {"t": 1}


@pytest.mark.timeout(120)  # a lease to lapse and a takeover: bounded waits that add up
def test_a_worker_paused_past_its_lease_does_not_run_its_attempt_on_beside_the_one_that_took_it_over(
    fleet: Fleet,
) -> None:
    config = fleet.config(LEASE, "lease.toml")
    first = fleet.start("w1", config=config)
    coordinator = coordinate(fleet, fleet.lfg.tickets(SLOW), config=config)
    eventually(lambda: "took t of run" in fleet.said("w1"))
    first.send_signal(signal.SIGSTOP)
    fleet.start("w2", config=config)
    try:
        eventually(lambda: "took over t of run" in fleet.said("w2"))
    finally:
        first.send_signal(signal.SIGCONT)
    code, events, err = finish(coordinator)
    assert code == 0, err
    eventually(lambda: "(attempt 1):" in fleet.said("w1"))
    assert "(attempt 1): interrupted" in fleet.said("w1"), fleet.said("w1")
    assert completions(fleet, "w1", "w2") == {"t": 1}
    assert once_taken_over(events), err


def test_a_stale_attempts_end_is_not_recorded_once_another_worker_holds_its_entry(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """The entry is taken over (by `thief`, as a worker that found the lease lapsed) while w1's attempt
    still runs; w1's end must not stand in for the live attempt's: a later takeover that found it
    would acknowledge the entry without running it, and the coordinator would wait forever."""
    fleet.start("w1", config=fleet.config(STEADY, "steady.toml"))
    late = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "hello:ttft_ms=2000"\n'
    coordinator = coordinate(fleet, fleet.lfg.tickets(late))
    eventually(lambda: "took t of run" in fleet.said("w1"))
    (pending,) = admin.xpending_range(STREAM, "workers", "-", "+", 10)
    # claimed as a worker takes a lapsed lease over (ownership.py's TAKE_OVER: its delivery counted), not
    # with JUSTID, which leaves the count as it was: a replay of w1's own delivery, which w1 takes back
    admin.xclaim(STREAM, "workers", "thief", 0, [pending["message_id"]])
    stopped = ("attempt is the one that counts", "(attempt 1): interrupted")  # its end dropped, or cut
    eventually(lambda: any(said in fleet.said("w1") for said in stopped))
    coordinator.kill()
    coordinator.wait(30 * PATIENCE)
    assert not [key for key in admin.scan_iter("lfg:run:*:ended") if admin.hlen(key)], "no end recorded"
    (still,) = admin.xpending_range(STREAM, "workers", "-", "+", 10)
    assert still["consumer"] == b"thief", "not acknowledged by the worker that lost it"


def test_the_coordinators_feed_waits_at_most_a_quarter_lease_per_read(fleet: Fleet) -> None:
    """After each read it looks for recorded ends and, every three quarters of a lease, for lost entries:
    so a broker that lost an entry has its ticket enqueued again within a lease of the loss, however
    quiet the stream (issue #55: after `XREAD BLOCK 15000`, 2.6 to 2.8 leases)."""
    config = fleet.config("[broker]\nlease_s = 40\n", "long.toml")
    watching = redis.Redis.from_url(fleet.url, socket_timeout=60)  # a bound, not a timing
    with watching, watching.monitor() as monitor:
        coordinator = coordinate(fleet, fleet.lfg.tickets(SLOW), config=config)  # no worker: a quiet stream
        try:
            for command in monitor.listen():
                words = command["command"].split()
                if words[0] == "XREAD" and words[-2].endswith(":events"):
                    break
        finally:
            coordinator.kill()
            coordinator.communicate(timeout=30 * PATIENCE)
    assert words[words.index("BLOCK") + 1] == "10000", words
