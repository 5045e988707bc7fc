"""`lfg run --publish`: a sink that publishes the run's events to the broker, never making it wait.

Per event the sink only appends to a list (and notes a ticket's state when an attempt starts or
ends, or an approval is asked or answered, and its attention state: alerts/states.py `Attentions`,
O(1) per token); every `BATCH_S` the pending events become one entry (the
SSE message's JSON, encoded once, as remote/hub.py does) in a queue bounded in bytes. One writer
task sends what is queued in a pipeline (`XADD … MAXLEN ~`, the run's entry in the index, the keys'
expiry), at most `PIPELINE_ENTRIES` at a time, and drops an entry only once the broker took it.

When the broker is slow or away the queue fills: new batches are then dropped, and what they held
(per attempt, the range of seqs) is gathered into one gap entry at the place they would have
been, so watchers see what is missing. The writer tries again with backoff and says once that the
broker went away and once that it is back. The run's history on this machine stays whole.

The publisher of the machine that owns the run (a runner, a coordinator) also keeps the run's entry
in the index and writes its `end`. The entry has the tickets' states, those waiting for an
approval, and its `attention`: the tickets that need the person (an approval, a question), each since
when, and those ended that nobody has looked at in the runner's TUI (`looked`), written when they
change, and the run's cost and tok/s (from its metrics book), written
then too (an attempt's end shows its final cost) and otherwise at most every `TOTALS_EVERY_S`; all
in the pipeline a batch goes in, never per token. A worker's publisher (`owner=False`) only adds
the events of the attempts it runs to the same stream, beside other workers': one publisher for all
the attempts of a run that the worker runs at once (broker/publishers.py), so that a batch holds
all of them. The worker holds each attempt's work entry until the broker has its events: `mark`
once the attempt ended, then `drained` (or `aclose`) and `took`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from lfgtui.alerts.states import Attentions, Standing
from lfgtui.broker.fence import FENCE, Fence, Superseded, fenced, stand_down
from lfgtui.broker.layout import (
    ENTRY_END,
    ENTRY_EVENTS,
    ENTRY_GAP,
    ENTRY_NOTICE,
    ENTRY_TICKET,
    Layout,
    dumps,
)
from lfgtui.broker.restored import SERVER
from lfgtui.cancels import STOP_S, raise_swallowed_cancel
from lfgtui.config.broker import BrokerError, BrokerSettings
from lfgtui.contest import FACTS
from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptQueued,
    AttemptStarted,
    Event,
    Status,
    SubagentChanged,
)
from lfgtui.remote.codec import encode
from lfgtui.remote.description import ticket_json
from lfgtui.remote.hub import BATCH_S
from lfgtui.run.retry import RetryPolicy

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.cost.metrics import MetricsBook
    from lfgtui.tickets.ticket import Ticket

PUBLISH = (
    FENCE
    + """
local entries, fields = tonumber(ARGV[6]), tonumber(ARGV[7])
for i = 8, 7 + 3 * entries, 3 do
    local kind, n, data = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'kind', kind, 'n', n, 'data', data)
end
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4]) end
local first = 8 + 3 * entries
for i = first, first + 2 * fields - 1, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[3]) end
"""
)
"""KEYS: the run's event stream, its entry in the index, the index of runs, its generation; ARGV: the
stream's MAXLEN, the keys' lifetime in s, the oldest entry id to keep ('' for no trimming now), the
run's id, its start ('' for no rewrite of it in the index), how many entries, how many fields of the
index, each entry's kind, number and data, each field and value, the coordinator's generation: a
coordinator's batch, as a pipeline sends another publisher's, written only while no later coordinator
holds the run (broker/fence.py)."""
CONFIRM = (
    FENCE
    + """
local written = 0
if redis.call('HEXISTS', KEYS[2], 'run') == 1 and redis.call('HEXISTS', KEYS[2], 'ended') == 0 then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'kind', ARGV[3], 'n', ARGV[4], 'data', ARGV[5])
    redis.call('HSET', KEYS[2], 'ended', ARGV[6])
    written = 1
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
"""
    + SERVER
    + """
local replicas = 0
ok, info = pcall(redis.call, 'INFO', 'replication')
if ok and type(info) == 'string' then
    replicas = tonumber(string.match(info, 'connected_slaves:(%d+)')) or 0
