"""Broker URLs as the Redis ecosystem writes them, against a real redis-server: a database number in
the path that workers, coordinator, `lfg attach` and `lfg runs` all use; a password in the URL used
and never said; and what a broker that stops answering is said to be."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from lfgtui.broker.client import connect, explain
from lfgtui.config.broker import BrokerError, BrokerSettings, resolve
from tests.support import warm_lfg
from tests.support.fleet import Fleet, coordinate, ends, finish, ran_on
from tests.support.lfg import Lfg, recorded_run
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

PASSWORD = "s3cret-pw"
HELLO = '[[ticket]]\nid = "hi"\nprompt = "Say hello."\nprovider = "sim"\nmodel = "hello"\n'


def lfg_command(lfg: Lfg, *args: str) -> subprocess.CompletedProcess[str]:
    return warm_lfg.run(
        [sys.executable, "-m", "lfgtui", *args, "--config", str(lfg.config)],
        env=lfg.env,
        timeout=60 * PATIENCE,
    )


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    return Lfg(tmp_path)


@pytest.fixture
def on_db_3(tmp_path: Path, start_redis: Callable[..., RedisServer]) -> Iterator[tuple[Fleet, RedisServer]]:
    """A fleet whose URL holds a password and names database 3, as a REDIS_URL does."""
    server = start_redis(password=PASSWORD)
    found = Fleet(Lfg(tmp_path), f"redis://:{PASSWORD}@127.0.0.1:{server.port}/3")
    yield found, server
    found.stop()


def test_a_worker_and_its_coordinator_keep_every_key_in_the_urls_database(
    on_db_3: tuple[Fleet, RedisServer],
) -> None:
    fleet, server = on_db_3
    fleet.start("w1")
    code, events, err = finish(coordinate(fleet, fleet.lfg.tickets(HELLO)))
    assert code == 0, err
    assert ends(events) == {("hi", 1): "completed"} and ran_on(events, "hi") == {"w1"}
    run_id = recorded_run(err)
    assert f"watch it with: lfg attach redis://127.0.0.1:{server.port}/3 {run_id}" in err
    for db, keys in ((3, True), (0, False)):
        client = redis.Redis(port=server.port, password=PASSWORD, db=db)
        try:
            assert bool(client.keys("lfg:*")) is keys and (client.dbsize() > 0) is keys, f"database {db}"
        finally:
            client.close()
    fleet.stop()
    assert PASSWORD not in err + fleet.said("w1")


TIMED = ("t", "since", "ttft_ms", "tokens_per_s")


def same_but_ttft(event: dict[str, Any]) -> dict[str, Any]:
    """An NDJSON line but for its time, its TTFT and its rate, which a watcher reads to within a
    millisecond of the coordinator's (see `within_a_ms`): both count output times in whole ms from
    the worker's start, each on its own clock."""
    return {k: v for k, v in event.items() if k not in TIMED}


def published(event: dict[str, Any]) -> bool:
    """Not the coordinator's own word that an attempt is queued (its `attempt_queued` line and the
    attention line it moves): that is not on the broker, whose watchers learn of an attempt when its
    worker starts it."""
    queued = event["type"] == "attention" and event["state"] == "waiting" and event["detail"] == "a worker"
    return event["type"] != "attempt_queued" and not queued


def within_a_ms(local: dict[str, Any], remote: dict[str, Any]) -> bool:
    """The two views' TTFTs differ by at most a millisecond, and so do the spans their rates imply
    (output tokens over tok/s), each end of which may round the other way."""
    if (local.get("ttft_ms") is None) != (remote.get("ttft_ms") is None):
        return False
    if local.get("ttft_ms") is not None and abs(local["ttft_ms"] - remote["ttft_ms"]) > 1.0:
        return False
    rates = local.get("tokens_per_s"), remote.get("tokens_per_s")
    if None in rates:
        return rates[0] == rates[1]
    spans = [local["output_tokens"] / rate for rate in rates]
    return abs(spans[0] - spans[1]) <= 0.002


