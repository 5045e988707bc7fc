"""A coordinator taking a follow-up back from the own stream of a worker that left (broker/gone.py),
one step on a real redis-server: what each entry becomes, and what that worker finds when it is back."""

from __future__ import annotations

import json

import pytest
import redis
import redis.asyncio

from lfgtui.broker.fence import Fence, Superseded
from lfgtui.broker.gone import GoneWorkers, TakenBack
from lfgtui.broker.layout import GROUP, Layout
from lfgtui.broker.ownership import Finished, Held, Ownership, Renewal
from lfgtui.broker.work import AttemptEnd, ended_field
from lfgtui.events import ErrorInfo, ErrorKind, Outcome
from tests.support.redis_server import RedisServer

RUN = "0123456789ab"
LAYOUT = Layout()
OWN = LAYOUT.assigned("w1")
WORK = LAYOUT.work("agent")
GIVEN_UP = AttemptEnd("a", 2, Outcome.INTERRUPTED, ErrorInfo(ErrorKind.CONNECTION, "w1 left"), 0)
FENCE = Fence(LAYOUT.generation(RUN), 1)


async def test_a_follow_up_its_worker_never_took_moves_to_the_providers_stream_in_one_step(
    redis_server: RedisServer,
) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        admin.xgroup_create(OWN, GROUP, id="0", mkstream=True)  # as w1 made it, reading up to here
        earlier = admin.xadd(OWN, {"data": b"{}"})
        admin.xreadgroup(GROUP, "w1", {OWN: ">"}, count=1)
        admin.xack(OWN, GROUP, earlier)
        entry = admin.xadd(OWN, {"data": b'{"agent_session": "s1"}'}).decode()
        gone = GoneWorkers(client, LAYOUT, 3600, 3)
        done, moved = await gone.take_back(RUN, OWN, entry, WORK, b'{"moved": 1}', GIVEN_UP, FENCE)
        assert done is TakenBack.MOVED and moved is not None
        assert admin.xrange(OWN, entry, entry) == [], "gone from w1's stream: w1 back reads nothing"
        assert admin.xrange(WORK, moved, moved) == [(moved.encode(), {b"data": b'{"moved": 1}'})]
        indexed = json.loads(admin.hget(LAYOUT.work_index(RUN), "a"))
        assert indexed == {"stream": WORK, "entry": moved, "data": '{"moved": 1}'}
        assert not admin.exists(LAYOUT.ended(RUN)), "nothing ran: no end recorded"
        again = await gone.take_back(RUN, OWN, entry, WORK, b"{}", GIVEN_UP, FENCE)
        assert again == (TakenBack.LEFT, None), "taken back once"
    finally:
        await client.aclose()
        admin.close()


async def test_a_follow_up_its_worker_took_is_left_while_renewed_and_given_up_once_its_lease_lapsed(
    redis_server: RedisServer,
) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        admin.xgroup_create(OWN, GROUP, id="0", mkstream=True)
        entry = admin.xadd(OWN, {"data": b"{}"}).decode()
        admin.xreadgroup(GROUP, "w1", {OWN: ">"}, count=1)  # w1 took it, then went quiet
        gone = GoneWorkers(client, LAYOUT, 3600, 3)
        left = await gone.take_back(RUN, OWN, entry, WORK, b"{}", GIVEN_UP, FENCE)
        assert left == (TakenBack.LEFT, None), "renewed within a lease: its worker may run it still"
        admin.xclaim(OWN, GROUP, "w1", 0, [entry], idle=3_000, justid=True)  # a lease unrenewed
        done = await gone.take_back(RUN, OWN, entry, WORK, b"{}", GIVEN_UP, FENCE)
        assert done == (TakenBack.GIVEN_UP, None)
        field = ended_field("a", entry)
        assert AttemptEnd.read(admin.hget(LAYOUT.ended(RUN), field)) == GIVEN_UP
        assert admin.xrange(OWN, entry, entry) == [] and admin.xlen(WORK) == 0, "enqueued by the run"
        # w1 back (it was paused): its renewal finds the entry no longer its own, its end is dropped
        ownership = Ownership(client, GROUP, "w1")
        held = Held(LAYOUT.ended(RUN), field, LAYOUT.held(RUN, field), LAYOUT.ran(RUN), "a#2")
        assert await ownership.renew(OWN, entry, 1, 3_000, held, started=True) is Renewal.LOST
        end = AttemptEnd("a", 2, Outcome.COMPLETED, None, 5).value()
        finished = await ownership.finish(OWN, entry, 1, LAYOUT.ended(RUN), field, end, 3600)
        assert finished is Finished.ENDED_ELSEWHERE
        assert AttemptEnd.read(admin.hget(LAYOUT.ended(RUN), field)) == GIVEN_UP
    finally:
        await client.aclose()
        admin.close()


async def test_a_follow_up_its_worker_acknowledged_without_an_end_is_given_up_not_left_for_ever(
    redis_server: RedisServer,
) -> None:
    # w1 took it and acknowledged it with no end recorded (it dropped the entry, refusing it) before
    # it left: nothing will ever run or end it, and the run waited for it forever
    admin = redis.Redis.from_url(redis_server.url)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        admin.xgroup_create(OWN, GROUP, id="0", mkstream=True)
        entry = admin.xadd(OWN, {"data": b"{}"}).decode()
        admin.xreadgroup(GROUP, "w1", {OWN: ">"}, count=1)
        admin.xack(OWN, GROUP, entry)  # as FINISH acknowledges a dropped entry: no end, left on the stream
        gone = GoneWorkers(client, LAYOUT, 3600, 3)
        done = await gone.take_back(RUN, OWN, entry, WORK, b"{}", GIVEN_UP, FENCE)
        assert done == (TakenBack.GIVEN_UP, None)
        assert AttemptEnd.read(admin.hget(LAYOUT.ended(RUN), ended_field("a", entry))) == GIVEN_UP
        assert admin.xrange(OWN, entry, entry) == [] and admin.xlen(WORK) == 0, "enqueued by the run"
        ended = admin.xadd(OWN, {"data": b"{}"}).decode()  # one whose end its worker recorded stays so
        admin.xreadgroup(GROUP, "w1", {OWN: ">"}, count=1)
        admin.xack(OWN, GROUP, ended)
        completed = AttemptEnd("a", 3, Outcome.COMPLETED, None, 5).value()
        admin.hset(LAYOUT.ended(RUN), ended_field("a", ended), completed)
        left = await gone.take_back(RUN, OWN, ended, WORK, b"{}", GIVEN_UP, FENCE)
        assert left == (TakenBack.LEFT, None)
        assert admin.hget(LAYOUT.ended(RUN), ended_field("a", ended)) == completed
    finally:
        await client.aclose()
        admin.close()


async def test_a_coordinator_superseded_takes_nothing_back(redis_server: RedisServer) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        admin.xgroup_create(OWN, GROUP, id="0", mkstream=True)
        entry = admin.xadd(OWN, {"data": b"{}"}).decode()
        admin.set(LAYOUT.generation(RUN), 2)
        gone = GoneWorkers(client, LAYOUT, 3600, 3)
        with pytest.raises(Superseded):
            await gone.take_back(RUN, OWN, entry, WORK, b"{}", GIVEN_UP, FENCE)
        assert admin.xlen(OWN) == 1 and admin.xlen(WORK) == 0
    finally:
        await client.aclose()
        admin.close()
