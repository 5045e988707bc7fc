"""A watcher through the broker (`lfg attach redis://… RUN`) always sees an end of each attempt it saw
start, when the broker went back in time (issue #74: once, after a planned `SENTINEL FAILOVER`, a
watcher kept an attempt that never ends). A failover to a replica that lagged loses the events the old
primary took last; a watcher may have read them there before the coordinator did. When that attempt
then ends without its worker (taken over, or its entry given up), the coordinator publishes its
`interrupted` end numbered after the events it had: a watcher that had more took that end for one it
had, and dropped it. Made deterministic without timing: the broker's state is saved while the
ticket streams, the coordinator is stopped (SIGSTOP: it reads nothing more) while the watcher reads
on, then the worker is stopped too and the broker started again from the saved state; the paused
worker's lease lapses and the other worker takes the ticket over."""

from __future__ import annotations

import asyncio
import signal

import pytest
import redis

from lfgtui.sim.server import SimServer
from tests.support.fleet import Fleet, ends, holds, until
from tests.support.paid import Coordinator, Watcher, mid_answer_since
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

LEASE = "[broker]\nlease_s = 4\n"
"""The paused worker's lease lapses soon after the restart."""
MODEL = "long-answer:tokens_per_s=8,repeat=1"
"""An answer of about 15 s: it streams through the snapshot and the watcher's lead."""
LEAD = 12
"""How many more of the attempt's text events the watcher has read than the stopped coordinator."""


def texts(events: list[dict[str, object]], attempt: int = 1) -> int:
    return sum(e["type"] == "text" and e["attempt"] == attempt for e in list(events))


@pytest.mark.timeout(240)  # two warm-ups, an answer, a restart, a lapse, the answer again
async def test_a_watcher_ahead_of_the_coordinator_sees_the_end_of_an_attempt_the_broker_went_back_on(
    fleet: Fleet, admin: redis.Redis, redis_server: RedisServer, sim: SimServer
) -> None:
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(LEASE + provider, "far.toml")
    workers = {name: fleet.start(name, "--max-concurrency", "1", config=config) for name in ("w1", "w2")}
    await until(lambda: fleet.ready("w1") and fleet.ready("w2"), 90)
    ticket = f'[[ticket]]\nid = "t"\nprompt = "ticket t says go"\nprovider = "far"\nmodel = "{MODEL}"\n'
    coordinator = Coordinator.start(fleet, fleet.lfg.tickets(ticket), config)
    watcher = holder = None
    try:
        await until(lambda: admin.zcard("lfg:runs") == 1, 60)
        [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
        watcher = Watcher.start(fleet, run_id, config)
        await until(lambda: mid_answer_since(sim, 0) and texts(coordinator.events) > 0, 90)
        [holder] = [workers[name] for name in workers if holds(admin, name)]
        admin.save()  # what a replica that lagged has: the attempt's first events
        coordinator.process.send_signal(signal.SIGSTOP)
        had = texts(coordinator.events)
        try:
            await until(lambda: texts(watcher.events) >= had + LEAD, 60)  # read on the old primary
            holder.send_signal(signal.SIGSTOP)  # its lease lapses on the restored broker
            admin.shutdown(nosave=True)
            redis_server.killed = True
            assert redis_server.process is not None
            redis_server.process.wait(10 * PATIENCE)
            redis_server.start()  # the same port, from the saved state: the events since are gone
        finally:
            coordinator.process.send_signal(signal.SIGCONT)
        code = await asyncio.to_thread(coordinator.wait, 120)
        await asyncio.to_thread(watcher.wait, 60)
    finally:
        if holder is not None:
            holder.send_signal(signal.SIGCONT)
        for process in (coordinator.process, watcher and watcher.process):
            if process is not None and process.poll() is None:
                process.kill()
                await asyncio.to_thread(process.communicate, timeout=30 * PATIENCE)
    err = coordinator.err.read_text()
    said = fleet.said("w1") + fleet.said("w2")
    assert code == 0, err
    outcomes = ends(coordinator.events)
    assert outcomes == {("t", 1): "interrupted", ("t", 2): "completed"}, said + err
    assert watcher.process.returncode == 0, watcher.err.read_text()
    assert watcher.unended() == set(), f"every attempt the watcher saw start ended for it:\n{said}\n{err}"
    assert ends(watcher.events) == outcomes, watcher.err.read_text()
