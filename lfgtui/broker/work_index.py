"""A run's work index: each of its tickets' latest work entry (its stream, id and data), written in
the same step as the entry itself, so that work streams can forget an entry once its attempt ended
and `lfg resume --broker` still knows what each ticket was last sent, without reading every
provider's stream whole.

Enqueuing is one Lua script: `XADD` of the entry, `HSET` of the index and its lifetime, and, at
most once a `TRIM_EVERY_S`, `XTRIM MINID` of the stream's entries older than `max_age_s` (those
nobody acknowledged: a dropped entry, a cancelled one; one still waiting that long is lost to its
coordinator, which enqueues it again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lfgtui.broker.fence import FENCE, Fence
from lfgtui.broker.layout import loads

if TYPE_CHECKING:
    from redis.asyncio import Redis

TRIM_EVERY_S = 60.0
"""How often, at most, a coordinator trims a work stream by age."""

ENQUEUE = (
    FENCE
    + """
local entry = redis.call('XADD', KEYS[1], '*', 'data', ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], cjson.encode({stream = KEYS[1], entry = entry, data = ARGV[1]}))
redis.call('EXPIRE', KEYS[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('XTRIM', KEYS[1], 'MINID', ARGV[4]) end
return entry
"""
)
"""KEYS: the work stream, the run's work index, the run's generation; ARGV: the entry's data, its
ticket, the index's lifetime in s, the oldest entry id to keep ('' for no trimming now), the
coordinator's generation (broker/fence.py)."""


@dataclass(frozen=True)
class Indexed:
    """A ticket's latest work entry as the index holds it."""

    stream: str
    entry: str
    data: bytes


class WorkIndex:
    """A coordinator's enqueuing: each entry added and indexed in one step, its stream trimmed by age
    now and then."""

    def __init__(self, redis: Redis, lifetime_s: float, clock: Callable[[], float] = time.time) -> None:
        self.lifetime_s, self.clock = lifetime_s, clock
        self._enqueue = redis.register_script(ENQUEUE)
        self._trimmed: dict[str, float] = {}

    async def enqueue(self, stream: str, index: str, data: bytes, ticket_id: str, fence: Fence) -> str:
        """Add the entry to `stream` and index it for `ticket_id`; returns its id. Raises
        `Superseded` when a later coordinator holds the run (`fence`)."""
        now, trim = self.clock(), ""
        if now - self._trimmed.get(stream, float("-inf")) >= TRIM_EVERY_S:
            trim = f"{int((now - self.lifetime_s) * 1000)}-0"
        args = [data, ticket_id, int(self.lifetime_s), trim]
        entry = await fence.call(self._enqueue, [stream, index], args)
        if trim:
            self._trimmed[stream] = now
        return entry.decode()


async def read_index(redis: Redis, index: str) -> dict[str, Indexed] | None:
    """Each ticket's latest work entry, by ticket; None when the run has no index (it was
    coordinated by an lfg from before it). A value that is not what `ENQUEUE` writes is left out."""
    if not await redis.exists(index):
        return None
    found = {}
    for ticket, value in (await redis.hgetall(index)).items():
        fields = loads(value)
        stream, entry, data = fields.get("stream"), fields.get("entry"), fields.get("data")
        if isinstance(stream, str) and isinstance(entry, str) and isinstance(data, str):
            found[ticket.decode("utf-8", "replace")] = Indexed(stream, entry, data.encode())
    return found
