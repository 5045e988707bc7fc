"""What a worker waits for before acknowledging an attempt's work entry, against a real redis-server:
a publisher's mark is drained once the broker took everything queued before it (a gap of dropped
batches included, though nothing follows it), while other attempts go on publishing; an attempt
whose end was dropped is not on the broker."""

from __future__ import annotations

import json

from lfgtui.broker.client import connect, explain
from lfgtui.broker.layout import Layout
from lfgtui.broker.publisher import Publisher
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.events import AttemptEnded, AttemptStarted, EventFactory, TextDelta
from lfgtui.outcome import Outcome
from tests.support.redis_server import RedisServer

REFUSED_S = 0.3
"""How long a drain is given while the broker refuses every entry: it cannot succeed however long."""


async def test_a_mark_drains_once_the_broker_took_all_before_it_but_an_end_dropped_is_not_on_it(
    redis_server: RedisServer,
) -> None:
    broker = resolve(redis_server.url, {}, BrokerSettings(queue_bytes=2_000))
    redis = await connect(broker)
    events = Layout().events("r")
    said: list[str] = []
    publisher = Publisher(
        redis, "r", [], broker.settings, said.append, lambda exc: explain(exc, broker), owner=False
    )
    try:
        await redis.set(events, "not a stream")  # every XADD refused, as by a broker away
        publisher.start()
        quick, slow = EventFactory("quick", 1), EventFactory("slow", 1)
        publisher(slow(AttemptStarted, provider="sim", model="m"))
        publisher.publish()  # queued: a few hundred bytes
        publisher(quick(AttemptStarted, provider="sim", model="m"))
        for _ in range(40):
            publisher(quick(TextDelta, text="x" * 100))
        publisher(quick(AttemptEnded, outcome=Outcome.COMPLETED))
        mark = publisher.mark()  # quick ended: its batch, too big for the queue, is dropped into a gap
        assert publisher.dropped == 42
        assert not await publisher.drained(mark, REFUSED_S), "the broker has taken nothing"
        await redis.delete(events)
        assert await publisher.drained(mark, 30), said
        assert not publisher.took(mark, "quick", 1), "its end was dropped: the broker lacks it"
        assert publisher.took(mark, "slow", 1)
        kinds = [fields[b"kind"] for _, fields in await redis.xrange(events)]
        assert kinds == [b"events", b"gap"], "the gap went, though nothing came after it"
        publisher(slow(TextDelta, text="still here"))
        publisher(slow(AttemptEnded, outcome=Outcome.COMPLETED))
        later = publisher.mark()
        assert later > mark and await publisher.drained(later, 30)
        assert publisher.took(later, "slow", 1)
        await publisher.aclose(30)
        (*_, (_, last)) = await redis.xrange(events)
        assert [e["type"] for e in json.loads(last[b"data"])["events"]] == ["text_delta", "attempt_ended"]
    finally:
        await publisher.aclose(0)
        await redis.aclose()