end
return {written, server, replicas}
"""
)
"""KEYS: the run's event stream, its entry in the index, its generation; ARGV: the stream's MAXLEN, the
keys' lifetime in s, the end entry's kind, number and data, when it ended, the coordinator's
generation. The run's `end` written again where the broker has the run but not its end (it went back
in time, or a failover lost the write), and the keys' lifetime renewed: a write, so that a `WAIT` after
it on the same connection covers the end. Returns whether it wrote the end, the broker's server and
how many replicas it has now (where `INFO` is refused: '' and 0)."""
CONFIRM_S = 30.0
"""How long, at most, the run's owner waits for the broker's replicas to have its `end` before it exits."""
CONFIRM_WAIT_MS = 1000
"""One `WAIT` for them."""
PIPELINE_ENTRIES = 256
"""Entries sent in one round trip."""
ENTRY_BYTES = 16 * 1024
"""What one entry holds at most of a batch's events (a larger single event goes alone): with
`[broker] max_bytes` it bounds a run's event stream in bytes, not only in entries."""
HEARTBEAT_S = 5.0
"""How often the run's entry in the index is touched while nothing else is sent: `lfg runs` tells a
run whose publisher went silent by it."""
TRIM_EVERY_S = 60.0
"""How often entries older than `max_age_s` are trimmed from the event stream (`XTRIM MINID ~`)."""
RESENDS = RetryPolicy(max_retries=0, base_delay_s=0.25, max_delay_s=2.0)
"""Waits before sending again to a broker that failed: 0.25 s doubling to 2 s; never given up."""
TOTALS_EVERY_S = 1.0
"""How often the run's cost and tok/s in the index are brought up to date (while batches go)."""
PENDING = "pending"
RUNNING = "running"
QUEUED = "queued"
"""A ticket whose attempt waits on the broker for a worker (`AttemptQueued`)."""


_UNPUBLISHED = frozenset(FACTS)
"""A run's facts (a tournament's checks and verdicts) do not cross the broker (yet): no entry."""


@dataclass
class _Entry:
    kind: str
    data: bytes


@dataclass
class _Gap:
    """Batches dropped in a row: per attempt, the first and last seq and how many events."""

    now: float
    lost: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    sealed: bool = False
    """Taken for sending: drops after it start a new gap."""

    def add(self, events: Sequence[Event], now: float) -> None:
        self.now = now
        for event in events:
            seqs = self.lost.setdefault((event.ticket, event.attempt), [event.seq, event.seq, 0])
            seqs[0], seqs[1], seqs[2] = min(seqs[0], event.seq), max(seqs[1], event.seq), seqs[2] + 1

    def entry(self) -> _Entry:
        lost = [
            {"ticket": t, "attempt": a, "first_seq": first, "last_seq": last, "events": n}
            for (t, a), (first, last, n) in self.lost.items()
        ]
        return _Entry(ENTRY_GAP, dumps({"now": self.now, "lost": lost}))


def _entries(now: float, events: list[dict[str, object]]) -> list[bytes]:
    """A batch's events as entries of at most `ENTRY_BYTES` each (but a larger single event): one
    entry in the common case, split in halves only when it is larger."""
    data = dumps({"now": now, "events": events})
    if len(data) <= ENTRY_BYTES or len(events) == 1:
        return [data]
    half = len(events) // 2
    return _entries(now, events[:half]) + _entries(now, events[half:])


