"""A broker restored to an older state mid-run (issue #66): redis-server shut down without saving and
started again on the same port from an RDB snapshot taken while some tickets had completed, as a
restored backup or a failover to a replica that lagged does. It gives back the work entries of
tickets that completed since, and forgets that they ended. Real `lfg worker` processes and a real
coordinator on a real redis-server; their provider is the sim of this test, which counts the calls
of each ticket and whether each ran to its end."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest
import redis

from lfgtui.broker.layout import Layout
from lfgtui.sim.server import SimServer
from tests.support import warm_lfg
from tests.support.fleet import STEADY, Fleet, ends, holds, until
from tests.support.lfg import command
from tests.support.paid import Coordinator, answered, calls_of, mid_answer_since, paid_tickets
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

LEASE = "[broker]\nlease_s = 5\n"
"""Long enough that the restart (well under a second) stops no attempt by its worker's fence."""
NAMES = [f"t{n}" for n in range(8)]
MODEL = "long-answer:tokens_per_s=60,repeat=1"
SLOW = "long-answer:tokens_per_s=4,repeat=1"
"""Ticket `slow` keeps the run going (a slot of its own) for two leases past the restore, when the
entries the restore gave back have lapsed and a worker would take them over."""
STREAM = "lfg:work:far"


def tickets() -> str:
    return paid_tickets(NAMES, MODEL, SLOW)


class Watcher:
    """`lfg attach redis://… RUN --json`: a watcher through the broker, from the run's start, its
    lines read as they come (so a test can wait until it follows the run: one that connects while
    the broker restarts is refused at once, as `attach` is where no broker answers)."""

    def __init__(self, fleet: Fleet, run_id: str, config: Any) -> None:
        args = [sys.executable, "-m", "lfgtui", "attach", fleet.url, run_id, "--json"]
        args += ["--config", str(config)]
        pipe = subprocess.PIPE
        self.process = warm_lfg.popen(args, env=fleet.lfg.env, stdout=pipe, stderr=pipe, text=True)
        self.lines: list[str] = []
        self.reading = threading.Thread(target=self._read, daemon=True)
        self.reading.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def ended(self, timeout: float) -> tuple[str, str]:
        """Its whole output and its stderr, once it has exited."""
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        self.process.wait(timeout)
        self.reading.join(timeout)
        return "".join(self.lines), err


def snapshot(admin: redis.Redis, run_id: str, without: str | None) -> set[str]:
    """`SAVE` now, every client's writes paused meanwhile; `without`: a key left out of it (deleted in
    the same step as the pause). Returns the tickets whose end the snapshot has."""
    pipe = admin.pipeline(transaction=True)
    if without is not None:
        pipe.delete(without)
    pipe.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")
    pipe.execute()
    try:
        ended = {name.decode().rpartition("@")[0] for name in admin.hkeys(Layout().ended(run_id))}
        admin.save()
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    return ended


