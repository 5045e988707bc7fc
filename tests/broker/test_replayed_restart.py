"""A worker restarted under the same name, and the broker then going back to a delivery of its entry
that the old process held (issue #74): the old `w1` took the entry (delivery 1) and died; the new `w1`
took it over as attempt 2 (delivery 2) and streams it; then the broker goes back in time (a failover to
a replica that lagged, a restore) to where the entry is pending as `w1` in delivery 1. Nobody else runs
it: the delivery the new process runs is its own, under its own name. Before, its renewal read the
earlier delivery as a later one of its name and it stood down, and the coordinator's write-back gave
the entry up (an earlier delivery than the one that numbers the attempt): the ticket ran a third time.
Made deterministic as tests/broker/test_replayed.py is: the broker's state saved while the old process
streams, the broker started again from it while the new process streams and the coordinator is stopped;
then `first` goes on first and acts before the other."""

from __future__ import annotations

import asyncio
import signal

import pytest
import redis

from lfgtui.sim.server import SimServer
from tests.support.fleet import Fleet, ends, holds, until
from tests.support.paid import Coordinator, answered, calls_of, mid_answer_since
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

LEASE = "[broker]\nlease_s = 8\n"
"""Lapses soon after the old process dies; long enough that the restart stops nothing by a fence."""
MODEL = "long-answer:tokens_per_s=4,repeat=1"
"""An answer of about 30 s: it streams through the death, the takeover and the restart."""
STREAM = "lfg:work:far"
RENEWED = ("taken back, its attempt runs on here", "(attempt 2): interrupted")
"""What the new process says once its renewal met the earlier delivery: taken back, or stood down."""


def delivered(admin: redis.Redis) -> tuple[str, int] | None:
    pending = admin.xpending_range(STREAM, "workers", "-", "+", 1)
    return (pending[0]["consumer"].decode(), pending[0]["times_delivered"]) if pending else None


@pytest.mark.timeout(300)  # two warm-ups, a lapse, a restart, an answer
@pytest.mark.parametrize("first", ["worker", "coordinator"])
async def test_a_worker_restarted_under_its_name_keeps_its_delivery_when_the_broker_goes_back_to_the_old_ones(
    fleet: Fleet, admin: redis.Redis, redis_server: RedisServer, sim: SimServer, first: str
) -> None:
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(LEASE + provider, "far.toml")
    ticket = f'[[ticket]]\nid = "t"\nprompt = "ticket t says go"\nprovider = "far"\nmodel = "{MODEL}"\n'
    old = fleet.start("w1", "--max-concurrency", "1", config=config)
    await until(lambda: fleet.ready("w1"), 90)
    coordinator = Coordinator.start(fleet, fleet.lfg.tickets(ticket), config)
    try:
        await until(lambda: mid_answer_since(sim, 0) and delivered(admin) == ("w1", 1), 90)
        admin.save()  # what a replica that lagged has: the entry as the old process's delivery
        old.kill()
        old.wait(10 * PATIENCE)
        fleet.log("w1").rename(fleet.log("w1-old"))
        new = fleet.start("w1", "--max-concurrency", "1", config=config)  # the same name, a new process
        await until(lambda: delivered(admin) == ("w1", 2) and mid_answer_since(sim, 1), 90)
        await until(lambda: any(e["attempt"] == 2 and e["type"] == "text" for e in coordinator.events), 60)
        coordinator.process.send_signal(signal.SIGSTOP)
        new.send_signal(signal.SIGSTOP)  # until the restored state is checked: its renewal would change it
        try:
            admin.shutdown(nosave=True)
            redis_server.killed = True
            assert redis_server.process is not None
            redis_server.process.wait(10 * PATIENCE)
            redis_server.start()  # the same port, from the saved state: delivery 1, the old process's
            assert delivered(admin) == ("w1", 1)
            new.send_signal(signal.SIGCONT)
            if first == "worker":
                await until(lambda: any(words in fleet.said("w1") for words in RENEWED), 60)
        finally:
            new.send_signal(signal.SIGCONT)
            coordinator.process.send_signal(signal.SIGCONT)
        code = await asyncio.to_thread(coordinator.wait, 150)
    finally:
        await coordinator.killed()
    err = coordinator.err.read_text()
    said = fleet.said("w1")
    assert code == 0, err
    assert ends(coordinator.events) == {("t", 1): "interrupted", ("t", 2): "completed"}, said + err
    # The old process was paid in part; the new one once, to the end; nothing ran a third time.
    assert len(calls_of(sim, "t")) == 2 and answered(sim, "t") == 1, said + err
    await until(lambda: holds(admin, "w1") is False and admin.xlen(STREAM) == 0, 60)
