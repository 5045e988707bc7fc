"""Recording a run as it streams: a sink that only buffers, and one writer task that batches.

The per-token path stays free of I/O: `RunHistory.__call__` appends the event to a list and returns.
A writer task wakes at most `FLUSH_INTERVAL_S` after the first buffered event (at once for an
attempt's start and end, a tool call, a tool result or a status), takes the whole buffer and hands
it to `Recorder.write` (recorder.py), which turns it into rows in one transaction.

sqlite3 blocks, so the write runs with `run_in_executor` on a dedicated single-thread executor that
owns the one write connection (opened on that thread, so the connection never changes threads).
A thread is acceptable here: it is bounded local file I/O, one batch at a time, and it keeps a
slow disk from ever stalling the event loop, the UI or a stream. The sink never waits for it: a
batch that takes long just makes the next batch larger.

Text UTF-8 cannot hold is mended before it is written (recorder.py `storable`). A batch that fails
for another reason than the file is rolled back and leaves the rows in memory of the attempts it held
out of step with the file: from then on only how those attempts start and end is recorded
(`Recorder.record_ends`), said with their names, and every other attempt is recorded whole, so one
bad value costs no other ticket its transcript, and no ticket is found `interrupted` for it. When it
was the file that failed (full, locked, damaged) the recording has stopped, and the starts and
ends it could not take are tried again with each later batch, so that a disk given room before the
run ends has every ticket's outcome; `shortfall` is what the run then says last instead of where it
is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.contest import FACTS, CheckRan, VerdictDecided
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    Event,
    PromptSent,
    Retrying,
    Status,
    ToolCallReady,
    ToolCallUpdated,
    ToolOutputDelta,
    ToolResult,
)
from lfgtui.history.ballast import BALLAST_MB, Room, full
from lfgtui.history.database import StoreError
from lfgtui.history.recorder import Added, Decided, Dropped, Item, Recorder, Started
from lfgtui.inert import inert
from lfgtui.tickets.ticket import Ticket, TicketFile

if TYPE_CHECKING:
    from lfgtui.cost.prices import PriceBook

FLUSH_INTERVAL_S = 0.25
URGENT = frozenset(
    {AttemptStarted, PromptSent, AttemptEnded, ToolCallReady, ToolCallUpdated, ToolResult, Status, Retrying}
)
UNRECORDED = frozenset({ToolOutputDelta})
"""What the history leaves out: a running call's output as it streams (its `ToolResult` keeps it whole)."""
SPECIAL = URGENT | UNRECORDED | frozenset(FACTS)
"""The event types the sink does more with than queue them (`RunHistory._queue`)."""


