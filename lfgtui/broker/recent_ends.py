"""A worker's recent ends, written back when the broker went back in time (issue #66's leftover).

A broker restored from a snapshot (or failed over to a replica that lagged) forgets the ends workers
recorded since, and gives back their work entries. The coordinator writes back every end it read
(broker/restored.py), but an end it had not read yet is, for it, a running attempt: its entry, back
as its worker's, lapsed and was taken over, and the ticket was paid twice. The worker that recorded
the end still knows it: it keeps each end it recorded (`RecentEnd`) for `KEPT_LEASES` leases, and
every quarter lease (and at once when the broker is back after a failure, before it takes any work)
writes back, in one step per end (`REWRITE`), each the broker no longer has: the end recorded again,
its entry acknowledged and deleted, so the coordinator reads the end (as it reads one trimmed from
the run's events) and no worker takes the entry over.

A broker restored after the run's coordinator exited (a backup put back an hour later) has no
coordinator to write back at all, and its entries of tickets that completed after the backup would
run again (issue #74). So the worker keeps its ends as long as the run's keys live (`[broker]
max_age_s`, at most `MAX_KEPT`), and writes back every one it keeps of a run whose mark is not the
broker's server (it went back, and no coordinator wrote back since), once per server: reading the
marks of every run it kept ends of is one round trip a quarter lease, the write-back only where a
server changed.

Only while no other attempt of it can have started: the entry is not pending (or gone), or pending
as this worker's with the delivery that numbered the attempt; or handed out again while the run's
coordinator has not written back since the broker went back (its mark is not the server's: every
worker waits at the gate for that, broker/restored.py `Gate`, and for a lease where no coordinator
holds the run, one that exited before the restore; before, that case was left alone, and the other
worker ran a completed ticket again, issue #74). The mark is watched (`WATCH`) from that look to the
step, so a write-back of the coordinator in between makes the worker look again. An entry handed out
again after that runs on as the next attempt, whose end counts. An entry id the broker gave to another
entry since (its clock went back) is not touched: the script compares the entry's data with the one
the worker ran (its SHA-1).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lfgtui.broker.layout import GROUP, Layout

if TYPE_CHECKING:
    from redis.asyncio import Redis

KEPT_LEASES = 4
"""How long (in leases) an end a worker recorded is written back whatever the run's mark says: a
coordinator reads an end as it comes, and one paused or cut off for longer than a lease lost its
coordinator lease and writes back anew."""
AGAIN = "@again"
"""The suffix of the `ended` field that says a worker wrote that end back (no end's field ends so: it
ends with an entry id)."""
MAX_KEPT = 1_000
"""At most this many ends are kept (the oldest go first)."""
TRIES = 5
"""How many times one run's write-back looks again when the run's mark changed meanwhile."""

REWRITE = f"""
local AGAIN = '{AGAIN}'
if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then return 0 end
local found = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2], 'COUNT', 1)
local ours = #found == 0
for i = 1, #found > 0 and #found[1][2] or 0, 2 do
    if found[1][2][i] == 'data' then ours = redis.sha1hex(found[1][2][i + 1]) == ARGV[8] end
end
if #found > 0 and not ours then return -1 end
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if ok and #pending > 0 then
    local again = ARGV[10] == '1' or pending[1][2] ~= ARGV[3] or pending[1][4] ~= tonumber(ARGV[6])
    if again and ARGV[9] ~= '1' then return -1 end
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5], ARGV[4] .. AGAIN, ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[7])
if #found > 0 then redis.call('XDEL', KEYS[1], ARGV[2]) end
return 1
"""
"""KEYS: the entry's stream, the run's `ended` hash; ARGV: group, entry, this consumer, the end's field,
its value (and beside it, under the field plus `AGAIN`, this worker: the coordinator's write-back
counts the end as one the broker forgot), the delivery count that numbered the attempt, the hash's
lifetime in s, the SHA-1 of the entry's data, '1' when the run's coordinator has not written back since
the broker went back, '1' when this worker holds the entry again now. 0: the broker has the end. 1:
written back, the entry acknowledged and deleted. -1: left alone (another entry under its id, or handed
out again since the coordinator wrote back: that attempt counts)."""


@dataclass(frozen=True)
class RecentEnd:
    """An end this worker recorded: where, and what, to write back."""

    run_id: str
    stream: str
    entry: str
    field: str
    value: bytes
    deliveries: int
    data_sha1: str
    recent_until: float
    """Monotonic: written back whatever the run's mark says until then (`KEPT_LEASES`)."""
    kept_until: float
    """Monotonic: kept until then (the run's keys' lifetime)."""
    said: str
    """How the worker names it: `TICKET of run RUN (attempt N, OUTCOME)`."""

    @property
    def key(self) -> tuple[str, str]:
        """Which entry it is: its id is unique only in its stream."""
        return self.stream, self.entry


def sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


class RecentEnds:
    """The ends a worker recorded lately (see the module docstring)."""

    def __init__(self, redis: Redis, layout: Layout, consumer: str, lease_s: float, lifetime_s: int) -> None:
        self.redis, self.layout, self.consumer = redis, layout, consumer
        self.lease_s, self.lifetime_s = lease_s, lifetime_s
        self.kept: dict[tuple[str, str], RecentEnd] = {}
        """By stream and work entry (an id is unique in its stream only), oldest first."""
        self._settled: dict[str, str] = {}
        """Each run whose every kept end was written back against a server that went back: that server."""
        self._rewrite = redis.register_script(REWRITE)

    def keep(
        self,
        run_id: str,
        stream: str,
        entry: str,
        field: str,
        value: bytes,
        deliveries: int,
        data: bytes,
        said: str,
    ) -> None:
        now = time.monotonic()
        recent, until = now + self.lease_s * KEPT_LEASES, now + self.lifetime_s
        self.kept.pop((stream, entry), None)
        digest = sha1(data)
        self.kept[stream, entry] = RecentEnd(
            run_id, stream, entry, field, value, deliveries, digest, recent, until, said
        )
        while len(self.kept) > MAX_KEPT:
            del self.kept[next(iter(self.kept))]

    async def write_back(self, running: Iterable[tuple[str, str]]) -> list[RecentEnd]:
        """Write back each kept end the broker forgot, where no other attempt of it can have started
        (`running`: the entries this worker holds now, by stream and id): the recent ones, and every
        one of a run whose mark is not the server's, once per server; returns those written back."""
        now = time.monotonic()
        self.kept = {key: end for key, end in self.kept.items() if end.kept_until > now}
        holding = set(running)
        runs: dict[str, list[RecentEnd]] = {}
        for end in self.kept.values():
            runs.setdefault(end.run_id, []).append(end)
        self._settled = {run_id: server for run_id, server in self._settled.items() if run_id in runs}
        if not runs:
            return []
        pipe = self.redis.pipeline(transaction=False)
        pipe.info("server")
        for run_id in runs:
            pipe.get(self.layout.checked(run_id))
        info, *marks = await pipe.execute()
        server = str(info.get("run_id", ""))
        written: list[RecentEnd] = []
        for (run_id, ends), mark in zip(runs.items(), marks, strict=True):
            went_back = mark is not None and mark.decode() != server and self._settled.get(run_id) != server
            todo = ends if went_back else [end for end in ends if end.recent_until > now]
            if not todo or (answers := await self._run_write_back(run_id, todo, holding)) is None:
                continue
            if went_back:
                self._settled[run_id] = server
            for end, answer in zip(todo, answers, strict=True):
                if answer == 1:
                    written.append(end)
                elif answer == -1:  # another attempt counts now: nothing of this one to write back
                    self.kept.pop(end.key, None)
        return written

    async def _run_write_back(
        self, run_id: str, ends: list[RecentEnd], holding: set[tuple[str, str]]
    ) -> list[int] | None:
        """One run's ends, in one transaction under a watch of the run's mark (None: the mark kept
        changing meanwhile)."""
        from redis.exceptions import WatchError

        checked, ended = self.layout.checked(run_id), self.layout.ended(run_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            for _ in range(TRIES):
                try:
                    await pipe.watch(checked)
                    info = await pipe.info("server")
                    mark = await pipe.get(checked)
                    unchecked = mark is not None and mark.decode() != str(info.get("run_id", ""))
                    pipe.multi()
                    for end in ends:
                        args = [
                            GROUP,
                            end.entry,
                            self.consumer,
                            end.field,
                            end.value,
                            end.deliveries,
                            self.lifetime_s,
                            end.data_sha1,
                            "1" if unchecked else "0",
                            "1" if end.key in holding else "0",
                        ]
                        await self._rewrite(keys=[end.stream, ended], args=args, client=pipe)
                    return [int(answer) for answer in await pipe.execute()]
                except WatchError:
                    continue
        return None
