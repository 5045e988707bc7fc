"""Following a run on the broker (`lfg attach redis://HOST RUN`); the run index and the workers'
presence (`lfg runs`, the fleet view) are read by broker/fleet_index.py.

`BrokerAttachment` is what `remote/attach.py`'s `Attachment` is for a served run, so the TUI and the
NDJSON printer take either: it reads the run's description from its entry in the index, then its
event stream from the start with `XREAD BLOCK`, decoding every event strictly (remote/codec.py) and
delivering each once (`Delivered`: an entry sent twice, or read again after a reconnect, shows
nothing twice). A gap entry, or entries trimmed from the stream (publisher numbers that jump, or the
stream's own count, `_Trims`), is said. A ticket the run took on as it ran (a ticket entry: an
add-ticket, a fork) is followed from then on, and told to `added`. A notice (what the coordinator
said of an attempt its worker publishes) is delivered as the `Status` of that attempt, apart from
its numbered events.
Watching is read-only: only the lfg that runs the run acts on it (a coordinator sends cancels and
approvals to its workers on the run's control stream).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lfgtui.broker.client import connect, explain
from lfgtui.broker.gaps import Gaps, Lost
from lfgtui.broker.layout import (
    ENTRY_END,
    ENTRY_EVENTS,
    ENTRY_GAP,
    ENTRY_NOTICE,
    ENTRY_TICKET,
    Layout,
    field_text,
    loads,
)
from lfgtui.cancels import raise_swallowed_cancel
from lfgtui.config.broker import Broker, BrokerError
from lfgtui.events import Status
from lfgtui.formats import plural
from lfgtui.remote.codec import CodecError, UnknownType, decode
from lfgtui.remote.description import DescriptionError, RemoteRun, read_description, read_ticket
from lfgtui.remote.following import RECONNECTS, AttachError, Delivered, events_of, now_in

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.events import Event
    from lfgtui.run.requests import Request
    from lfgtui.run.retry import RetryPolicy
    from lfgtui.tickets.ticket import Ticket

BLOCK_MS = 15_000
"""How long one read waits for the next entry."""
ENTRIES_PER_READ = 100
MAX_NOTICE = 2_000
"""The most characters of a notice of the run shown (a coordinator's says a line or two; one written
by anyone else who may write the broker is cut there)."""


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
        delivered, numbers, trims, offsets = Delivered(), _Numbers(), _Trims(), dict[str, float]()
        gaps = Gaps(lost or (lambda _: None))
        key, last, failures, unsaid = self.layout.events(self.run_id), "0-0", 0, 0
        while True:
            raise_swallowed_cancel()
            try:
                pipe = self._redis.pipeline(transaction=False)
                pipe.xread({key: last}, count=ENTRIES_PER_READ, block=self.block_ms)
                pipe.xlen(key)  # the same round trip, a number: what the stream holds
                reply, length = await pipe.execute()
                entries = reply[0][1] if reply else []
                info = await self._count(key) if _Trims.may_start_at_head(len(entries), length) else None
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
            unsaid += trims.read([entry_id for entry_id, _ in entries], info)
            for entry_id, fields in entries:
                last = entry_id.decode()
                kind, data, number = (
                    field_text(fields.get(b"kind")),
                    loads(fields.get(b"data")),
                    field_text(fields.get(b"n")),
                )
                if (jumped := numbers.missed(number)) is None:
                    continue  # the same entry again: the publisher resent it
                missed, unsaid = trims.jumped(jumped) + unsaid, 0
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
            if caught_up is not None and len(entries) < ENTRIES_PER_READ:
                await caught_up()

    async def _count(self, key: str) -> object:
        """The stream's `XINFO STREAM` (its reply carries its first and last entries, so it is asked
        only when `_Trims.may_start_at_head`); the error itself when the broker refuses it (the
        stream gone since the read): no count, as on a Redis before 7."""
        assert self._redis is not None
        (info,) = (
            await self._redis.pipeline(transaction=False).xinfo_stream(key).execute(raise_on_error=False)
        )
        return info

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


@dataclass
class _Trims:
    """How many of the stream's entries this reader never read, each said once however it shows: a
    publisher's numbers jumping (`_Numbers`), or the stream's own count (`XINFO STREAM`, Redis 7:
    `entries-added` less `length` is how many were trimmed from its head, so its first entry's place
    among all it was given is known), which also tells entries of a publisher that closed with them
    trimmed (all of them, or those after the last this reader read), whose numbers never jump."""

    entries_read: int = 0
    """The stream's entries this reader read (each entry once: a read goes on after the last)."""
    said: int = 0
    """How many were said trimmed, in all."""
    jumps: int = 0
    """How many the publishers' numbers jumped over, in all."""

    @staticmethod
    def may_start_at_head(read: int, length: int) -> bool:
        """Whether a read of `read` entries may have started at the stream's head, entries before it
        trimmed unread, so that `read` needs the stream's count: a read that filled its count (the
        stream may hold more after it), or one after which the stream (`length`, `XLEN` in the same
        round trip) holds no entry before the read's first. `XLEN` runs right after the read: at once
        when the read found entries, and when it waited, after the command that woke it, whose own
        entries are all it may have skipped, which their publisher's numbers jumping tell."""
        return read == ENTRIES_PER_READ or (read > 0 and length <= read)

    def read(self, ids: list[bytes], info: object) -> int:
        """How many entries before a read's first (`ids`, those it returned) were trimmed and are not
        said yet, from `info` (the stream's `XINFO STREAM` just after the read, None when not asked:
        see `may_start_at_head`; 0 where it does not tell: a Redis before 7, no stream, or every entry
        read trimmed already, said by a later read)."""
        before, self.entries_read = self.entries_read, self.entries_read + len(ids)
        if not ids or not isinstance(info, dict):
            return 0
        added, length, head = info.get("entries-added"), info.get("length"), info.get("first-entry")
        if type(added) is not int or type(length) is not int or not head or head[0] not in ids:
            return 0  # the head before the read's first (nothing more trimmed unread), or past its last
        place = added - length - ids.index(head[0])  # how many the stream was given before ids[0]
        return self._say(place - before)

    def jumped(self, count: int) -> int:
        """How many of the `count` entries a publisher's numbers jumped over are not said yet."""
        self.jumps += count
        return self._say(self.jumps)

    def _say(self, lost: int) -> int:
        """Of `lost` entries known trimmed in all, how many more than said so far."""
        more = max(lost - self.said, 0)
        self.said += more
        return more


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