class RunHistory:
    """The sink that records one run, and the writer task that drains it (see the module docstring)."""

    def __init__(
        self,
        recorder: Recorder,
        executor: ThreadPoolExecutor,
        on_error: Callable[[str], None],
        prices: PriceBook | None = None,
    ) -> None:
        self.run_id = recorder.run_id
        self.path = recorder.store.path
        self.calibration = recorder.calibration
        """What the history says a character of each of the run's models is worth (`Run.record`
        starts the run's estimate with it)."""
        self._recorder = recorder
        self._executor = executor
        self._on_error = on_error
        self._pending: list[Item] = []
        self._has_events = asyncio.Event()
        self._urgent = asyncio.Event()
        self._stopping = False
        self._failed = False
        self._ends_only = False
        self._broken: set[tuple[str, int]] = set()
        """Attempts (ticket, number) a batch that failed held: only their starts and ends are recorded."""
        self._stopped: str | None = None
        """Why the file stopped taking this run's streams (full, locked, damaged), or None."""
        self._unwritten: list[Item] = []
        """Starts and ends the file did not take since, tried again with each batch."""
        self._finished = False
        self.room = Room(self.path)
        """The room kept for this run beside the file should the disk fill (history/ballast.py)."""
        self._freed_said = False
        self._prices = prices
        self._task = asyncio.create_task(self._write_loop(), name="history writer")

    def __call__(self, event: Event) -> None:
        """Queue an event for the writer: a streamed token costs one set lookup and an append (events
        that wake the writer at once or are not recorded, and any once recording failed, go through
        `_queue`)."""
        if type(event) in SPECIAL or self._failed or self._ends_only or self._broken:
            self._queue(event)
            return
        pending = self._pending
        if not pending:
            self._has_events.set()
        pending.append(event)

    def _queue(self, event: Event) -> None:
        if isinstance(event, CheckRan):
            self._tell(event)
            return
        if isinstance(event, VerdictDecided):
            self._tell(Decided(event.verdict, time.time()))
            return
        if (
            self._failed
            or type(event) in UNRECORDED
            or (
                (self._ends_only or (event.ticket, event.attempt) in self._broken)
                and not isinstance(event, AttemptStarted | AttemptEnded)
            )
        ):
            return
        pending = self._pending
        if not pending:
            self._has_events.set()
        if type(event) in URGENT:
            self._urgent.set()
            if isinstance(event, AttemptStarted):
                prices = self._prices
                pricer = None if prices is None else prices.pricer(event.provider, event.model)
                pending.append(Started(event, time.time(), pricer))
                return
        pending.append(event)

    def synthesis(self, ticket: Ticket, tournament: str) -> None:
        """A ticket started in the run to synthesize `tournament`: recorded before its events."""
        self._tell(Added(ticket, tournament))

    def _tell(self, item: CheckRan | Decided | Added | Dropped) -> None:
        """Queue a fact of the run (a check, a verdict), or what the synthesis key or a fork says (once
        only starts and ends are recorded, only a ticket's start: its attempts' starts and ends name it)."""
        if self._failed or (self._ends_only and not isinstance(item, Added)):
            return
        self._pending.append(item)
        self._has_events.set()
        self._urgent.set()

    def add_ticket(self, ticket: Ticket, lead: str | None = None) -> None:
        """Record a ticket the run took on while it ran (a fork, an add-ticket: by `lead`, when a lead
        added it), before any of its events."""
        self._tell(Added(ticket, lead=lead))

    def held_dropped(self, ticket_id: str, attempt: int, said: str) -> None:
        """Record that the person dropped what `attempt` of the ticket held, unsent, when its run
        stopped (`said`: what, and by whom), so no later resume offers it again."""
        self._tell(Dropped(ticket_id, attempt, said))

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not (self._stopping and not self._pending):
            await self._has_events.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_INTERVAL_S):
                    await self._urgent.wait()
            self._has_events.clear()
            self._urgent.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                await self._write(loop, batch)
            except (sqlite3.Error, OSError):  # the file still fails: the ends wait for the next batch
                continue
            except Exception as exc:  # even the ends could not be written
                self._failed = True
                self._pending = []
                self._on_error(f"history stopped recording this run: {inert(str(exc))}")
                return

    async def _write(self, loop: asyncio.AbstractEventLoop, batch: list[Item]) -> None:
        """One batch into the file; after a batch that failed, only the starts and ends, with those
        the file did not take before."""
        if not self._ends_only and await loop.run_in_executor(self._executor, self.room.short):
            self._pending[:0] = batch  # the disk all but full: held, tried again at the next flush
            self._has_events.set()
            return
        self._say_freed()
        if not self._ends_only:
            whole, ends = batch, []
            if self._broken:
                whole = [item for item in batch if _attempt_of(item) not in self._broken]
                ends = [item for item in batch if _attempt_of(item) in self._broken]
            try:
                if whole:
                    await loop.run_in_executor(self._executor, self._recorder.write, whole)
                batch = ends
            except (sqlite3.Error, OSError) as exc:
                self._ends_only = True
                self._stopped = inert(str(exc))
                self._on_error(
                    f"history stopped recording this run: {self._stopped} "
                    "(how each ticket ends is still recorded if the file takes it)"
                )
            except Exception as exc:
                self._broke(whole, exc)
        self._unwritten += [item for item in batch if isinstance(item, Started | AttemptEnded | Added)]
        if not self._unwritten:
            return
        await loop.run_in_executor(self._executor, self._recorder.record_ends, self._unwritten)
        self._unwritten = []

    def _say_freed(self) -> None:
        """Say once that the room kept beside the file was freed (history/ballast.py)."""
        if self.room.freed and not self._freed_said:
            self._freed_said = True
            self._on_error(
                f"the disk holding the history is full: lfg freed the {BALLAST_MB} MiB it keeps beside "
                f"{self.path} to go on recording this run"
            )

    def _broke(self, batch: list[Item], exc: Exception) -> None:
        """A batch failed for one of its values: the attempts it held are recorded from now on by how
        they start and end only, said by name; the rest of the run goes on being recorded whole."""
        broken = sorted({key for item in batch if (key := _attempt_of(item)) is not None} - self._broken)
        self._broken.update(broken)
        named = ", ".join(f"{ticket} (attempt {number})" for ticket, number in broken) or "the run's facts"
        self._on_error(
            f"history could not record part of {inert(named)} ({inert(f'{type(exc).__name__}: {exc}')}); "
            "from now on it records only how those attempts end, and every other attempt whole"
        )

    async def aclose(self) -> None:
        """Flush what is buffered, mark the run ended and release the file."""
        self._stopping = True
        self._has_events.set()
        self._urgent.set()
        await self._task
        loop = asyncio.get_running_loop()
        try:
            try:
                await loop.run_in_executor(self._executor, self._recorder.finish)
            except (sqlite3.Error, OSError) as exc:
                if not full(exc) or not self.room.free():
                    raise
                self._say_freed()
                await loop.run_in_executor(self._executor, self._recorder.finish)
            self._finished = True
        except (sqlite3.Error, OSError) as exc:
            self._on_error(f"history could not close this run: {exc}")
        finally:
            await loop.run_in_executor(self._executor, self.room.put_away)
            self._executor.shutdown()

    def shortfall(self) -> str | None:
        """What the file lacks of this run once closed, said last instead of where it is recorded;
        None when it has the run (or all but values it could not take, said when they came)."""
        if self._stopped is None and not self._failed and self._finished:
            return None
        why = f" ({self._stopped})" if self._stopped is not None else ""
        said = f"history stopped recording run {self.run_id}{why}"
        ends = [item for item in self._unwritten if isinstance(item, AttemptEnded)]
        if not self._failed and not ends and self._finished:
            return f"{said}: it has how each ticket ended, not all they said (lfg history show {self.run_id})"
        if not ends:
            return f"{said}: it could not mark the run ended"
        lost = ", ".join(f"{end.ticket} ({end.outcome.value})" for end in ends)
        return f"{said}: the file did not take how these ended, and will read them as interrupted: {lost}"


