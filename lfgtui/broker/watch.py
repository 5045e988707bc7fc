"""Following a run on the broker (`lfg attach redis://HOST RUN`) and reading the run index and the
workers' presence (`lfg runs`, the fleet view).

`BrokerAttachment` is what `remote/attach.py`'s `Attachment` is for a served run, so the TUI and the
NDJSON printer take either: it reads the run's description from its entry in the index, then its
event stream from the start with `XREAD BLOCK`, decoding every event strictly (remote/codec.py) and
delivering each once (`Delivered`: an entry sent twice, or read again after a reconnect, shows
nothing twice). A gap entry, or publisher numbers that jump (the stream was trimmed), is said. A
ticket the run took on as it ran (a ticket entry: an add-ticket, a fork) is followed from then on,
and told to `added`. A
notice (what the coordinator said of an attempt its worker publishes) is delivered as the `Status`
of that attempt, apart from its numbered events.
Watching is read-only: only the lfg that runs the run acts on it (a coordinator sends cancels and
approvals to its workers on the run's control stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lfgtui.broker.client import CONNECT_TIMEOUT_S, client, connect, explain
from lfgtui.broker.gaps import Gaps, Lost
from lfgtui.broker.layout import (
    ENTRY_END,
    ENTRY_EVENTS,
    ENTRY_GAP,
    ENTRY_NOTICE,
    ENTRY_TICKET,
    Layout,
    loads,
)
from lfgtui.broker.presence import MAX_ERROR, ask_live, live
from lfgtui.cancels import raise_swallowed_cancel
from lfgtui.config.broker import Broker, BrokerError
from lfgtui.events import Status
from lfgtui.formats import plural
from lfgtui.remote.attach import RECONNECTS, AttachError, Delivered, events_of, now_in
from lfgtui.remote.codec import CodecError, UnknownType, decode, finite
from lfgtui.remote.description import DescriptionError, RemoteRun, read_description, read_ticket

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.events import Event
    from lfgtui.run.calls import RetryPolicy
    from lfgtui.run.requests import Request
    from lfgtui.tickets.ticket import Ticket

BLOCK_MS = 15_000
"""How long one read waits for the next entry."""
ENTRIES_PER_READ = 100
MAX_NOTICE = 2_000
"""The most characters of a notice of the run shown (a coordinator's says a line or two; one written
by anyone else who may write the broker is cut there)."""
MAX_RUNS = 1_000
"""The most runs `lfg runs` lists, newest first."""
INDEX_FIELDS = (
    *("who", "host", "title", "started", "updated", "ended", "states", "waiting", "cost", "tok_s"),
    "attention",
    "cache",
)
WORKER_FIELDS = ("host", "serves", "running", "error", "error_at")


class BrokerAttachment:
    """One run on the broker: `describe` it, then `follow` its events until it ends."""

    def __init__(
        self,
        broker: Broker,
        run_id: str,
        clock: Callable[[], float] = time.monotonic,
        reconnects: RetryPolicy = RECONNECTS,
        block_ms: int = BLOCK_MS,
    ) -> None:
        self.broker = broker
        self.run_id = run_id
        self.url = f"{broker.where}#{run_id}"
        self.clock = clock
        self.reconnects = reconnects
        self.block_ms = block_ms
        self.layout = Layout(broker.settings.prefix)
        self.run: RemoteRun | None = None
        self.offset = 0.0
        """Added to the publisher's times to put them on `clock` (see `_place`)."""
        self.state = "connecting"
        self.read_only = (
            "This run is watched through the broker, read-only: cancel, retry and approve in the TUI of "
            "the lfg that runs it (for lfg run --broker, its coordinator), which sends them to its workers."
        )
        self.gaps: list[str] = []
        """What the run's watchers missed, as said."""
        self.ended_by: str | None = None
        """Only the `end` of this publisher (its `instance`) ends `follow`; None: any. A coordinator's
        feed ends on its own run's end, never on a stale one (a coordinator before it, anyone who
        may write the broker), which would leave its attempts waiting for events never read."""
        self.known: set[str] = set()
        """The tickets whose events `follow` delivers: those `describe` read, and those the run took
        on as it ran that its coordinator's feed was told of (broker/coordinator.py `Dispatch.wait_for`)."""
        self.added: Callable[[Ticket], None] | None = None
        """Who is told of a ticket the run took on as it ran (layout.ENTRY_TICKET: an add-ticket, a
        fork), once, before its events: the attached TUI's pane of it; None: nobody."""
        self.leads: dict[str, str] = {}
        """The lead ticket that added each ticket the run took on as it ran, as its ticket entry says
        (`lead`): what the worker serving that lead's door shows it (broker/lead_door.py)."""
        self.notices = True
        """Whether the run's notices (layout.ENTRY_NOTICE) are delivered: not to the coordinator that
        said them, whose record has them already."""
        self._redis: Redis | None = None
        self._broker_time = (0.0, 0.0)
        """The broker's wall clock and this `clock` at one moment: entry ids are the broker's time."""

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def describe(self, said: Callable[[str], None] | None = None) -> RemoteRun:
        """What the run is, from its entry in the index; raises `AttachError` saying why not."""
        try:
            self._redis = await connect(self.broker, read_timeout_s=self.block_ms / 1000 + 10)
            description = await self._redis.hget(self.layout.run(self.run_id), "run")
            seconds, micros = await self._redis.time()
        except BrokerError as exc:
            raise AttachError(str(exc)) from None
        except Exception as exc:
            if (problem := explain(exc, self.broker)) is None:
                raise
            raise AttachError(problem) from None
        self._broker_time = (seconds + micros / 1e6, self.clock())
        if description is None:
            raise AttachError(
                f"the broker at {self.broker.where} has no run {self.run_id!r} "
                f"(lfg runs --broker {self.broker.where} lists those it has)"
            )
        try:
            self.run = read_description(loads(description), "the broker")
        except DescriptionError as exc:
            raise AttachError(str(exc)) from None
        if self.run.run_id != self.run_id:
            raise AttachError(f"the broker's entry for run {self.run_id} describes run {self.run.run_id!r}")
        self.run = RemoteRun(
            self.run.run_id, self.run.tickets, False, self.run.prices, self.run.prices_problem
        )
        self.known |= {ticket.id for ticket in self.run.tickets}
        return self.run

    async def ask(self, request: Request) -> str | None:
        return self.read_only

    async def follow(
        self,
        deliver: Callable[[Event], None],
        said: Callable[[str], None],
        caught_up: Callable[[], Awaitable[None]] | None = None,
        lost: Callable[[Lost], None] | None = None,
    ) -> None:
        """Deliver the run's events until its `end` (or until cancelled); `said` hears how the watching
        is doing.
        `caught_up` is awaited after each read that reached the stream's end (fewer entries than it
        asked for), once what it read is delivered: every entry added before that read is then
        delivered or was trimmed. `lost` hears what was trimmed or dropped (broker/gaps.py), in
        order before the events that follow it."""
        assert self.run is not None and self._redis is not None, "describe() first"
        known = self.known  # the same set: a ticket the coordinator's run adds is delivered from then on
        delivered, numbers, offsets = Delivered(), _Numbers(), dict[str, float]()
        gaps = Gaps(lost or (lambda _: None))
        key, last, failures = self.layout.events(self.run_id), "0-0", 0
        while True:
            raise_swallowed_cancel()
            try:
                reply = await self._redis.xread({key: last}, count=ENTRIES_PER_READ, block=self.block_ms)
            except Exception as exc:
                problem = explain(exc, self.broker)
                if problem is None:
                    raise
                if failures >= self.reconnects.max_retries:
                    self._say(said, f"disconnected: {problem}")
                    raise AttachError(
                        f"lost the broker: {problem} (gave up after {failures} retries)"
                    ) from None
                failures += 1
                delay = self.reconnects.delay(failures, None)
                self._say(said, f"reconnecting in {delay:.1f} s ({problem})")
                await asyncio.sleep(delay)
                continue
            if failures or self.state == "connecting":
                self._say(said, "live" if last == "0-0" else "reconnected")
            failures = 0
            for entry_id, fields in reply[0][1] if reply else ():
                last = entry_id.decode()
                kind, data, number = (
                    _text(fields.get(b"kind")),
                    loads(fields.get(b"data")),
                    _text(fields.get(b"n")),
                )
                if (missed := numbers.missed(number)) is None:
                    continue  # the same entry again: the publisher resent it
                instance = number.partition(".")[0]
                # each publisher (a run's workers have one each) its clock
                if first := instance not in offsets:
                    offsets[instance] = self._place(last, data)
                    self.offset = offsets[next(iter(offsets))]
                if missed:
                    self._gap(
                        said,
                        f"{missed} of the run's entries were trimmed from the broker before they were read",
                    )
                    gaps.entries(missed, offsets[instance] + now_in(data), first)
                if kind == ENTRY_EVENTS:
                    for event in events_of(data, offsets[instance], said):
                        if event.ticket in known:
                            gaps.deliver(event, delivered, deliver)
                elif kind == ENTRY_GAP:
                    self._gap(said, _lost(data))
                    gaps.dropped(data, offsets[instance] + now_in(data), known)
                elif kind == ENTRY_TICKET:
                    self._add(data, said)
                elif kind == ENTRY_NOTICE and self.notices:
                    notice = _notice(data, offsets[instance], known, said)
                    if notice is not None:
                        deliver(notice)
                elif kind == ENTRY_END and self.ended_by in (None, instance):
                    self._say(said, "ended")
                    return
            if caught_up is not None and len(reply[0][1] if reply else ()) < ENTRIES_PER_READ:
                await caught_up()

    def _add(self, data: dict[str, object], said: Callable[[str], None]) -> None:
        """A ticket entry: the ticket is followed from now on and told to `added`, once (a watcher
        that attached later had it in the description); one that is not valid is skipped, and said."""
        try:
            ticket = read_ticket(data.get("ticket"), "ticket", "the broker")
        except DescriptionError as exc:
            said(f"skipped a ticket that is not valid: {exc}")
            return
        if ticket.id in self.known:
            return
        self.known.add(ticket.id)
        if isinstance(lead := data.get("lead"), str):
            self.leads[ticket.id] = lead
        if self.added is not None:
            self.added(ticket)

    def _place(self, entry_id: str, data: dict[str, object]) -> float:
        """The offset from a publisher's clock to this one, from its first entry read: its `now`
        on the publisher's clock, and its id, when the broker took it on the broker's clock, which
        `describe` put beside this clock; so an entry read long after it was written is placed then."""
        broker_then, here_then = self._broker_time
        written = int(entry_id.partition("-")[0]) / 1000
        age = broker_then + (self.clock() - here_then) - written
        return self.clock() - age - now_in(data)

    def _gap(self, said: Callable[[str], None], text: str) -> None:
        self.gaps.append(text)
        self._say(said, f"gap: {text}")

    def _say(self, said: Callable[[str], None], state: str) -> None:
        self.state = state
        said(state)