def test_attach_and_runs_read_the_urls_database_with_the_run_named_apart(
    on_db_3: tuple[Fleet, RedisServer],
) -> None:
    fleet, server = on_db_3
    fleet.start("w1")
    code, events, err = finish(coordinate(fleet, fleet.lfg.tickets(HELLO)))
    assert code == 0, err
    run_id = recorded_run(err)
    events = [e for e in events if published(e)]
    local = [same_but_ttft(e) for e in events]
    for args in ((fleet.url, run_id), (f"{fleet.url}#{run_id}",)):
        attached = lfg_command(fleet.lfg, "attach", *args, "--json")
        assert attached.returncode == 0, attached.stderr
        remote = [json.loads(line) for line in attached.stdout.splitlines()]
        assert [same_but_ttft(e) for e in remote] == local
        timed = [(e, r) for e, r in zip(events, remote, strict=True) if not within_a_ms(e, r)]
        assert not timed, timed
    listed = lfg_command(fleet.lfg, "runs", "--broker", fleet.url)
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].startswith(run_id), listed.stderr
    other = lfg_command(fleet.lfg, "runs", "--broker", f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0")
    where = f"redis://127.0.0.1:{server.port}"
    assert f"no runs on the broker at {where}\n\nworkers\nno worker is on the broker at {where}\n" == (
        other.stdout
    ), other.stderr
    twice = lfg_command(fleet.lfg, "attach", f"{fleet.url}#{run_id}", "0123456789ab", "--json")
    assert twice.returncode == 2 and "give one" in twice.stderr
    said = "".join(p.stdout + p.stderr for p in (listed, other, twice))
    assert PASSWORD not in said


def test_a_password_in_the_urls_query_is_never_said(lfg: Lfg, redis_server: RedisServer) -> None:
    for url in (
        f"redis://127.0.0.1:{redis_server.port}/0?password={PASSWORD}",
        f"redis://:{PASSWORD}@127.0.0.1:{redis_server.port}/0#RUN",
        f"redis://u:{PASSWORD}#x@127.0.0.1:{redis_server.port}",
    ):
        for args in (("worker", "--broker", url), ("runs", "--broker", url)):
            done = lfg_command(lfg, *args)
            assert done.returncode == 2 and "lfg: " in done.stderr, done.stderr
            assert PASSWORD not in done.stdout + done.stderr and "x@" not in done.stderr, done.stderr


async def test_a_broker_that_stops_answering_is_not_said_to_want_tls(redis_server: RedisServer) -> None:
    broker = resolve(redis_server.url, {}, BrokerSettings())
    client = await connect(broker, read_timeout_s=0.5)
    assert redis_server.process is not None
    os.kill(redis_server.process.pid, signal.SIGSTOP)  # paused, as a host under load or being migrated
    try:
        with pytest.raises(redis.exceptions.TimeoutError) as caught:
            await client.get("anything")
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
        await client.aclose()
    said = explain(caught.value, broker)
    assert said is not None and said.startswith(f"cannot reach the broker at {redis_server.url}")
    assert "rediss" not in said


async def test_a_first_answer_that_never_comes_is_not_said_to_want_tls() -> None:
    with socket.socket() as listening:  # takes connections (the kernel accepts them), never answers
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        broker = resolve(f"redis://127.0.0.1:{port}", {}, BrokerSettings())
        with pytest.raises(BrokerError) as caught:
            await connect(broker, read_timeout_s=0.5)
    said = str(caught.value)
    assert said.startswith(f"cannot reach the broker at redis://127.0.0.1:{port}") and "rediss" not in said


async def test_a_client_of_a_url_with_a_database_writes_there(redis_server: RedisServer) -> None:
    broker = resolve(f"{redis_server.url}/5", {}, BrokerSettings())
    client = await connect(broker)
    try:
        await client.set("lfg:here", "1")
    finally:
        await client.aclose()
    plain = Redis(port=redis_server.port, db=5)
    try:
        assert await plain.get("lfg:here") == b"1"
    finally:
        await plain.aclose()
