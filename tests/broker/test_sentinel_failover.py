"""A planned failover mid-run (`SENTINEL FAILOVER`, as a team does for maintenance) on a broker run as
teams run it: a primary, its replica and three sentinels, real `lfg worker` processes and a real
coordinator, all reaching the primary through the sentinels. Sentinel promotes the replica at once and
tells the old primary to follow it only on its next look: what the old primary took meanwhile (and
what had not reached the replica) is lost, so for the run the broker went back in time. The sim of
this test counts each ticket's calls and whether each ran to its end (issue #74: a planned failover
re-ran 6 and 2 of 200 tickets and paid one twice in part)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from lfgtui.sim.server import SimServer
from tests.support.fleet import Fleet, ends, until
from tests.support.lfg import Lfg
from tests.support.paid import Coordinator, Watcher, answered, calls_of, mid_answer_since, paid_tickets
from tests.support.patience import PATIENCE
from tests.support.topologies import SentinelSet, admin

LEASE = "[broker]\nlease_s = 5\n"
"""The failover (a second or two) stops no attempt by its worker's fence; its leases lapse soon after."""
NAMES = [f"t{n:02}" for n in range(16)]
MODEL = "long-answer:tokens_per_s=80,repeat=1"
SLOW = "long-answer:tokens_per_s=5,repeat=1"
"""Ticket `slow` keeps the run going past the failover and the leases it leaves to lapse."""


def tickets() -> str:
    return paid_tickets(NAMES, MODEL, SLOW)


@pytest.mark.timeout(300)  # three sentinels, two warm-ups, a failover and the old primary's demotion
async def test_a_planned_sentinel_failover_mid_run_runs_every_ticket_once_and_says_so(
    tmp_path: Path, sentinels: SentinelSet, sim: SimServer
) -> None:
    fleet = Fleet(Lfg(tmp_path), sentinels.url)
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(LEASE + provider, "far.toml")
    for name in ("w1", "w2"):  # six run at once, the rest wait on the work stream
        fleet.start(name, "--max-concurrency", "3", config=config)
    coordinator = None
    try:
        await until(lambda: fleet.ready("w1") and fleet.ready("w2"), 90)
        coordinator = Coordinator.start(fleet, fleet.lfg.tickets(tickets()), config)
        await until(lambda: len(coordinator.completed()) >= 3 and mid_answer_since(sim, 0), 90)
        await asyncio.to_thread(sentinels.fail_over)  # entries taken, entries waiting, answers streaming
        code = await asyncio.to_thread(coordinator.wait, 180)
    finally:
        if coordinator is not None:
            await coordinator.killed()
        await asyncio.to_thread(fleet.stop)
    err = coordinator.err.read_text()
    said = fleet.said("w1") + fleet.said("w2")
    assert code == 0, err
    final = {ticket: outcome for (ticket, _), outcome in sorted(ends(coordinator.events).items())}
    assert final == dict.fromkeys(["slow", *NAMES], "completed"), err
    calls = {name: (len(calls_of(sim, name)), answered(sim, name)) for name in ["slow", *NAMES]}
    once = dict.fromkeys(calls, (1, 1))
    assert calls == once, f"each ticket called once, paid once: {calls}\n{said}\n{err}"
    for name in NAMES:
        runs = re.findall(rf"{name} of run \S+ \(attempt \d+\): completed", said)
        assert len(runs) == 1, f"{name} ran to completion on one worker, once:\n{said}"
    new_primary = admin(sentinels.replica.port)
    try:
        (stream,) = new_primary.keys("lfg:run:*:events")
        ((_, last),) = new_primary.xrevrange(stream, count=1)
        pending = new_primary.xpending("lfg:work:far", "workers")["pending"]
    finally:
        new_primary.close()
    assert last["kind"] == "end", "the coordinator ended the run on the new primary"
    assert pending == 0, "nothing left pending on the new primary"
    # What happened is said, in words: the coordinator saw the broker's server change under its run.
    news = ("the broker's server changed (restarted or failed over) (server ", "the broker went back in time")
    assert any(words in err for words in news), err


