"""The write-back of a coordinator whose broker went back in time, a worker's look before it starts
(broker/restored.py), and a worker's write-back of its recent ends (broker/recent_ends.py), one step
each on a real redis-server: what each entry becomes."""

from __future__ import annotations

import redis
import redis.asyncio

from lfgtui.broker.fence import Fence
from lfgtui.broker.layout import GROUP, Layout
from lfgtui.broker.recent_ends import RecentEnds
from lfgtui.broker.restored import Gate, Ledger, Restoration
from lfgtui.broker.work import AttemptEnd, ended_field
from lfgtui.events import Outcome
from tests.support.redis_server import RedisServer

RUN = "0123456789ab"
STREAM = "lfg:work:sim"
LAYOUT = Layout()


def server_id(admin: redis.Redis) -> str:
    return str(admin.info("server")["run_id"])


async def test_the_write_back_re_marks_ends_removes_stale_entries_and_gives_up_a_stolen_attempt(
    redis_server: RedisServer,
) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        admin.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        entries = [admin.xadd(STREAM, {"data": b"{}"}).decode() for _ in range(6)]
        done, replayed, stolen, started, nobodys, held = entries
        admin.xreadgroup(GROUP, "w1", {STREAM: ">"}, count=1)  # `done`: ended on w1, given back pending
        # `replayed`: w2 runs it; the broker went back and handed the same delivery (1) to w3.
        admin.xreadgroup(GROUP, "w3", {STREAM: ">"}, count=1)
        admin.xreadgroup(GROUP, "w3", {STREAM: ">"}, count=1)  # `stolen`: w3 took it over, delivery 2
        admin.xclaim(STREAM, GROUP, "w3", 0, [stolen])
        admin.xreadgroup(GROUP, "w3", {STREAM: ">"}, count=1)  # `started`: w3 started delivery 1 too
        admin.hset(LAYOUT.ran(RUN), "t4#1", "w3")
        # `nobodys`: w2 runs it; the broker went back to before it was delivered (pending for nobody).
        admin.xreadgroup(GROUP, "w2", {STREAM: ">"}, count=1)
        admin.xreadgroup(GROUP, "w2", {STREAM: ">"}, count=1)  # `held`: still w2's, as it was
        admin.xack(STREAM, GROUP, nobodys)
        admin.xclaim(STREAM, GROUP, "w2", 0, [held], idle=600_000, justid=True)  # its count ran on
        admin.set(LAYOUT.checked(RUN), "another server")
        ledger = Ledger()
        tickets = {entry: f"t{n}" for n, entry in enumerate(entries, start=1)}
        for entry, ticket in tickets.items():
            ledger.enqueued(ticket, STREAM, entry, b"{}", 1)
        ledger.finished(STREAM, done, AttemptEnd("t1", 1, Outcome.COMPLETED, None, 3))
        for entry in entries[1:]:
            ledger.started(entry, tickets[entry], 1, "w2")
        gate = Gate(client, LAYOUT)
        look = gate.look(RUN, "t1", STREAM, done)
        assert await look == (2, None, ("w1", 1)), "no coordinator holds the run: said so"
        admin.set(LAYOUT.coordinator(RUN), "me")
        look = gate.look(RUN, "t1", STREAM, done)
        assert await look == (0, None, ("w1", 1)), "waits for the coordinator's write-back"
        assert await gate.look(RUN, "t2", STREAM, replayed) == (0, None, ("w3", 1))

        restoration = Restoration(client, LAYOUT, RUN, 3600)
        assert await restoration.stale() == "another server"
        streams = {(tickets[entry], entry): STREAM for entry in entries[1:]}
        restored = await restoration.write_back(ledger, streams, "went back", Fence(LAYOUT.generation(RUN)))
        assert await restoration.stale() is None
        state, end, holder = await gate.look(RUN, "t1", STREAM, done)
        assert state == 1 and end is not None and end.outcome is Outcome.COMPLETED and holder is None
        look = gate.look(RUN, "t2", STREAM, replayed)
        assert await look == (1, None, ("w2", 1)), "w3 finds it w2's again: it stands down"
    finally:
        await client.aclose()
    assert restored.server == server_id(admin)
    assert restored.remarked == ("t1",)
    rewound = ((tickets[stolen], stolen), (tickets[started], started))
    assert restored.rewound == rewound, "a later delivery, or one its other worker started"
    assert restored.handed_back == ((tickets[replayed], replayed),)
    assert restored.removed == 2, "the ended entry, and the one pending for nobody"
    left = [entry.decode() for entry, _ in admin.xrange(STREAM)]
    assert left == [replayed, held], "only the attempts held as their worker's stay"
    [kept] = admin.xpending_range(STREAM, GROUP, held, held, 1)
    assert kept["consumer"] == b"w2" and kept["times_delivered"] == 1
    assert kept["time_since_delivered"] < 600_000, "its worker gets a fresh lease to renew it or write back"
    ended = admin.hgetall(LAYOUT.ended(RUN))
    assert set(ended) == {ended_field(tickets[e], e).encode() for e in (done, stolen, started)}
    given_up = AttemptEnd.read(ended[ended_field("t3", stolen).encode()])
    assert given_up is not None and given_up.outcome is Outcome.INTERRUPTED
    said = restored.said("another server")
    assert (
        "went back in time" in said
        and "1 running attempt given back to its worker (the broker had handed it out again)" in said
    ), said
    admin.close()