@dataclass
class _Numbers:
    """The publisher's entry numbers (`INSTANCE.N`): a number seen again is a resent entry, one that
    jumps says how many were trimmed before this watcher read them."""

    last: dict[str, int] = field(default_factory=dict)

    def missed(self, number: str) -> int | None:
        """How many entries were skipped before this one (0 for the next), None for one seen already."""
        instance, _, n = number.partition(".")
        if not n.isdigit() or len(n) > 18:
            return 0
        before = self.last.get(instance, 0)
        if int(n) <= before:
            return None
        self.last[instance] = int(n)
        return int(n) - before - 1


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _notice(
    data: dict[str, object], offset: float, known: set[str], said: Callable[[str], None]
) -> Status | None:
    """A notice entry's status of a ticket the run described, decoded strictly and cut to `MAX_NOTICE`;
    None (and said) for one that is not valid. It is delivered apart from `Delivered`: its `seq` is
    its coordinator's, not the attempt's worker's, and must not move what the worker's events are
    read past. Nothing more is said of one of another ticket or kind (a newer coordinator's)."""
    try:
        event = decode(data.get("event"), offset)
    except UnknownType:
        return None
    except CodecError as exc:
        said(f"skipped a notice that is not valid: {exc}")
        return None
    if type(event) is not Status or event.ticket not in known:
        return None
    if len(event.message) > MAX_NOTICE:
        cut = len(event.message) - MAX_NOTICE
        return dataclasses.replace(event, message=f"{event.message[:MAX_NOTICE]}… ({cut:,} more characters)")
    return event


