"""Following a run that another lfg is still recording: its events as the history gets them, for
`lfg serve RUN_ID`.

Every `POLL_S` a read transaction (a read-only connection: WAL lets it read while the run writes,
and it takes no lock the run could wait on) reads, per attempt not yet done, only the rows at or
after where the last read stopped, and rebuilds from them the events in a window of keys
(`rebuild.Window`): those after the events already published and before the first key that may
still change. Published so, the events of each attempt are exactly those `replay_events` gives once
the run is over, in order, each once, at the same times.

Why that prefix is stable (a key is `(seq, place)`; seq grows with every event an attempt makes):

- a row written later belongs to a later event, so its keys are at least `(m + 1, -1)`, where `m`
  is the largest seq the rows hold (a call's usage takes the key just before the event that ends
  the call or starts the next, see `rebuild._usage_key`);
- a streamed text or reasoning part is only appended to until it is sealed: chunk `i` is key
  `(seq, i)`, so its chunks so far are stable and the next is `(seq, chunks)`;
- a sub-agent's row (a batch's words of one child) is whole when written, keyed as a sealed part;
- an unsealed tool call is rewritten when it is ready (its arguments re-cut), so none of it is;
- a call's counts grow until its `CallEnded` (every adapter reports usage before it), and until
  then its usage is kept with the attempt's end (`rebuild.END`), after all of the above; so is the
  diff; an attempt with an outcome changes no more.

The run's lock (`history/lock.py`) says whether its lfg is alive; it is checked before each read,
so once it is gone the read after it sees all the run wrote. A run that ended normally is read to
its end; one whose lfg died is first recovered as any lfg would (`Store.open`: its open attempts
become `interrupted`, with a status saying so) and read to that end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lfgtui.events import Event
from lfgtui.history.lock import RunLock
from lfgtui.history.rebuild import END, WHOLE, Key, Window, attempt_events
from lfgtui.history.recorded import Timeline
from lfgtui.history.rows import (
    AttemptRecord,
    AttemptRow,
    PartRow,
    RequestRow,
    SubagentTextRow,
    TicketRecord,
    TicketRow,
    read_parts,
    read_subagent_texts,
    unpack_chunks,
)
from lfgtui.history.schema import PartKind
from lfgtui.history.store import Store
from lfgtui.history.ticket_rows import ticket_from_row
from lfgtui.history.values import read_value
from lfgtui.tickets.ticket import Ticket

POLL_S = 0.25
"""How often the history is read: with the run's own batching (at most 250 ms), watchers see a
running run about half a second late."""
GROWING = (PartKind.TEXT, PartKind.REASONING)
ATTEMPTS = (
    "SELECT a.id, t.ticket, a.number, a.started_at FROM attempts a JOIN tickets t ON t.id = a.ticket_id "
    "WHERE t.run_id = ? ORDER BY a.started_at, t.id, a.number"
)
"""The run's attempts in the order `replay_events` puts them on the timeline."""


@dataclass
class _Followed:
    """One attempt being followed: where on the timeline, and how far its events are published."""

    id: str
    ticket: str
    number: int
    started_at: float
    offset: float
    window: Window = WHOLE
    first_request: int = 0
    """Every request before this one is published whole."""
    done: bool = False


def _until(parts: Sequence[PartRow], requests: Sequence[RequestRow], said: Sequence[SubagentTextRow]) -> Key:
    """The first key at which a running attempt's rows may still change (see the module docstring)."""
    seqs = (
        [p.seq for p in parts]
        + [s.seq for s in said if s.seq is not None]
        + [s for r in requests for s in (r.seq, r.usage_seq, r.ended_seq) if s is not None]
    )
    until: Key = min(END, (max(seqs, default=-1) + 1, -1))
    for part in parts:
        if not part.sealed:
            until = min(until, (part.seq, len(unpack_chunks(part.chunks)) if part.kind in GROWING else 0))
    return until


