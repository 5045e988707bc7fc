"""Who holds a work entry, decided on the broker in one step: take over a lapsed entry, renew a lease,
record an attempt's end and acknowledge its entry, each as one Lua script.

Checking ownership (XPENDING) and then acting on it (XCLAIM, HSET, XACK) in two round trips lets
another worker act in between: a renewal could take back an entry a worker had just taken over, and a
stale attempt's end could stand in for the live one's. In a script nothing runs between the check and
the write. A stream or group the broker lost (a restart without persistence, FLUSHALL, a failover to
a lagging replica) reads as an entry nobody holds.

`TAKE_OVER` finds lapsed entries however many live ones are pending: `XPENDING … IDLE` filters the
whole pending list on the server, where `XAUTOCLAIM` scans only ten entries per `COUNT` and leaves the
rest to a cursor. It takes as many as the worker has free slots at once, which it then starts
together, and says when the next one lapses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

TAKE_OVER = """
local running = {}
for i = 5, #ARGV do running[ARGV[i]] = true end
local lease, want = tonumber(ARGV[3]), tonumber(ARGV[4])
local function others(pending) return not (pending[2] == ARGV[2] and running[pending[1]]) end
local taken = {}
local lapsed = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', lease, '-', '+', want + #ARGV - 4)
for _, pending in ipairs(lapsed) do
    if #taken == want then break end
    if others(pending) then
        local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], lease, pending[1])
        if #claimed > 0 and claimed[1][2] then
            taken[#taken + 1] = {claimed[1][1], claimed[1][2], pending[4] + 1}
        else
            redis.call('XACK', KEYS[1], ARGV[1], pending[1])
        end
    end
end
local soonest, half = lease, math.floor(lease / 2)
local overdue = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', half, '-', '+', 64 + #ARGV - 4)
for _, pending in ipairs(overdue) do
    if others(pending) then soonest = math.min(soonest, math.max(lease - pending[3], 0)) end
end
return {soonest, taken}
"""
"""KEYS: the stream; ARGV: group, this consumer, the lease in ms, how many to take, then the entries
this consumer runs. Up to that many entries idle for longer than the lease, oldest first, each claimed
only if it still is (XCLAIM's min-idle): their ids, fields and delivery counts; and how soon (ms) the
next entry lapses, of those overdue (unrenewed for half a lease), the lease if none is, so that a
free slot looks again right then instead of up to a renewal interval later. Never one this consumer
runs, whose renewal a stalled event loop held up (its own renewal will confirm it): the worker would
run it twice. An entry whose message was trimmed away is acknowledged: nothing is left to run."""

HOLDER = """
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if not ok or #pending == 0 then return '' end
return pending[1][2] .. '#' .. pending[1][4]
"""
"""Lua, the body of `holder()`: who holds the entry, as consumer#delivery ('' for nobody), so that a
consumer of the same name that took it over since (a worker restarted under its name while the old
process was paused) holds it, not the old one (issue #74)."""

RENEW = (
    "local function holder()"
    + HOLDER
    + """end
local held = holder()
if held == ARGV[3] .. '#' .. ARGV[6] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
    return 1
end
local consumer, count = string.match(held, '^(.*)#(%d+)$')
local mine = consumer == ARGV[3]
if consumer and tonumber(count) <= tonumber(ARGV[6]) and (not mine or ARGV[8] == '1') then
    if ARGV[8] == '1' and (mine or redis.call('HGET', KEYS[4], ARGV[7]) ~= consumer) then
        redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'RETRYCOUNT', ARGV[6], 'JUSTID')
        return 3
    end
    return 4
end
if held ~= '' or ARGV[4] == '' then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[5])
return 2
"""
)
"""KEYS: the stream, the run's `ended` hash, the attempt's `held` key, the run's `ran` hash; ARGV:
group, entry, this consumer, the attempt's field of the `ended` hash ('' while not known), the lease in
ms, the delivery it holds, the attempt's field of the `ran` hash, '1' once this consumer started the
attempt. Reset the entry's idle clock if this consumer still holds it, in that delivery: 1. If another
consumer holds it in the same delivery or an earlier one, the broker went back in time (a failover to
a replica that lagged, a restore) and handed this delivery out again (issue #74): a consumer that
started the attempt takes it back (`RETRYCOUNT`: the count that numbers the attempt stays) unless the
`ran` hash says the other started it since, 3; else this one stands down, 4. The other, which waits
at its gate until the run's coordinator wrote back (broker/restored.py), finds it no longer its own
and stands down; of two that both started, the one the `ran` hash names (the later) keeps it. This
consumer's own name in an earlier delivery is such a replay too (the process before this one under the
name ran that delivery, and this one took the entry over since): taken back once started, 3. If the
broker lost the entry's delivery (gone from its stream, or there but pending for nobody: a broker
that went back in time, restored or failed over, and would hand it out again), with no end recorded
of it, nobody else can be running it: this consumer goes on, deleting the entry and saying so in the
`held` key, which lapses a lease after its last renewal (the coordinator declares the entry lost
only once it has): 2. Else (another consumer holds it, or this one's name in a later delivery, or
its end is recorded) 0, touching nothing."""

FINISH = (
    "local function holder()"
    + HOLDER
    + """end
local held = holder()
if held ~= '' and held ~= ARGV[3] .. '#' .. ARGV[7] then return 0 end
if ARGV[5] ~= '' then
    if held == '' then
        if redis.call('HSETNX', KEYS[2], ARGV[4], ARGV[5]) == 0
                and redis.call('HGET', KEYS[2], ARGV[4]) ~= ARGV[5] then
            return 3
        end
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
value ('' for none), the hash's lifetime in s, the delivery it holds. Record the end and acknowledge
the entry if this consumer holds it, in that delivery: 1. If nobody does (the broker lost it), the
end is recorded unless one is there already: 2. If another worker holds it (or this one's name in a
later delivery: a worker restarted under its name took it over), nothing is written: 0. If nobody
does and another end of the attempt is recorded (its coordinator gave the attempt up when the broker
went back in time, and runs the ticket again: broker/restored.py), this one is dropped: 3. An entry
whose end is recorded is deleted from its stream: the end, and the run's work index, say all that
is left to know of it."""


@dataclass(frozen=True)
class Held:
    """Where a renewal of an entry the broker lost says its worker still runs it: the run's `ended`
    hash and the attempt's field there (an end recorded means it ran), and its `held` key; and the
    run's `ran` hash and the attempt's field there (who started it: see `RENEW`)."""

    ended: str
    field: str
    key: str
    ran: str
    ran_field: str


class Finished(IntEnum):
    """What recording an attempt's end found (`FINISH`)."""

    TAKEN = 0
    """Another consumer holds the entry (or this one's name in a later delivery): nothing written."""
    RECORDED = 1
    ALONE = 2
    """Nobody held the entry (the broker lost its delivery): the end recorded unless one was."""
    ENDED_ELSEWHERE = 3
    """Nobody held the entry and another end of the attempt is recorded: this one was dropped."""


class Renewal(IntEnum):
    """What a renewal found (`RENEW`)."""

    LOST = 0
    """Another consumer holds the entry in a later delivery (or this one's name does), or its end is
    recorded: this worker stands down."""
    RENEWED = 1
    ALONE = 2
    """The broker lost the entry's delivery: this worker runs it on alone (`held`)."""
    TAKEN_BACK = 3
    """The broker handed this delivery out again to another consumer: taken back, renewed."""
    REPLAYED = 4
    """The broker handed this delivery out again to another consumer, which keeps it: this worker
    stands down."""

    @property
    def mine(self) -> bool:
        return self in (Renewal.RENEWED, Renewal.ALONE, Renewal.TAKEN_BACK)


@dataclass(frozen=True)
class Lapsed:
    """An entry taken over: its id, fields, and how many times it has been delivered now."""

    entry: str
    fields: dict[bytes, bytes]
    deliveries: int


@dataclass(frozen=True)
class TakenOver:
    """What one look for lapsed entries found: those now this consumer's, and how soon (s) the next
    may lapse (at most the lease)."""

    lapsed: list[Lapsed]
    next_lapse_s: float


class Ownership:
    """The scripts above, bound to one broker connection and consumer group, as one consumer."""

    def __init__(self, redis: Redis, group: str, consumer: str) -> None:
        self.redis, self.group, self.consumer = redis, group, consumer
        self._take_over = redis.register_script(TAKE_OVER)
        self._renew = redis.register_script(RENEW)
        self._finish = redis.register_script(FINISH)

    async def take_over(self, stream: str, lease_ms: int, running: Iterable[str], count: int) -> TakenOver:
        """Up to `count` of the oldest entries of `stream` whose holder's lease lapsed, but for those
        this consumer is `running`, now this consumer's; and when the next may lapse."""
        args = [self.group, self.consumer, lease_ms, count, *running]
        soonest, found = await self._take_over(keys=[stream], args=args)
        lapsed = [
            Lapsed(entry.decode(), dict(zip(flat[::2], flat[1::2], strict=True)), int(deliveries))
            for entry, flat, deliveries in found
        ]
        return TakenOver(lapsed, int(soonest) / 1000)

    async def renew(
        self,
        stream: str,
        entry: str,
        deliveries: int,
        lease_ms: int,
        held: Held | None = None,
        started: bool = False,
    ) -> Renewal:
        """Whether this consumer still held the entry in its delivery `deliveries` (its lease now
        renewed), holds it alone since the broker lost it (`held` says where that is kept), or took
        it back from a replay (`started`: this consumer started the attempt); see `RENEW`."""
        # Not known yet: the stream stands in for the keys the script then never touches, since a
        # broker's ACLs check every key a script is given ("" is a key this user may not access).
        keys = [stream, *((stream, stream, stream) if held is None else (held.ended, held.key, held.ran))]
        field, ran_field = ("", "") if held is None else (held.field, held.ran_field)
        args = [
            self.group,
            entry,
            self.consumer,
            field,
            lease_ms,
            deliveries,
            ran_field,
            "1" if started else "0",
        ]
        return Renewal(int(await self._renew(keys=keys, args=args)))

    async def finish(
        self,
        stream: str,
        entry: str,
        deliveries: int,
        ended: str,
        field: str,
        value: bytes | None,
        lifetime_s: int,
    ) -> Finished:
        """Record an attempt's end (`value`, None: nothing to record) in the `ended` hash and
        acknowledge its entry, unless another consumer holds the entry now (or this one's name in a
        delivery after `deliveries`), or another end of it is recorded; see `FINISH`."""
        args = [self.group, entry, self.consumer, field, value or b"", lifetime_s, deliveries]
        return Finished(int(await self._finish(keys=[stream, ended], args=args)))
