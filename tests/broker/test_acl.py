"""docs/fleet.md's "Who may write what" held against a real redis-server (issue #66): ACL users made
from exactly the key patterns that table lists run a coordinated run with `depends_on` to its end,
under a real `lfg run --broker` and a real `lfg worker`. The rules are read from the docs table
itself, so the table cannot drift from what lfg needs."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import redis
import redis.asyncio

from lfgtui.broker.fence import Fence
from lfgtui.broker.gone import GoneWorkers, TakenBack
from lfgtui.broker.layout import GROUP, Layout
from lfgtui.broker.ownership import Held, Ownership, Renewal
from lfgtui.broker.recent_ends import RecentEnds
from lfgtui.broker.work import AttemptEnd, ended_field
from lfgtui.broker.work_index import WorkIndex
from lfgtui.events import Outcome
from tests.support.fleet import Fleet, acl_user, coordinate, documented_rules, ends, eventually, finish
from tests.support.lfg import command, of
from tests.support.patience import PATIENCE

TICKETS = (
    '[[ticket]]\nid = "first"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n'
    '[[ticket]]\nid = "after"\nprompt = "Sum up: {{first}}"\nprovider = "sim"\nmodel = "hello"\n'
    'depends_on = ["first"]\n'
)


@pytest.mark.timeout(120)  # the worker warms up: bounded waits that add up
def test_a_coordinated_run_with_a_dependent_completes_under_exactly_the_documented_acls(
    fleet: Fleet, admin: redis.Redis
) -> None:
    acl_user(admin, "coordinator", documented_rules("coordinator", "w1"))
    acl_user(admin, "worker", documented_rules("worker", "w1"))
    host = fleet.url.removeprefix("redis://")
    workers = Fleet(fleet.lfg, f"redis://worker:worker-secret@{host}")
    coordinating = Fleet(fleet.lfg, f"redis://coordinator:coordinator-secret@{host}")
    try:
        workers.start("w1")
        coordinator = coordinate(coordinating, fleet.lfg.tickets(TICKETS))
        try:
            code, events, err = finish(coordinator)
        except subprocess.TimeoutExpired:
            refused = {(e[b"username"], e[b"object"]) for e in admin.execute_command("ACL", "LOG")}
            pytest.fail(f"the run did not end; the broker refused: {refused}\n{workers.said('w1')}")
        finally:
            if coordinator.poll() is None:
                coordinator.kill()
                coordinator.communicate(timeout=30 * PATIENCE)
    finally:
        workers.stop()
    said = workers.said("w1")
    assert ends(events) == {("first", 1): "completed", ("after", 1): "completed"}, err + said
    assert code == 0, err
    assert "Traceback" not in said + err, said + err


@pytest.mark.timeout(60)
def test_a_worker_the_broker_does_not_let_make_its_group_says_so_in_one_line(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """A worker whose ACL user may only read the work streams (what docs/fleet.md said before):
    one line naming the stream and where the ACLs are, no traceback. Before, a 50-line traceback."""
    acl_user(
        admin, "worker", ["%R~lfg:work:*", "%R~lfg:worker:w1:work", "%W~lfg:worker:w1", "%W~lfg:workers"]
    )
    host = fleet.url.removeprefix("redis://")
    workers = Fleet(fleet.lfg, f"redis://worker:worker-secret@{host}")
    try:
        worker = workers.start("w1")
        code = worker.wait(50 * PATIENCE)
    finally:
        workers.stop()
    said = workers.said("w1")
    assert code == 1, said
    assert "Traceback" not in said, said
    [line] = [line for line in said.splitlines() if "consumer group" in line]
    assert "does not let user 'worker' do that" in line and "consumer group on lfg:" in line, said
    assert '"Who may write what"' in line, said


@pytest.mark.timeout(120)
def test_a_ticket_queued_while_its_providers_live_worker_keeps_failing_says_which_and_why(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """A worker whose user may do all the table lists but read work (`-xreadgroup`) is on the broker
    and serves the provider, and fails every read (issue #66): before, the ticket said only that it
    waited for a worker, for ever. Now its pane, NDJSON and history say the worker's last error, and
    `lfg runs` shows it beside the worker."""
    acl_user(admin, "worker", [*documented_rules("worker", "w1"), "-xreadgroup"])
    host = fleet.url.removeprefix("redis://")
    workers = Fleet(fleet.lfg, f"redis://worker:worker-secret@{host}")
    try:
        workers.start("w1")
        eventually(lambda: "taking work waits for it" in workers.said("w1"), 60)
        coordinator = coordinate(fleet, fleet.lfg.tickets(TICKETS))
        assert coordinator.stdout is not None
        seen: list[dict[str, Any]] = []
        try:
            for line in coordinator.stdout:
                seen.append(json.loads(line))
                if any("keeps failing" in e["message"] for e in of(seen, "first", "status")):
                    break
        finally:
            coordinator.kill()
            coordinator.communicate(timeout=30 * PATIENCE)
        listed = command(fleet.lfg, "runs", "--broker", fleet.url)
    finally:
        workers.stop()
    (queued,) = of(seen, "first", "attempt_queued")
    assert queued["message"] == "queued on the broker: waits for a worker that serves 'sim'", queued
    [failing] = [e["message"] for e in of(seen, "first", "status") if "keeps failing" in e["message"]]
    said = "worker w1, which serves 'sim', keeps failing while this waits; its last error: "
    assert failing.startswith(said), failing
    assert "does not let user 'worker' do that" in failing and "xreadgroup" in failing.lower(), failing
    [row] = [line for line in listed.stdout.split("\nworkers\n")[1].splitlines() if line.startswith("w1 ")]
    assert "does not let user 'worker' do that" in row, listed.stdout
    assert not of(seen, "first", "attempt_started"), "it stays queued"


async def test_a_worker_writes_back_its_recent_ends_under_exactly_the_documented_acls(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """A worker's write-back of the ends the broker forgot (broker/recent_ends.py: a watch of the run's
    mark, then a script that names the work stream and the run's `ended` hash) as the documented
    worker user: the run ends before a worker's first write-back in the test above."""
    acl_user(admin, "worker", documented_rules("worker", "w1"))
    layout, run_id, stream = Layout(), "0123456789ab", "lfg:work:sim"
    admin.xgroup_create(stream, GROUP, id="0", mkstream=True)
    entry = admin.xadd(stream, {"data": b"{}"}).decode()
    admin.xreadgroup(GROUP, "w1", {stream: ">"}, count=1)
    admin.set(layout.checked(run_id), "the server before")
    admin.set(layout.coordinator(run_id), "me")
    worker = redis.asyncio.Redis.from_url(fleet.url.replace("redis://", "redis://worker:worker-secret@"))
    try:
        recent = RecentEnds(worker, layout, "w1", 30, 3600)
        end = AttemptEnd("t", 1, Outcome.COMPLETED, None, 3)
        recent.keep(run_id, stream, entry, ended_field("t", entry), end.value(), 1, b"{}", "t")
        assert [one.said for one in await recent.write_back(running=[])] == ["t"]
    finally:
        await worker.aclose()
    assert admin.hget(layout.ended(run_id), ended_field("t", entry)) == end.value()


async def test_a_worker_renews_its_leases_under_exactly_the_documented_acls(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """A worker's lease renewals as the documented worker user, before its entry is read (an entry
    waiting for a slot) and after (the attempt's `held` key and the run's `ran` hash among the
    script's keys): the coordinated run above ends before its first renewal. Before, the table gave
    `held` and `ran` to the worker as writes alone and a script's keys need both (every renewal
    refused: a lead that ran for a lease was stopped and taken over again and again), and a renewal
    before the entry was read named the key "", which no ACL user may access."""
    acl_user(admin, "worker", documented_rules("worker", "w1"))
    layout, run_id, stream = Layout(), "0123456789ab", "lfg:work:sim"
    admin.xgroup_create(stream, GROUP, id="0", mkstream=True)
    entry = admin.xadd(stream, {"data": b"{}"}).decode()
    admin.xreadgroup(GROUP, "w1", {stream: ">"}, count=1)
    worker = redis.asyncio.Redis.from_url(fleet.url.replace("redis://", "redis://worker:worker-secret@"))
    field = ended_field("t", entry)
    held = Held(layout.ended(run_id), field, layout.held(run_id, field), layout.ran(run_id), "t#1")
    try:
        ownership = Ownership(worker, GROUP, "w1")
        assert await ownership.renew(stream, entry, 1, 10_000) is Renewal.RENEWED
        assert await ownership.renew(stream, entry, 1, 10_000, held, started=True) is Renewal.RENEWED
    finally:
        await worker.aclose()


async def test_a_coordinator_sends_and_takes_back_a_follow_up_on_a_workers_own_stream_under_the_acls(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """A coding agent's follow-up put on its worker's own stream (a script naming it: `ENQUEUE`) and
    taken back from it once that worker left (`TAKE_BACK`), as the documented coordinator user. A
    script's keys need reading and writing under one pattern: before, the table gave the coordinator
    `~lfg:worker:*` to read and `~lfg:worker:*:work` to write, and every follow-up sent to its agent's
    worker was refused (NOPERM)."""
    acl_user(admin, "coordinator", documented_rules("coordinator", "w1"))
    layout, run_id = Layout(), "0123456789ab"
    own, work = layout.assigned("w1"), layout.work("agent")
    admin.xgroup_create(own, GROUP, id="0", mkstream=True)
    coordinator = redis.asyncio.Redis.from_url(
        fleet.url.replace("redis://", "redis://coordinator:coordinator-secret@")
    )
    fence = Fence(layout.generation(run_id), 1)
    try:
        index = WorkIndex(coordinator, 3600)
        entry = await index.enqueue(own, layout.work_index(run_id), b"{}", "a", fence)
        end = AttemptEnd("a", 2, Outcome.INTERRUPTED, None, 0)
        gone = GoneWorkers(coordinator, layout, 3600, 30)
        done, _ = await gone.take_back(run_id, own, entry, work, b"{}", end, fence)
    finally:
        await coordinator.aclose()
    assert done is TakenBack.MOVED and admin.xlen(own) == 0 and admin.xlen(work) == 1