class RunTail:
    """Reads one run's events from the history file as they are recorded (see the module docstring)."""

    def __init__(self, db: Path, run_id: str, store: Store) -> None:
        self.db = db
        self.run_id = run_id
        self.store = store
        conn = store.conn
        rows = conn.execute(
            f"SELECT {TicketRow.select()} FROM tickets WHERE run_id = ? ORDER BY id", (run_id,)
        )
        self.tickets: tuple[Ticket, ...] = tuple(
            ticket_from_row(TicketRecord(TicketRow.from_db(r), ())) for r in rows
        )
        (started,) = conn.execute("SELECT started_at FROM runs WHERE id = ?", (run_id,)).fetchone()
        self.timeline = Timeline()
        self._origin: float = read_value(started, float)
        self._followed: dict[str, _Followed] = {}
        self._reading: asyncio.Future[tuple[list[Event], bool]] | None = None

    @classmethod
    def open(cls, db: Path, run_id: str) -> RunTail:
        """Follow run `run_id` of the history file `db` (raises `StoreError` when it cannot be read)."""
        store = Store.open_read_only(db)
        try:
            return cls(db, run_id, store)
        except BaseException:
            store.close()
            raise

    def now(self) -> float:
        """The time now on the timeline the events are placed on (`resume.Timeline`): the hub's clock,
        so that a watcher sees how long ago each event happened."""
        return time.time() - self._origin

    async def follow(self, publish: Callable[[list[Event]], None], say: Callable[[str], None]) -> None:
        """Publish the run's events as they are recorded, until it ends; `say` hears what the person
        serving it should know (it is running, it has ended, its lfg died)."""
        live = False
        while True:
            alive = RunLock.alive(self.db, self.run_id)
            self._reading = asyncio.ensure_future(asyncio.to_thread(self.catch_up, alive))
            events, crashed = await asyncio.shield(self._reading)
            if events:
                publish(events)
            if crashed:
                say(
                    f"run {self.run_id} stopped without ending: its lfg was killed or crashed, so its open "
                    "attempts are recorded as interrupted"
                )
            elif not alive and live:
                say(f"run {self.run_id} has ended")
            if not alive:
                return
            if not live:
                say(f"run {self.run_id} is still running: its events are served as its history records them")
                live = True
            await asyncio.sleep(POLL_S)

    async def aclose(self) -> None:
        """Close the file, once a read in progress has finished."""
        if self._reading is not None:
            await asyncio.wait([self._reading])
        self.store.close()

    def catch_up(self, alive: bool) -> tuple[list[Event], bool]:
        """The events not read yet, and whether the run's lfg died without ending it. `alive`: its lfg
        held the run's lock, checked before this read (once it does not, this read sees all it
        wrote); a run found dead and not ended is recovered first, as any lfg that opens the file
        would, and read to that end."""
        crashed = False
        if not alive:
            query = "SELECT ended_at IS NULL FROM runs WHERE id = ?"
            (crashed,) = self.store.conn.execute(query, (self.run_id,)).fetchone()
            if crashed:
                Store.open(self.db).close()
        return self._step(final=not alive), bool(crashed)

    def _step(self, final: bool) -> list[Event]:
        """One snapshot's new events, in time order; `final` when nothing will be written any more."""
        conn = self.store.conn
        conn.execute("BEGIN")
        try:
            events: list[Event] = []
            for followed in [f for f in self._followed.values() if not f.done]:
                events += self._advance(followed, final)
            for attempt_id, ticket, number, started_at in conn.execute(ATTEMPTS, (self.run_id,)).fetchall():
                if attempt_id not in self._followed:
                    ticket, number = read_value(ticket, str), read_value(number, int)
                    started_at = read_value(started_at, float)
                    running = any(not f.done for f in self._followed.values())
                    offset = self.timeline.place(started_at, running)
                    followed = self._followed[attempt_id] = _Followed(
                        attempt_id, ticket, number, started_at, offset
                    )
                    events += self._advance(followed, final)
        finally:
            if conn.in_transaction:
                conn.rollback()
        if self.timeline.zero is not None:
            self._origin = self.timeline.zero + self.timeline.skipped
        events.sort(key=lambda event: event.t)
        return events

    def _advance(self, followed: _Followed, final: bool) -> list[Event]:
        """The attempt's events from where it was published up to where its rows may still change."""
        conn, window = self.store.conn, followed.window
        (row,) = conn.execute(
            f"SELECT {AttemptRow.select()} FROM attempts WHERE id = ?", (followed.id,)
        ).fetchall()
        requests = tuple(
            RequestRow.from_db(r)
            for r in conn.execute(
                f"SELECT {RequestRow.select()} FROM requests WHERE attempt_id = ? AND n >= ? ORDER BY n",
                (followed.id, followed.first_request),
            )
        )
        parts = read_parts(conn, "attempt_id = ? AND seq >= ?", (followed.id, window.since[0]))
        attempt = AttemptRow.from_db(row)
        followed.done = final or attempt.outcome is not None
        said = read_subagent_texts(conn, followed.id, since_seq=window.since[0])
        until = WHOLE.until if followed.done else max(window.since, _until(parts, requests, said))
        built = attempt_events(
            AttemptRecord(attempt, requests, parts, subagents=said),
            followed.ticket,
            followed.number,
            dataclasses.replace(window, until=until),
        )
        last_t = built[-1].t if built else window.t
        followed.window = Window(since=until, seq=window.seq + len(built), t=last_t)
        published = (r.n for r in requests if (r.seq, 0) < until)
        followed.first_request = max(published, default=followed.first_request)
        if followed.done:
            self.timeline.ended(followed.started_at, last_t)
        return [dataclasses.replace(event, t=event.t + followed.offset) for event in built]
