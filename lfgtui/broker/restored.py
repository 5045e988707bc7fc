"""A broker that went back in time: restored from a snapshot, failed over to a replica that lagged,
or flushed. It gives back work entries whose attempts ended and forgets that they ended; workers would
take them over and run those tickets again (issue #66: 17 of 24 paid twice in one run).

The coordinator is the one party that still knows what ended, so it writes that back. Each
coordinator marks the run with the broker's server (`INFO server` `run_id`, which every restart and
failover changes) it last checked its knowledge against (`Layout.checked`). It looks every
`CHECK_EVERY_S` (and at once when its coordinator lease had to be claimed again): a mark that is not
the server's now means the broker may have gone back, and one step on the broker (`RECONCILE`)
writes back the end of every work entry the run is done with, acknowledges and deletes those
entries, writes the run's work index back, gives back to its worker a running attempt's delivery the
broker handed out again to another (a replica that lagged: issue #74), gives up the entries of other
attempts that were running whose delivery the broker went back on (their tickets are enqueued again,
honestly, as next attempts), and marks the run with the server now.

An end the coordinator had not read when the broker went back is its worker's to write back
(broker/recent_ends.py): the write-back gives each entry still pending as its worker's a fresh lease
for that.

A worker starts no attempt until the run's mark is the server's (`Gate`, which reads the entry's
recorded end in the same transaction): the write-back and the mark are one step, so a worker that reads
before the coordinator wrote back waits, and one that reads after finds the end. A run whose
coordinator is gone (no coordinator lease for a lease) is not waited for: nothing would write back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lfgtui.broker.fence import FENCE, Fence
from lfgtui.broker.layout import GROUP, Layout, ran_field
from lfgtui.broker.recent_ends import AGAIN
from lfgtui.broker.work import AttemptEnd, Work, ended_field, ended_work
from lfgtui.events import ErrorInfo, ErrorKind, Outcome
from lfgtui.formats import plural

if TYPE_CHECKING:
    from redis.asyncio import Redis

CHECK_EVERY_S = 1.0
"""How often, at most, a coordinator compares the broker's server with its run's mark: workers wait
for it after any restart, so well under a lease."""

SERVER = """
local ok, info = pcall(redis.call, 'INFO', 'server')
local server = ''
if ok and type(info) == 'string' then server = string.match(info, 'run_id:(%x+)') or '' end
"""
"""Lua: `server`, the broker's run id now ('' where INFO is refused: then nothing can be told)."""

LOOK = (
    SERVER
    + """
return {server, redis.call('GET', KEYS[1]) or false}
"""
)
"""KEYS: the run's mark. The server now, and the mark (false: none)."""

RECONCILE = (
    FENCE
    + SERVER
    + f"local AGAIN = '{AGAIN}'"
    + """
local todo = cjson.decode(ARGV[3])
local marked, removed, rewound, handed = {}, 0, {}, {}
for _, done in ipairs(todo.done) do
    local stream, entry, fieldname, value = done[1], done[2], done[3], done[4]
    local again = redis.call('HSETNX', KEYS[2], fieldname, value) == 0
    if not again or redis.call('HDEL', KEYS[2], fieldname .. AGAIN) == 1 then
        marked[#marked + 1] = fieldname
    end
    pcall(redis.call, 'XACK', stream, ARGV[1], entry)
    removed = removed + redis.call('XDEL', stream, entry)
end
for _, running in ipairs(todo.running) do
    local stream, entry, fieldname, value = running[1], running[2], running[3], running[4]
    if #redis.call('XRANGE', stream, entry, entry, 'COUNT', 1) > 0 then
        local ok, pending = pcall(redis.call, 'XPENDING', stream, ARGV[1], entry, entry, 1)
        if not ok or #pending == 0 then
            removed = removed + redis.call('XDEL', stream, entry)
        elseif running[5] ~= '' and pending[1][2] ~= running[5] and pending[1][4] <= running[6]
                and redis.call('HGET', KEYS[4], running[7]) ~= pending[1][2] then
            redis.call('XCLAIM', stream, ARGV[1], running[5], 0, entry, 'RETRYCOUNT', running[6], 'JUSTID')
            handed[#handed + 1] = fieldname
        elseif running[5] ~= '' and pending[1][2] == running[5] and pending[1][4] < running[6] then
            redis.call('XCLAIM', stream, ARGV[1], running[5], 0, entry, 'RETRYCOUNT', running[6], 'JUSTID')
            handed[#handed + 1] = fieldname
        elseif pending[1][4] ~= running[6] or (running[5] ~= '' and pending[1][2] ~= running[5]) then
            redis.call('HSET', KEYS[2], fieldname, value)
            redis.call('XACK', stream, ARGV[1], entry)
            redis.call('XDEL', stream, entry)
            rewound[#rewound + 1] = fieldname
        else
            redis.call('XCLAIM', stream, ARGV[1], pending[1][2], 0, entry, 'JUSTID')
        end
    end
end
if #todo.done + #rewound > 0 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
for _, latest in ipairs(todo.index) do
    local indexed = cjson.encode({stream = latest[2], entry = latest[3], data = latest[4]})
    redis.call('HSET', KEYS[3], latest[1], indexed)
end
if #todo.index > 0 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
redis.call('SET', KEYS[1], server, 'EX', ARGV[2])
return {server, marked, removed, rewound, handed}
"""
)
"""KEYS: the run's mark, its `ended` hash, its work index, its `ran` hash, its generation; ARGV: the consumer
group, the keys' lifetime in s, what the coordinator knows (`Ledger.payload`), its generation (nothing is
written once a later coordinator took the run: broker/fence.py). Each entry the run is done with: its end
written back unless one is there (one its worker wrote back first, `AGAIN`, counts as written back), the
entry acknowledged and deleted. Each running attempt's entry still on its stream: pending for nobody,
deleted (its worker, renewing, holds it on as one the broker lost: ownership.py `RENEW`); pending as its
worker's, its idle time reset (without counting a delivery): the broker's own count ran on from before it
went back, and its worker, still running it or having ended it unread (broker/recent_ends.py), gets a lease
to renew it or write its end back before a lapse hands it out again; pending as another consumer's in the
same delivery or an earlier one (the broker handed the delivery its worker runs out again: a replica that
lagged, issue #74), handed back to its worker (`RETRYCOUNT`: the count that numbers the attempt stays),
unless the `ran` hash says the other started it (the other waits at its gate for this write-back, finds the
entry no longer its own and stands down); pending as its worker's name in an earlier delivery (the process
before it under that name ran that one; this one took the entry over since), handed back to it alike;
pending otherwise than as its worker's (the consumer, when known, and the delivery that numbers the
attempt), given up: its end written as interrupted (so its worker's next
renewal stops it, and a worker that took it finds it ended), acknowledged and deleted. The index written
back; the mark set to the server now. Returns the server, the `ended` fields written back, how many entries
were deleted, and the `ended` fields of the running attempts' entries given up and of those handed back (an
entry's id alone names it on its stream only: `Work`)."""


