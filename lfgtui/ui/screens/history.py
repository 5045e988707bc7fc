"""The history screen: live full-text search over every recorded run; enter opens one read-only.

Typing is debounced. Every query runs on the screen's own thread over its own read-only
connection, one at a time: a new keystroke interrupts the query in flight, queued queries that are
no longer wanted are skipped, and late results are dropped, so a slow search over a big history
never blocks the UI. An empty query lists the most recent runs.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from lfgtui.formats import plural, when
from lfgtui.history.database import StoreError
from lfgtui.history.recorded import RecordedRun, recorded_run
from lfgtui.history.search import SUBAGENT, QueryTooLarge, SearchHit, snippet_text
from lfgtui.history.store import RunSummary, Selection, Store
from lfgtui.inert import inert
from lfgtui.ui.drawing.palette import colours
from lfgtui.ui.widgets.fitted_table import FittedTable
from lfgtui.ui.widgets.footer import KeysFooter

DEBOUNCE_S = 0.2
LIMIT = 50
T = TypeVar("T")


@dataclass(frozen=True)
class Found:
    """One result row: a matching part of an attempt, or (for an empty query) a recent run."""

    run_id: str
    ticket: str | None
    label: str
    started_at: float
    outcome: str
    snippet: Text


def found_hits(hits: list[SearchHit]) -> list[Found]:
    rows = []
    for hit in hits:
        label = f"{inert(hit.ticket)} #{hit.attempt}"
        if hit.kind == SUBAGENT:  # a sub-agent's words, not the ticket's own: which child said them
            label += f" · sub-agent {inert(hit.name or '')}"
        outcome = inert(hit.outcome or "running")
        rows.append(Found(hit.run_id, hit.ticket, label, hit.started_at, outcome, snippet_text(hit)))
    return rows


def found_runs(runs: list[RunSummary]) -> list[Found]:
    rows = []
    for run in runs:
        outcomes = inert(", ".join(f"{count} {outcome}" for outcome, count in run.outcomes))
        file = inert(Path(run.tickets_file).name) if run.tickets_file else ""
        label = plural(run.tickets, "ticket")
        rows.append(Found(run.id, None, label, run.started_at, outcomes, Text(file, "dim")))
    return rows


OpenRun = Callable[[RecordedRun, str | None], Awaitable[None]]


class HistoryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="history.close", tooltip="back to the run"),
        Binding(
            "enter",
            "open",
            "Open",
            id="history.open",
            tooltip="open that run read-only in the run screen, its ticket focused",
        ),
        Binding("down", "move(1)", "Next", id="history.next", show=False, tooltip="the next result"),
        Binding(
            "up", "move(-1)", "Previous", id="history.previous", show=False, tooltip="the previous result"
        ),
    ]

    def __init__(self, path: Path, open_run: OpenRun) -> None:
        super().__init__()
        self.path = path
        self.open_run = open_run
        self.found: list[Found] = []
        self.query_text = ""
        self.generation = 0
        self.shown_query: str | None = None
        self.store: Store | None = None
        self.status = Static("searching…", id="history-status")
        self.table = FittedTable(("ticket", "run", "when", "outcome", "match"))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lfg-history-search")
        self._timer: Timer | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search prompts, answers, reasoning, tool calls…", id="history-query")
        yield self.status
        yield self.table
        yield KeysFooter()

    async def on_mount(self) -> None:
        try:
            self.store = await self._in_thread(Store.open_read_only, self.path)
        except StoreError as exc:
            self.status.update(Text(str(exc), colours(self.app).waiting))
            return
        self.run_worker(self._search(self.generation, ""), group="history-search")

    async def on_unmount(self) -> None:
        self.generation += 1
        if self.store is not None:
            self.store.conn.interrupt()
            self._executor.submit(self.store.close)
        self._executor.shutdown(wait=False)

    def _in_thread(self, function: Callable[..., T], *args: object) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def on_input_changed(self, event: Input.Changed) -> None:
        """Every keystroke makes the results stale; the search starts once typing pauses."""
        self.query_text = event.value
        self.generation += 1
        if self._busy and self.store is not None:
            self.store.conn.interrupt()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_S, self._fire)

    def _fire(self) -> None:
        self.run_worker(self._search(self.generation, self.query_text), group="history-search")

    def _find(self, generation: int, query: str) -> list[Found] | None:
        """On the search thread: None when a newer query made this one pointless."""
        if generation != self.generation or self.store is None:
            return None
        self._busy = True
        try:
            if not query.strip():
                return found_runs(self.store.list_runs(LIMIT))
            return found_hits(self.store.search(query, limit=LIMIT))
        finally:
            self._busy = False

    async def _search(self, generation: int, query: str) -> None:
        try:
            found = await self._in_thread(self._find, generation, query)
        except QueryTooLarge as exc:
            if generation == self.generation:
                self.status.update(Text(str(exc), colours(self.app).waiting))
            return
        except sqlite3.Error as exc:  # an interrupted query too: a newer one replaces it
            if generation == self.generation:
                self.status.update(Text(f"search failed: {inert(str(exc))}", colours(self.app).bad))
            return
        if found is None or generation != self.generation:
            return
        self.shown_query = query
        self.found = found
        rows = [
            (Text(row.label), Text(inert(row.run_id)), when(row.started_at), Text(row.outcome), row.snippet)
            for row in found
        ]
        self.table.fill(rows, [str(index) for index in range(len(found))])
        self._show_count()

    def _show_count(self) -> None:
        found = self.found
        if not (self.shown_query or "").strip():
            recent = plural(len(found), "recent run")
            self.status.update(
                f"{recent} · type to search prompts, answers, tool calls, sub-agents and review comments"
            )
        else:
            matches = f"{len(found)} {'match' if len(found) == 1 else 'matches'}"
            self.status.update(matches if found else "no matches")

    def action_move(self, step: int) -> None:
        if self.found:
            self.table.move_cursor(row=max(0, min(len(self.found) - 1, self.table.cursor_row + step)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_open()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        if not self.found or self.store is None:
            self.app.bell()
            return
        chosen = self.found[max(0, min(self.table.cursor_row, len(self.found) - 1))]
        self.run_worker(self._open(chosen), group="history-open")

    async def _open(self, chosen: Found) -> None:
        assert self.store is not None
        store = self.store
        self.status.update(f"opening run {chosen.run_id}…")
        try:
            record = await self._in_thread(lambda: recorded_run(store.load(Selection(chosen.run_id))))
        except sqlite3.Error as exc:
            self.status.update(Text(f"cannot open run {chosen.run_id}: {exc}", colours(self.app).bad))
            return
        self._show_count()
        await self.open_run(record, chosen.ticket)

    def action_close(self) -> None:
        self.dismiss(None)