MANY = [f"m{n:02}" for n in range(24)]
PACED = "long-answer:tokens_per_s=20,repeat=1"
"""Answers of a few seconds: tickets end all through the run, so each failover comes as one ends."""
SLOWEST = "long-answer:tokens_per_s=2,repeat=1"
"""Ticket `slow` keeps the run going past both failovers and the leases they leave to lapse."""


def ended_calls(sim: SimServer) -> int:
    return sum(r.ended_at is not None for r in sim.log)


@pytest.mark.timeout(420)  # three sentinels, two warm-ups, two failovers and two demotions
async def test_failovers_back_and_forth_as_tickets_end_run_each_ticket_once_and_a_watcher_sees_every_end(
    tmp_path: Path, sentinels: SentinelSet, sim: SimServer
) -> None:
    """`SENTINEL FAILOVER` twice in one run, the second back to the first primary, each the moment an
    answer ended at the sim (its worker recording the end, acknowledging, publishing it), while `lfg
    attach` reads the run through the sentinels. The sim's own request log counts the calls."""
    fleet = Fleet(Lfg(tmp_path), sentinels.url)
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(LEASE + provider, "far.toml")
    for name in ("w1", "w2"):  # four run at once, the rest wait on the work stream
        fleet.start(name, "--max-concurrency", "2", config=config)
    coordinator = watcher = None
    try:
        await until(lambda: fleet.ready("w1") and fleet.ready("w2"), 90)
        coordinator = Coordinator.start(fleet, fleet.lfg.tickets(paid_tickets(MANY, PACED, SLOWEST)), config)
        first = admin(sentinels.primary.port)
        try:
            await until(lambda: first.zcard("lfg:runs") == 1, 60)
            [run_id] = first.zrange("lfg:runs", 0, -1)
        finally:
            first.close()
        watcher = Watcher.start(fleet, run_id, config)
        for failover in range(2):
            await until(lambda n=2 + 4 * failover: len(coordinator.completed()) >= n, 90)
            ended = ended_calls(sim)
            await until(lambda e=ended: ended_calls(sim) > e, 60)  # an answer ended just now
            await asyncio.to_thread(sentinels.fail_over)
            await asyncio.to_thread(sentinels.swapped)
        code = await asyncio.to_thread(coordinator.wait, 240)
        await asyncio.to_thread(watcher.wait, 60)
    finally:
        for process in (coordinator and coordinator.process, watcher and watcher.process):
            if process is not None and process.poll() is None:
                process.kill()
                await asyncio.to_thread(process.communicate, timeout=30 * PATIENCE)
        await asyncio.to_thread(fleet.stop)
    err = coordinator.err.read_text()
    said = fleet.said("w1") + fleet.said("w2")
    assert code == 0, err
    final = {ticket: outcome for (ticket, _), outcome in sorted(ends(coordinator.events).items())}
    assert final == dict.fromkeys(["slow", *MANY], "completed"), err
    calls = {name: (len(calls_of(sim, name)), answered(sim, name)) for name in ["slow", *MANY]}
    assert calls == dict.fromkeys(calls, (1, 1)), (
        f"each ticket called once, paid once: {calls}\n{said}\n{err}"
    )
    assert watcher.process.returncode == 0, watcher.err.read_text()
    assert watcher.unended() == set(), f"every attempt the watcher saw start ended for it:\n{err}"
    watched = {ticket: outcome for (ticket, _), outcome in sorted(ends(watcher.events).items())}
    assert watched == final, watcher.err.read_text()
    primary = admin(sentinels.primary.port)
    try:
        ((_, last),) = primary.xrevrange(f"lfg:run:{run_id}:events", count=1)
        pending = primary.xpending("lfg:work:far", "workers")["pending"]
    finally:
        primary.close()
    assert last["kind"] == "end", "the coordinator ended the run on the primary it ends on"
    assert pending == 0, "nothing left pending there"
