"""What a coordinator reads of the workers' presence on a real redis-server: every enqueue asks
whether a worker serves the ticket's provider, and the tickets enqueued together share one read of
it (counted by the server's own `INFO commandstats`), on the coordinator's clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis

from lfgtui.broker.client import connect
from lfgtui.broker.coordinator import WORKERS_KEPT_S, Dispatch
from lfgtui.broker.layout import Layout
from lfgtui.config.broker import BrokerSettings, resolve
from tests.support.fleet import until
from tests.support.redis_server import RedisServer


def calls(client: redis.Redis, command: str) -> int:
    """How many times the server ran `command` since its statistics were reset."""
    return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def present(client: redis.Redis, name: str, serves: list[str]) -> None:
    """A worker's presence, as `lfg worker` writes it (lasting far beyond the test)."""
    layout = Layout()
    said = {"serves": json.dumps({"providers": serves}), "refused": json.dumps({"sim": "no key"})}
    client.hset(layout.worker(name), mapping=said)
    client.zadd(layout.workers, {name: 4e9})


async def test_tickets_enqueued_together_read_the_workers_presence_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    watching = redis.Redis(port=redis_server.port)
    for name in ("w1", "w2", "w3"):
        present(watching, name, ["other"])
    now = [100.0]
    broker = resolve(redis_server.url, {}, BrokerSettings())
    client = await connect(broker)
    try:
        dispatch = Dispatch(client, broker, tmp_path, clock=lambda: now[0])
        watching.config_resetstat()
        together = await asyncio.gather(*(dispatch.unserved("sim") for _ in range(50)))
        one_by_one = [await dispatch.unserved("sim") for _ in range(50)]
        assert set(together + one_by_one) == {
            "no worker serves provider 'sim' yet (worker w1: no key; worker w2: no key; worker w3: no key): "
            "this waits for one that does"
        }
        assert (calls(watching, "zrange"), calls(watching, "hmget")) == (1, 3), "one read of 3 workers"
        present(watching, "w4", ["sim"])
        now[0] += WORKERS_KEPT_S
        assert await dispatch.unserved("sim") is None, "read again once it is old: w4 serves sim"
        assert (calls(watching, "zrange"), calls(watching, "hmget")) == (2, 7)
        assert await dispatch.present("w4", "sim")
        assert (calls(watching, "zrange"), calls(watching, "hmget")) == (3, 11), "present: read now"
    finally:
        await client.aclose()
        watching.close()


async def test_a_worker_come_since_the_last_read_is_present_at_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A worker that started, and took a ticket, within `WORKERS_KEPT_S` of the coordinator's last read
    of the workers (none then) is read again, not said gone: a steer to it was refused as `worker w1,
    which runs a, is gone from the broker` and queued as the next turn (a second attempt)."""
    watching = redis.Redis(port=redis_server.port)
    broker = resolve(redis_server.url, {}, BrokerSettings())
    client = await connect(broker)
    try:
        dispatch = Dispatch(client, broker, tmp_path, clock=lambda: 100.0)  # the read never gets old
        assert (
            await dispatch.unserved("sim")
            == "no worker is on the broker yet: this waits for one that serves 'sim'"
        )
        present(watching, "w1", ["sim"])
        assert await dispatch.present("w1", "sim")
        assert not await dispatch.present("w2", "sim"), "one never on the broker is still gone"
    finally:
        await client.aclose()
        watching.close()


async def test_a_worker_gone_since_the_last_read_is_gone_at_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A worker that left within `WORKERS_KEPT_S` of the coordinator's last read of the workers (it was
    shutting down then) is not present: a coding agent's follow-up sent to its own stream on that read
    was never read by anyone, and the run waited forever (a CI run timed out so)."""
    watching = redis.Redis(port=redis_server.port)
    present(watching, "w1", ["sim"])
    broker = resolve(redis_server.url, {}, BrokerSettings())
    client = await connect(broker)
    try:
        dispatch = Dispatch(client, broker, tmp_path, clock=lambda: 100.0)  # the read never gets old
        assert await dispatch.unserved("sim") is None, "the read kept: w1 serves sim"
        layout = Layout()
        watching.delete(layout.worker("w1"))  # as its `_absent` does when it stops
        watching.zrem(layout.workers, "w1")
        assert not await dispatch.present("w1", "sim")
        assert (
            await dispatch.unserved("sim")
            == "no worker is on the broker yet: this waits for one that serves 'sim'"
        ), "the read taken now is the one kept"
    finally:
        await client.aclose()
        watching.close()


async def test_a_task_beside_the_run_that_fails_is_said_in_one_inert_line(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """What runs beside the run (the lead's asks, a late answer's wait) is awaited by nobody: one that
    failed on a bug died unheard, and the lead's asks went unanswered while the run waited on."""
    broker = resolve(redis_server.url, {}, BrokerSettings())
    client = await connect(broker)
    said: list[str] = []
    try:
        dispatch = Dispatch(client, broker, tmp_path)
        dispatch.said = said.append

        async def broken() -> None:
            raise KeyError("\x1b[2Jfrom the broker\u202e")

        dispatch.background(broken(), "lead asks")
        await until(lambda: said)
    finally:
        await client.aclose()
    [line] = said
    assert line.startswith("the coordinator's lead asks stopped on a bug in lfg (KeyError: "), line
    assert "\x1b" not in line and "\u202e" not in line and "\n" not in line
