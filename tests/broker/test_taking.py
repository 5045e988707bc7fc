"""How `lfg worker` takes work entries, with real worker and coordinator processes on a real
redis-server: every entry a read delivers to it runs; an attempt that ended is never run again, even
when its worker was stopped before it acknowledged the entry."""

from __future__ import annotations

import signal
import subprocess

import redis

from tests.support.fleet import LEASE, STEADY, Fleet, coordinate, ends, eventually, finish, streaming
from tests.support.patience import PATIENCE

LAB = '[providers.lab]\nkind = "sim"\nbase_url = "sim:/v1"\n'
HELLO = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n'


def test_entries_of_two_streams_delivered_by_one_read_both_run_at_once(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """XREADGROUP's COUNT is per stream: one read hands this worker an entry of each stream that has
    one, and each runs, none left waiting for its lease to lapse."""
    config = fleet.config(STEADY + LAB, "lab.toml")
    tickets = fleet.lfg.tickets(HELLO + HELLO.replace('"t"', '"u"').replace('"sim"', '"lab"'))
    coordinator = coordinate(fleet, tickets, config=config)
    eventually(lambda: admin.exists("lfg:work:sim") and admin.exists("lfg:work:lab"))  # both enqueued
    fleet.start("w1", "--max-concurrency", "2", config=config)
    code, events, err = finish(coordinator)
    assert code == 0, err
    assert ends(events) == {("t", 1): "completed", ("u", 1): "completed"}
    assert "took over" not in fleet.said("w1")


def stopped_after_an_unacknowledged_end(fleet: Fleet, admin: redis.Redis) -> subprocess.Popen[bytes]:
    """Worker w1, stopped (SIGTERM) after it ran a ticket to its end while the broker refused it XACK
    (given back by `acknowledging`): the coordinator saw the attempt end, its entry is pending."""
    admin.execute_command("ACL", "SETUSER", "default", "-xack")
    first = fleet.start("w1", config=fleet.config(LEASE, "lease.toml"))
    code, events, err = finish(coordinate(fleet, fleet.lfg.tickets(HELLO)))
    assert code == 0 and ends(events) == {("t", 1): "completed"}, err
    eventually(lambda: "acknowledging waits for it" in fleet.said("w1"))
    first.send_signal(signal.SIGTERM)
    return first


def acknowledging(admin: redis.Redis) -> None:
    admin.execute_command("ACL", "SETUSER", "default", "+xack")


def test_an_attempt_that_ended_on_a_worker_stopped_before_it_acknowledged_is_not_run_again(
    fleet: Fleet, admin: redis.Redis
) -> None:
    stopped_after_an_unacknowledged_end(fleet, admin).wait(30 * PATIENCE)
    acknowledging(admin)
    fleet.start("w2", config=fleet.config(LEASE, "lease.toml"))  # takes the entry over: w1's lease lapsed
    eventually(lambda: admin.xpending("lfg:work:sim", "workers")["pending"] == 0)
    said = fleet.said("w2")
    assert "t of run" in said and "(attempt 1) ended already (completed)" in said, said
    assert "took over t" not in said


def test_a_worker_stopped_right_after_an_attempt_ended_acknowledges_its_entry_before_it_exits(
    fleet: Fleet, admin: redis.Redis
) -> None:
    first = stopped_after_an_unacknowledged_end(fleet, admin)
    eventually(lambda: "stopping: recording how entry" in fleet.said("w1") or first.poll() is not None)
    acknowledging(admin)
    first.wait(30 * PATIENCE)
    assert admin.xpending("lfg:work:sim", "workers")["pending"] == 0, fleet.said("w1")
    assert "stopping: recording how entry" in fleet.said("w1")


def test_a_worker_stopped_mid_attempt_ends_it_interrupted_and_another_worker_runs_the_ticket(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """SIGTERM to a worker mid-stream is not a person cancelling: the attempt ends `interrupted`, the
    coordinator waits on, and the ticket completes as the next attempt on another worker."""
    first = fleet.start("w1", config=fleet.config(LEASE, "lease.toml"))
    slow = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "long-answer:tokens_per_s=20"\n'
    coordinator = coordinate(fleet, fleet.lfg.tickets(slow))
    seen = streaming(coordinator, ["t"], 1)  # mid-stream
    first.send_signal(signal.SIGTERM)
    first.wait(30 * PATIENCE)
    fleet.start("w2", config=fleet.config(LEASE, "lease.toml"))
    code, events, err = finish(coordinator)
    events = seen + events
    assert code == 0, err
    assert ends(events) == {("t", 1): "interrupted", ("t", 2): "completed"}, err
    (stopped,) = [e for e in events if e["type"] == "attempt_ended" and e["attempt"] == 1]
    assert "worker w1 was stopped mid-attempt" in stopped["error"]["message"]


def test_a_work_stream_forgets_entries_whose_attempts_ended_and_those_past_the_age_limit(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """Work streams are shared by every run and never expire: an entry is deleted once its end is
    recorded, one nobody acknowledged once it is older than `max_age_s`; the run's work index keeps
    each ticket's latest, for `lfg resume --broker`."""
    admin.xadd("lfg:work:sim", {"data": b"{}"}, id="1-0")  # a dropped entry of long ago
    fleet.start("w1", config=fleet.config(STEADY, "steady.toml"))
    tickets = fleet.lfg.tickets(HELLO + HELLO.replace('"t"', '"u"'))
    code, events, err = finish(coordinate(fleet, tickets))
    assert code == 0 and ends(events) == {("t", 1): "completed", ("u", 1): "completed"}, err
    eventually(lambda: admin.xlen("lfg:work:sim") == 0)
    (index,) = admin.scan_iter("lfg:run:*:work")
    assert sorted(admin.hkeys(index)) == [b"t", b"u"]
    assert 0 < admin.ttl(index) <= 86_400