@pytest.mark.timeout(240)  # warm-ups, two waves of answers, a restart and the leases it leaves lapsed
@pytest.mark.parametrize("lease_kept", [True, False], ids=["lease kept", "lease key lost"])
async def test_a_broker_restored_from_a_snapshot_mid_run_runs_no_completed_ticket_again(
    fleet: Fleet, admin: redis.Redis, redis_server: RedisServer, sim: SimServer, lease_kept: bool
) -> None:
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(LEASE + provider, "far.toml")
    for name in ("w1", "w2"):  # four run at once, four wait on the work stream
        fleet.start(name, "--max-concurrency", "2", config=config)
    await until(lambda: fleet.ready("w1") and fleet.ready("w2"), 90)
    coordinator = Coordinator.start(fleet, fleet.lfg.tickets(tickets()), config)
    watcher = None
    try:
        await until(lambda: admin.zcard("lfg:runs") == 1, 60)
        [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
        watcher = Watcher(fleet, run_id, config)
        await until(lambda: len(coordinator.completed()) >= 2, 90)  # some completed before the snapshot
        await until(lambda: bool(watcher.lines), 60)  # it follows the run before the broker goes down
        saved = len(sim.log)
        before = snapshot(admin, run_id, None if lease_kept else Layout().coordinator(run_id))
        # More are recorded completed after it (their entries come back, their ends forgotten), and
        # one that a worker started after it streams.
        await until(lambda: len(coordinator.completed() - before) >= 2 and mid_answer_since(sim, saved), 90)
        recorded = coordinator.completed()
        admin.shutdown(nosave=True)
        redis_server.killed = True
        assert redis_server.process is not None
        redis_server.process.wait(10 * PATIENCE)
        redis_server.start()  # the same port, from the snapshot
        code = await asyncio.to_thread(coordinator.wait, 120)
        watched, watcher_err = await asyncio.to_thread(watcher.ended, 60 * PATIENCE)
    finally:
        for process in (coordinator.process, watcher and watcher.process):
            if process is not None and process.poll() is None:
                process.kill()
                await asyncio.to_thread(process.communicate, timeout=30 * PATIENCE)
    err = coordinator.err.read_text()
    assert code == 0, err
    outcomes = ends(coordinator.events)
    final = {ticket: outcome for (ticket, _), outcome in sorted(outcomes.items())}
    assert final == dict.fromkeys(["slow", *NAMES], "completed"), err
    said = fleet.said("w1") + fleet.said("w2")
    paid = {name: answered(sim, name) for name in NAMES}
    assert {name: paid[name] for name in recorded} == dict.fromkeys(recorded, 1), said + err
    assert "the broker went back in time" in err, err
    # The run's record says it too: each attempt that waited then says it (`slow` waits past it).
    told = [e for e in coordinator.events if e["type"] == "status" and "went back in time (" in e["message"]]
    assert "slow" in {e["ticket"] for e in told} and " re-marked, " in told[0]["message"], err
    shown = command(fleet.lfg, "history", "show", run_id, "--json", "--config", str(config))
    assert told[0]["message"] in json.dumps(json.loads(shown.stdout), ensure_ascii=False), shown.stderr
    # A watcher sees no attempt the history lacks, and each as it ended (an end the restore took from
    # the stream before the watcher read it is a gap it says, not a different outcome).
    seen = [json.loads(line) for line in watched.splitlines()]
    assert ends(seen).items() <= outcomes.items(), watcher_err
    started = {(e["ticket"], e["attempt"]) for e in seen if e["type"] == "attempt_started"}
    assert started <= outcomes.keys(), watcher_err
    # It sees the restore said in each attempt that waited then, as the run's record says it.
    shown = [(e["ticket"], e["attempt"], e["message"]) for e in seen if e["type"] == "status"]
    assert {(e["ticket"], e["attempt"], e["message"]) for e in told} <= set(shown), watcher_err
    await until(lambda: admin.xpending(STREAM, "workers")["pending"] == 0, 60)  # acknowledged once ended


ONE = "long-answer:tokens_per_s=20,repeat=1"
"""Ticket `t`: an answer of a few seconds, so that the coordinator is stopped and the snapshot taken
while it streams."""


def ended_on_stream(admin: redis.Redis, run_id: str) -> bool:
    """Whether the run's event stream holds an attempt's end (the run has one ticket: `t`'s)."""
    return any(
        b'"attempt_ended"' in fields.get(b"data", b"") for _, fields in admin.xrange(Layout().events(run_id))
    )


@pytest.mark.timeout(240)  # warm-ups, an answer, a restart, and a lease it may take to be taken over
async def test_an_end_the_coordinator_had_not_read_when_the_broker_went_back_is_written_back_by_its_worker(
    fleet: Fleet, admin: redis.Redis, redis_server: RedisServer, sim: SimServer
) -> None:
    """The coordinator stopped (SIGSTOP: it reads nothing more) while `t` streams, the broker's state
    saved then, `t` run to its end and recorded by its worker, then the broker restarted from that
    snapshot: it has `t`'s entry back, pending as its worker's, and no end of it, and the coordinator
    never read the end. Before, the entry lapsed and was taken over: `t` was paid twice. Now its worker
    writes its end back, and the coordinator ends the attempt as the worker recorded it."""
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(LEASE + provider, "far.toml")
    for name in ("w1", "w2"):
        fleet.start(name, "--max-concurrency", "1", config=config)
    await until(lambda: fleet.ready("w1") and fleet.ready("w2"), 90)
    ticket = f'[[ticket]]\nid = "t"\nprompt = "ticket t says go"\nprovider = "far"\nmodel = "{ONE}"\n'
    coordinator = Coordinator.start(fleet, fleet.lfg.tickets(ticket), config)
    ended = Layout().ended
    try:
        await until(lambda: admin.zcard("lfg:runs") == 1, 60)
        [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
        await until(lambda: mid_answer_since(sim, 0), 90)
        coordinator.process.send_signal(signal.SIGSTOP)
        try:
            admin.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")
            try:  # saved before `t`'s end was on the broker: the coordinator had not read it
                assert admin.hlen(ended(run_id)) == 0 and not ended_on_stream(admin, run_id)
                assert admin.xpending(STREAM, "workers")["pending"] == 1, "its entry, as its worker's"
                admin.save()
            finally:
                admin.execute_command("CLIENT", "UNPAUSE")
            await until(lambda: admin.hlen(ended(run_id)) == 1, 90)  # its worker recorded it since
            admin.shutdown(nosave=True)
            redis_server.killed = True
            assert redis_server.process is not None
            redis_server.process.wait(10 * PATIENCE)
            redis_server.start()  # the same port, from the snapshot: no end of `t`, its entry back
        finally:
            coordinator.process.send_signal(signal.SIGCONT)
        code = await asyncio.to_thread(coordinator.wait, 120)
    finally:
        await coordinator.killed()
    err = coordinator.err.read_text()
    said = fleet.said("w1") + fleet.said("w2")
    assert code == 0, err
    assert ends(coordinator.events) == {("t", 1): "completed"}, said + err
    assert answered(sim, "t") == 1 and len(calls_of(sim, "t")) == 1, said + err
    assert "forgot how 1 attempt of this worker ended: recorded again" in said, said
    told = [e["message"] for e in coordinator.events if e["type"] == "status"]
    assert any("were lost when the broker went back in time" in m for m in told), told
    await until(lambda: admin.xpending(STREAM, "workers")["pending"] == 0, 60)


@pytest.mark.timeout(240)  # two warm-ups, a run, a restart, the write-back
async def test_a_broker_restored_after_its_coordinator_exited_runs_no_completed_ticket_again(
    fleet: Fleet, admin: redis.Redis, redis_server: RedisServer, sim: SimServer
) -> None:
    """The run ended and its coordinator exited; then the broker is restored from a snapshot taken mid-
    run: it gives back the entries of tickets that completed since, and no coordinator holds the run to
    write back their ends. Only the worker that ran them knows: here it is paused through the restore
    while another worker takes one of those entries first (it waits at the gate, a lease, for a
    coordinator that never comes). Before, the first worker's write-back left an entry another held
    alone (only a coordinator's gate was waited for) and the other ran it again: paid twice."""
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(STEADY + provider, "far.toml")
    ran = fleet.start("w1", "--max-concurrency", "2", config=config)
    await until(lambda: fleet.ready("w1"), 90)
    names = [f"t{n}" for n in range(4)]
    toml = "".join(
        f'[[ticket]]\nid = "{n}"\nprompt = "ticket {n} says go"\nprovider = "far"\nmodel = "{MODEL}"\n'
        for n in names
    )
    coordinator = Coordinator.start(fleet, fleet.lfg.tickets(toml), config)
    try:
        await until(lambda: admin.zcard("lfg:runs") == 1, 60)
        [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
        await until(lambda: mid_answer_since(sim, 0), 90)
        # The first two stream, none has ended yet; the coordinator's lease is left out, as it lapsed
        # long before a restore once the coordinator exited.
        before = snapshot(admin, run_id, Layout().coordinator(run_id))
        code = await asyncio.to_thread(coordinator.wait, 120)
    finally:
        await coordinator.killed()
    err = coordinator.err.read_text()
    assert code == 0 and coordinator.completed() == set(names), err
    assert before == set(), "the snapshot has no end: every ticket completed after it"
    ran.send_signal(signal.SIGSTOP)  # the worker that knows how they ended, away through the restore
    try:
        admin.shutdown(nosave=True)
        redis_server.killed = True
        assert redis_server.process is not None
        redis_server.process.wait(10 * PATIENCE)
        redis_server.start()  # the same port, from the snapshot: the entries back, no end of them
        fleet.start("w2", "--max-concurrency", "4", config=config)
        await until(lambda: holds(admin, "w2"), 90)  # it took an entry of a completed ticket first
    finally:
        ran.send_signal(signal.SIGCONT)
    await until(lambda: admin.xlen(STREAM) == 0 and admin.xpending(STREAM, "workers")["pending"] == 0, 90)
    await until(lambda: waited(fleet.said("w2")) == fleet.said("w2").count(": not running it"), 60)
    said = fleet.said("w1") + fleet.said("w2")
    assert {name: len(calls_of(sim, name)) for name in names} == dict.fromkeys(names, 1), said
    assert "forgot how" in fleet.said("w1") and waited(fleet.said("w2")) >= 1, said


def waited(said: str) -> int:
    """How many entries a worker held at the gate, waiting for a coordinator to write back."""
    return said.count("waiting for the run's coordinator to write back what ended")
