"""Who holds a work entry, decided on the broker in one step: take over a lapsed entry, renew a lease,
record an attempt's end and acknowledge its entry, each as one Lua script.

Checking ownership (XPENDING) and then acting on it (XCLAIM, HSET, XACK) in two round trips lets
another worker act in between: a renewal could take back an entry a worker had just taken over, and a
stale attempt's end could stand in for the live one's. In a script nothing runs between the check and
the write. A stream or group the broker lost (a restart without persistence, FLUSHALL, a failover to
a lagging replica) reads as an entry nobody holds.

`TAKE_OVER` finds lapsed entries however many live ones are pending: `XPENDING … IDLE` filters the
whole pending list on the server, where `XAUTOCLAIM` scans only ten entries per `COUNT` and leaves the
rest to a cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

TAKE_OVER = """
local running = {}
for i = 4, #ARGV do running[ARGV[i]] = true end
local lapsed = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], '-', '+', 16 + #ARGV - 3)
for _, pending in ipairs(lapsed) do
    if not (pending[2] == ARGV[2] and running[pending[1]]) then
        local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], pending[1])
        if #claimed > 0 and claimed[1][2] then
            return {claimed[1][1], claimed[1][2], pending[4] + 1}
        end
        redis.call('XACK', KEYS[1], ARGV[1], pending[1])
    end
end
return false
"""
"""KEYS: the stream; ARGV: group, this consumer, the lease in ms, then the entries this consumer runs.
The first entry idle for longer than the lease, claimed only if it still is (XCLAIM's min-idle): its
id, fields and delivery count. Not one this consumer runs, whose renewal a stalled event loop held
up (its own renewal will confirm it): the worker would run it twice. An entry whose message was
trimmed away is acknowledged: nothing is left to run."""

HOLDER = """
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if not ok or #pending == 0 then return '' end
return pending[1][2]
"""

RENEW = (
    "local function holder()"
    + HOLDER
    + """end
if holder() ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""
)
"""KEYS: the stream; ARGV: group, entry, this consumer. Reset the entry's idle clock if this consumer
still holds it: 1; else 0, touching nothing."""

FINISH = (
    "local function holder()"
    + HOLDER
    + """end
local held = holder()
if held ~= '' and held ~= ARGV[3] then return 0 end
if ARGV[5] ~= '' then
    if held == '' then
        redis.call('HSETNX', KEYS[2], ARGV[4], ARGV[5])
    else
        redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
    end
    redis.call('EXPIRE', KEYS[2], ARGV[6])
end
if held ~= '' then redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) end
if ARGV[5] ~= '' then redis.call('XDEL', KEYS[1], ARGV[2]) end
if held == '' then return 2 end
return 1
"""
)
"""KEYS: the stream, the run's `ended` hash; ARGV: group, entry, this consumer, the end's field, its
value ('' for none), the hash's lifetime in s. Record the end and acknowledge the entry if this
consumer holds it: 1. If nobody does (the broker lost it), the end is recorded unless one is there
already: 2. If another worker holds it, nothing is written: 0. An entry whose end is recorded is
deleted from its stream: the end, and the run's work index, say all that is left to know of it."""


@dataclass(frozen=True)
class Lapsed:
    """An entry taken over: its id, fields, and how many times it has been delivered now."""

    entry: str
    fields: dict[bytes, bytes]
    deliveries: int


class Ownership:
    """The scripts above, bound to one broker connection and consumer group, as one consumer."""

    def __init__(self, redis: Redis, group: str, consumer: str) -> None:
        self.group, self.consumer = group, consumer
        self._take_over = redis.register_script(TAKE_OVER)
        self._renew = redis.register_script(RENEW)
        self._finish = redis.register_script(FINISH)

    async def take_over(self, stream: str, lease_ms: int, running: Iterable[str]) -> Lapsed | None:
        """The oldest entry of `stream` whose holder's lease lapsed, but for those this consumer is
        `running`, now this consumer's; None if none."""
        args = [self.group, self.consumer, lease_ms, *running]
        found = await self._take_over(keys=[stream], args=args)
        if not found:
            return None
        entry, flat, deliveries = found
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        return Lapsed(entry.decode(), fields, int(deliveries))

    async def renew(self, stream: str, entry: str) -> bool:
        """Whether this consumer still held the entry (its lease now renewed)."""
        return await self._renew(keys=[stream], args=[self.group, entry, self.consumer]) == 1

    async def finish(
        self, stream: str, entry: str, ended: str, field: str, value: bytes | None, lifetime_s: int
    ) -> bool:
        """Record an attempt's end (`value`, None: nothing to record) in the `ended` hash and
        acknowledge its entry, unless another consumer holds the entry now: False then."""
        args = [self.group, entry, self.consumer, field, value or b"", lifetime_s]
        return await self._finish(keys=[stream, ended], args=args) != 0
