"""What a lease promises, held against a real redis-server with real `lfg worker` and `lfg run
--broker` processes (issue #55): a broker that lost a running attempt's work entry does not have it
enqueued again while its worker still runs it, so the ticket is paid once (counted at the workers,
which start one model call per attempt they take)."""

from __future__ import annotations

import re

import pytest
import redis

from tests.support.fleet import LEASE, Fleet, coordinate, ends, eventually, finish, streaming

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
            coordinator.communicate(timeout=30)
    events = seen + events
    assert ends(events) == {("t", 1): "completed"}, err
    eventually(lambda: "(attempt 1): completed" in fleet.said("w1") + fleet.said("w2"))
    assert calls(fleet, "t", "w1", "w2") == 1, fleet.said("w1") + fleet.said("w2")
    assert code == 0, err