def _attempt_of(item: Item) -> tuple[str, int] | None:
    """The attempt (ticket, number) an item is of; None for what is the run's (a verdict, a ticket)."""
    if isinstance(item, Started):
        return item.event.ticket, item.event.attempt
    if isinstance(item, Event | Dropped):
        return item.ticket, item.attempt
    return None


def open_run_history(
    path: Path | None,
    tickets: TicketFile,
    command: str,
    on_error: Callable[[str], None],
    prices: PriceBook | None = None,
) -> contextlib.AbstractAsyncContextManager[RunHistory | None]:
    """Record a run into the history at `path` (None: history is off): give what it yields to the run
    with `Run.record`. `prices` cost each attempt as the run's metrics do.

    Problems never stop the run: they are reported through `on_error` and recording stops.
    """
    return _recording(path, lambda p: Recorder.begin(p, tickets, command), on_error, prices)


def reopen_run_history(
    path: Path,
    run_id: str,
    on_error: Callable[[str], None],
    prices: PriceBook | None = None,
    again: Collection[tuple[str, int]] = (),
) -> contextlib.AbstractAsyncContextManager[RunHistory | None]:
    """Record new attempts of a recorded run into that same run (see `open_run_history`); `again`:
    recorded attempts (ticket, number) recorded anew from their start (see `Recorder.reopen`)."""
    return _recording(path, lambda p: Recorder.reopen(p, run_id, again), on_error, prices)


@contextlib.asynccontextmanager
async def _recording(
    path: Path | None,
    begin: Callable[[Path], Recorder],
    on_error: Callable[[str], None],
    prices: PriceBook | None,
) -> AsyncIterator[RunHistory | None]:
    history = None
    if path is not None:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lfg-history")
        try:
            recorder = await asyncio.get_running_loop().run_in_executor(executor, begin, path)
        except (StoreError, sqlite3.Error, OSError) as exc:
            executor.shutdown()
            on_error(f"history is off for this run: {exc}")
        else:
            for warning in recorder.store.warnings:
                on_error(f"warning: {warning}")
            history = RunHistory(recorder, executor, on_error, prices)
            await asyncio.get_running_loop().run_in_executor(executor, history.room.set_aside)
    try:
        yield history
    finally:
        if history is not None:
            await history.aclose()