async def test_a_worker_writes_back_the_ends_the_broker_forgot_where_no_other_attempt_can_have_started(
    redis_server: RedisServer,
) -> None:
    """w1 ran five entries to their ends, recorded them, and kept them; the broker went back to before
    those ends (nothing recorded, the entries back). `mine`: pending as w1's, as it ran it. `gone`: not
    on its stream. `there`: its end still recorded. `retaken`: handed out again (to w2) after the
    run's coordinator wrote back (the mark is the server's): w2's attempt counts. `other`: its id now
    names another entry (the broker's clock went back)."""
    admin = redis.Redis.from_url(redis_server.url)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    ended = LAYOUT.ended(RUN)
    try:
        admin.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        data = {name: f'{{"ticket": "{name}"}}'.encode() for name in ("mine", "retaken", "other", "there")}
        entries = {name: admin.xadd(STREAM, {"data": value}).decode() for name, value in data.items()}
        entries["gone"] = "1-1"
        admin.xreadgroup(GROUP, "w1", {STREAM: ">"}, count=1)  # mine
        admin.xreadgroup(GROUP, "w2", {STREAM: ">"}, count=1)  # retaken
        admin.xreadgroup(GROUP, "w1", {STREAM: ">"}, count=1)  # other
        admin.hset(ended, ended_field("there", entries["there"]), b"recorded")
        admin.set(LAYOUT.checked(RUN), server_id(admin))
        admin.set(LAYOUT.coordinator(RUN), "me")
        recent = RecentEnds(client, LAYOUT, "w1", 30, 3600)
        for name, entry in entries.items():
            end = AttemptEnd(name, 1, Outcome.COMPLETED, None, 9)
            ran = b"what w1 ran" if name == "other" else data.get(name, b"")
            recent.keep(RUN, STREAM, entry, ended_field(name, entry), end.value(), 1, ran, name)
        written = await recent.write_back(running=[])
        assert {end.said for end in written} == {"mine", "gone"}
        assert set(recent.kept) == {(STREAM, entries[n]) for n in ("mine", "gone", "there")}, (
            "the rest counts no more"
        )
        assert await recent.write_back(running=[]) == [], "written back once: there the second time"
    finally:
        await client.aclose()
    recorded = {name.decode().partition("@")[0] for name in admin.hkeys(ended)}
    assert recorded == {"mine", "gone", "there"}
    left = {entry.decode() for entry, _ in admin.xrange(STREAM)}
    assert left == {entries["retaken"], entries["other"], entries["there"]}
    assert admin.xpending(STREAM, GROUP)["pending"] == 2, "retaken (w2's) and other (not w1's to touch)"
    admin.close()


async def test_an_entry_handed_out_again_before_the_coordinator_wrote_back_is_taken_back(
    redis_server: RedisServer,
) -> None:
    """The broker went back to before w1's end, and w2 read the entry again before the run's
    coordinator wrote back: w2 waits at the gate (the mark is another server's), so w1's end is
    written back, the entry taken from w2, and w2's look finds the end."""
    admin = redis.Redis.from_url(redis_server.url)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        admin.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        entry = admin.xadd(STREAM, {"data": b"{}"}).decode()
        admin.xreadgroup(GROUP, "w2", {STREAM: ">"}, count=1)
        admin.set(LAYOUT.checked(RUN), "the server before")
        admin.set(LAYOUT.coordinator(RUN), "me")
        gate = Gate(client, LAYOUT)
        assert (await gate.look(RUN, "t", STREAM, entry))[:2] == (0, None), "w2 waits for the coordinator"
        recent = RecentEnds(client, LAYOUT, "w1", 30, 3600)
        end = AttemptEnd("t", 1, Outcome.COMPLETED, None, 9)
        recent.keep(RUN, STREAM, entry, ended_field("t", entry), end.value(), 1, b"{}", "t")
        assert [one.said for one in await recent.write_back(running=[])] == ["t"]
        admin.set(LAYOUT.checked(RUN), server_id(admin))  # the coordinator's write-back, after
        assert (await gate.look(RUN, "t", STREAM, entry))[:2] == (1, end), "w2 finds it ended: runs nothing"
    finally:
        await client.aclose()
    assert admin.xrange(STREAM) == [] and admin.xpending(STREAM, GROUP)["pending"] == 0
    admin.close()


