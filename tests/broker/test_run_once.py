"""What a lease promises, held against a real redis-server with real `lfg worker` and `lfg run
--broker` processes (issue #55): a broker that lost a running attempt's work entry does not have it
enqueued again while its worker still runs it, so the ticket is paid once (counted at the workers,
which start one model call per attempt they take)."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import subprocess
import sys

import pytest
import redis
from redis.asyncio import Redis

from lfgtui.broker.coordinator_lease import CoordinatorHeld, Holder, take
from lfgtui.broker.layout import Layout
from lfgtui.sim.server import SimServer
from tests.support.fleet import LEASE, STEADY, Fleet, coordinate, ends, eventually, finish, streaming, until
from tests.support.paid import Coordinator, mid_answer_since
from tests.support.patience import PATIENCE
from tests.support.proxy import partition
from tests.support.redis_server import RedisServer

SLOW = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "long-answer:tokens_per_s=60"\n'


def calls(fleet: Fleet, ticket: str, *workers: str) -> int:
    """How many attempts of `ticket` the workers took (each one call to the sim), as they said."""
    said = "".join(fleet.said(name) for name in workers)
    return len(re.findall(rf"\btook(?: over)? {ticket} of run ", said))


@pytest.mark.timeout(120)  # the worker warms up, the answer streams to its end: bounded waits that add up
def test_an_entry_the_broker_lost_while_its_worker_runs_it_is_not_enqueued_again(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """FLUSHALL mid-answer: the work entry, the consumer group and the run's keys are gone, but the
    worker goes on streaming. Its renewals say so (`held`), and the coordinator, which finds the
    entry gone, waits for them to stop for a lease before it enqueues the ticket again: they never
    do, the attempt ends, and the coordinator takes its end. Before, it enqueued the ticket again
    three quarters of a lease after the loss, and the ticket was paid twice."""
    config = fleet.config(LEASE, "lease.toml")
    fleet.start("w1", config=config)
    fleet.start("w2", config=config)  # free to take a second attempt, were one enqueued
    coordinator = coordinate(fleet, fleet.lfg.tickets(SLOW), config=config)
    try:
        seen = streaming(coordinator, ["t"], 1)
        admin.flushall()
        code, events, err = finish(coordinator)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
            coordinator.communicate(timeout=30 * PATIENCE)
    events = seen + events
    assert ends(events) == {("t", 1): "completed"}, err
    eventually(lambda: "(attempt 1): completed" in fleet.said("w1") + fleet.said("w2"))
    assert calls(fleet, "t", "w1", "w2") == 1, fleet.said("w1") + fleet.said("w2")
    assert code == 0, err


AFTER = '[[ticket]]\nid = "after"\nprompt = "Sum up: {{t}}"\nprovider = "sim"\nmodel = "hello"\n'
DEPENDENT = SLOW + AFTER + 'depends_on = ["t"]\n'


@pytest.mark.timeout(120)  # the worker warms up, the answer streams to its end: bounded waits that add up
async def test_a_second_coordinator_with_a_copy_of_the_history_is_refused_naming_the_first(
    fleet: Fleet, admin: redis.Redis, sim: SimServer
) -> None:
    """`lfg resume RUN --broker --db COPY` beside a live coordinator: on one machine the history's
    lock refuses it, but a copy of the history has no lock, as on another machine. The run's
    coordinator lease on the broker refuses it, naming who holds it and how to take over; before,
    it ran beside the first and both enqueued the dependent (paid twice). `t`'s answer reaches its
    worker through a proxy that holds it mid-stream while the second starts, so the run cannot end
    first: on a loaded machine an `lfg resume` took longer to start than the answer to stream, and
    found the run ended."""
    with partition(("127.0.0.1", sim.port)) as link:
        provider = f'[providers.far]\nkind = "sim"\nbase_url = "http://127.0.0.1:{link.port}/v1"\n'
        config = fleet.config(STEADY + provider, "far.toml")
        fleet.start("w1", config=config)
        tickets = fleet.lfg.tickets(DEPENDENT.replace('provider = "sim"', 'provider = "far"', 1))
        coordinator = Coordinator.start(fleet, tickets, config)
        try:
            await until(lambda: mid_answer_since(sim, 0))
            link.black_hole()  # nothing awaited since: the rest of `t` waits in the proxy, the run goes on
            [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
            copy = fleet.lfg.home / "copy.sqlite3"
            history = fleet.lfg.home / "data" / "lfgtui" / "history.sqlite3"
            with sqlite3.connect(history) as original, sqlite3.connect(copy) as copied:
                original.backup(copied)
            resume = ["resume", run_id, "--broker", fleet.url, "--json", "--db", str(copy)]
            second = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "lfgtui", *resume, "--config", str(config)],
                env=fleet.lfg.env,
                capture_output=True,
                text=True,
                timeout=90 * PATIENCE,
            )
            link.heal()
            code = await asyncio.to_thread(coordinator.wait, 90)
        finally:
            await coordinator.killed()
    err = coordinator.err.read_text()
    assert second.returncode == 2, second.stderr
    assert "is coordinated already by " in second.stderr, second.stderr
    assert f"on {socket.gethostname()} (pid {coordinator.process.pid})" in second.stderr, second.stderr
    assert "stop that coordinator to take the run over" in second.stderr, second.stderr
    assert code == 0, err
    assert ends(coordinator.events) == {("t", 1): "completed", ("after", 1): "completed"}, err
    assert calls(fleet, "after", "w1") == 1, fleet.said("w1")
    assert not admin.exists(f"lfg:run:{run_id}:coordinator"), "given up at the run's end"


@pytest.mark.parametrize("holder", ["elsewhere, renewing", "elsewhere, gone", "here, gone", "none"])
async def test_a_resume_waits_out_a_lease_held_elsewhere_and_refuses_one_renewed(
    redis_server: RedisServer, holder: str
) -> None:
    """A holder on another machine may be alive: the resume waits for its lease to lapse (at most a
    lease) and refuses it only if it was renewed; one of this machine whose process is gone is
    dropped at once."""
    layout, run_id, lease_s = Layout(), "20261126-000000-abcd", 1.5
    key = layout.coordinator(run_id)
    client = Redis.from_url(redis_server.url)
    ended = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await ended.wait()
    host = socket.gethostname() if holder.startswith("here") else "another-machine"
    pid = ended.pid if holder.startswith("here") else 4242
    value = Holder(host, pid, "someone").value()
    if holder != "none":
        await client.set(key, value, px=int(lease_s * 1000))
    renewing = holder == "elsewhere, renewing"

    async def renew() -> None:
        while renewing:
            await client.pexpire(key, int(lease_s * 1000))
            await asyncio.sleep(lease_s / 4)

    task = asyncio.create_task(renew())
    said: list[str] = []
    here = Holder.here("me@here")
    try:
        if renewing:
            with pytest.raises(CoordinatorHeld, match="is coordinated already by someone on another-machine"):
                await take(client, layout, run_id, here, lease_s, said.append, 3600)
            assert await client.get(key) == value
        else:
            await take(client, layout, run_id, here, lease_s, said.append, 3600)
            assert await client.get(key) == here.value()
    finally:
        renewing = False
        await task
        await client.aclose()
    assert bool(said) == holder.startswith("elsewhere"), said
