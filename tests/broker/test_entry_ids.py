"""A work entry's id is unique on its stream only: two providers' work streams give the same id to
entries added in the same millisecond (a run whose tickets of two providers start together). The
coordinator's `Dispatch` on a real redis-server, with two such entries adopted as a resumed run adopts
them (broker/pickup.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis

from lfgtui.broker.client import connect, explain
from lfgtui.broker.coordinator import Dispatch, LostEntry
from lfgtui.broker.layout import Layout
from lfgtui.broker.pickup import Adopted
from lfgtui.broker.publisher import STOP_S, Publisher
from lfgtui.broker.work import AttemptEnd, WorkItem
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.events import Outcome
from lfgtui.remote.description import run_description
from tests.support.patience import PATIENCE
from tests.support.recording import ticket
from tests.support.redis_server import RedisServer

RUN = "0123456789ab"
LAYOUT = Layout()
SAME = "1795884069744-0"
"""The id both streams gave (that of a CI run's `a` and `t`, whose resumed run then waited forever)."""


async def test_a_ticket_done_with_leaves_the_entry_of_the_same_id_on_another_stream_looked_at(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """`a` on the sim's stream ends; `t`'s entry of the same id on the agent's stream is lost: it is
    declared lost. Before, the run's done-with of `a` forgot the stream of `t`'s entry too (each was
    kept by entry id alone), and `t`'s entry was never looked at again: the run waited forever."""
    admin = redis.Redis.from_url(redis_server.url)
    broker = resolve(redis_server.url, {}, BrokerSettings(lease_s=1.0))
    client = await connect(broker)
    tickets = [ticket("a"), ticket("t")]
    said: list[str] = []
    publisher = Publisher(
        client, RUN, ["a", "t"], broker.settings, said.append, lambda exc: explain(exc, broker)
    )
    dispatch = Dispatch(client, broker, tmp_path)
    try:
        await publisher.register(run_description(RUN, tickets, None, False), "me@here", "same ids")
        publisher.start()
        for one, provider in zip(tickets, ("sim", "agent"), strict=True):
            data = WorkItem(RUN, one, 1, {}).fields()["data"]
            admin.xadd(LAYOUT.work(provider), {"data": data}, id=SAME)
            dispatch.adopt(one.id, Adopted(LAYOUT.work(provider), SAME, data, 1))
            dispatch.wait_for(one.id)
            dispatch.expect(one.id, SAME)
        await dispatch.start(RUN, said.append, publisher.instance)
        dispatch.finished(SAME, AttemptEnd("a", 1, Outcome.COMPLETED, None, 3))  # its worker ended it
        dispatch.done_with("a")
        admin.xdel(LAYOUT.work("agent"), SAME)  # the broker lost `t`'s entry
        waiting = dispatch.wait_for("t")
        async with asyncio.timeout(10 * PATIENCE):  # lost within two leases of the loss
            while not isinstance(arrived := await waiting.get(), LostEntry):
                pass
        assert arrived == LostEntry(SAME), said
        await publisher.aclose(STOP_S)
        await dispatch.aclose(publisher.confirm_end)
    finally:
        await client.aclose()
