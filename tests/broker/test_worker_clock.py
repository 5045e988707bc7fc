"""A worker whose wall clock is an hour behind (issue #66) is on the broker while it runs: its presence
is timed by the broker's clock (`TIME`), as its leases are, not by its own nor by its reader's. Real
`lfg worker` and coordinator processes on a real redis-server; the worker's clock is set back at its
process's start, as libfaketime would set it."""

from __future__ import annotations

from tests.support.fleet import Fleet, coordinate, eventually, finish, ran_on, same_tickets
from tests.support.lfg import command, of

BEHIND = "import time\n_wall = time.time\ntime.time = lambda: _wall() - 3600\n"
"""Python run first in the worker's process: its wall clock an hour behind everyone else's."""


def test_a_worker_an_hour_behind_is_on_the_broker_while_it_runs_a_ticket(fleet: Fleet) -> None:
    fleet.start("late", before=BEHIND)
    eventually(lambda: fleet.ready("late"))
    code, events, err = finish(coordinate(fleet, fleet.lfg.tickets(same_tickets(["t"], "hello"))))
    assert code == 0, err
    (queued,) = of(events, "t", "attempt_queued")
    assert queued["message"] == "queued on the broker: waits for a worker that serves 'sim'", queued
    assert ran_on(events, "t") == {"late"}
    listed = command(fleet.lfg, "runs", "--broker", fleet.url)
    assert listed.returncode == 0, listed.stderr
    workers = listed.stdout.split("\nworkers\n")[1].splitlines()
    assert workers[1].split()[0] == "late" and "sim" in workers[1], listed.stdout
