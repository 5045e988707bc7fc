"""`lfg run FILE --broker URL`: the coordinator, which schedules a run here and runs it on workers.

The coordinator's run is a plain `Run` (dependencies, concurrency, budgets, retries, its sinks:
history, TUI, NDJSON) whose `AttemptRunner` (run/attempts.py) is a `BrokerRunner`: each attempt is
a work entry on its provider's work stream, and its events come back on the run's event stream,
which `Dispatch` follows (as `lfg attach` does) and hands to the attempt waiting for them. The run
numbers those events anew as its own, so what it says itself (who cancelled, that no worker serves
a provider) sits among them in its history. `coordinated_run` makes such a run.

An attempt put on the broker is *queued* (`AttemptQueued`, saying what it waits for) until a worker
takes it; its one start is that worker's `AttemptStarted`, adopted when it comes, so its duration,
TTFT and output times count from the worker's real start, never from the wait.

A follow-up sends the conversation the run built from the worker's events (conversation.py), as a
local run sends the one its tool loop built; a coding agent's follow-up goes back to the worker
that has the agent's session (`_destination`), when a read of the workers taken then has it. One
left on that worker's own stream when the worker goes (its presence lapsed) is taken back as the
feed looks at the waiting entries (`Stranded`, broker/gone.py): moved to any worker in a new agent
session when the worker never took it, else given up and enqueued again as the next attempt.

Cancelling an attempt, cancelling one sub-agent of the coding agent it runs, and answering a call
that waits for approval, are the person's requests themselves (run/requests.py) on the run's control
stream (`ControlEntry`), which the worker holding the ticket reads and hands to its own run's
`Run.ask`; a sub-agent's cancel waits for the worker's answer (`Dispatch.asked_of_worker`), so the
person hears why not as they would at that worker. When a worker dies its lease lapses,
another worker takes the ticket over as the next attempt, and the run records the earlier one
`interrupted` with what arrived. Late events of the earlier attempt (its worker was paused, not
dead) are dropped by the feed as every watcher drops them (`Delivered` in remote/attach.py), so the
history, `lfg attach` and the TUI's watchers agree on it.

Events of an attempt that never reached the coordinator (trimmed, or lost by a broker that restarted
without persistence) are counted as every watcher counts them (broker/gaps.py): the attempt says what
it lost, its NDJSON end is `partial`, and when it completed, the tickets that depend on it fail saying
why and it takes no follow-up.

An attempt whose end the broker trimmed from the run's event stream before the coordinator read it
(`[broker] max_len`, a coordinator that fell behind) ends as its worker recorded it apart from the
stream (`AttemptEnd`), which the feed looks for while attempts wait: the pane says how many of its
events were lost; when those may hold part of its answer, the tickets that depend on it fail saying
why, and it takes no follow-up (what was lost is not made up).

A work entry the broker lost before any worker ended its attempt (a redis-server restarted without
persistence, FLUSHALL, a failover to a replica that lacked it, eviction) is noticed by the feed, which
waits at most a quarter lease per read and looks every three quarters of one whether each waiting
attempt's entry is still there (`LostEntry`, `FEED_WAIT`). It is declared lost only once it has been
gone for a lease with no worker saying it runs it still (a worker whose entry the broker lost runs
its attempt on, renewing `Layout.held`), so within two leases of the loss: the attempt ends
`interrupted`, saying so, and the ticket is enqueued again as the next attempt, so a broker that lost
everything mid-run ends with every ticket run, never a run waiting forever, and none run twice.

A coordinator killed mid-run is picked up by `lfg resume RUN --broker` (broker/pickup.py): its
workers ran on, so the resumed run adopts each attempt they hold or finished (`reopened`), taking
its events from the run's event stream from its start, and enqueues only what no worker has. Each
entry it adopts is tracked as one it enqueued (`Dispatch.adopt`): looked at while its attempt waits
(lost, or stranded on the own stream of a worker that is gone) and known to write back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from lfgtui.broker.client import explain, until_answered
from lfgtui.broker.failing import FailingWorkers
from lfgtui.broker.fence import FENCE, Fence, Superseded, stand_down
from lfgtui.broker.gaps import Lost
from lfgtui.broker.gone import GoneWorkers, TakenBack
from lfgtui.broker.layout import Layout, loads, ran_field
from lfgtui.broker.presence import MAX_ERROR, WorkerPresence, ask_live, live, live_workers, said_at
from lfgtui.broker.restored import CHECK_EVERY_S, Ledger, Restoration
from lfgtui.broker.running_on import ran_on
from lfgtui.broker.steers import Sent, SteersSent
from lfgtui.broker.watch import BrokerAttachment
from lfgtui.broker.work import (
    MAX_NOTE,
    AttemptEnd,
    ControlEntry,
    Work,
    WorkError,
    WorkItem,
    ended_field,
    relative_to,
)
from lfgtui.broker.work_index import WorkIndex
from lfgtui.cancels import STOP_S, stop
from lfgtui.config.broker import BrokerError
from lfgtui.conversation import Conversation
from lfgtui.cost.prices import format_usd
from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptQueued,
    AttemptStarted,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    Outcome,
    Status,
    SteerOffer,
    observed,
)
from lfgtui.formats import plural
from lfgtui.inert import inert
from lfgtui.providers.base import Message
from lfgtui.providers.kinds import kind_of
from lfgtui.remote.following import AttachError, watcher_name
from lfgtui.run.approvals import Approvals
from lfgtui.run.attempts import TicketState
from lfgtui.run.requests import YOU, Approve, Cancel, Pending, Refusal, Request, Steer, Told
from lfgtui.run.retry import RetryPolicy
from lfgtui.run.scheduler import Run, Sink

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.broker.pickup import Adopted
    from lfgtui.broker.publisher import Publisher
    from lfgtui.config.broker import Broker
    from lfgtui.providers.registry import Providers
    from lfgtui.run.attempts import Attempt, RunFace
    from lfgtui.tickets.ticket import Ticket

END_WAIT_S = 10.0
"""How long the run's feed may take to read the `end` entry once the run is over."""
ENDS_EVERY_S = 1.0
"""How often, at most, the feed reads the ends workers recorded of the attempts that wait."""
WORKERS_KEPT_S = 2.0
"""How long the workers' presence, once read, answers `unserved` and `present`: every enqueue asks,
and a read costs a round trip and a hash of every live worker."""
FEED_WAIT = 0.25
"""The run's feed waits at most this much of a lease for the next entry (and the read that caught up
with the stream looks for recorded ends and lost entries): with the entries looked at every
`1 - FEED_WAIT` of a lease, an entry the broker lost is noticed, and its ticket enqueued again,
within a lease of the loss, however quiet the stream."""
REPLY_WAIT_S = 10.0
"""How long a coordinator waits, at most, for a worker's answer to a sub-agent's cancel (at most a
lease): a worker reads its commands as they come, so one that says nothing that long is taken as gone."""
REPLY_POLL_S = 1.0
"""Each wait for that answer on the broker (within the connection's read timeout)."""
_REWOUND = (
    "the broker went back in time (restored or failed over) and no longer held this attempt's work entry "
    "as its worker's: the attempt is given up, and its ticket enqueued again"
)
SEND = (
    FENCE
    + """
return redis.call('XADD', KEYS[1], '*', 'data', ARGV[1])
"""
)
"""KEYS: the run's control stream, its generation; ARGV: the entry's data, the coordinator's
generation: a control entry, unless a later coordinator took the run (broker/fence.py)."""
FEED_RECONNECTS = RetryPolicy(max_retries=1 << 62, base_delay_s=0.25, max_delay_s=2.0)
"""The run's feed never gives up on a broker that went away: its events are how the run learns how
its attempts go, and it goes on where it left off when the broker is back."""