def _lost(data: dict[str, object]) -> str:
    """A gap entry as people read it: how many events of which tickets the publisher dropped."""
    lost = data.get("lost")
    items = [item for item in lost if isinstance(item, dict)] if isinstance(lost, list) else []
    count = sum(item["events"] for item in items if type(item.get("events")) is int)
    tickets = sorted({str(item.get("ticket")) for item in items})
    shown = ", ".join(tickets[:5]) + (f" and {len(tickets) - 5} more" if len(tickets) > 5 else "")
    return (
        f"the publisher dropped {plural(count, 'event')} of {shown or 'no ticket'} while the broker was away"
    )


@dataclass(frozen=True)
class IndexedRun:
    """One run of the run index, as `lfg runs` and the fleet view show it (its text untrusted)."""

    run_id: str
    who: str
    host: str
    title: str
    started: float
    updated: float | None
    ended: float | None
    states: dict[str, int]
    waiting: dict[str, float] = field(default_factory=dict)
    """Its tickets waiting for an approval, each since when (the runner's wall clock)."""
    cost: float | None = None
    tok_s: float | None = None
    needs_you: dict[str, float] = field(default_factory=dict)
    """Its tickets that need the person (an approval, a question), each since when (wall clock);
    a runner of an older lfg says only `waiting`."""
    unread: int = 0
    """Its tickets that ended and that nobody has looked at in the runner's TUI."""
    subagents: tuple[int, int] = (0, 0)
    """Its tickets' sub-agents (their latest attempts'): how many, how many running."""
    cache_hit: float | None = None
    """The share of its prompts the providers' prompt caches read (`MetricsBook.cache_hit`); None
    until a provider said, or from an older lfg."""

    @property
    def needing(self) -> dict[str, float]:
        """The tickets that need the person, as the runner says them (its approvals, from an older lfg)."""
        return self.needs_you or self.waiting

    def attention(self) -> str:
        """`2 need you, 1 unread`, or empty when nothing waits for the person."""
        said = [f"{len(self.needing)} need you"] if self.needing else []
        return ", ".join([*said, f"{self.unread} unread"] if self.unread else said)

    def json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "who": self.who,
            "host": self.host,
            "title": self.title,
            "started": self.started,
            "updated": self.updated,
            "ended": self.ended,
            "states": self.states,
            "waiting": self.waiting,
            "cost": self.cost,
            "tok_s": self.tok_s,
            "needs_you": self.needing,
            "unread": self.unread,
            "subagents": {"count": self.subagents[0], "running": self.subagents[1]},
            "cache_hit": self.cache_hit,
        }


