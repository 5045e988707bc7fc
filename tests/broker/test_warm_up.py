"""A worker reads no work until the providers it was set up with are warm, makes a built-in one it
serves unasked ready only when a ticket needs it, and warming either does not hold its loop (issue
#55: a worker that imported its SDKs on the loop that renews its leases lost them on a busy
machine): real `lfg worker` and `lfg run --broker` processes on a real redis-server."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.fleet import LEASE, Fleet, coordinate, ends, eventually, finish, gated_import, ran_on
from tests.support.patience import PATIENCE

CLAUDE = '[providers.claude]\nkind = "anthropic"\nbase_url = "sim:"\n'
"""A provider set up in the worker's config, on the `anthropic` SDK (the sim's Messages API)."""


def ticket(provider: str) -> str:
    return f'[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "{provider}"\nmodel = "hello"\n'


@pytest.mark.timeout(120)  # the worker warms up, then runs the ticket: bounded waits that add up
def test_a_worker_reads_no_work_until_its_providers_are_warm_and_its_loop_runs_meanwhile(
    fleet: Fleet, admin: redis.Redis
) -> None:
    gate = fleet.lfg.home / "anthropic may be imported"
    fleet.start(
        "w1", config=fleet.config(LEASE + CLAUDE, "lease.toml"), before=gated_import("anthropic", gate)
    )
    coordinator = coordinate(fleet, fleet.lfg.tickets(ticket("sim")))
    with let_through(gate, coordinator):
        held(fleet, admin, gate)
        groups = {g["name"].decode(): g for g in admin.xinfo_groups("lfg:work:sim")}
        assert groups["workers"]["pending"] == 0 and groups["workers"]["consumers"] == 0, "read no work yet"
        assert not fleet.ready("w1")
    code, events, err = finish(coordinator)
    assert code == 0, err
    assert ends(events) == {("t", 1): "completed"} and ran_on(events, "t") == {"w1"}
    said = fleet.said("w1")
    assert said.index("worker w1 is ready") < said.index("took t of run"), said


@pytest.mark.timeout(120)
def test_a_built_in_provider_served_unasked_is_made_ready_by_its_first_ticket_its_loop_running_meanwhile(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """`sim-anthropic` is served by every worker, set up or not: its SDK is imported only when a
    ticket of it comes, in a thread, the entry's lease held (by the lease clock) and the worker's
    presence renewed meanwhile, and the attempt starts once it is ready."""
    gate = fleet.lfg.home / "anthropic may be imported"
    fleet.start("w1", config=fleet.config(LEASE, "lease.toml"), before=gated_import("anthropic", gate))
    eventually(lambda: fleet.ready("w1"))  # ready without the anthropic SDK
    coordinator = coordinate(fleet, fleet.lfg.tickets(ticket("sim-anthropic")))
    with let_through(gate, coordinator):
        held(fleet, admin, gate, "lfg:work:sim-anthropic")
        pending = admin.xpending("lfg:work:sim-anthropic", "workers")
        assert pending["pending"] == 1 and pending["consumers"][0]["name"] == b"w1", pending
        assert "took t" not in fleet.said("w1")
    code, events, err = finish(coordinator)
    assert code == 0, err
    assert ends(events) == {("t", 1): "completed"} and ran_on(events, "t") == {"w1"}
    assert "took over" not in fleet.said("w1")


@pytest.mark.timeout(120)
def test_a_worker_joining_a_fleet_at_work_on_a_built_in_provider_makes_it_ready_before_it_reads_work(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """Entries of `sim-anthropic` wait on the broker when the worker starts: it makes that provider
    ready as one it was set up with, before it reads any work (it may take them over at once)."""
    gate = fleet.lfg.home / "anthropic may be imported"
    coordinator = coordinate(fleet, fleet.lfg.tickets(ticket("sim-anthropic")))
    with let_through(gate, coordinator):
        eventually(lambda: admin.xlen("lfg:work:sim-anthropic") == 1)
        fleet.start("w1", config=fleet.config(LEASE, "lease.toml"), before=gated_import("anthropic", gate))
        held(fleet, admin, gate, "lfg:work:sim-anthropic")
        assert admin.xpending("lfg:work:sim-anthropic", "workers")["pending"] == 0, "read no work yet"
        assert not fleet.ready("w1")
    code, events, err = finish(coordinator)
    assert code == 0, err
    assert ends(events) == {("t", 1): "completed"} and ran_on(events, "t") == {"w1"}


@contextlib.contextmanager
def let_through(gate: Path, coordinator: subprocess.Popen[str]) -> Iterator[None]:
    """The held import let through at the end, else the worker, and so the coordinator, would never
    end; a coordinator a failure leaves is killed."""
    try:
        yield
    except BaseException:
        coordinator.kill()
        coordinator.communicate(timeout=30 * PATIENCE)
        raise
    finally:
        gate.touch()


def held(fleet: Fleet, admin: redis.Redis, gate: Path, stream: str = "lfg:work:sim") -> None:
    """While the SDK's import is held and an entry is on `stream`: the worker's presence is renewed
    twice more (its loop runs meanwhile)."""
    eventually(lambda: admin.xlen(stream) == 1 and admin.exists("lfg:worker:w1"))
    seen = [float(admin.hget("lfg:worker:w1", "seen") or 0)]
    while len(seen) < 3:
        eventually(lambda: float(admin.hget("lfg:worker:w1", "seen") or 0) > seen[-1], 30)
        seen.append(float(admin.hget("lfg:worker:w1", "seen") or 0))
    assert not gate.exists()
