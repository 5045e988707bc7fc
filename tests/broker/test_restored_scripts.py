"""The write-back of a coordinator whose broker went back in time, and a worker's look before it
starts (broker/restored.py), one step each on a real redis-server: what each entry becomes."""

from __future__ import annotations

import redis
import redis.asyncio

from lfgtui.broker.layout import GROUP, Layout
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
        done, stolen, nobodys, held = (admin.xadd(STREAM, {"data": b"{}"}).decode() for _ in range(4))
        admin.xreadgroup(GROUP, "w1", {STREAM: ">"}, count=1)  # `done`: ended on w1, given back pending
        admin.xreadgroup(GROUP, "w3", {STREAM: ">"}, count=1)  # `stolen`: w2 ran it; w3 read it again
        # `nobodys`: w2 runs it; the broker went back to before it was delivered (pending for nobody).
        admin.xreadgroup(GROUP, "w2", {STREAM: ">"}, count=1)
        admin.xreadgroup(GROUP, "w2", {STREAM: ">"}, count=1)  # `held`: still w2's, as it was
        admin.xreadgroup(GROUP, "w2", {STREAM: ">"}, count=1)
        admin.xack(STREAM, GROUP, nobodys)
        admin.set(LAYOUT.checked(RUN), "another server")
        ledger = Ledger()
        for ticket, entry in (("a", done), ("b", stolen), ("c", nobodys), ("d", held)):
            ledger.enqueued(ticket, STREAM, entry, b"{}", 1)
        ledger.finished(STREAM, done, AttemptEnd("a", 1, Outcome.COMPLETED, None, 3))
        for ticket, entry in (("b", stolen), ("c", nobodys), ("d", held)):
            ledger.started(entry, ticket, 1, "w2")
        gate = Gate(client, LAYOUT)
        assert await gate.look(RUN, "a", done) == (2, None), "no coordinator holds the run: said so"
        admin.set(LAYOUT.coordinator(RUN), "me")
        assert await gate.look(RUN, "a", done) == (0, None), "waits for the coordinator's write-back"

        restoration = Restoration(client, LAYOUT, RUN, 3600)
        assert await restoration.stale() == "another server"
        streams = {entry: STREAM for entry in (stolen, nobodys, held)}
        restored = await restoration.write_back(ledger, streams, "went back")
        assert await restoration.stale() is None
        state, end = await gate.look(RUN, "a", done)
        assert state == 1 and end is not None and end.outcome is Outcome.COMPLETED, "found ended"
    finally:
        await client.aclose()
    assert restored.server == server_id(admin)
    assert restored.remarked == ("a",)
    assert restored.rewound == (stolen,)
    assert restored.removed == 2, "the ended entry, and the one pending for nobody"
    left = [entry.decode() for entry, _ in admin.xrange(STREAM)]
    assert left == [held], "only the attempt still held as its worker's stays"
    ended = admin.hgetall(LAYOUT.ended(RUN))
    assert set(ended) == {ended_field("a", done).encode(), ended_field("b", stolen).encode()}
    given_up = AttemptEnd.read(ended[ended_field("b", stolen).encode()])
    assert given_up is not None and given_up.outcome is Outcome.INTERRUPTED
    assert "went back in time" in restored.said("another server")
    admin.close()