@dataclass(frozen=True)
class OnlineWorker:
    """A worker whose presence has not lapsed (`lfg worker`), and the providers it serves."""

    name: str
    host: str
    serves: tuple[str, ...]
    running: int
    error: str = ""
    """What last went wrong on it, as it said (cut to `MAX_ERROR`; shown inert), or ""."""
    error_at: float | None = None
    """When it said that, on the broker's clock."""


@dataclass(frozen=True)
class FleetIndex:
    """What is on the broker: its runs, newest first, and the workers online."""

    runs: list[IndexedRun]
    workers: list[OnlineWorker]


async def fleet_index(redis: Redis, layout: Layout, limit: int = MAX_RUNS) -> FleetIndex:
    """The run index and the workers' presence in two round trips however many runs there are: the
    names, then every run's and worker's hash in one pipeline. A run or worker whose hash expired is
    left out."""
    pipe = redis.pipeline(transaction=False)
    pipe.zrevrange(layout.runs, 0, limit - 1, withscores=True)
    ask_live(pipe, layout)
    members, clock, lapses = await pipe.execute()
    names = live(clock, lapses)
    pipe = redis.pipeline(transaction=False)
    for run_id, _ in members:
        pipe.hmget(layout.run(run_id.decode()), list(INDEX_FIELDS))
    for name in names:
        pipe.hmget(layout.worker(name.decode()), list(WORKER_FIELDS))
    rows = await pipe.execute()
    runs = [
        run
        for (run_id, started), values in zip(members, rows[: len(members)], strict=True)
        if (run := _indexed_run(_text(run_id), started, values)) is not None
    ]
    workers = [
        worker
        for name, values in zip(names, rows[len(members) :], strict=True)
        if (worker := _online_worker(_text(name), values)) is not None
    ]
    return FleetIndex(runs, sorted(workers, key=lambda worker: worker.name))