@dataclass(frozen=True)
class LostEntry:
    """The broker no longer has the work entry a ticket's attempt waits for, nor a recorded end of it;
    or (`rewound`) it went back in time and gave the entry out again (broker/restored.py)."""

    work: str
    rewound: bool = False


@dataclass(frozen=True)
class Stranded:
    """The work entry a ticket's attempt waits for is on the own stream of `worker`, whose presence
    has lapsed: nobody else reads it (broker/gone.py)."""

    work: str
    worker: str


@dataclass(frozen=True)
class BrokerNews:
    """What the coordinator learned of the run on the broker (that it went back in time), for each
    waiting attempt to say as its `Status`: so the run's record (NDJSON, history, panes, watchers) says
    it, not only this process's stderr."""

    message: str


Arrived = Event | AttemptEnd | LostEntry | Stranded | Lost | BrokerNews
"""What the feed hands the ticket that waits: its events, the end its worker recorded apart, that the
broker lost its work entry, that its work entry waits for a worker that is gone, that events of an
attempt never reached this coordinator, or what the run learned of the broker."""


@dataclass
class Dispatch:
    """One coordinated run's side of the broker: enqueue its attempts, follow its event stream and
    hand each event to the ticket that waits for it, send its commands."""

    redis: Redis
    broker: Broker
    folder: Path
    """The tickets file's folder: workdirs go to workers relative to it."""
    clock: Callable[[], float] = time.monotonic
    run_id: str = field(default="", init=False)
    said: Callable[[str], None] = field(default=print, init=False)
    layout: Layout = field(init=False)
    work_index: WorkIndex = field(init=False)
    gone: GoneWorkers = field(init=False)
    _waiting: dict[str, asyncio.Queue[Arrived]] = field(default_factory=dict, init=False)
    _works: dict[str, str] = field(default_factory=dict, init=False)
    """The work entry of each ticket's attempt that waits."""
    _streams: dict[Work, str] = field(default_factory=dict, init=False)
    """The stream of each work entry this run enqueued (or adopted)."""
    _owners: dict[Work, str] = field(default_factory=dict, init=False)
    """The worker whose own stream each work entry this run enqueued (or adopted) there is on."""
    _entries_read: float = field(default=float("-inf"), init=False)
    _recorded: dict[str, tuple[str, AttemptEnd]] = field(default_factory=dict, init=False)
    """The ends workers recorded of waiting attempts (by ticket, with the work entry), read before the
    feed's latest read."""
    _ends_read: float = field(default=float("-inf"), init=False)
    _missing: dict[Work, float] = field(default_factory=dict, init=False)
    """When (on `clock`) each waiting attempt's work entry was first found gone from its stream: it is
    declared lost only once gone for a lease with no worker saying it runs it still (`Layout.held`)."""
    _feed: asyncio.Task[None] | None = field(default=None, init=False)
    _following: set[str] = field(default_factory=set, init=False)
    """The tickets whose events the feed delivers (its attachment's `known`): each one waited for is
    added, so that a ticket the run took on as it ran (an add-ticket, a synthesis) is followed too."""
    _sending: set[asyncio.Task[Any]] = field(default_factory=set, init=False)
    _awaiting: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    """What runs beside the run (`background`): the waits for the late answers of pending requests
    (`asked_of_worker`), the steers carried to a next attempt."""
    _workers: tuple[float, list[WorkerPresence]] | None = field(default=None, init=False)
    """The workers' presence as last read, and when (on `clock`)."""
    _reading_workers: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    lost_to: list[Callable[[Lost], None]] = field(default_factory=list, init=False)
    """Who else hears what the feed lost, as a watcher hears it (the NDJSON printer's `gap`)."""
    ledger: Ledger = field(default_factory=Ledger, init=False)
    """What the run knows of its work entries, written back when the broker went back in time."""
    look_now: bool = field(default=False, init=False)
    """Set (from any thread) when the broker may have gone back: its coordinator lease was gone."""
    _restoration: Restoration | None = field(default=None, init=False)
    went_back: bool = field(default=False, init=False)
    """Whether the broker's server changed under the run (restarted, restored or failed over), or it
    lost the run's mark and coordinator lease (flushed): events a worker published since went with
    it, not trimmed."""
    _watching: asyncio.Task[None] | None = field(default=None, init=False)
    fence: Fence = field(default=Fence(""), init=False)
    """What each of the run's writes carries: its coordinator lease's generation (broker/fence.py)."""
    superseded: Callable[[str], NoReturn] = field(default=stand_down, init=False)
    """What a write the fence refused calls, with why: a later coordinator holds the run."""

    def __post_init__(self) -> None:
        self.layout = Layout(self.broker.settings.prefix)
        self.work_index = WorkIndex(self.redis, self.broker.settings.max_age_s)
        settings = self.broker.settings
        self.gone = GoneWorkers(self.redis, self.layout, settings.max_age_s, settings.lease_s)
        self._send = self.redis.register_script(SEND)

    async def start(self, run_id: str, said: Callable[[str], None], publisher: str) -> None:
        """Follow the run's event stream (the run is registered on the broker already, its
        coordinator lease held: commands/broker.py `Outlet`) until the `end` of this coordinator's
        `publisher` (its instance); `said` hears what goes wrong on the way. Raises `BrokerError`
        when the broker went away before the feed could read the run (said in one line)."""
        self.run_id, self.said = run_id, said
        if not self.fence.key:  # no coordinator lease (`Outlet.publishing` gives it one): unfenced
            self.fence = Fence(self.layout.generation(run_id))
        block_ms = max(int(self.broker.settings.lease_s * FEED_WAIT * 1000), 1)
        attachment = BrokerAttachment(self.broker, self.run_id, self.clock, FEED_RECONNECTS, block_ms)
        attachment.ended_by = publisher
        attachment.notices = False  # its own words: its attempts said them already
        attachment.known = self._following
        try:
            await attachment.describe()
        except AttachError as exc:
            raise BrokerError(str(exc)) from None
        self._restoration = Restoration(self.redis, self.layout, run_id, self.broker.settings.max_age_s)
        await until_answered(self._look, self._explain, self.said, "the run waits for it")
        self._feed = asyncio.create_task(self._follow(attachment), name="dispatch feed")
        self._watching = asyncio.create_task(self._watch(), name="dispatch restore watch")

    async def _watch(self) -> None:
        """Every `CHECK_EVERY_S` (at most a quarter lease), look whether the broker went back in time."""
        every = min(CHECK_EVERY_S, self.broker.settings.lease_s / 4)
        while True:
            await asyncio.sleep(every)
            try:
                await self._look()
            except Exception as exc:
                if self._explain(exc) is None:
                    raise

    def look_soon(self) -> None:
        """Write back at the next look whatever the mark says (safe from any thread: a flag)."""
        self.look_now = True

    async def _look(self) -> None:
        """Write back what the run knows when the run's mark is not the broker's server now (or its
        coordinator lease was gone), saying so when the broker had gone back (broker/restored.py), here
        and in each waiting attempt (`BrokerNews`), so the run's record says it."""
        assert self._restoration is not None
        forced, self.look_now = self.look_now, False
        before = await self._restoration.stale()
        if before is None and not forced:
            return
        self.went_back = self.went_back or bool(before) or (forced and before == "")  # or flushed
        streams = {w: self._streams[w] for w in self._works.items() if w in self._streams}
        try:
            done = await self._restoration.write_back(self.ledger, streams, _REWOUND, self.fence)
        except Superseded as exc:
            self.superseded(str(exc))
        if done.went_back or before:  # a server that changed and forgot nothing is said too
            said = done.said(before)
            self.said(said)
            for queue in self._waiting.values():  # before a rewound attempt's end: it says it too
                queue.put_nowait(BrokerNews(said))
        for ticket_id, work in done.rewound:  # (a ticket since on to another entry ignores it)
            if (queue := self._waiting.get(ticket_id)) is not None:
                queue.put_nowait(LostEntry(work, rewound=True))

    async def _last_look(self) -> None:
        """The restore watch's last look, once the run is over: a broker that went back in time since
        its last one (at most `CHECK_EVERY_S` ago) gave back the entries of attempts that ended, and
        with this coordinator gone only their workers, if still there, would write those back (issue
        #74: a run that ended inside that window left them pending). A broker away for `END_WAIT_S`
        is said, and left to them."""
        try:
            async with asyncio.timeout(END_WAIT_S):
                await until_answered(self._look, self._explain, self.said, "the run's last look waits for it")
        except TimeoutError:
            self.said(
                f"could not look, in {END_WAIT_S:g} s, whether the broker went back in time as the run "
                "ended: should it have, the workers that ran its tickets write back how they ended"
            )

    async def _follow(self, attachment: BrokerAttachment) -> None:
        def said(state: str) -> None:
            if state not in ("live", "ended"):
                self.said(f"the run's events from the broker: {state}")

        try:
            await attachment.follow(self._route, said, self._caught_up, self._lost)
        finally:
            await attachment.aclose()

    async def _caught_up(self) -> None:
        """The feed read to the stream's end: each end recorded before that read whose attempt still
        waits goes to it after what the read delivered (the attempt's own end, when it was not
        trimmed, comes first); then the recorded ends are read again, at most every `ENDS_EVERY_S`."""
        recorded, self._recorded = self._recorded, {}
        for ticket_id, (work, end) in recorded.items():
            if (queue := self._waiting.get(ticket_id)) is not None and self._works.get(ticket_id) == work:
                queue.put_nowait(end)
        if not self._works or self.clock() - self._ends_read < ENDS_EVERY_S:
            return
        self._ends_read, works = self.clock(), dict(self._works)
        fields = [ended_field(ticket_id, work) for ticket_id, work in works.items()]
        looked = {t: w for t, w in works.items() if (t, w) in self._streams}
        if self.clock() < self._look_at():
            looked = {}
        pipe = self.redis.pipeline(transaction=False)
        for ticket_id, work in looked.items():  # before the ends: deleted as its end is recorded
            pipe.xrange(self._streams[ticket_id, work], min=work, max=work, count=1)
            pipe.exists(self.layout.held(self.run_id, ended_field(ticket_id, work)))
        pipe.hmget(self.layout.ended(self.run_id), fields)
        owned = any(tracked in self._owners for tracked in looked.items())
        if owned:  # an entry on a worker's own stream: whether that worker is still here
            ask_live(pipe, self.layout)
        try:
            answers = await pipe.execute()
        except Exception as exc:
            if self._explain(exc) is None:
                raise
            return  # the feed says the broker is away; read again once it is back
        here = {name.decode("utf-8", "replace") for name in live(*answers[-2:])} if owned else set()
        *entries, values = answers[: len(answers) - 2 * owned]
        now = self.clock()
        if looked:
            self._entries_read = now
        for (ticket_id, work), value in zip(works.items(), values, strict=True):
            end = None if value is None else AttemptEnd.read(value)
            if end is not None and end.ticket == ticket_id:
                self._recorded[ticket_id] = (work, end)
        for (ticket_id, work), entry, held in zip(looked.items(), entries[::2], entries[1::2], strict=True):
            if entry or ticket_id in self._recorded:
                self._missing.pop((ticket_id, work), None)
                gone = self._owners.get((ticket_id, work))
                if (
                    entry
                    and gone is not None
                    and gone not in here
                    and (queue := self._waiting.get(ticket_id))
                ):
                    queue.put_nowait(Stranded(work, gone))
                continue
            since = self._missing.setdefault((ticket_id, work), now)
            if held or now - since < self.broker.settings.lease_s:
                continue  # its worker may run it still (it renews within a lease), or says it does
            if queue := self._waiting.get(ticket_id):
                self._missing.pop((ticket_id, work), None)
                queue.put_nowait(LostEntry(work))  # after the events the feed delivered already

    def _look_at(self) -> float:
        """When (on `clock`) the waiting attempts' work entries are looked at next: every
        `1 - FEED_WAIT` of a lease, and a lease after one was first found missing."""
        lease = self.broker.settings.lease_s
        due = self._entries_read + lease * (1 - FEED_WAIT)
        return min([due, *(since + lease for since in self._missing.values())])

    def _route(self, event: Event) -> None:
        queue = self._waiting.get(event.ticket)
        if queue is not None:
            queue.put_nowait(event)

    def _lost(self, lost: Lost) -> None:
        """What the feed will never get, counted as every watcher counts it (broker/gaps.py): an
        attempt's lost events go to the ticket waiting for them, before the events read after them."""
        if lost.ticket is not None and (queue := self._waiting.get(lost.ticket)) is not None:
            queue.put_nowait(lost)
        for hear in self.lost_to:
            hear(lost)

    def wait_for(self, ticket_id: str) -> asyncio.Queue[Arrived]:
        """The events of a ticket's attempts from now on (or from when it was first asked for, by an
        adopted attempt before the feed starts), until `done_with`; and, once `expect` named its work
        entry, the end its worker recorded when the stream lost its own."""
        self._following.add(ticket_id)
        return self._waiting.setdefault(ticket_id, asyncio.Queue())

    def expect(self, ticket_id: str, work: str) -> None:
        """The work entry whose attempt the ticket waits for."""
        self._works[ticket_id] = work

    def finished(self, work: str, end: AttemptEnd) -> None:
        """The run is done with this work entry's attempt, which ended so (kept to write back)."""
        if (stream := self._streams.get((end.ticket, work))) is not None:
            self.ledger.finished(stream, work, end)

    def done_with(self, ticket_id: str) -> None:
        self._waiting.pop(ticket_id, None)
        work = (ticket_id, self._works.pop(ticket_id, ""))
        self._streams.pop(work, None)
        self._owners.pop(work, None)
        self._missing.pop(work, None)

    async def enqueue(self, item: WorkItem, worker: str | None = None) -> str:
        """Put an attempt on its provider's work stream (or on `worker`'s own), waiting for a broker
        that went away; returns its entry's id."""
        item = dataclasses.replace(item, run_id=self.run_id, ticket=relative_to(item.ticket, self.folder))
        stream = self.layout.assigned(worker) if worker else self.layout.work(item.ticket.provider)
        index, data = self.layout.work_index(self.run_id), item.fields()["data"]
        try:
            entry = await until_answered(
                lambda: self.work_index.enqueue(stream, index, data, item.ticket.id, self.fence),
                self._explain,
                self.said,
                f"{item.ticket.id} waits for it to be put on the work stream",
            )
        except Superseded as exc:
            self.superseded(str(exc))
        self._track(item.ticket.id, stream, entry, data, item.attempt)
        return entry

    def adopt(self, ticket_id: str, adopted: Adopted) -> str:
        """Track a work entry the run's coordinator before enqueued (a resumed run's, broker/pickup.py)
        as `enqueue` tracks its own: its stream, and the worker whose own stream that is, looked at
        while its attempt waits (lost, or left for a worker that is gone); and what the run knows of
        it to write back. Before, an adopted entry was never looked at: a follow-up on the own stream
        of a worker that left waited for it forever. Returns its id."""
        self._track(ticket_id, adopted.stream, adopted.entry, adopted.data, adopted.attempt)
        return adopted.entry

    def _track(self, ticket_id: str, stream: str, entry: str, data: bytes, attempt: int) -> None:
        self._streams[ticket_id, entry] = stream
        if (worker := self.layout.owner(stream)) is not None:
            self._owners[ticket_id, entry] = worker
        self.ledger.enqueued(ticket_id, stream, entry, data, attempt)

    async def take_back(self, ticket_id: str, work: str, given_up: AttemptEnd) -> TakenBack:
        """Take the ticket's work entry back from the own stream of its worker, which is gone
        (broker/gone.py): moved to its provider's work stream without the agent's session (the ticket
        waits for the new entry from now on), or given up with the end `given_up` should that worker
        have taken it; left alone while its lease is renewed, or while the broker is away (the next
        look asks again)."""
        stream, latest = self._streams.get((ticket_id, work)), self.ledger.latest.get(ticket_id)
        if stream is None or latest is None or latest[1] != work:
            return TakenBack.LEFT
        try:
            item = dataclasses.replace(WorkItem.read({b"data": latest[2].encode()}), agent_session=None)
        except WorkError:  # an adopted entry no worker can read: it moves nowhere (its worker dropped it)
            return TakenBack.LEFT
        moved, to = item.fields()["data"], self.layout.work(item.ticket.provider)
        try:
            done, entry = await self.gone.take_back(
                self.run_id, stream, work, to, moved, given_up, self.fence
            )
        except Superseded as exc:
            self.superseded(str(exc))
        except Exception as exc:
            if self._explain(exc) is None:
                raise
            return TakenBack.LEFT
        if done is TakenBack.MOVED and entry is not None:
            self.ledger.finished(stream, work, given_up)  # the old entry, should the broker give it back
            for kept in (self._streams, self._owners, self._missing):
                kept.pop((ticket_id, work), None)
            self.expect(ticket_id, entry)
            self._track(ticket_id, to, entry, moved, item.attempt)
        return done

    def _explain(self, exc: Exception) -> str | None:
        return explain(exc, self.broker)

    def send(self, entry: ControlEntry) -> None:
        """Put a request on the run's control stream, without waiting (`aclose` waits for it)."""
        kind, ticket = entry.request.kind, getattr(entry.request, "ticket", "")

        async def send() -> None:
            try:
                await self.command(entry)
            except Exception as exc:
                if (problem := self._explain(exc)) is None:
                    raise
                self.said(f"could not send {kind} of {ticket} to its worker: {problem}")

        task = asyncio.create_task(send(), name=f"{kind} {ticket}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def command(self, entry: ControlEntry) -> None:
        """Put a request on the run's control stream now, fenced (broker/fence.py)."""
        try:
            await self.fence.call(self._send, [self.layout.control(self.run_id)], [entry.fields()["data"]])
        except Superseded as exc:
            self.superseded(str(exc))

    def work_of(self, ticket_id: str) -> str | None:
        """The work entry whose attempt the ticket waits for now (None: it waits for none)."""
        return self._works.get(ticket_id)

    async def asked_of_worker(
        self, state: TicketState, request: Request, who: str, late: Callable[[Told], None] | None = None
    ) -> Told:
        """Send `request` to the worker running the ticket's attempt (its work entry now), its reply key
        the request's id, and wait for its answer: None when it was carried out there, else the
        worker's words why not, or why no worker answered. With `late` (a steer), a worker that has not
        answered within the wait may still act on the request: it is `Pending`, and `late` gets the
        answer once it comes (what the worker says stands), or `Pending` again when the attempt ended
        with none (the worker never read it)."""
        ticket_id, provider = state.ticket.id, state.ticket.provider
        work = self.work_of(ticket_id)
        if work is None or not state.running:
            return Refusal(f"{ticket_id} runs no coding agent's turn now")
        try:
            raw = await self.redis.hget(self.layout.ran(self.run_id), ran_field(ticket_id, state.attempt))
            if raw is None:
                return Refusal(f"{ticket_id} waits for a worker: no coding agent runs it yet")
            name = raw.decode("utf-8", "replace")
            if not await self.present(name, provider):
                return Refusal(
                    f"worker {name}, which runs {ticket_id}, is gone from the broker: the {request.kind} "
                    "reached no one"
                )
            token = secrets.token_hex(12)
            reply = self.layout.reply(self.run_id, token)
            await self.command(ControlEntry(request, who, work, reply=token))
            within = min(REPLY_WAIT_S, self.broker.settings.lease_s)
            if (answer := await self._answer(reply, within)) is not None:
                return _told(answer)
        except Exception as exc:
            if (problem := self._explain(exc)) is None:
                raise
            return Refusal(f"{problem}: the {request.kind} did not reach the worker running {ticket_id}")
        # The request stays on the control stream, which the worker reads on from where it was: a
        # paused worker acts on it when it runs again (issue #66: this said nothing was cancelled).
        unanswered = f"worker {name}, which runs {ticket_id}, has not answered in {within:g} s"
        if late is not None:  # issue #74: a steer queued here as well as steered there went twice
            self.background(self._answered_late(reply, ticket_id, work, late), reply)
            return Pending(
                f"{unanswered} (paused, or cut off from the broker): the {request.kind} is pending, "
                "neither taken nor refused; it waits for the worker on the broker and is delivered once, "
                "when the worker reads it (if the worker cannot take it, it is queued as the next turn then)"
            )
        return Refusal(
            f"{unanswered} (paused, or cut off from the broker): the cancel waits for it on the broker, "
            "and the sub-agent is cancelled when the worker reads it; if the worker is gone, its lease "
            "lapses and another worker runs the ticket again"
        )

    def background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` beside the run, stopped when the dispatch closes; one that fails (a bug in lfg:
        nobody awaits it) is said, in one line, rather than dying unheard (the lead's asks once went
        unanswered so, the run waiting on)."""
        task = asyncio.create_task(work, name=name)
        self._awaiting.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._awaiting.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        self.said(
            inert(
                f"the coordinator's {task.get_name()} stopped on a bug in lfg ({type(exc).__name__}: {exc}): "
                "what it does is not done from now on in this run; please report it"
            )
        )

    async def _answer(self, reply: str, within: float) -> bytes | None:
        """A worker's answer on the `reply` key, waited for up to `within` s (None: none came)."""
        deadline = self.clock() + within
        while (left := deadline - self.clock()) > 0:
            answered = await self.redis.blpop([reply], timeout=min(left, REPLY_POLL_S))
            if answered is not None:
                return answered[1][:MAX_NOTE]  # shown inert, bounded
        return None

    async def _answered_late(
        self, reply: str, ticket_id: str, work: str, late: Callable[[Told], None]
    ) -> None:
        """Wait for the answer to a pending request while the ticket's attempt of `work` waits, and one
        wait more after it ended (its worker answers after it acted, its events may come first); hand
        it to `late`, or `Pending` when none came. A broker away makes this wait for it."""
        failures = 0
        while True:
            waits = self.work_of(ticket_id) == work
            try:
                answer = await self._answer(reply, REPLY_POLL_S)
            except Exception as exc:
                if self._explain(exc) is None:
                    raise
                failures += 1
                await asyncio.sleep(FEED_RECONNECTS.delay(failures, None))
                continue
            if answer is not None or not waits:
                late(Pending("") if answer is None else _told(answer))
                return

    async def ran_on(self, ticket_id: str, attempt: int) -> str | None:
        """The worker that took an attempt of this run, as it said on the broker (None: not known)."""
        name = await until_answered(
            lambda: self.redis.hget(self.layout.ran(self.run_id), ran_field(ticket_id, attempt)),
            self._explain,
            self.said,
            f"{ticket_id} waits for it to learn which worker ran attempt {attempt}",
        )
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else None

    async def present(self, name: str, provider: str) -> bool:
        """Whether worker `name` is on the broker now, serving `provider`: read now, never taken
        from the workers read a moment ago, since what is sent to it goes where only it reads. A read
        kept from before a worker left sent its follow-up to its own stream, which nobody read again
        (a run that waited forever); one kept from before it came refused its steer as gone."""
        workers = await until_answered(
            functools.partial(self.workers, True),
            self._explain,
            self.said,
            f"{provider} work waits for it to list the workers",
        )
        return any(w.name == name and provider in w.serves for w in workers)

    async def unserved(self, provider: str) -> str | None:
        """Why no worker on the broker takes work of `provider` now, naming each and its reason; None
        when one does, or the broker cannot say now."""
        try:
            workers = await self.workers()
        except Exception as exc:
            if self._explain(exc) is None:
                raise
            return None
        if any(provider in worker.serves for worker in workers):
            return None
        if not workers:
            return f"no worker is on the broker yet: this waits for one that serves {provider!r}"
        reasons = "; ".join(f"worker {w.name}: {w.why_not(provider)}" for w in workers)
        return f"no worker serves provider {provider!r} yet ({reasons}): this waits for one that does"

    async def workers(self, fresh: bool = False) -> list[WorkerPresence]:
        """The workers whose presence has not lapsed, as read at most `WORKERS_KEPT_S` ago (`fresh`:
        read now): the tickets enqueued at once share one read."""
        async with self._reading_workers:
            if fresh or self._workers is None or self.clock() - self._workers[0] >= WORKERS_KEPT_S:
                self._workers = (self.clock(), await self._read_workers())
            return self._workers[1]

    async def _read_workers(self) -> list[WorkerPresence]:
        names = await live_workers(self.redis, self.layout)
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hmget(self.layout.worker(name.decode()), ["serves", "refused", "error", "error_at"])
        found = []
        for name, (serves, refused, error, error_at) in zip(names, await pipe.execute(), strict=True):
            served = loads(serves).get("providers")
            reasons = loads(refused)
            found.append(
                WorkerPresence(
                    name.decode("utf-8", "replace"),
                    tuple(p for p in served if isinstance(p, str)) if isinstance(served, list) else (),
                    {str(p): str(why) for p, why in reasons.items()},
                    (error or b"")[:MAX_ERROR].decode("utf-8", "replace"),  # shown inert, bounded
                    said_at(error_at),
                )
            )
        return found

    async def aclose(self, ended: Callable[[], Awaitable[None]] | None = None) -> None:
        """Once the run is over and its `end` published: the commands still being sent, a last look
        whether the broker went back in time, `ended` (what makes sure the broker and its replicas
        keep the run's end, written again where that broker lost it: `Publisher.confirm_end`), then
        the feed."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        await stop(list(self._awaiting))
        if self._watching is not None:
            await stop([self._watching])
            await self._last_look()
        if ended is not None:
            await ended()
        feed = self._feed
        if feed is not None:
            await asyncio.wait([feed], timeout=END_WAIT_S)
            if not await stop([feed]):
                self.said(f"the run's feed did not stop in {STOP_S:g} s of being cancelled: leaving it")
            elif not feed.cancelled():
                feed.result()  # a bug in the feed surfaces here


def _new_session(gone: str) -> str:
    """What the pane says of a coding agent's follow-up whose session's worker is `gone` (why)."""
    return f"{gone}: this follow-up starts a new agent session on any worker, told the earlier conversation"


def _told(answer: bytes) -> Told:
    """A worker's answer read back: "" when it did what was asked, else its words why not."""
    said = answer.decode("utf-8", "replace")
    return Refusal(said) if said else None


class ForwardedApprovals(Approvals):
    """The run's approvals when workers ask them: the question arrives as the worker's event, the
    answer goes to the worker as the person's `Approve` on the run's control stream (`BrokerRunner.reach`)."""

    def __init__(self, yes: bool, askable: bool) -> None:
        super().__init__(yes=yes, askable=askable)
        self.asked: set[tuple[str, str]] = set()

    def note(self, event: Event) -> None:
        """Keep which calls wait, from the workers' events."""
        if isinstance(event, ApprovalAsked):
            self.asked.add((event.ticket, event.call_id))
        elif isinstance(event, ApprovalAnswered):
            self.asked.discard((event.ticket, event.call_id))

    def waits(self, ticket_id: str, call_id: str) -> bool:
        """Whether that call waits, as its worker's events said (`BrokerRunner.reach` answers it)."""
        return (ticket_id, call_id) in self.asked


def coordinated_run(
    tickets: tuple[Ticket, ...],
    providers: Providers,
    approvals: Approvals,
    sinks: list[Sink],
    *,
    dispatch: Dispatch,
    reopened: dict[str, Adopted | None] | None = None,
    **options: Any,
) -> Run:
    """A run whose attempts run on the broker's workers (`BrokerRunner`), its approvals forwarded to
    them; a resumed one (`reopened`) first runs again the attempts its coordinator before left open."""
    runner = BrokerRunner(dispatch, reopened)
    forwarded = ForwardedApprovals(approvals.yes, approvals.askable)
    return Run(tickets, providers, forwarded, sinks, runner=runner, again=tuple(runner.reopened), **options)


class BrokerRunner:
    """Runs each attempt on a worker of the broker (see the module docstring): an `AttemptRunner`."""

    far = True

    def __init__(self, dispatch: Dispatch, reopened: dict[str, Adopted | None] | None = None) -> None:
        self.dispatch = dispatch
        self.dispatched: set[tuple[str, int]] = set()
        """The attempts a worker ran (or was asked to): their events on the broker are the worker's."""
        self.reopened = dict(reopened or {})
        """A resumed run's tickets whose latest attempt its coordinator before left open (seeded with
        the attempt before): each runs that attempt again, adopting its work entry when it has one
        (a worker runs it or ran it), else enqueuing it anew."""
        self._adopting = {
            ticket_id: dispatch.adopt(ticket_id, adopted)
            for ticket_id, adopted in self.reopened.items()
            if adopted is not None
        }
        for ticket_id in self._adopting:  # their events kept from the feed's start, which may come first
            self.dispatch.wait_for(ticket_id)
        self._telling: Status | None = None
        """The status `_tell` is saying now: the sink publishes it as a notice."""
        self.answer_lost: dict[str, str] = {}
        """Tickets whose latest attempt completed but lost events (maybe of its answer) on the broker,
        and how: what depends on them fails, saying so."""
        self.steers = SteersSent()
        """The steers sent to each ticket's attempt now, carried to the next should it end without
        its worker (broker/steers.py)."""
        self.publisher: Publisher | None = None
        """What publishes the run (`published`)."""

    def published(self, publisher: Publisher) -> Sink:
        """The run's sink that publishes what the run says itself; the events of attempts a worker ran
        are the worker's to publish, and only counted in the run's states here."""

        self.publisher = publisher

        def sink(event: Event) -> None:
            if (event.ticket, event.attempt) not in self.dispatched:
                publisher(event)
                return
            publisher.note(event)
            if event is self._telling:  # this coordinator's words of it: a notice of the run
                publisher.notice(self._telling)

        return sink

    def _tell(self, attempt: Attempt, message: str) -> None:
        """Say a `Status` of the attempt in this coordinator's words (the broker went back in time, a
        second work entry refused, what its events lost): in the run's record, and, as its worker
        publishes the attempt's events, published apart as a notice of the run (`published`)."""
        self._telling = attempt.ev(Status, message=message)
        try:
            attempt.emit(self._telling)
        finally:
            self._telling = None

    async def run_attempt(self, attempt: Attempt) -> None:
        state, ticket, ev = attempt.state, attempt.ticket, attempt.ev
        approvals = attempt.run.approvals
        assert isinstance(approvals, ForwardedApprovals)
        if lost := [d for d in ticket.depends_on if d in self.answer_lost and state.follow_up is None]:
            why = (
                "; ".join(f"{d}: {self.answer_lost[d]}" for d in lost)
                if len(lost) > 1
                else self.answer_lost[lost[0]]
            )
            message = (
                f"the answer of {', '.join(lost)} is not whole here ({why}): its prompt cannot be filled in"
            )
            attempt.say(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(ErrorKind.CONNECTION, message))
            return
        events = self.dispatch.wait_for(ticket.id)
        work = self._adopting.pop(ticket.id, None)
        started = False  # the attempt's start is its worker's `AttemptStarted`, adopted when it comes
        failing = self._failing(attempt)
        watching = asyncio.create_task(failing.watch(), name=f"failing workers of {ticket.id}")
        try:
            self.dispatched.add((ticket.id, attempt.number))
            if work is None:
                work = await self._enqueue(attempt)
            self.dispatch.expect(ticket.id, work)
            conversation = self._transcribe(state)
            seen = 0  # the worker's events of the attempt delivered here
            cut: dict[int, list[Lost]] = {}  # what never reached this coordinator, by attempt
            while True:
                event = await events.get()
                if isinstance(event, Lost):
                    if event.attempt is not None:
                        cut.setdefault(event.attempt, []).append(event)
                    continue
                if isinstance(event, BrokerNews):
                    self._tell(attempt, event.message)
                    continue
                if isinstance(event, LostEntry | Stranded):
                    if event.work != work:
                        continue
                    if isinstance(event, Stranded):
                        why = self._abandoned(event.worker, attempt.number + 1)
                        taken = await self._take_back(attempt, work, event.worker, why)
                        if taken is not TakenBack.GIVEN_UP:  # moved, the same attempt; or left alone
                            work = self.dispatch.work_of(ticket.id) or work
                            continue
                    else:
                        why = _REWOUND if event.rewound else self._lost(work, attempt.number + 1)
                    self._finished(attempt, work, Outcome.INTERRUPTED)
                    ev, seen = self._next_attempt(attempt, why), 0
                    work = await self._enqueue(attempt)
                    self.dispatch.expect(ticket.id, work)
                    started, conversation = False, self._transcribe(state)
                    failing.running = None
                    continue
                if event.attempt < attempt.number:
                    continue  # an attempt that ended here already
                if isinstance(event, AttemptEnd):
                    if event.attempt > attempt.number:  # taken over, and all of that attempt trimmed
                        ev, seen = self._taken_over(attempt, self._end_event(attempt, event)), 0
                        started = False
                    if not started:  # a worker started it: its start was trimmed with the rest
                        attempt.say(AttemptStarted, provider=ticket.provider, model=ticket.model)
                    self._ended_apart(attempt, event, seen)
                    return
                if event.attempt > attempt.number:
                    ev, started, seen = self._taken_over(attempt, event), False, 0
                    conversation = self._transcribe(state)
                if not started:
                    started = True
                    failing.running = work  # a worker took it: what names its entry is said from now on
                    if not isinstance(event, AttemptStarted):  # read by a coordinator before, or trimmed
                        attempt.say(AttemptStarted, provider=ticket.provider, model=ticket.model)
                seen += 1
                if isinstance(event, AttemptStarted | Status):
                    worker = ran_on([event.message]) if isinstance(event, Status) else None
                    self.dispatch.ledger.started(work, ticket.id, attempt.number, worker and worker.name)
                approvals.note(event)
                conversation.add(event)
                if isinstance(event, AttemptEnded) and event.attempt in cut:
                    self._cut(attempt, event, cut[event.attempt])
                attempt.emit(ev.adopt(observed(event)))
                if isinstance(event, SteerOffer) and (carried := self.steers.turn_began(ticket.id)):
                    self.dispatch.background(self._carry(attempt, carried), f"carry steers of {ticket.id}")
                if isinstance(event, AttemptEnded) and event.outcome is not Outcome.INTERRUPTED:
                    return  # (interrupted: its end published by a coordinator before, a takeover follows)
        finally:
            await stop([watching])
            if work is not None:
                self._finished(attempt, work, state.outcome or Outcome.CANCELLED)
            self.dispatch.done_with(ticket.id)
            for sent in self.steers.done(ticket.id):
                self._hold(sent, "carried to a next attempt whose turn never began")
            if state.outcome is None and work is not None:  # cancelled here: the worker stops it
                self.dispatch.send(ControlEntry(Cancel(ticket.id), watcher_name(), work))

    def _failing(self, attempt: Attempt) -> FailingWorkers:
        """What says, while the attempt waits queued, that a worker of its provider keeps failing, and
        while it runs, what a worker said of its work entry (a second entry for it refused)."""
        dispatch = self.dispatch
        return FailingWorkers(
            dispatch.workers,
            attempt.ticket.provider,
            lambda message: self._tell(attempt, message),
            dispatch._explain,
            max(dispatch.broker.settings.lease_s / 3, WORKERS_KEPT_S),
        )

    def reach(self, run: RunFace, state: TicketState, request: Request, who: str) -> Told | Awaitable[Told]:
        """The worker running the ticket's attempt gets the request on the run's control stream and
        hands it to its own run (`Run.ask`): an approval without waiting; a sub-agent's cancel waits
        for the worker's answer (`Dispatch.asked_of_worker`), as a run here would answer."""
        by = watcher_name() if who == YOU else who
        if isinstance(request, Steer):
            return self._steer(Sent(request, by, run), state)
        if not isinstance(request, Approve):
            return self.dispatch.asked_of_worker(state, request, by)
        approvals = run.approvals
        assert isinstance(approvals, ForwardedApprovals)
        approvals.asked.discard((request.ticket, request.call))
        work = self.dispatch.work_of(state.ticket.id)
        if work is None:
            return Refusal(f"{state.ticket.id} runs on no worker now: nothing answered")
        self.dispatch.send(ControlEntry(request, by, work))
        return None

    async def _steer(self, sent: Sent, state: TicketState) -> Told:
        """Carry a steer to the worker running the ticket's attempt; one it took, or has not answered
        yet, is kept while that attempt runs (broker/steers.py)."""
        late = functools.partial(self._steered_late, sent)
        told = await self.dispatch.asked_of_worker(state, sent.steer, sent.by, late)
        if told is None or isinstance(told, Pending):
            self.steers.add(sent)
        return told

    def _steered_late(self, sent: Sent, told: Told) -> None:
        """A pending steer's answer (`Dispatch.asked_of_worker`): taken by the worker, its `Steered`
        says so; refused there (no safe point), or never read while the attempt it was sent to ran, it
        is held here as the ticket's next turn; where the ticket runs no more, said lost, with its
        words. Carried on to a next attempt meanwhile, its answer no longer counts."""
        if told is None or sent.settled:
            return
        self.steers.settle(sent)
        why = "refused by its worker" if isinstance(told, Refusal) else "never read by its worker"
        self._hold(sent, why)

    def _hold(self, sent: Sent, why: str) -> None:
        """Hold a steer here as the ticket's next turn, or say it lost with its words."""
        steer = sent.steer
        if (problem := sent.run.steer(steer.ticket, steer.text, sent.by)) is not None:
            lost = f"a steer of {steer.ticket} from {sent.by} was {why} and is lost ({problem})"
            self.dispatch.said(f"{lost}: {steer.text}")

    async def _carry(self, attempt: Attempt, carried: list[Sent]) -> None:
        """Send the steers an attempt that ended without its worker took (or was sent), in order, to
        the attempt that took its place and runs the turn again (broker/steers.py)."""
        for sent in carried:
            self._tell(
                attempt,
                f"the steer from {sent.by} sent to an attempt that ended without its worker is carried "
                f"to attempt {attempt.number}, which runs the turn again: {sent.steer.text}",
            )
            told = await self._steer(sent, attempt.state)
            if isinstance(told, Refusal):
                self._hold(sent, f"refused by attempt {attempt.number} ({told.said})")

    async def _enqueue(self, attempt: Attempt) -> str:
        """Put the ticket's attempt on the broker for a worker; returns its work entry."""
        state, ticket, approvals = attempt.state, attempt.ticket, attempt.run.approvals
        item = WorkItem(
            attempt.run.run_id,
            ticket,
            attempt.number,
            attempt.run.answers(ticket),
            state.why,
            approvals.yes,
            approvals.askable,
            *self._continuing(state),
        )
        state.why = None
        item, worker, moved = await self._destination(attempt, item)
        publisher = self.publisher
        if publisher is not None and publisher.sent < publisher.described_mark:  # a ticket added
            # as the run ran: on the broker before its worker's events, which watchers follow from it
            await publisher.drained(publisher.described_mark, self.dispatch.broker.settings.lease_s)
        work = await self.dispatch.enqueue(item, worker)
        waits = await self.dispatch.unserved(ticket.provider) or (
            f"queued on the broker: waits for {f'worker {worker}' if worker else 'a worker'} "
            f"that serves {ticket.provider!r}"
        )
        attempt.say(AttemptQueued, message=waits, provider=ticket.provider, model=ticket.model)
        if moved is not None:  # after it: the attempt's first event is its queueing (or its end)
            self._tell(attempt, moved)
        return work

    def _finished(self, attempt: Attempt, work: str, outcome: Outcome) -> None:
        """Keep how the run is done with `work`, to write back should the broker forget it."""
        end = AttemptEnd(attempt.ticket.id, attempt.number, outcome, attempt.state.error, 0)
        self.dispatch.finished(work, end)

    async def _take_back(self, attempt: Attempt, work: str, worker: str, why: str) -> TakenBack:
        """Take the attempt's work entry back from the own stream of `worker`, which is gone
        (broker/gone.py); one it never took is moved to any worker, said as `_destination` says it."""
        end = AttemptEnd(
            attempt.ticket.id, attempt.number, Outcome.INTERRUPTED, ErrorInfo(ErrorKind.CONNECTION, why), 0
        )
        taken = await self.dispatch.take_back(attempt.ticket.id, work, end)
        if taken is TakenBack.MOVED:
            continues = attempt.state.continues
            self._tell(
                attempt,
                _new_session(
                    f"worker {worker}, which ran attempt {continues} and has its agent's session, left the "
                    "broker before it took this follow-up"
                ),
            )
        return taken

    @staticmethod
    def _abandoned(worker: str, attempt: int) -> str:
        return (
            f"its worker {worker} left the broker (killed, paused, or cut off from it) and stopped renewing "
            f"its lease, and nobody else reads that worker's own stream: enqueued again as attempt {attempt}"
        )

    @staticmethod
    def _lost(work: str, attempt: int) -> str:
        return (
            f"the broker lost this attempt's work entry {work} before a worker ended it (restarted without "
            f"persistence, flushed, or failed over to a replica that lacked it): enqueued again as attempt "
            f"{attempt}"
        )

    @staticmethod
    def _end_event(attempt: Attempt, end: AttemptEnd) -> AttemptEnded:
        """A recorded end as the worker's event was (its time: now)."""
        now = attempt.run.clock()
        return AttemptEnded(end.ticket, end.attempt, end.events - 1, now, end.outcome, end.error)

    def _ended_apart(self, attempt: Attempt, end: AttemptEnd, seen: int) -> None:
        """End the attempt as its worker recorded it: the broker trimmed its end from the run's event
        stream (and maybe more of its events) before this coordinator read it, or lost it going back in
        time (its worker wrote the end back: broker/recent_ends.py). Its answer is whole
        only when every other event arrived; else what arrived is kept, and said to be partial."""
        lost = max(end.events - seen, 1)
        cost = "" if end.cost_usd is None else f", costing {format_usd(end.cost_usd, end.cost_estimated)}"
        tokens = f"{end.input_tokens or 0} input and {end.output_tokens} output tokens{cost}"
        if self.dispatch.went_back:  # written back by its worker (broker/recent_ends.py)
            cause, lacks = (
                "were lost when the broker went back in time (restored, failed over or flushed)",
                "lost",
            )
        else:
            cause, lacks = "were trimmed from the broker", "trimmed"
        message = (
            f"{plural(lost, 'event')} of this attempt's {end.events} {cause} before this coordinator read "
            f"them{'' if self.dispatch.went_back else ' ([broker] max_len)'}; its worker recorded that "
            f"it ended {end.outcome} after {tokens}"
        )
        if end.outcome is Outcome.COMPLETED and lost > 1:
            self.answer_lost[attempt.ticket.id] = (
                f"some of its events {cause} before this coordinator read them"
                if self.dispatch.went_back
                else "the broker trimmed some of its events before this coordinator read them, "
                "see [broker] max_len"
            )
            attempt.state.transcript = []  # no follow-up of a conversation that lacks part of it
            message += (
                f": its answer here lacks what was {lacks}, so the tickets that depend on it fail "
                "and it takes no follow-up"
            )
        self._tell(attempt, message)
        attempt.say(AttemptEnded, outcome=end.outcome, error=end.error)

    def _cut(self, attempt: Attempt, end: AttemptEnded, lost: list[Lost]) -> None:
        """Before the end of an attempt some of whose events never reached this coordinator: say what
        it lost (as a watcher's pane does), and when it completed, that its answer here is not whole:
        the tickets that depend on it fail, and it takes no follow-up (what was lost is not made up)."""
        for one in lost:
            self._tell(attempt, one.text("this coordinator"))
        if end.outcome is not Outcome.COMPLETED:
            return
        count = sum(one.events or 0 for one in lost)
        causes = "; ".join(dict.fromkeys(one.cause("this coordinator") for one in lost))
        self.answer_lost[attempt.ticket.id] = (
            f"{plural(count, 'event')} of it never reached this coordinator: {causes}"
        )
        attempt.state.transcript = []
        whole = (
            "its answer here is not whole, so the tickets that depend on it fail and it takes no follow-up"
        )
        self._tell(attempt, whole)

    @staticmethod
    def _continuing(state: TicketState) -> tuple[tuple[Message, ...], str | None, int | None, str | None]:
        """What a follow-up's attempt (or a retry of one) sends besides the ticket, as a local one does."""
        if state.follow_up is None:
            return (), None, None, None
        return state.base, state.follow_up, state.continues, state.agent_session

    async def _destination(self, attempt: Attempt, item: WorkItem) -> tuple[WorkItem, str | None, str | None]:
        """The worker a coding agent's follow-up must go to: the one that ran the attempt it
        continues, which alone has the agent's session to load. When that worker is gone the
        follow-up goes to any worker, in a new session told the earlier conversation (as when an
        agent cannot load its session here), and the third value says so for the pane."""
        ticket, continues = item.ticket, item.continues
        if (
            continues is None
            or item.agent_session is None
            or not kind_of(attempt.run.providers.configs[ticket.provider]).coding_agent
        ):
            return item, None, None
        worker = await self.dispatch.ran_on(ticket.id, continues)
        if worker is not None and await self.dispatch.present(worker, ticket.provider):
            return item, worker, None
        gone = (
            f"worker {worker}, which ran attempt {continues} and has its agent's session, is gone"
            if worker is not None
            else f"no worker on the broker is known to have the agent's session of attempt {continues}"
        )
        return dataclasses.replace(item, agent_session=None), None, _new_session(gone)

    @staticmethod
    def _transcribe(state: TicketState) -> Conversation:
        """The attempt's conversation, built from the worker's events as they are adopted: the
        conversation a follow-up continues once it completed (the run keeps it at the attempt's end)."""
        conversation = Conversation(list(state.base))
        state.transcript = conversation.messages
        return conversation

    def _taken_over(self, attempt: Attempt, announced: Event) -> EventFactory:
        """Another worker took the ticket over as the attempt `announced` is of: the attempt before it
        ends `interrupted` with what arrived (unless its end came already), and this one starts."""
        number = announced.attempt
        message = (
            f"its worker stopped renewing its lease (killed, paused, or cut off from the broker): "
            f"another worker took the ticket over as attempt {number}"
        )
        return self._next_attempt(attempt, message, number)

    def _next_attempt(self, attempt: Attempt, message: str, number: int | None = None) -> EventFactory:
        """End the ticket's attempt `interrupted` with `message` (unless its end came already) and go
        on as attempt `number` (the next one by default), whose start is its worker's."""
        ticket, before = attempt.ticket, attempt.number
        number = before + 1 if number is None else number
        error = ErrorInfo(ErrorKind.CONNECTION, message)
        # Published, unlike the rest of a dispatched attempt: no worker ends it. Its seq is past the
        # worker's last (each of the worker's events is adopted in order, after what this run said
        # first), so watchers take it as the attempt's end.
        self.dispatched.discard((ticket.id, before))
        self.steers.taken_over(ticket.id)  # what it was sent goes to the next attempt
        if attempt.state.outcome is None:
            attempt.say(AttemptEnded, outcome=Outcome.INTERRUPTED, error=error)
        ev = attempt.renumber(number)
        self.dispatched.add((ticket.id, number))
        return ev
