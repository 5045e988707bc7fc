"""The broker's loops that a cancel stops end whichever turn of the event loop the cancel lands on,
against a real redis-server: the worker (`serve`, with its presence), its lease and its reading of
the run's commands, and a run's follower (`lfg attach redis://…`, the coordinator's feed).

Python 3.11's `asyncio.wait_for`, which redis-py writes a command in, returns normally when the task
is cancelled in the turn its write completes (cpython#86296): a loop that relied on the
CancelledError went on forever, and whatever cancelled it and waited for it hung (see also
test_publisher_close.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio.sentinel import SentinelConnectionPool

from lfgtui.broker.client import CONNECT_TIMEOUT_S, client, connect, explain
from lfgtui.broker.layout import GROUP, Layout
from lfgtui.broker.publisher import Publisher
from lfgtui.broker.sentinel import follow_switches
from lfgtui.broker.watch import BrokerAttachment
from lfgtui.broker.worker import BLOCK_MS, BrokerWorker, Holding, Taken, WorkerOptions
from lfgtui.cancels import STOP_S
from lfgtui.config.broker import Broker, BrokerSettings, resolve
from lfgtui.config.load import Config
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.remote.description import run_description
from lfgtui.run.approvals import Approvals
from lfgtui.run.scheduler import Run
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer
from tests.support.topologies import SentinelSet

if TYPE_CHECKING:
    from redis.asyncio import Redis

LOOP_TURNS = 60
"""More turns of the event loop than a loop takes to send one command to a local broker."""


async def cancel_at_each_turn(start: Callable[[], Coroutine[Any, Any, None]], what: str) -> None:
    """Start the loop and cancel it `turn` turns of the event loop later, for each turn: it must end
    (waited for with a bound, stretched in a wide or busy run, so that a loop that goes on fails here
    rather than hangs)."""
    for turn in range(LOOP_TURNS):
        task = asyncio.create_task(start())
        for _ in range(turn):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=STOP_S * 2 * PATIENCE)
        assert done, f"{what} cancelled {turn} turns in never ended"
        assert task.cancelled() or task.exception() is None, f"{what} cancelled {turn} turns in"


@pytest.fixture
async def workers(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Callable[[], BrokerWorker]]:
    """Makes workers of the built-in providers, on a connection as `lfg worker` makes it (its reads
    bounded by a timeout, so redis-py writes each command in `asyncio.wait_for`)."""
    broker = resolve(redis_server.url, {}, BrokerSettings())
    redis = await connect(broker, read_timeout_s=BLOCK_MS / 1000 + 10)
    said: list[str] = []
    async with Providers(BUILTIN) as providers:
        options = WorkerOptions("w1", tmp_path)
        yield lambda: BrokerWorker(
            redis, broker, providers, options, said.append, lambda exc: explain(exc, broker)
        )
    await redis.aclose()
    assert not [s for s in said if "did not stop" in s], said


@pytest.fixture
async def worker(workers: Callable[[], BrokerWorker]) -> AsyncIterator[BrokerWorker]:
    """A worker whose loops a test starts itself (not `serve`): its lease clock closed at the end."""
    made = workers()
    yield made
    await made.clock.aclose()


async def test_a_worker_cancelled_at_any_turn_stops_serving_and_its_presence(
    workers: Callable[[], BrokerWorker],
) -> None:
    await cancel_at_each_turn(lambda: workers().serve(), "serving")
    worker = workers()
    assert not await worker.redis.exists(worker.layout.worker("w1")), "it said it is gone"


async def test_a_lease_cancelled_at_any_turn_stops_renewing(worker: BrokerWorker) -> None:
    stream = worker.layout.work("sim")
    await worker.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    entry = (await worker.redis.xadd(stream, {"work": "{}"})).decode()
    await worker.redis.xreadgroup(GROUP, "w1", {stream: ">"})
    worker.lease_s = 0  # renewed again at once: the cancel lands on each turn of a renewal
    holding = Holding(Taken(stream, entry, {}, 1, time.monotonic()))
    await cancel_at_each_turn(lambda: worker._lease(holding), "the lease")
    assert not holding.lost


async def test_reading_the_commands_cancelled_at_any_turn_stops(worker: BrokerWorker) -> None:
    control, run = worker.layout.control("run"), Run((), worker.providers, Approvals(), [])
    await cancel_at_each_turn(lambda: worker._commands(control, "0-0", "1-0", run, "t"), "reading commands")


async def test_following_a_run_cancelled_at_any_turn_stops(redis_server: RedisServer, tmp_path: Path) -> None:
    broker = resolve(redis_server.url, {}, BrokerSettings())
    redis = await connect(broker)
    try:
        await registered(redis, broker, "run", tmp_path)
        # A cancel swallowed as a read's command is written leaves that read to wait its time out: it
        # ends then, one read later, where the loop that relied on the CancelledError went on forever.
        attachment = BrokerAttachment(broker, "run", block_ms=BLOCK_MS)
        await attachment.describe()
        try:
            await cancel_at_each_turn(lambda: attachment.follow(lambda _: None, lambda _: None), "following")
        finally:
            await attachment.aclose()
    finally:
        await redis.aclose()


async def test_following_the_sentinels_cancelled_at_any_turn_stops(sentinels: SentinelSet) -> None:
    """The primary's client listens for the sentinels' `+switch-master` in a task of its own; closing
    the client cancels it. A swallowed cancel left it listening, and `lfg runs` refused by the primary
    hung as it closed (found under load in a clean-clone `.ci/run`: 1 run in ~20)."""
    primary = client(resolve(sentinels.url, {}, BrokerSettings()), read_timeout_s=CONNECT_TIMEOUT_S)
    assert isinstance(primary.connection_pool, SentinelConnectionPool)
    pool = primary.connection_pool
    try:
        await cancel_at_each_turn(lambda: follow_switches(pool), "following the sentinels")
    finally:
        await primary.aclose()


async def registered(redis: Redis, broker: Broker, run_id: str, folder: Path) -> None:
    """A run of one ticket on the broker, which never publishes: a follower waits for its events."""
    path = folder / "tickets.toml"
    path.write_text('[[ticket]]\nid = "t"\nprompt = "hi"\n')
    tickets = load_tickets(path, Config(path=None, providers=dict(BUILTIN)), BUILTIN_TOOLS, env={}).tickets
    publisher = Publisher(redis, run_id, ["t"], broker.settings, print, lambda exc: explain(exc, broker))
    await publisher.register(run_description(run_id, tickets, None, False), "me@here", "t")
    assert await redis.hget(Layout().run(run_id), "run")
