"""A delivery replayed by a broker that went back in time (issue #74): a failover to a replica that
lagged, or a restore, hands a work entry a worker is running out again, in the same delivery count, to
another worker. Made deterministic without timing: the broker's state is saved while the entry waits
undelivered (what a lagging replica has), a worker then takes it and streams, and the broker is started
again from that state while that worker and the coordinator are stopped; a second worker takes the
entry there (it waits at the gate for the coordinator), and only then do the first worker and the
coordinator go on, each first in turn. Before, the first worker stood down as taken over (or
the coordinator's write-back gave the entry up) and the ticket ran again as attempt 2: paid twice."""

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

LEASE = "[broker]\nlease_s = 20\n"
"""Long enough that the restart and the second worker's warm-up stop nothing by a fence or a lapse."""
MODEL = "long-answer:tokens_per_s=3,repeat=1"
"""An answer of about 40 s: it streams through the restart and the second worker's warm-up."""
STREAM = "lfg:work:far"


@pytest.mark.timeout(240)  # two warm-ups, a restart, an answer
@pytest.mark.parametrize("first", ["worker", "coordinator"])
async def test_a_delivery_the_broker_handed_out_again_runs_once_on_the_worker_that_started_it(
    fleet: Fleet, admin: redis.Redis, redis_server: RedisServer, sim: SimServer, first: str
) -> None:
    """`first`: who goes on first, and acts, before the other goes on: the first worker (its renewal
    takes the delivery back) or the coordinator (its write-back gives the delivery back to it)."""
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(LEASE + provider, "far.toml")
    ticket = f'[[ticket]]\nid = "t"\nprompt = "ticket t says go"\nprovider = "far"\nmodel = "{MODEL}"\n'
    coordinator = Coordinator.start(fleet, fleet.lfg.tickets(ticket), config)
    try:
        await until(lambda: admin.xlen(STREAM) == 1, 60)  # enqueued, no worker yet
        admin.save()  # what a replica that lagged has: the entry, delivered to nobody
        worker = fleet.start("w1", "--max-concurrency", "1", config=config)
        await until(lambda: mid_answer_since(sim, 0), 90)
        await until(lambda: any(e["type"] == "text" for e in coordinator.events), 60)  # it saw w1's start
        coordinator.process.send_signal(signal.SIGSTOP)
        worker.send_signal(signal.SIGSTOP)
        try:
            admin.shutdown(nosave=True)
            redis_server.killed = True
            assert redis_server.process is not None
            redis_server.process.wait(10 * PATIENCE)
            redis_server.start()  # the same port, from the saved state: the entry undelivered
            fleet.start("w2", "--max-concurrency", "1", config=config)
            await until(lambda: holds(admin, "w2"), 90)  # the same delivery (1), to another worker
            assert admin.xpending_range(STREAM, "workers", "-", "+", 1)[0]["times_delivered"] == 1
            if first == "worker":
                worker.send_signal(signal.SIGCONT)
                await until(lambda: "taken back, its attempt runs on here" in fleet.said("w1"), 60)
            else:
                coordinator.process.send_signal(signal.SIGCONT)
                await until(
                    lambda: (
                        "given back to its worker (the broker had handed it out again)"
                        in coordinator.err.read_text()
                    ),
                    60,
                )
        finally:
            worker.send_signal(signal.SIGCONT)
            coordinator.process.send_signal(signal.SIGCONT)
        code = await asyncio.to_thread(coordinator.wait, 120)
    finally:
        await coordinator.killed()
    err = coordinator.err.read_text()
    said = fleet.said("w1") + fleet.said("w2")
    assert code == 0, err
    assert ends(coordinator.events) == {("t", 1): "completed"}, said + err
    assert len(calls_of(sim, "t")) == 1 and answered(sim, "t") == 1, said + err  # called once, paid once
    assert "handed out again" in fleet.said("w2"), said  # the second stands down, saying why
    await until(lambda: admin.xpending(STREAM, "workers")["pending"] == 0, 60)


@pytest.mark.timeout(240)  # a warm-up, a restart, an answer
async def test_a_running_entry_handed_out_again_to_its_own_worker_is_not_started_twice(
    fleet: Fleet, admin: redis.Redis, redis_server: RedisServer, sim: SimServer
) -> None:
    """The broker goes back to a state where the entry `w1` runs waits undelivered, and `w1`, with a
    slot free, reads it again before its next renewal would delete it (the restart comes right after a
    renewal, a quarter lease before the next). Before, `w1` started a second holding of the entry,
    which waited at the gate and, once the coordinator wrote back (the entry pending as `w1`'s, in the
    delivery it runs), ran attempt 1 again beside the first: called twice."""
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(LEASE + provider, "far.toml")
    ticket = f'[[ticket]]\nid = "t"\nprompt = "ticket t says go"\nprovider = "far"\nmodel = "{MODEL}"\n'
    coordinator = Coordinator.start(fleet, fleet.lfg.tickets(ticket), config)
    try:
        await until(lambda: admin.xlen(STREAM) == 1, 60)
        admin.save()  # the entry, delivered to nobody
        fleet.start("w1", "--max-concurrency", "2", config=config)
        await until(lambda: mid_answer_since(sim, 0), 90)
        await until(lambda: any(e["type"] == "text" for e in coordinator.events), 60)
        coordinator.process.send_signal(signal.SIGSTOP)  # its write-back would delete the entry first
        try:
            await until(lambda: renewed_just_now(admin), 60)
            admin.shutdown(nosave=True)
            redis_server.killed = True
            assert redis_server.process is not None
            redis_server.process.wait(10 * PATIENCE)
            redis_server.start()  # the same port, from the saved state: the entry undelivered
            await until(lambda: holds(admin, "w1"), 60)  # w1 read it again
        finally:
            coordinator.process.send_signal(signal.SIGCONT)
        code = await asyncio.to_thread(coordinator.wait, 120)
    finally:
        await coordinator.killed()
    err, said = coordinator.err.read_text(), fleet.said("w1")
    assert code == 0, err
    assert ends(coordinator.events) == {("t", 1): "completed"}, said + err
    assert len(calls_of(sim, "t")) == 1 and answered(sim, "t") == 1, said + err
    assert "which runs it already: not starting it twice" in said, said
    await until(lambda: admin.xpending(STREAM, "workers")["pending"] == 0, 60)


def renewed_just_now(admin: redis.Redis) -> bool:
    """Whether the one pending entry's lease was renewed under a second ago: the next renewal is a
    quarter lease (5 s) away."""
    pending = admin.xpending_range(STREAM, "workers", "-", "+", 1)
    return bool(pending) and pending[0]["time_since_delivered"] < 1_000
