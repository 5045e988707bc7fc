"""A broker behind Redis Sentinel: a client of the primary that the sentinels name, asked again on
every new connection, so that lfg's own reconnects (a publisher's, a worker's, a feed's) reach the
new primary after a failover.

redis-py's `Sentinel.master_for` does the asking (`SentinelConnectionPool`: a connection resolves the
primary when it connects, and one to a primary demoted to a replica fails on its first write,
`READONLY`, and is dropped). That alone leaves a failover of a primary that is still up
(`SENTINEL FAILOVER`) to Sentinel's next look at the old primary, ~10 s later: until it is told to
follow, it takes the writes of every connection still open to it and then drops them. So the client
also listens for a sentinel's `+switch-master` of its primary and closes every connection at once.
Imported only by `broker/client.py`, once redis-py is known installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool
from redis.exceptions import AuthenticationError, ConnectionError, RedisError, TimeoutError

from lfgtui.cancels import raise_swallowed_cancel, stop

SWITCH = "+switch-master"
"""What a sentinel publishes once a failover named a new primary: `MASTER OLD_IP OLD_PORT NEW_IP
NEW_PORT`."""
LISTEN_S = 1.0
"""How long one wait for a sentinel's message lasts (under the sentinels' socket timeout)."""
AWAY_S = (0.5, 5.0)
"""Waits before subscribing again once every sentinel failed: from the first, doubling to the last."""
SILENT_S = 3.0
"""How long a sentinel listened to may say nothing before it is asked whether it still answers: one
that hangs (its machine paused, a network that drops without a reset) says no switch, and the
others' would be missed."""


class SentinelRefused(MasterNotFoundError):
    """No primary was found because a sentinel refused lfg's password for it (or asked for one):
    said as the sentinels' side, not the primary's, which `MasterNotFoundError` cannot tell apart."""

    def __init__(self, sentinel: str, reply: str) -> None:
        super().__init__(f"the sentinel at {sentinel} said: {reply}")
        self.sentinel = sentinel
        self.reply = reply


class Sentinels(Sentinel):
    """redis-py's `Sentinel`, whose failure to find a primary says why when the sentinels are the
    cause: one refused lfg's password (or asked for one), or none could be spoken to (TLS to a plain
    one, plain text to a TLS one, a certificate not trusted)."""

    async def discover_master(self, service_name: str) -> Any:
        try:
            return await super().discover_master(service_name)
        except MasterNotFoundError:
            await self._raise_why()
            raise

    async def _raise_why(self) -> None:
        """Raise `SentinelRefused` for the first sentinel that refuses a PING for its password, or the
        first sentinel's own failure when none answers one (`discover_master` keeps only the text of
        why each failed). Asked only once no sentinel named a primary."""
        unreachable: list[Exception] = []
        for sentinel in self.sentinels:
            try:
                await sentinel.ping()
            except AuthenticationError as refused:
                kwargs = sentinel.connection_pool.connection_kwargs
                raise SentinelRefused(f"{kwargs['host']}:{kwargs['port']}", str(refused)) from None
            except (ConnectionError, TimeoutError, OSError) as exc:
                unreachable.append(exc)
        if unreachable and len(unreachable) == len(self.sentinels):
            raise unreachable[0]


class SentinelPrimary(Redis):
    """The primary's client: follows the sentinels' switches from its first command on; closing it
    stops that and closes its connections to the sentinels too, which `master_for`'s client leaves
    open."""

    _following: asyncio.Task[None] | None = None

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self._follow()
        return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        self._follow()
        return super().pipeline(transaction, shard_hint)

    def _follow(self) -> None:
        pool = self.connection_pool
        if self._following is None and isinstance(pool, SentinelConnectionPool):
            self._following = asyncio.get_running_loop().create_task(follow_switches(pool))

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self._following is not None:
            await stop([self._following])
        try:
            await super().aclose(close_connection_pool)
        finally:
            pool = self.connection_pool
            if isinstance(pool, SentinelConnectionPool):
                await pool.sentinel_manager.aclose()


async def follow_switches(pool: SentinelConnectionPool) -> None:
    """Close every connection of `pool` (those in use too: their commands fail as a broker that went
    away, and lfg asks again) whenever a sentinel says its primary switched, and ask that sentinel
    first from then on: the others may not know yet. Runs until cancelled, on any sentinel that
    answers; a cancel redis-py swallowed (`lfgtui/cancels.py`) is raised after each command."""
    manager = pool.sentinel_manager
    failures = 0
    while True:
        for sentinel in list(manager.sentinels):
            pubsub = sentinel.pubsub()
            try:
                await pubsub.subscribe(SWITCH)
                failures = 0
                await _caught_up(pool, sentinel)
                silent = 0.0
                while True:
                    raise_swallowed_cancel()
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=LISTEN_S)
                    if message is None:
                        if (silent := silent + LISTEN_S) >= SILENT_S:
                            await sentinel.ping()  # one that hangs times out: the next is listened to
                            silent = 0.0
                    elif _switched(message, pool.service_name):
                        await _switch(pool, sentinel)
            except (RedisError, OSError):
                raise_swallowed_cancel()
                continue
            finally:
                await pubsub.aclose()
        failures += 1
        await asyncio.sleep(min(AWAY_S[0] * 2 ** (failures - 1), AWAY_S[1]))


async def _switch(pool: SentinelConnectionPool, sentinel: Redis) -> None:
    """The primary switched, as `sentinel` says: close every connection, and ask it first from now on."""
    sentinels = pool.sentinel_manager.sentinels
    sentinels.remove(sentinel)
    sentinels.insert(0, sentinel)
    await pool.disconnect(inuse_connections=True)


async def _caught_up(pool: SentinelConnectionPool, sentinel: Redis) -> None:
    """A switch said while no sentinel was listened to (the one before hung, or its connection
    dropped) is not missed: the primary `sentinel` names now, once subscribed, is compared with the
    one the pool's connections reach."""
    named = await sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", pool.service_name)
    if not isinstance(named, list | tuple) or len(named) != 2 or pool.master_address is None:
        return  # none named (or not a host and a port): nothing to compare
    host, port = (part.decode(errors="replace") if isinstance(part, bytes) else str(part) for part in named)
    if not port.isdigit():
        return
    if (host, int(port)) != tuple(pool.master_address):  # asked again on reconnecting, as after a switch
        await pool.disconnect(inuse_connections=True)


def _switched(message: Mapping[str, Any], master: str) -> bool:
    data = message.get("data")
    text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
    return text.split(" ", 1)[0] == master


def primary(
    sentinels: tuple[tuple[str, int], ...],
    master: str,
    options: Mapping[str, object],
    sentinel_options: Mapping[str, object],
) -> Redis:
    """A client of `master` as `sentinels` name it: `options` for the primary's connections,
    `sentinel_options` for the sentinels' (which take no database, user or password of the primary)."""
    manager = Sentinels(list(sentinels), sentinel_kwargs=dict(sentinel_options), **options)
    return manager.master_for(master, redis_class=SentinelPrimary)
