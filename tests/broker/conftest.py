"""Fixtures of the broker's tests: a real `redis-server` per test (see redis_server.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.support.fleet import Fleet
from tests.support.lfg import Lfg
from tests.support.redis_server import RedisServer, TlsFiles
from tests.support.topologies import SentinelSet


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Starts a `RedisServer` with the options given (`password`, `tls`, `aof`); all stopped at the end."""
    servers: list[RedisServer] = []

    def start(**options: object) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", **options)  # type: ignore[arg-type]
        servers.append(server)
        server.start()
        return server

    yield start
    died = [why for server in servers if (why := server.died()) is not None]
    for server in servers:
        server.stop()
    assert not died, "; ".join(died)


@pytest.fixture
def redis_server(start_redis: Callable[..., RedisServer]) -> RedisServer:
    """A plain `redis-server`: no password, no TLS, no persistence."""
    return start_redis()


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    return TlsFiles.make(tmp_path / "tls")


@pytest.fixture
def fleet(tmp_path: Path, redis_server: RedisServer) -> Iterator[Fleet]:
    found = Fleet(Lfg(tmp_path), redis_server.url)
    yield found
    found.stop()


@pytest.fixture
def admin(fleet: Fleet) -> Iterator[redis.Redis]:
    """A plain redis-py client of the fleet's broker, for a test that looks at (or spoils) its keys."""
    client = redis.Redis.from_url(fleet.url)
    yield client
    client.close()


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    """A primary, a replica and three sentinels (tests/support/topologies.py), stopped at the end."""
    found = SentinelSet.start(tmp_path / "sentinel")
    yield found
    found.stop()
