"""Closing a publisher (`Publisher.aclose`) against a real redis-server ends its writer, whichever turn
of the event loop the close lands on.

Python 3.11's `asyncio.wait_for`, which redis-py writes a command in, returns normally when the task
is cancelled in the turn its write completes (cpython#86296). A writer that relied on the
CancelledError to stop went on publishing heartbeats forever, and `aclose` never returned."""

from __future__ import annotations

import asyncio

import pytest

from lfgtui.broker.client import connect, explain
from lfgtui.broker.layout import Layout
from lfgtui.broker.publisher import STOP_S, Publisher
from lfgtui.config.broker import BrokerSettings, resolve
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

LOOP_TURNS = 60
"""More turns of the event loop than the writer takes to send one pipeline to a local broker."""


@pytest.mark.parametrize("refused", [False, True], ids=["taken", "refused"])
async def test_closing_ends_the_writer_whichever_turn_of_the_loop_it_lands_on(
    redis_server: RedisServer, refused: bool
) -> None:
    # With no grace, `aclose` cancels the writer in the middle of its send: each round lands that
    # one turn later. A broker that refuses the entries (the run's key is not a hash) keeps the writer
    # sending again until it is cancelled.
    broker = resolve(redis_server.url, {}, BrokerSettings())
    redis = await connect(broker)
    said: list[str] = []
    try:
        for turn in range(LOOP_TURNS):
            run_id = f"{turn:012x}"
            if refused:
                await redis.set(Layout().run(run_id), "not a hash")
            publisher = Publisher(
                redis, run_id, [], broker.settings, said.append, lambda exc: explain(exc, broker)
            )
            publisher.start()
            publisher.end()
            for _ in range(turn):
                await asyncio.sleep(0)
            closing = asyncio.create_task(publisher.aclose(0))
            done, _ = await asyncio.wait([closing], timeout=STOP_S * 2 * PATIENCE)
            assert done, f"closing {turn} turns into the send never returned"
            await closing
            assert not [s for s in said if "did not stop" in s], f"the writer cancelled {turn} turns in"
        if not refused:  # and given the time to, it sends the end before it stops
            publisher = Publisher(
                redis, "last", [], broker.settings, said.append, lambda exc: explain(exc, broker)
            )
            publisher.start()
            await publisher.aclose(STOP_S)
            ended = await redis.xrange(Layout().events("last"))
            assert [fields[b"kind"] for _, fields in ended] == [b"end"], said
    finally:
        await redis.aclose()
