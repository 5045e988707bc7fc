"""A worker paused past its lease publishes its attempt's late events after another worker took the
ticket over (issue #55): every watcher drops them, as the coordinator does, and takes only the
superseded attempt's `interrupted` end, so what it shows agrees with the history. Against a real
redis-server, the stream written as the three publishers (two workers, the coordinator) wrote it."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from redis.asyncio import Redis

from lfgtui.broker.layout import ENTRY_END, Layout, dumps
from lfgtui.broker.watch import BrokerAttachment
from lfgtui.events import AttemptEnded, ErrorInfo, ErrorKind, Event, Outcome, TextDelta
from lfgtui.sim.server import SimServer
from tests.support.broker import ONE_TICKET, events_entry, published
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer


def text(events: list[Event], attempt: int) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta) and e.attempt == attempt)


async def test_a_paused_workers_late_events_after_the_takeover_are_dropped_but_its_interrupted_end(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, ONE_TICKET) as run:
        run.run.start()
        await run.finish()
    first = [e for e in run.events if e.ticket == "t"]
    assert isinstance(first[-1], AttemptEnded) and first[-1].outcome is Outcome.COMPLETED
    cut = len(first) // 3
    second = [dataclasses.replace(e, attempt=2) for e in first]
    paused = ErrorInfo(ErrorKind.CONNECTION, "its worker stopped renewing its lease")
    interrupted = AttemptEnded(
        ticket="t", attempt=1, seq=cut + 1, t=first[cut].t, outcome=Outcome.INTERRUPTED, error=paused
    )
    layout, run_id = Layout(), run.run.run_id
    redis = Redis(port=redis_server.port)
    try:
        await redis.delete(layout.events(run_id))
        for fields in (
            events_entry("w1", 1, first[:cut]),  # attempt 1, until its worker is paused
            events_entry("w2", 1, second[:2]),  # another worker took it over
            events_entry("w1", 2, first[cut:]),  # the paused worker wakes: its answer to the end, completed
            events_entry("co", 1, [interrupted]),  # the coordinator ends attempt 1 as it saw it
            events_entry("w2", 2, second[2:]),
        ):
            await redis.xadd(layout.events(run_id), fields)
        await redis.xadd(layout.events(run_id), {"kind": ENTRY_END, "n": "co.2", "data": dumps({"now": 0.0})})
    finally:
        await redis.aclose()
    attachment = BrokerAttachment(run.broker, run_id)
    got: list[Event] = []
    await attachment.describe()
    try:
        await asyncio.wait_for(attachment.follow(got.append, lambda _: None), 40 * PATIENCE)
    finally:
        await attachment.aclose()
    ended = {(e.attempt, e.outcome) for e in got if isinstance(e, AttemptEnded)}
    assert ended == {(1, Outcome.INTERRUPTED), (2, Outcome.COMPLETED)}, ended
    assert text(got, 1) == text(first[:cut], 1), "attempt 1: what arrived before the takeover, no more"
    assert text(got, 2) == text(first, 1), "attempt 2: the whole answer"