@dataclass(frozen=True)
class Running:
    """A waiting attempt whose worker's events came: how its entry must be held on the broker."""

    attempt: int
    deliveries: int
    """The entry's delivery that numbers the attempt (`attempt - enqueued as + 1`)."""
    worker: str
    """Its worker's name ('' while not known)."""


@dataclass(frozen=True)
class Restored:
    """What one write-back did: tickets whose end it wrote back, stale entries it deleted, and the
    running attempts' entries it gave up (their tickets to enqueue again)."""

    server: str
    remarked: tuple[str, ...]
    removed: int
    rewound: tuple[Work, ...]
    handed_back: tuple[Work, ...] = ()
    """The running attempts' entries the broker had handed out again, handed back to their workers."""

    @property
    def went_back(self) -> bool:
        return bool(self.remarked or self.removed or self.rewound or self.handed_back)

    def said(self, before: str | None) -> str:
        """The run's one line about it: what was written back, or, where nothing was (a failover to a
        replica that had it all, a restart with its append-only file), that the server changed."""
        where = f" (server {before[:8] or '?'} → {self.server[:8] or '?'})" if before else ""
        if not self.went_back:
            return (
                f"the broker's server changed (restarted or failed over){where}: it forgot no ended "
                "ticket or work entry of this run, so nothing was written back and nothing runs again"
            )
        parts = [
            f"{plural(len(self.remarked), 'ended ticket')} re-marked",
            f"{plural(self.removed, 'stale work entry', 'stale work entries')} removed",
        ]
        if self.handed_back:
            handed = plural(len(self.handed_back), "running attempt")
            parts.append(f"{handed} given back to its worker (the broker had handed it out again)")
        if self.rewound:
            parts.append(f"{plural(len(self.rewound), 'running attempt')} enqueued again")
        return (
            f"the broker went back in time (restored, failed over or flushed){where}: "
            f"{', '.join(parts)}; no ended ticket runs again"
        )


