"""The workers' presence on the broker, on the broker's own clock (`TIME`).

A worker says it is here (`PREFIX:worker:NAME`, and its name in `PREFIX:workers` scored by when that
lapses) every third of a lease; coordinators, `lfg runs` and the fleet view list the workers whose
presence has not lapsed. Scored by the worker's wall clock and read by the reader's, a worker whose
clock was an hour behind was "not on the broker" while it ran a ticket (issue #66): the coordinator
said no worker served its provider, and a sub-agent's cancel was refused as "gone". Both sides now
count on the broker's clock, as leases already do (an entry's idle time is the broker's).

A worker also says here the last thing that went wrong for it (`error`, cut to `MAX_ERROR`
characters, and when, `error_at`, on the broker's clock), so that a ticket that stays queued while a
live worker of its provider keeps failing can say why (broker/failing.py), and `lfg runs` shows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

    from lfgtui.broker.layout import Layout

MAX_ERROR = 500
"""How many characters of a worker's last error its presence holds."""


@dataclass(frozen=True)
class WorkerPresence:
    """A worker as it says itself on the broker: the providers it serves and those it does not, why."""

    name: str
    serves: tuple[str, ...]
    refused: dict[str, str]
    error: str = ""
    """The last thing that went wrong on it, as it said (cut to `MAX_ERROR`), or ""."""
    error_at: float | None = None
    """When it said that, on the broker's clock."""

    def why_not(self, provider: str) -> str:
        return self.refused.get(provider, f"no provider {provider!r} in its config")


class Presence:
    """A worker's writes of its presence (`announce`), each timed by the broker."""

    def __init__(self, redis: Redis, layout: Layout, name: str) -> None:
        self.redis, self.layout, self.name = redis, layout, name

    async def announce(self, fields: dict[str, str | int], lasts_s: float, error: str = "") -> None:
        """Say this worker is here for `lasts_s` from the broker's now, with `fields`, and `error`
        when something went wrong since the last write (kept until the next one). Two round trips:
        the broker's clock, then the writes (a script would need the worker's ACL user to read its
        presence keys too, which docs/fleet.md's table does not give it)."""
        now = broker_now(await self.redis.time())
        key = self.layout.worker(self.name)
        said: dict[str, str | int | float] = {**fields, "seen": now}
        if error:
            said |= {"error": error[:MAX_ERROR], "error_at": now}
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping=said)
        pipe.expire(key, int(lasts_s) + 1)
        pipe.zadd(self.layout.workers, {self.name: now + lasts_s})
        pipe.zremrangebyscore(self.layout.workers, "-inf", now)
        await pipe.execute()


def broker_now(clock: tuple[int, int]) -> float:
    """The broker's `TIME` as seconds."""
    return clock[0] + clock[1] / 1_000_000


def said_at(value: bytes | None) -> float | None:
    """A time a worker wrote in its presence (`error_at`), None when it is not a finite number."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) else None


def ask_live(pipe: Pipeline, layout: Layout) -> None:
    """Queue, on a pipeline, what `live` reads: the broker's clock and every worker's lapse time (a
    read a watcher's read-only ACL allows, unlike a script)."""
    pipe.time()
    pipe.zrange(layout.workers, 0, -1, withscores=True)


def live(clock: tuple[int, int], members: list[tuple[bytes, float]]) -> list[bytes]:
    """The names, of those `ask_live` read, whose presence has not lapsed by the broker's clock."""
    now = broker_now(clock)
    return [name for name, lapses in members if lapses > now]


async def live_workers(redis: Redis, layout: Layout) -> list[bytes]:
    """The workers on the broker now, by its clock: one round trip."""
    pipe = redis.pipeline(transaction=False)
    ask_live(pipe, layout)
    clock, members = await pipe.execute()
    return live(clock, members)
