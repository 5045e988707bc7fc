"""A worker reads no work until its providers are warm, and warming them does not hold its loop
(issue #55: a worker that imported its SDKs on the loop that renews its leases lost them on a busy
machine): real `lfg worker` and `lfg run --broker` processes on a real redis-server."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.support.fleet import LEASE, Fleet, coordinate, ends, eventually, finish, gated_import, ran_on


@pytest.mark.timeout(120)  # the worker warms up, then runs the ticket: bounded waits that add up
def test_a_worker_reads_no_work_until_its_providers_are_warm_and_its_loop_runs_meanwhile(
    fleet: Fleet, admin: redis.Redis
) -> None:
    gate = fleet.lfg.home / "anthropic may be imported"
    fleet.start("w1", config=fleet.config(LEASE, "lease.toml"), before=gated_import("anthropic", gate))
    tickets = fleet.lfg.tickets('[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n')
    coordinator = coordinate(fleet, tickets)
    try:
        held(fleet, admin, gate)
    finally:
        gate.touch()  # else the worker, and so the coordinator, would never end
    code, events, err = finish(coordinator)
    assert code == 0, err
    assert ends(events) == {("t", 1): "completed"} and ran_on(events, "t") == {"w1"}
    said = fleet.said("w1")
    assert said.index("worker w1 is ready") < said.index("took t of run"), said


def held(fleet: Fleet, admin: redis.Redis, gate: Path) -> None:
    """While the SDK's import is held: the worker's presence is renewed twice more (its loop runs
    meanwhile), and it reads no work though an entry waits."""
    eventually(lambda: admin.xlen("lfg:work:sim") == 1 and admin.exists("lfg:worker:w1"))
    seen = [float(admin.hget("lfg:worker:w1", "seen") or 0)]
    while len(seen) < 3:
        eventually(lambda: float(admin.hget("lfg:worker:w1", "seen") or 0) > seen[-1], 30)
        seen.append(float(admin.hget("lfg:worker:w1", "seen") or 0))
    groups = {g["name"].decode(): g for g in admin.xinfo_groups("lfg:work:sim")}
    assert groups["workers"]["pending"] == 0 and groups["workers"]["consumers"] == 0, "read no work yet"
    assert "took t" not in fleet.said("w1") and not gate.exists()
