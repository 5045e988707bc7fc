"""A broker that went back in time as the run ended (issue #74): the coordinator looks every second
whether the broker's server changed (broker/restored.py), and a run whose end came inside that window
left the entries the broker gave back pending, their ends forgotten, with no coordinator to write
them back. The run's own `Dispatch` and `Publisher` on a real redis-server, restarted from a snapshot
taken after the run's end was published and before its worker acknowledged its entries (a replica
that lagged by those acknowledgements); the worker is played by the test's client, away through the
restore (a paused laptop): only the coordinator knows how its attempts ended. A snapshot taken just
before the run's end lost it too: it is written again, or no watcher would see the run end."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
import redis

from lfgtui.broker.client import connect, explain
from lfgtui.broker.coordinator import Dispatch
from lfgtui.broker.fence import Fence
from lfgtui.broker.layout import GROUP, Layout
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


def restart_from_snapshot(admin: redis.Redis, server: RedisServer) -> None:
    """Shut the server down without saving and start it again on its port from its last `SAVE`: a
    restore, or a failover to a replica that lagged. Blocks the event loop meanwhile, so that the
    coordinator's own look every second gets no turn between the restore and its close."""
    admin.shutdown(nosave=True)
    server.killed = True
    assert server.process is not None
    server.process.wait(10 * PATIENCE)
    server.start()


@pytest.mark.parametrize("end_saved", [True, False], ids=["end kept", "end lost"])
async def test_a_broker_gone_back_as_the_run_ended_is_written_back_before_the_coordinator_exits(
    redis_server: RedisServer, tmp_path: Path, end_saved: bool
) -> None:
    """`end kept`: the snapshot has the run's end; `end lost`: it was taken just before the end."""
    admin = redis.Redis.from_url(redis_server.url)
    broker = resolve(redis_server.url, {}, BrokerSettings())
    client = await connect(broker)
    tickets = [ticket(f"t{n}") for n in range(3)]
    said: list[str] = []
    publisher = Publisher(
        client, RUN, [t.id for t in tickets], broker.settings, said.append, lambda exc: explain(exc, broker)
    )
    dispatch = Dispatch(client, broker, tmp_path)
    stream = LAYOUT.work("sim")
    admin.xgroup_create(stream, GROUP, id="0", mkstream=True)
    try:
        await publisher.register(run_description(RUN, tickets, None, False), "me@here", "ends as restored")
        publisher.start()
        await dispatch.start(RUN, said.append, publisher.instance)
        works = {}
        for one in tickets:
            dispatch.wait_for(one.id)
            works[one.id] = await dispatch.enqueue(WorkItem(RUN, one, 1, {}))
            dispatch.expect(one.id, works[one.id])
        assert len(admin.xreadgroup(GROUP, "w1", {stream: ">"})[0][1]) == 3, "the worker took them all"
        for one in tickets:  # their ends came: the run is done with them
            dispatch.finished(works[one.id], AttemptEnd(one.id, 1, Outcome.COMPLETED, None, 3))
            dispatch.done_with(one.id)
        if not end_saved:
            admin.save()
        await publisher.aclose(STOP_S)  # the run's end
        if end_saved:
            admin.save()
        # The snapshot has the entries pending as the worker's, no end of them recorded.
        restart_from_snapshot(admin, redis_server)
        await dispatch.aclose(publisher.confirm_end)  # as `lfg run` closes them
    finally:
        await client.aclose()
    events = admin.xrange(LAYOUT.events(RUN))
    assert [fields[b"kind"] for _, fields in events][-1:] == [b"end"], said
    rewritten = "the broker had lost the run's end (it went back in time, or failed over): written again"
    assert (rewritten in said) is not end_saved, said
    assert admin.xpending(stream, GROUP)["pending"] == 0 and admin.xlen(stream) == 0, said
    assert len(admin.hkeys(LAYOUT.ended(RUN))) == 3, "each end written back: no worker runs one again"
    restored = [line for line in said if line.startswith("the broker went back in time")]
    assert restored and "3 ended tickets re-marked, 3 stale work entries removed" in restored[0], said


class StoodDown(Exception):
    pass


async def test_a_coordinator_another_took_the_run_from_writes_no_end_again(redis_server: RedisServer) -> None:
    """The run's end was lost (`HDEL`, as a broker gone back would), and a later coordinator holds the
    run (its generation is 2): this one's confirmation is refused by the fence and it stands down,
    writing nothing, where it would otherwise end the other's run."""
    admin = redis.Redis.from_url(redis_server.url)
    broker = resolve(redis_server.url, {}, BrokerSettings())
    client = await connect(broker)
    said: list[str] = []
    publisher = Publisher(client, RUN, [], broker.settings, said.append, lambda exc: explain(exc, broker))
    publisher.fence = Fence(LAYOUT.generation(RUN), 1)

    def superseded(why: str) -> NoReturn:
        raise StoodDown(why)

    publisher.superseded = superseded
    admin.set(LAYOUT.generation(RUN), 1)
    try:
        await publisher.register({"run_id": RUN, "tickets": []}, "me@here", "taken over")
        publisher.start()
        await publisher.aclose(STOP_S)
        admin.hdel(LAYOUT.run(RUN), "ended")
        admin.delete(LAYOUT.events(RUN))
        admin.set(LAYOUT.generation(RUN), 2)
        with pytest.raises(StoodDown, match="generation 2 coordinates the run, not 1"):
            await publisher.confirm_end()
    finally:
        await client.aclose()
    assert not admin.hexists(LAYOUT.run(RUN), "ended") and admin.xlen(LAYOUT.events(RUN)) == 0, said
