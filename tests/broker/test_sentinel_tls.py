"""Sentinels, a primary and a replica that speak only TLS (`rediss+sentinel://`, certificates made by
openssl in the test's folder, the CA given as `[broker] ca_file`), with passwords on both sides:
real processes, and a failover by SIGKILL that the client follows over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lfgtui.broker.client import connect, explain, until_answered
from lfgtui.config.broker import BrokerError, BrokerSettings, resolve
from tests.support.redis_server import TlsFiles
from tests.support.topologies import Locks, SentinelSet

PASSWORDS = {"LFG_BROKER_PASSWORD": "prim4ry-Secret", "LFG_SENTINEL_PASSWORD": "s3ntinel-Secret"}


@pytest.fixture
def tls_set(tmp_path: Path) -> Iterator[SentinelSet]:
    files = TlsFiles.make(tmp_path / "tls")
    locks = Locks(
        password=PASSWORDS["LFG_BROKER_PASSWORD"], sentinel_password=PASSWORDS["LFG_SENTINEL_PASSWORD"]
    )
    found = SentinelSet.start(tmp_path / "sentinel", Locks(**{**vars(locks), "tls": files}))
    yield found
    found.stop()


async def test_a_tls_sentinel_url_reaches_the_primary_over_tls_and_the_new_one_after_it_is_killed(
    tls_set: SentinelSet,
) -> None:
    assert tls_set.url.startswith("rediss+sentinel://") and tls_set.locks.tls is not None
    broker = resolve(tls_set.url, PASSWORDS, BrokerSettings(ca_file=tls_set.locks.tls.ca))
    client = await connect(broker)
    said: list[str] = []
    try:
        await client.set("lfg:before", "1")
        assert (await client.connection_pool.get_master_address())[1] == tls_set.primary.port
        tls_set.primary_killed()
        written = await until_answered(
            lambda: client.set("lfg:after", "2"), lambda exc: explain(exc, broker), said.append, "retrying"
        )
        assert written and (await client.get("lfg:before")) == b"1"
        assert (await client.connection_pool.get_master_address())[1] == tls_set.replica.port
    finally:
        await client.aclose()
    assert not [line for line in said if "certificate" in line or "TLS" in line], said


async def test_tls_sentinels_refuse_plain_text_and_an_unknown_ca_in_one_line_each(
    tls_set: SentinelSet,
) -> None:
    plain = resolve(tls_set.url.replace("rediss+", "redis+", 1), PASSWORDS, BrokerSettings())
    with pytest.raises(BrokerError) as refused:
        await connect(plain)
    assert "rediss+sentinel://" in str(refused.value), str(refused.value)
    unknown = resolve(tls_set.url, PASSWORDS, BrokerSettings())
    with pytest.raises(BrokerError) as untrusted:
        await connect(unknown)
    assert "certificate this machine does not trust" in str(untrusted.value), str(untrusted.value)