@dataclass
class Ledger:
    """What a coordinator knows of its run's work entries, to write back when the broker forgot it. Each
    is kept by its ticket and id (`Work`): two streams give the same id."""

    done: dict[Work, tuple[str, bytes]] = field(default_factory=dict)
    """Each entry the run is done with: its stream and end."""
    latest: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """Each ticket's latest entry: its stream, id and data (the work index's value)."""
    enqueued_as: dict[Work, int] = field(default_factory=dict)
    """The attempt number each entry was enqueued as."""
    running: dict[Work, Running] = field(default_factory=dict)

    def enqueued(self, ticket_id: str, stream: str, entry: str, data: bytes, attempt: int) -> None:
        self.latest[ticket_id] = (stream, entry, data.decode())
        self.enqueued_as[ticket_id, entry] = attempt

    def started(self, entry: str, ticket_id: str, attempt: int, worker: str | None) -> None:
        """The attempt's worker's events came (an entry neither enqueued nor adopted is left)."""
        if (first := self.enqueued_as.get((ticket_id, entry))) is None:
            return
        known = self.running.get((ticket_id, entry))
        name = worker or (known.worker if known is not None and known.attempt == attempt else "")
        self.running[ticket_id, entry] = Running(attempt, attempt - first + 1, name)

    def finished(self, stream: str, entry: str, end: AttemptEnd) -> None:
        self.running.pop((end.ticket, entry), None)
        self.done[end.ticket, entry] = (stream, end.value())

    def payload(self, streams: dict[Work, str], why: str) -> bytes:
        """`RECONCILE`'s knowledge; `streams`: those of the attempts still waiting; `why`: what a running
        attempt whose entry is given up ends with."""
        error = ErrorInfo(ErrorKind.CONNECTION, why)
        running = [
            [
                streams[ticket, entry],
                entry,
                ended_field(ticket, entry),
                AttemptEnd(ticket, r.attempt, Outcome.INTERRUPTED, error, 0).value().decode(),
                r.worker,
                r.deliveries,
                ran_field(ticket, r.attempt),
            ]
            for (ticket, entry), r in self.running.items()
            if (ticket, entry) in streams
        ]
        done = [
            [stream, entry, ended_field(ticket, entry), value.decode()]
            for (ticket, entry), (stream, value) in self.done.items()
        ]
        index = [[ticket, *latest] for ticket, latest in self.latest.items()]
        return json.dumps({"done": done, "running": running, "index": index}).encode()


class Restoration:
    """A coordinator's look at the broker's server, and its write-back (see the module docstring)."""

    def __init__(self, redis: Redis, layout: Layout, run_id: str, lifetime_s: float) -> None:
        self.layout, self.run_id, self.lifetime_s = layout, run_id, int(lifetime_s)
        self._look = redis.register_script(LOOK)
        self._reconcile = redis.register_script(RECONCILE)

    async def stale(self) -> str | None:
        """The run's mark when it is not the broker's server now (`""`: no mark), else None."""
        server, mark = await self._look(keys=[self.layout.checked(self.run_id)])
        mark = "" if mark is False or mark is None else mark.decode()
        return None if mark == server.decode() else mark

    async def write_back(self, ledger: Ledger, streams: dict[Work, str], why: str, fence: Fence) -> Restored:
        """Write what `ledger` knows back, in one step, and mark the run with the server now; raise
        `Superseded` when a later coordinator holds the run (`fence`)."""
        keys = [
            self.layout.checked(self.run_id),
            self.layout.ended(self.run_id),
            self.layout.work_index(self.run_id),
            self.layout.ran(self.run_id),
        ]
        args = [GROUP, self.lifetime_s, ledger.payload(streams, why)]
        server, marked, removed, rewound, handed = await fence.call(self._reconcile, keys, args)
        tickets = tuple(dict.fromkeys(ended_work(name)[0] for name in marked))
        rewound, handed = (tuple(ended_work(name) for name in names) for names in (rewound, handed))
        return Restored(server.decode(), tickets, int(removed), rewound, handed)


class Gate:
    """A worker's look, before it starts an attempt, whether the run's coordinator checked this broker.

    One transaction (`MULTI`: the broker's server, the run's mark, its coordinator lease, the entry's
    recorded end), not a script: a script needs write access to every key it names, and a worker may
    only read the mark and the lease (docs/fleet.md, "Who may write what")."""

    def __init__(self, redis: Redis, layout: Layout) -> None:
        self.redis, self.layout = redis, layout

    async def look(
        self, run_id: str, ticket_id: str, stream: str, entry: str
    ) -> tuple[int, AttemptEnd | None, tuple[str, int] | None]:
        """1 once the run's coordinator checked the broker's server (or the run has no mark: a
        coordinator from before it, or a broker that lost everything); 0 while it has not and a
        coordinator holds the run; 2 when none does. With it, the entry's recorded end (or None): one
        its worker wrote back while the mark still differs is final too; and who holds the entry
        (consumer and delivery count; None: nobody), as the write-back left it: a delivery the broker
        handed out again is handed back to the worker that runs it (`RECONCILE`)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.info("server")
        pipe.get(self.layout.checked(run_id))
        pipe.exists(self.layout.coordinator(run_id))
        pipe.hget(self.layout.ended(run_id), ended_field(ticket_id, entry))
        pipe.xpending_range(stream, GROUP, entry, entry, 1)
        info, mark, coordinated, value, pending = await pipe.execute(raise_on_error=False)
        for answer in (info, mark, coordinated, value):
            if isinstance(answer, Exception):
                raise answer
        end = None if value is None else AttemptEnd.read(value)
        holder = None
        if isinstance(pending, list) and pending:  # not an error: a group the broker lost
            holder = pending[0]["consumer"].decode(), int(pending[0]["times_delivered"])
        if mark is not None and mark.decode() != str(info.get("run_id", "")):
            return (0 if coordinated else 2), end, holder  # an end recorded since (written back) stands
        return 1, end, holder