class FleetReader:
    """The fleet view's reads of one broker, on a connection of its own: a read that fails raises (the
    view keeps what it showed), and the next one connects again. A read whose connection the broker
    had closed (a failover: the primary killed, or demoted before the sentinels' word reached the
    client) is asked once more at once on a new connection, which asks the sentinels: it only reads,
    so asking twice is safe, and the view says no failure where the new primary answers."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.where = broker.where
        self.layout = Layout(broker.settings.prefix)
        self._redis: Redis | None = None

    async def read(self) -> FleetIndex:
        from redis.asyncio.sentinel import MasterNotFoundError
        from redis.exceptions import AuthenticationError, ConnectionError

        if self._redis is None:
            self._redis = client(self.broker, read_timeout_s=CONNECT_TIMEOUT_S)
        try:
            return await fleet_index(self._redis, self.layout)
        except (AuthenticationError, MasterNotFoundError):
            raise  # refused, or no primary named: asking again at once would say the same
        except ConnectionError:
            return await fleet_index(self._redis, self.layout)

    def explain(self, exc: Exception) -> str | None:
        """What a failed read means to a person; None for a bug."""
        return explain(exc, self.broker)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


async def indexed_runs(redis: Redis, layout: Layout, limit: int = MAX_RUNS) -> list[IndexedRun]:
    """The runs of the index, newest first (a run whose entry expired is left out)."""
    return (await fleet_index(redis, layout, limit)).runs


def _indexed_run(run_id: str, started: float, values: list[bytes | None]) -> IndexedRun | None:
    fields = dict(zip(INDEX_FIELDS, (_text(value) if value else None for value in values), strict=True))
    if fields["started"] is None:
        return None
    return IndexedRun(
        run_id,
        fields["who"] or "?",
        fields["host"] or "?",
        fields["title"] or "",
        started,
        _number(fields["updated"]),
        _number(fields["ended"]),
        _states(fields["states"]),
        _waiting(fields["waiting"]),
        _number(fields["cost"]),
        _number(fields["tok_s"]),
        *_attention(fields["attention"]),
        cache_hit=_number(fields["cache"]),
    )


def _online_worker(name: str, values: list[bytes | None]) -> OnlineWorker | None:
    host, serves, running, error, error_at = (_text(value) if value else None for value in values)
    if host is None:
        return None
    providers = loads(serves.encode()).get("providers") if serves else None
    served = tuple(p for p in providers if isinstance(p, str)) if isinstance(providers, list) else ()
    count = running if running is not None and running.isdigit() and len(running) < 10 else "0"
    return OnlineWorker(name, host, served, int(count), (error or "")[:MAX_ERROR], _number(error_at))


def _number(text: str | None) -> float | None:
    try:
        return finite(float(text)) if text else None
    except (ValueError, CodecError):
        return None


def _states(text: str | None) -> dict[str, int]:
    data = loads(text.encode()) if text else {}
    return {str(state): count for state, count in data.items() if type(count) is int}


def _attention(text: str | None) -> tuple[dict[str, float], int, tuple[int, int]]:
    """The tickets needing the person (each since when), the count of unread ones and the sub-agents
    (how many, how many running), as the index says them (anything else there is left out)."""
    data = loads(text.encode()) if text else {}
    needs, unread = data.get("needs_you"), data.get("unread")
    count = len(unread) if isinstance(unread, list) else 0
    children = data.get("subagents")
    children = children if isinstance(children, dict) else {}
    counts = tuple(
        n if type(n) is int and 0 <= n < 10**6 else 0 for n in (children.get(k) for k in ("count", "running"))
    )
    return _since_each(needs if isinstance(needs, dict) else {}), count, (counts[0], counts[1])


def _waiting(text: str | None) -> dict[str, float]:
    return _since_each(loads(text.encode()) if text else {})


def _since_each(data: dict[str, Any]) -> dict[str, float]:
    """Each ticket's time, of those whose time is a finite number."""
    waiting = {}
    for ticket, since in data.items():
        with contextlib.suppress(CodecError):
            waiting[str(ticket)] = finite(since)
    return waiting
