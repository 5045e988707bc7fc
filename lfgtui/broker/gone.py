"""A follow-up left on the own stream of a worker gone from the broker.

A coding agent's follow-up goes to the worker that has the agent's session, on that worker's own
stream (`Layout.assigned`), which nobody else reads. A worker that leaves after the follow-up was
put there (killed, its presence lapsing; cut off; gone just after the coordinator looked) would hold
it forever. Once its presence has lapsed the coordinator takes the entry back in one step (`TAKE_BACK`),
fenced against that worker coming back under its name:

- never delivered to it: the entry is deleted from its stream and added, without the agent's session,
  to the provider's work stream as the same attempt, and the run's work index names the new one (a
  worker that reads the old one anyway refuses it as not the ticket's latest);
- delivered, and its lease lapsed (it was running the follow-up when it died): its end is recorded
  `interrupted` in the run's `ended` hash, and it is acknowledged and deleted, as a write-back gives
  up a running attempt's entry (broker/restored.py): that worker's next renewal finds it no longer
  its own and stops, one that starts it finds it ended; the coordinator enqueues the next attempt;
- delivered and acknowledged with no end recorded (its worker dropped it, refusing it, then left):
  given up alike. Before, it was left where nothing would ever run or end it, and the run waited;
- else (its lease renewed still, or its end recorded) it is left alone.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from lfgtui.broker.fence import FENCE, Fence
from lfgtui.broker.layout import GROUP, Layout
from lfgtui.broker.work import AttemptEnd, ended_field

if TYPE_CHECKING:
    from redis.asyncio import Redis

TAKE_BACK = (
    FENCE
    + """
local function after(a, b)
    local am, as = string.match(a, '^(%d+)-(%d+)$')
    local bm, bs = string.match(b, '^(%d+)-(%d+)$')
    if not am or not bm then return false end
    am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
    return am > bm or (am == bm and as > bs)
end
if #redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2], 'COUNT', 1) == 0 then return {0} end
local delivered = '0-0'
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if ok then
    for _, group in ipairs(groups) do
        local said = {}
        for i = 1, #group, 2 do said[group[i]] = group[i + 1] end
        if said['name'] == ARGV[1] then delivered = said['last-delivered-id'] end
    end
end
if after(ARGV[2], delivered) then
    redis.call('XDEL', KEYS[1], ARGV[2])
    local entry = redis.call('XADD', KEYS[2], '*', 'data', ARGV[4])
    redis.call('HSET', KEYS[3], ARGV[5], cjson.encode({stream = KEYS[2], entry = entry, data = ARGV[4]}))
    redis.call('EXPIRE', KEYS[3], ARGV[6])
    return {1, entry}
end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending > 0 and pending[1][3] < tonumber(ARGV[3]) then return {0} end
if redis.call('HSETNX', KEYS[4], ARGV[7], ARGV[8]) == 0 then return {0} end
redis.call('EXPIRE', KEYS[4], ARGV[6])
if #pending > 0 then redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('XDEL', KEYS[1], ARGV[2])
return {2}
"""
)
"""KEYS: the gone worker's own stream, the provider's work stream, the run's work index, its `ended`
hash, its generation; ARGV: the group, the entry, the lease in ms, the entry's data as it moves
(without the agent's session), its ticket, the keys' lifetime in s, the entry's `ended` field, its
end as given up (`interrupted`), the coordinator's generation (broker/fence.py). 1 and the new entry:
never delivered (after the group's last delivered id), moved; 2: delivered and pending unrenewed for a
lease, or acknowledged with no end recorded (its worker dropped it, and nothing would ever run or end
it), given up; 0: left alone (gone from the stream, renewed within a lease, or an end recorded)."""


class TakenBack(IntEnum):
    """What `TAKE_BACK` did with the entry."""

    LEFT = 0
    MOVED = 1
    GIVEN_UP = 2


class GoneWorkers:
    """A coordinator's `TAKE_BACK`, bound to its broker connection and its run's keys."""

    def __init__(self, redis: Redis, layout: Layout, lifetime_s: float, lease_s: float) -> None:
        self.layout, self.lifetime_s, self.lease_ms = layout, int(lifetime_s), int(lease_s * 1000)
        self._take_back = redis.register_script(TAKE_BACK)

    async def take_back(
        self, run_id: str, own: str, entry: str, work: str, moved: bytes, given_up: AttemptEnd, fence: Fence
    ) -> tuple[TakenBack, str | None]:
        """Take `entry` back from a gone worker's own stream `own` (see `TAKE_BACK`): `moved` is its
        data as it moves to the provider's work stream `work`, `given_up` its end should its worker
        have taken it. What was done, and the entry it moved to (None unless moved). Raises
        `Superseded` when a later coordinator holds the run."""
        layout, ticket_id = self.layout, given_up.ticket
        keys = [own, work, layout.work_index(run_id), layout.ended(run_id)]
        field = ended_field(ticket_id, entry)
        args = [GROUP, entry, self.lease_ms, moved, ticket_id, self.lifetime_s, field, given_up.value()]
        done, *moved_to = await fence.call(self._take_back, keys, args)
        return TakenBack(int(done)), moved_to[0].decode() if moved_to else None