async def test_ends_its_worker_wrote_back_first_count_in_the_coordinators_word_that_the_broker_went_back(
    redis_server: RedisServer,
) -> None:
    """The broker went back to before `a` and `b` ended; their worker, back first, wrote both ends
    back before the run's coordinator looked (a CI run caught the coordinator saying nothing then).
    The coordinator's write-back finds nothing left to write, and still says what the broker forgot:
    both re-marked. `c`'s end the broker kept: not counted."""
    admin = redis.Redis.from_url(redis_server.url)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        admin.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        entries = {name: admin.xadd(STREAM, {"data": b"{}"}).decode() for name in "abc"}
        for _ in entries:
            admin.xreadgroup(GROUP, "w1", {STREAM: ">"}, count=1)
        ends = {name: AttemptEnd(name, 1, Outcome.COMPLETED, None, 3) for name in entries}
        admin.hset(LAYOUT.ended(RUN), ended_field("c", entries["c"]), ends["c"].value())
        admin.xack(STREAM, GROUP, entries["c"])
        admin.xdel(STREAM, entries["c"])
        admin.set(LAYOUT.checked(RUN), "the server before")
        admin.set(LAYOUT.coordinator(RUN), "me")
        recent = RecentEnds(client, LAYOUT, "w1", 30, 3600)
        ledger = Ledger()
        for name, entry in entries.items():
            field = ended_field(name, entry)
            if name != "c":
                recent.keep(RUN, STREAM, entry, field, ends[name].value(), 1, b"{}", name)
            ledger.enqueued(name, STREAM, entry, b"{}", 1)
            ledger.finished(STREAM, entry, ends[name])
        assert {one.said for one in await recent.write_back(running=[])} == {"a", "b"}
        restoration = Restoration(client, LAYOUT, RUN, 3600)
        restored = await restoration.write_back(ledger, {}, "went back", Fence(LAYOUT.generation(RUN)))
        again = await restoration.write_back(ledger, {}, "went back", Fence(LAYOUT.generation(RUN)))
    finally:
        await client.aclose()
    assert sorted(restored.remarked) == ["a", "b"] and restored.went_back
    assert "2 ended tickets re-marked" in restored.said("the server before")
    assert not again.went_back, "counted once"
    fields = {name.decode() for name in admin.hkeys(LAYOUT.ended(RUN))}
    assert fields == {ended_field(name, entry) for name, entry in entries.items()}, "no marks left over"
    admin.close()


def script_calls(admin: redis.Redis) -> int:
    """How many scripts the server ran since its statistics were reset."""
    stats = admin.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval"))


async def test_a_worker_writes_back_an_old_end_once_the_broker_went_back_with_no_coordinator_to(
    redis_server: RedisServer,
) -> None:
    """A restore long after the run ended (a backup put back): w1's ends are no longer recent (a lease
    of 0 s here: none is), and the run's coordinator exited, so nothing re-marks the run. `old`'s end is
    written back all the same, because the run's mark is another server's; once per server, and not
    for `quiet`, a run whose mark is the server's. Before, the worker kept an end only four leases,
    and a worker that took the entry after a lease at the gate ran the completed ticket again."""
    admin = redis.Redis.from_url(redis_server.url)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    quiet = "ba9876543210"
    try:
        admin.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        entries = {run: admin.xadd(STREAM, {"data": b"{}"}).decode() for run in (RUN, quiet)}
        admin.xreadgroup(GROUP, "w2", {STREAM: ">"})  # both handed out again, to w2 (at its gate)
        admin.set(LAYOUT.checked(RUN), "the server before")
        admin.set(LAYOUT.checked(quiet), server_id(admin))
        recent = RecentEnds(client, LAYOUT, "w1", 0, 3600)
        for run, entry in entries.items():
            end = AttemptEnd("old", 1, Outcome.COMPLETED, None, 9)
            recent.keep(run, STREAM, entry, ended_field("old", entry), end.value(), 1, b"{}", f"old of {run}")
        admin.config_resetstat()
        assert [one.said for one in await recent.write_back(running=[])] == [f"old of {RUN}"]
        assert script_calls(admin) == 1, "the quiet run's old end is not looked at"
        assert await recent.write_back(running=[]) == [] and script_calls(admin) == 1, "once per server"
    finally:
        await client.aclose()
    assert admin.hexists(LAYOUT.ended(RUN), ended_field("old", entries[RUN]))
    assert [entry.decode() for entry, _ in admin.xrange(STREAM)] == [entries[quiet]]
    assert admin.xpending(STREAM, GROUP)["pending"] == 1, "only the quiet run's, w2's to run"
    admin.close()
