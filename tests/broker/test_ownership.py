"""The ownership scripts (broker/ownership.py) on a real redis-server, without workers: what a take-over
takes, how many at once, and when it says the next entry lapses. Idle times are set with XCLAIM's
IDLE option, so nothing here waits for a lease to run out."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio

from lfgtui.broker.layout import GROUP
from lfgtui.broker.ownership import Finished, Held, Ownership, Renewal, TakenOver
from tests.support.redis_server import RedisServer

STREAM = "lfg:work:sim"
LEASE_MS = 60_000
"""Long, so that no stall of this test ages a live entry to overdue (half a lease)."""


@pytest.fixture
def admin(redis_server: RedisServer) -> redis.Redis:
    client = redis.Redis.from_url(redis_server.url)
    client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    return client


def held(admin: redis.Redis, consumer: str, idle_ms: int, count: int = 1) -> list[str]:
    """`count` new entries delivered to `consumer`, each idle for `idle_ms` now."""
    entries = [admin.xadd(STREAM, {"data": f"{consumer}-{n}"}).decode() for n in range(count)]
    admin.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=count)
    admin.xclaim(STREAM, GROUP, consumer, 0, entries, idle=idle_ms, justid=True)
    return entries


def take_over(url: str, consumer: str, count: int, running: tuple[str, ...] = ()) -> TakenOver:
    async def go() -> TakenOver:
        client = redis.asyncio.Redis.from_url(url)
        try:
            return await Ownership(client, GROUP, consumer).take_over(STREAM, LEASE_MS, running, count)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_take_over_claims_as_many_lapsed_entries_as_asked_oldest_first_behind_live_ones(
    redis_server: RedisServer, admin: redis.Redis
) -> None:
    live = held(admin, "busy", 100, count=40)
    dead = held(admin, "dead", LEASE_MS + 500, count=5)
    found = take_over(redis_server.url, "spare", 3)
    assert [one.entry for one in found.lapsed] == dead[:3]
    assert [one.fields[b"data"] for one in found.lapsed] == [b"dead-0", b"dead-1", b"dead-2"]
    assert {one.deliveries for one in found.lapsed} == {2}
    assert found.next_lapse_s == 0  # two more lapsed, left for the next free slots
    pending = admin.xpending_range(STREAM, GROUP, "-", "+", 100)
    holders = {p["message_id"].decode(): p["consumer"].decode() for p in pending}
    assert [holders[e] for e in dead] == ["spare"] * 3 + ["dead"] * 2
    assert all(holders[e] == "busy" for e in live)


def test_a_take_over_says_when_the_next_overdue_entry_lapses(
    redis_server: RedisServer, admin: redis.Redis
) -> None:
    held(admin, "busy", 100, count=3)
    held(admin, "slow", LEASE_MS - 1_000)
    held(admin, "slower", LEASE_MS - 400)
    found = take_over(redis_server.url, "spare", 4)
    assert found.lapsed == []
    assert found.next_lapse_s <= 0.4  # the slower one's; the broker's idle clock ran on since it was set


def test_with_nothing_overdue_the_next_lapse_is_a_lease_away(
    redis_server: RedisServer, admin: redis.Redis
) -> None:
    held(admin, "busy", 100, count=3)
    assert take_over(redis_server.url, "spare", 4).next_lapse_s == LEASE_MS / 1000


def test_a_take_over_leaves_the_entries_its_own_consumer_runs(
    redis_server: RedisServer, admin: redis.Redis
) -> None:
    """A stalled event loop can let an entry this worker runs go idle past the lease: it is neither
    taken again nor counted as the next lapse (its own renewal confirms it)."""
    mine = held(admin, "spare", LEASE_MS + 500, count=2)
    found = take_over(redis_server.url, "spare", 4, running=(mine[0],))
    assert [one.entry for one in found.lapsed] == [mine[1]]
    assert found.next_lapse_s == LEASE_MS / 1000


def test_an_entry_trimmed_from_its_stream_is_acknowledged_not_taken(
    redis_server: RedisServer, admin: redis.Redis
) -> None:
    gone, kept = held(admin, "dead", LEASE_MS + 500, count=2)
    admin.xdel(STREAM, gone)
    found = take_over(redis_server.url, "spare", 4)
    assert [one.entry for one in found.lapsed] == [kept]
    assert admin.xpending(STREAM, GROUP)["pending"] == 1


def test_a_worker_restarted_under_its_name_holds_the_entry_it_took_over_and_the_old_process_nothing(
    admin: redis.Redis, redis_server: RedisServer
) -> None:
    """The old `w1` (paused past its lease) held the entry in its first delivery; a new `w1`, started
    under the same name, took it over (its second delivery). The old one, waking, neither renews it
    nor records its attempt's end: a stale end would stand in for the live attempt's (issue #74)."""
    [entry] = held(admin, "w1", LEASE_MS + 1)
    [taken] = take_over(redis_server.url, "w1", 1).lapsed
    assert (taken.entry, taken.deliveries) == (entry, 2)

    async def go() -> tuple[bool, bool, bool]:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        ownership = Ownership(client, GROUP, "w1")
        try:
            renewed = await ownership.renew(STREAM, entry, 1, LEASE_MS)
            stale = await ownership.finish(STREAM, entry, 1, "ended", "t@e", b"old", 60)
            live = await ownership.finish(STREAM, entry, 2, "ended", "t@e", b"new", 60)
            return renewed, stale, live
        finally:
            await client.aclose()

    assert asyncio.run(go()) == (False, False, True)
    assert admin.hget("ended", "t@e") == b"new"


def test_a_delivery_the_broker_handed_out_again_stays_with_the_worker_that_started_it(
    admin: redis.Redis, redis_server: RedisServer
) -> None:
    """`w1` started its attempt in delivery 1; the broker went back in time and gave the same delivery
    to `w2`, which waits at its gate (issue #74). `w1`'s renewal takes it back, keeping its count, and
    `w2`'s says it was replayed; once the `ran` hash says `w2` started it, `w2` keeps it instead."""
    [entry] = held(admin, "w2", 0)
    held_by = [Held("ended", f"t@{entry}", "held", "ran", "t#1")]

    async def renew(consumer: str, started: bool) -> Renewal:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            return await Ownership(client, GROUP, consumer).renew(
                STREAM, entry, 1, LEASE_MS, held_by[0], started
            )
        finally:
            await client.aclose()

    def holder() -> tuple[bytes, int]:
        [pending] = admin.xpending_range(STREAM, GROUP, entry, entry, 1)
        return pending["consumer"], pending["times_delivered"]

    assert asyncio.run(renew("w1", False)) is Renewal.REPLAYED, "not started: it stands down"
    assert asyncio.run(renew("w1", True)) is Renewal.TAKEN_BACK
    assert holder() == (b"w1", 1), "its count still numbers the attempt"
    assert asyncio.run(renew("w1", True)) is Renewal.RENEWED
    assert asyncio.run(renew("w2", False)) is Renewal.REPLAYED
    admin.hset("ran", "t#1", "w2")  # w2 started it since (it passed its gate)
    assert asyncio.run(renew("w2", True)) is Renewal.TAKEN_BACK
    assert asyncio.run(renew("w1", True)) is Renewal.REPLAYED, "the later start keeps it"
    assert holder() == (b"w2", 1)
    admin.xclaim(STREAM, GROUP, "w3", 0, [entry])  # a takeover: delivery 2
    assert asyncio.run(renew("w2", True)) is Renewal.LOST


def test_an_end_recorded_after_its_coordinator_gave_the_attempt_up_is_dropped_and_said_so(
    admin: redis.Redis, redis_server: RedisServer
) -> None:
    """The broker went back in time and the coordinator's write-back gave `w1`'s attempt up
    (broker/restored.py): its end recorded `interrupted`, its entry acknowledged and deleted, the
    ticket to run again. `w1`'s attempt then completed before its next renewal: its end is dropped,
    and it says so. Before, FINISH answered as for an entry the broker lost (recorded, unless one
    was), and the worker logged `completed` for an end that was not recorded. The same end sent
    twice (a retry after a lost answer) still counts as recorded."""
    [entry] = held(admin, "w1", 100)
    admin.hset("ended", "t@e", b"interrupted")
    admin.xack(STREAM, GROUP, entry)
    admin.xdel(STREAM, entry)

    async def go() -> tuple[Finished, Finished, Finished]:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        ownership = Ownership(client, GROUP, "w1")
        try:
            dropped = await ownership.finish(STREAM, entry, 1, "ended", "t@e", b"completed", 60)
            await client.hset("ended", "t@f", b"completed")  # its own end, written a moment before
            again = await ownership.finish(STREAM, entry, 1, "ended", "t@f", b"completed", 60)
            alone = await ownership.finish(STREAM, entry, 1, "ended", "t@g", b"completed", 60)
            return dropped, again, alone
        finally:
            await client.aclose()

    assert asyncio.run(go()) == (Finished.ENDED_ELSEWHERE, Finished.ALONE, Finished.ALONE)
    assert admin.hget("ended", "t@e") == b"interrupted"
