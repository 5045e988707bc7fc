"""A broker behind Redis Sentinel: a client of the primary that the sentinels name, asked again on
every new connection, so that lfg's own reconnects (a publisher's, a worker's, a feed's) reach the
new primary after a failover.

redis-py's `Sentinel.master_for` does the asking (`SentinelConnectionPool`: a connection resolves the
primary when it connects, and one to a primary demoted to a replica fails on its first write,
`READONLY`, and is dropped). Imported only by `broker/client.py`, once redis-py is known installed.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool


class SentinelPrimary(Redis):
    """The primary's client; closing it closes its connections to the sentinels too, which
    `master_for`'s client leaves open."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            pool = self.connection_pool
            if isinstance(pool, SentinelConnectionPool):
                await pool.sentinel_manager.aclose()


def primary(
    sentinels: tuple[tuple[str, int], ...],
    master: str,
    options: Mapping[str, object],
    sentinel_options: Mapping[str, object],
) -> Redis:
    """A client of `master` as `sentinels` name it: `options` for the primary's connections,
    `sentinel_options` for the sentinels' (which take no database, user or password of the primary)."""
    manager = Sentinel(list(sentinels), sentinel_kwargs=dict(sentinel_options), **options)
    return manager.master_for(master, redis_class=SentinelPrimary)