class Publisher:
    """The sink (see the module docstring). `register` the run, `start`, feed it, then `aclose`."""

    def __init__(
        self,
        redis: Redis,
        run_id: str,
        tickets: Sequence[str],
        settings: BrokerSettings,
        said: Callable[[str], None],
        explain: Callable[[Exception], str | None],
        clock: Callable[[], float] = time.monotonic,
        owner: bool = True,
        book: MetricsBook | None = None,
    ) -> None:
        """`book`: the run's metrics, whose cost and tok/s the index shows (None: it shows neither)."""
        self.redis = redis
        self.owner = owner
        self.run_id = run_id
        self.settings = settings
        self._max_len = min(settings.max_len, max(settings.max_bytes // ENTRY_BYTES, 1))
        """The stream's `MAXLEN`: `max_len`, or fewer when `max_bytes` of entries of at most
        `ENTRY_BYTES` are fewer."""
        self.layout = Layout(settings.prefix)
        self.said = said
        self.explain = explain
        self.clock = clock
        self.t0 = clock()
        self.instance = secrets.token_hex(4)
        self.states = dict.fromkeys(tickets, PENDING)
        self.book = book
        self.waiting: dict[str, float] = {}
        """The tickets waiting for an approval, each since when (wall clock): the fleet's `a`."""
        self.attention = Attentions()
        self.needs_you: dict[str, float] = {}
        """The tickets that need the person (alerts/states.py `NEEDS_YOU`), each since when (wall clock)."""
        self.unread: set[str] = set()
        """The tickets that ended and that nobody has looked at in the runner's TUI."""
        self.subagents: dict[str, dict[str, str]] = {}
        """Each ticket's sub-agents in its latest attempt, their states by session id: the fleet
        view's count of them."""
        self._totals_at = -TOTALS_EVERY_S
        self._entry: dict[str, str | float | bytes] = {}
        """The run's description in the index, written again once a broker that failed is back (one
        restarted without its append-only file has lost it)."""
        self._rewrite_entry = False
        self._described: bytes | None = None
        """The run's description anew (a ticket added), for the index's next write."""
        self.described_mark = 0
        """The mark (`mark`) of the last ticket entry queued (`added`): a coordinator enqueues an
        added ticket's work once the broker has it, so watchers know the ticket before its events."""
        self.sent = 0
        """Entries the broker took."""
        self.dropped = 0
        """Events dropped because the queue was full."""
        self.ends_dropped: set[tuple[str, int]] = set()
        """The attempts (ticket, attempt) whose end was dropped: the broker never gets it (only a gap)."""
        self._added = 0
        """Items ever put in the queue: a mark counts up to one, and `sent` reaches it once they went."""
        self._progress = asyncio.Event()
        """Set (and replaced) whenever the broker took entries or the writer stopped."""
        self._numbered = 0
        self._queue: deque[_Entry | _Gap] = deque()
        self._queued_bytes = 0
        self._pending: list[Event] = []
        self._flush: asyncio.TimerHandle | None = None
        self._wake = asyncio.Event()
        self._states_changed = True
        self._ended = False
        self._writer: asyncio.Task[None] | None = None
        self.fence: Fence | None = None
        """A coordinator's fence (broker/fence.py): set, each batch is one fenced script."""
        self.superseded: Callable[[str], NoReturn] = stand_down
        """What a batch the fence refused calls, with why."""
        self._publish = redis.register_script(PUBLISH)
        self._confirm = redis.register_script(CONFIRM)
        self._end: _Entry | None = None
        """The owner's `end` entry, once queued: written again when the broker lost it (`confirm_end`)."""
        self.replicas = 0
        """The most replicas the broker's primary was seen with: the `end` must reach one of them where
        there were any (a failover promotes the replica furthest along, so one down of several does not
        hold every run's end)."""

    async def register(self, description: dict[str, Any], who: str, title: str, again: bool = False) -> None:
        """Claim the run's id in the index and describe it there; raises `BrokerError` when another
        run holds the id (never mixing two runs), or the broker's `RedisError`. `again`: the run is
        there already, from its coordinator before this one (`lfg resume --broker`, which checked
        that it is this run): it is described anew, keeping when it started."""
        run_key, now = self.layout.run(self.run_id), time.time()
        started = now
        if again:
            with contextlib.suppress(TypeError, ValueError):
                started = float(await self.redis.hget(run_key, "started"))  # type: ignore[arg-type]
        elif not await self.redis.hsetnx(run_key, "run", dumps(description)):
            raise BrokerError(f"the broker already holds a run {self.run_id}: not publishing over it")
        user, _, host = who.rpartition("@")
        fields = {"who": user, "host": host or socket.gethostname(), "title": title, "started": started}
        self._entry = {**fields, "run": dumps(description)}
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(run_key, mapping={**fields, **self._index_fields(now)})
        pipe.expire(run_key, int(self.settings.max_age_s))
        pipe.zadd(self.layout.runs, {self.run_id: started})
        pipe.zremrangebyscore(self.layout.runs, "-inf", now - self.settings.max_age_s)
        pipe.info("replication")
        *answers, replication = await pipe.execute(raise_on_error=False)
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        if isinstance(replication, dict):  # not refused (an ACL without INFO): how many the end must reach
            self.replicas = int(replication.get("connected_slaves", 0))

    @property
    def queued(self) -> int:
        """Entries the broker has not taken yet."""
        return len(self._queue)

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name="publish")
        self._writer.add_done_callback(lambda _: self._advanced())

    def __call__(self, event: Event) -> None:
        if type(event) in _UNPUBLISHED:
            return
        self.note(event)
        self._pending.append(event)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(BATCH_S, self.publish)

    def note(self, event: Event) -> None:
        """Count the ticket's state in the index, without publishing the event (a coordinator's own
        event of an attempt a worker publishes)."""
        if isinstance(event, AttemptQueued | AttemptStarted | AttemptEnded):
            state = (
                QUEUED
                if isinstance(event, AttemptQueued)
                else RUNNING
                if isinstance(event, AttemptStarted)
                else event.outcome.value
            )
            self.states[event.ticket] = state
            self._states_changed = True
            if isinstance(event, AttemptStarted):
                self.subagents.pop(event.ticket, None)
            if isinstance(event, AttemptEnded):
                self.waiting.pop(event.ticket, None)
        elif isinstance(event, ApprovalAsked):
            self.waiting.setdefault(event.ticket, time.time())
            self._states_changed = True
        elif isinstance(event, ApprovalAnswered):
            self.waiting.pop(event.ticket, None)
            self._states_changed = True
        elif isinstance(event, SubagentChanged):
            children = self.subagents.setdefault(event.ticket, {})
            if children.get(event.child) != event.state:
                children[event.child] = event.state
                self._states_changed = True
        for standing in self.attention.apply(event):
            self._attend(standing)

    def notice(self, event: Status) -> None:
        """Publish a status the run says of an attempt its worker publishes (a coordinator's words of
        it) as a notice of the run (layout.ENTRY_NOTICE): watchers show it apart from the attempt's
        events, whose numbers are the worker's. After what is pending, so it comes in its place; a
        full queue drops it (the run's history keeps it)."""
        self.publish()
        data = dumps({"now": self.clock() - self.t0, "event": encode(event, self.t0)})
        if self._queued_bytes + len(data) <= self.settings.queue_bytes:
            self._queue_entry(_Entry(ENTRY_NOTICE, data))

    def added(self, ticket: Ticket, description: dict[str, Any], lead: str | None = None) -> None:
        """A ticket the run took on as it ran (layout.ENTRY_TICKET), before its first event, and the
        run's `description` with it, written to the index for the watchers that attach later. `lead`:
        the lead ticket that added it, which the worker serving that lead's door shows it (lead_door.py)."""
        self.publish()
        entry = {"now": self.clock() - self.t0, "ticket": ticket_json(ticket)}
        data = dumps(entry if lead is None else entry | {"lead": lead})
        self.states.setdefault(ticket.id, PENDING)
        self._states_changed = True
        if self.owner and self._entry:
            self._entry["run"] = self._described = dumps(description)
        self._queue_entry(_Entry(ENTRY_TICKET, data))
        self.described_mark = self._added

    def looked(self, ticket: str) -> None:
        """The person looked at the ticket in the runner's TUI: an ended one is read (`Run.readers`)."""
        standing = self.attention.looked(ticket)
        if standing is not None:
            self._attend(standing)
            self._wake.set()  # the index says it now, not at the next heartbeat

    def _attend(self, standing: Standing) -> None:
        ticket = standing.ticket
        before = (ticket in self.needs_you, ticket in self.unread)
        if standing.needs_you:
            self.needs_you.setdefault(ticket, time.time())
        else:
            self.needs_you.pop(ticket, None)
        if standing.unread and not standing.needs_you:
            self.unread.add(ticket)
        else:
            self.unread.discard(ticket)
        if (ticket in self.needs_you, ticket in self.unread) != before:
            self._states_changed = True

    def _attention_field(self) -> str:
        said: dict[str, Any] = {"needs_you": self.needs_you, "unread": sorted(self.unread)}
        children = [state for each in self.subagents.values() for state in each.values()]
        if children:  # the run's sub-agents: how many, how many still running
            said["subagents"] = {"count": len(children), "running": children.count("running")}
        return json.dumps(said)

    def publish(self) -> None:
        """Queue what is pending as one entry, or count it into a gap when the queue is full."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        now = self.clock() - self.t0
        entries = _entries(now, [encode(event, self.t0) for event in batch])
        if self._queued_bytes + sum(len(data) for data in entries) <= self.settings.queue_bytes:
            for data in entries:
                self._queue_entry(_Entry(ENTRY_EVENTS, data))
            return
        self.dropped += len(batch)
        self.ends_dropped.update((e.ticket, e.attempt) for e in batch if isinstance(e, AttemptEnded))
        gap = self._queue[-1] if self._queue else None
        if not isinstance(gap, _Gap) or gap.sealed:
            gap = _Gap(now)
            self._queue.append(gap)
            self._added += 1
        gap.add(batch, now)

    def _queue_entry(self, entry: _Entry) -> None:
        self._queue.append(entry)
        self._added += 1
        self._queued_bytes += len(entry.data)
        self._wake.set()

    def mark(self) -> int:
        """A mark past everything given so far, queued now (what was dropped, its gap, sealed to go
        too): `drained` waits for the broker to take it all."""
        self.publish()
        gap = self._queue[-1] if self._queue else None
        if isinstance(gap, _Gap) and not gap.sealed:
            gap.sealed = True
            self._wake.set()
        return self._added

    async def drained(self, mark: int, within_s: float) -> bool:
        """Wait up to `within_s` for the broker to take everything queued up to `mark` (the writer
        goes on for the others given it after); whether it did. The wait ends early if the writer stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                while self.sent < mark and self._writer is not None and not self._writer.done():
                    await self._progress.wait()
        return self.sent >= mark

    def took(self, mark: int, ticket: str, attempt: int) -> bool:
        """Whether the broker has an attempt's events, once it ended and `mark` was taken: everything
        up to the mark, its end among it (not dropped into a gap, which tells watchers only that it
        is missing: a coordinator would never see the attempt end)."""
        return self.sent >= mark and (ticket, attempt) not in self.ends_dropped

    def _advanced(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    def end(self) -> None:
        """The run is over: what is pending goes, then (from the run's owner) the `end` entry."""
        if self._ended:
            return
        self.publish()
        self._ended = True
        self._wake.set()  # a writer waiting for more stops once the queue is empty
        if self.owner:
            self._end = _Entry(ENTRY_END, dumps({"now": self.clock() - self.t0}))
            self._queue_entry(self._end)

    async def aclose(self, grace_s: float) -> None:
        """End the run on the broker (or a worker's part of it), waiting up to `grace_s` for it to take
        what is queued: the writer stops by itself once it has; else it is cancelled. Every wait is
        bounded, and `asyncio.wait` neither raises the writer's CancelledError nor swallows ours."""
        self.end()
        writer = self._writer
        if writer is not None:
            try:
                await asyncio.wait([writer], timeout=grace_s)
            finally:
                writer.cancel()
        if self._queue:
            self.said(
                f"the broker did not take the run's last {len(self._queue)} entries in {grace_s:g} s: "
                "its watchers see the run unfinished (its history here is whole)"
            )
        if writer is None:
            return
        await asyncio.wait([writer], timeout=STOP_S)
        if not writer.done():
            self.said(f"publishing did not stop in {STOP_S:g} s of being cancelled: leaving it")
        elif not writer.cancelled():
            writer.result()  # a bug in the writer surfaces here

    async def confirm_end(self) -> None:
        """Once `aclose` ended the run on the broker (as its owner): wait, up to `CONFIRM_S`, until its
        replicas have it (`WAIT` for one, which covers every write the primary took before it too), so that a
        failover does not lose it and leave every watcher waiting for an end that never comes (issue
        #74). A write to a primary that a promotion had already left (Sentinel says so a moment later)
        is never acknowledged: the end is looked for again, and written again on the primary the
        sentinels name once they switch (any broker that went back in time without it, alike)."""
        from redis.exceptions import ReadOnlyError, ResponseError

        if self._end is None or self._queue:  # not sent: the run's last entries were said lost
            return
        keys = [self.layout.events(self.run_id), self.layout.run(self.run_id)]
        fence = self.fence or Fence(self.layout.generation(self.run_id))
        end = self._end
        number = f"{self.instance}.{self._numbered}"  # the end's own: the last entry sent
        args = [self._max_len, int(self.settings.max_age_s), end.kind, number, end.data]
        deadline, first, acked, rewritten = time.monotonic() + CONFIRM_S, None, 0, False
        while True:
            try:
                pipe = self.redis.pipeline(transaction=False)
                await self._confirm(
                    keys=[*keys, fence.key], args=[*args, time.time(), fence.generation or ""], client=pipe
                )
                pipe.execute_command("WAIT", min(self.replicas, 1), CONFIRM_WAIT_MS)
                (written, server, replicas), acked = await pipe.execute()
            except Exception as exc:
                if (refused := fenced(exc)) is not None:
                    self.superseded(str(refused))
                if (problem := self.explain(exc)) is None:
                    raise
                if isinstance(exc, ResponseError) and not isinstance(exc, ReadOnlyError):  # refused, not away
                    self.said(f"{problem}: the run's end is not known to be on the broker's replicas")
                    return
                written, server, replicas = 0, None, 0
            rewritten = rewritten or bool(written)
            if server is not None:
                first = first or server
                self.replicas = max(self.replicas, int(replicas))
                if acked >= min(self.replicas, 1) or server != first:  # a switch: on the primary named since
                    break
            if time.monotonic() >= deadline:
                self.said(
                    f"the broker's replicas did not acknowledge the run's end in {CONFIRM_S:g} s (none of "
                    f"{self.replicas}): a failover now would lose it, and its watchers not see the run end"
                )
                break
            await asyncio.sleep(RESENDS.delay(1, None))
        if rewritten:
            self.said(
                "the broker had lost the run's end (it went back in time, or failed over): written again"
            )

    def _index_fields(self, now: float) -> dict[str, str | float | bytes]:
        fields: dict[str, str | float | bytes] = {"updated": now}
        if self._described is not None:
            fields["run"], self._described = self._described, None
        changed, self._states_changed = self._states_changed, False
        if changed:
            fields["states"] = json.dumps(Counter(self.states.values()))
            fields["waiting"] = json.dumps(self.waiting)
            fields["attention"] = self._attention_field()
        if self.book is not None and (changed or now - self._totals_at >= TOTALS_EVERY_S):
            self._totals_at = now
            fields.update(self._totals())
        return fields

    def _totals(self) -> dict[str, str | float]:
        """The run's cost so far (`cost`, empty when nothing is priced), the live tok/s of its
        running tickets' latest attempts (`tok_s`), as the run's summary bar shows them, and the
        share of its prompts the prompt caches read (`cache`, empty until a provider said)."""
        assert self.book is not None
        cost, _ = self.book.cost_usd()
        latest: dict[str, int] = {}
        for ticket, attempt in self.book.attempts:
            if self.states.get(ticket) == RUNNING:
                latest[ticket] = max(attempt, latest.get(ticket, 0))
        now = self.clock()
        rate = sum(self.book.attempts[key].live_tokens_per_s(now) for key in latest.items())
        hit = self.book.cache_hit()
        cache = "" if hit is None else round(hit, 4)
        return {"cost": "" if cost is None else cost, "tok_s": round(rate, 1), "cache": cache}

    async def _write(self) -> None:
        """Send what is queued, again and again while the broker fails, until the run has ended and
        the broker took everything, or until cancelled."""
        failures, trimmed = 0, 0.0
        while True:
            raise_swallowed_cancel()
            taken = self._sendable()
            if not taken:
                if not self._queue and self._ended:
                    return
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HEARTBEAT_S):
                        await self._wake.wait()
                self._wake.clear()
                taken = self._sendable()
            trim = time.monotonic() - trimmed >= TRIM_EVERY_S
            try:
                await self._send([item if isinstance(item, _Entry) else item.entry() for item in taken], trim)
            except Exception as exc:
                problem = self.explain(exc)
                if problem is None:
                    raise
                failures += 1
                self._rewrite_entry = True
                if failures == 1:
                    self.said(
                        f"{problem}: publishing waits for it; the run goes on, and its history here is whole"
                    )
                await asyncio.sleep(RESENDS.delay(failures, None))
                continue
            if failures:
                self.said("the broker is back: publishing again")
                failures = 0
            if trim:
                trimmed = time.monotonic()
            for item in taken:
                self._queue.popleft()
                if isinstance(item, _Entry):
                    self._queued_bytes -= len(item.data)
            self.sent += len(taken)
            if taken:
                self._advanced()

    async def _send_fenced(
        self, entries: list[_Entry], numbered: int, index: dict[str, Any], rewrite: bool, oldest: str
    ) -> None:
        """What `_send` pipelines, as one script that writes nothing once a later coordinator holds
        the run (`PUBLISH`); stands down then."""
        assert self.fence is not None
        first = numbered - len(entries) + 1
        flat = [v for n, e in enumerate(entries, first) for v in (e.kind, f"{self.instance}.{n}", e.data)]
        pairs = [v for pair in index.items() for v in pair]
        started = self._entry.get("started", "") if rewrite else ""
        keys = [self.layout.events(self.run_id), self.layout.run(self.run_id), self.layout.runs]
        args = [self._max_len, int(self.settings.max_age_s), oldest, self.run_id, started]
        try:
            await self.fence.call(self._publish, keys, [*args, len(entries), len(index), *flat, *pairs])
        except Superseded as exc:
            self.superseded(str(exc))

    def _sendable(self) -> list[_Entry | _Gap]:
        """The next items to send: a gap still growing at the end of the queue waits, so that one
        outage is one gap; a gap taken is sealed."""
        taken = [self._queue[i] for i in range(min(PIPELINE_ENTRIES, len(self._queue)))]
        if taken and isinstance(taken[-1], _Gap) and len(taken) == len(self._queue) and not taken[-1].sealed:
            taken.pop()
        for item in taken:
            if isinstance(item, _Gap):
                item.sealed = True
        return taken

    async def _send(self, entries: list[_Entry], trim: bool) -> None:
        """One round trip: the entries, the run's entry in the index, the keys' expiry (fenced, for
        a coordinator: `_send_fenced`)."""
        now = time.time()
        events, run_key = self.layout.events(self.run_id), self.layout.run(self.run_id)
        pipe = self.redis.pipeline(transaction=False)
        numbered = self._numbered
        for entry in entries:
            numbered += 1
            fields = {"kind": entry.kind, "n": f"{self.instance}.{numbered}", "data": entry.data}
            pipe.xadd(events, fields, maxlen=self._max_len, approximate=True)  # type: ignore[arg-type]
        index = self._index_fields(now) if self.owner else {}
        if any(entry.kind == ENTRY_END for entry in entries):
            index["ended"] = now
        rewrite = self.owner and self._rewrite_entry and bool(self._entry)
        if rewrite:
            index = {**self._entry, "states": json.dumps(Counter(self.states.values())), **index}
            index["waiting"] = json.dumps(self.waiting)
            index["attention"] = self._attention_field()
            pipe.zadd(self.layout.runs, {self.run_id: self._entry["started"]})
        if index:
            pipe.hset(run_key, mapping=index)  # type: ignore[arg-type]
        for key in (events, run_key) if self.owner else (events,):
            pipe.expire(key, int(self.settings.max_age_s))
        if trim:
            oldest = int((now - self.settings.max_age_s) * 1000)
            pipe.xtrim(events, minid=f"{oldest}-0", approximate=True)
        try:
            if self.fence is None:
                await pipe.execute()
            else:
                oldest = f"{int((now - self.settings.max_age_s) * 1000)}-0" if trim else ""
                await self._send_fenced(entries, numbered, index, rewrite, oldest)
            self._rewrite_entry = self._rewrite_entry and not rewrite
        except BaseException:
            self._states_changed = self._states_changed or "states" in index
            if self._described is None and isinstance(run := index.get("run"), bytes):
                self._described = run  # written with the next batch
            if "tok_s" in index:
                self._totals_at = -TOTALS_EVERY_S
            raise
        self._numbered = numbered
