"""The fleet view: every run on the broker, the workers online, and a way into any run's panes.

Every `REFRESH_S` the screen reads the run index and the workers' presence (`FleetReader`: two
pipelined round trips however many runs there are) and redraws the table; a read still under way
when the next is due makes that one skip. A broker that cannot be read is said above the list, which
stays as last read, until a read succeeds again. Everything the broker holds was written by someone
else's lfg: it is shown inert, each field cut to a width (`cell`).

A run that ended stays, shown as ended, for `ENDED_KEPT_S`, then drops off; one whose runner has not
updated its entry for `SILENT_S` is shown as silent (its runner may be gone: its entry expires with
the broker's `max_age_s`). Enter opens the run's panes and `a` the pane, in any run, that has waited
longest for the person (an approval, a question): the app does both (`OpenRun`), over this screen, so
Escape comes back here.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from lfgtui.cost.prices import format_usd
from lfgtui.formats import cell, plural, share
from lfgtui.inert import inert
from lfgtui.ui.drawing.palette import colours
from lfgtui.ui.widgets.fitted_table import FittedTable
from lfgtui.ui.widgets.footer import KeysFooter
from lfgtui.ui.widgets.gauges import elapsed_text

if TYPE_CHECKING:
    from lfgtui.broker.fleet_index import FleetIndex, FleetReader, IndexedRun, OnlineWorker

REFRESH_S = 1.0
ENDED_KEPT_S = 300.0
"""How long a run that ended stays in the list, shown as ended."""
SILENT_S = 30.0
"""A running run whose entry has not been updated for this long is shown as silent (the publisher
updates it every 5 s at least)."""
TITLE_WIDTH = 40
STATES = ("running", "queued", "pending", "completed", "failed", "cancelled", "skipped", "interrupted")
"""The order a run's counts are shown in; states a newer lfg publishes follow, by name."""

COLUMNS = ("run", "who", "title", "started", "tickets", "cost", "tok/s", "cache", "waiting for you")
OpenRun = Callable[[str, str | None], Awaitable[None]]
"""Open a run's panes over the fleet: its id, and the ticket whose pane to focus (or None)."""


class FleetScreen(Screen[None]):
    """`first`: the screen the app opened with (`lfg runs --tui`), which Escape does not leave."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "open",
            "Open",
            id="fleet.open",
            tooltip=(
                "open the run's panes, attached (read-only, as `lfg attach redis://… RUN`); escape comes "
                "back. The run this TUI runs itself is shown in its own screen instead"
            ),
        ),
        Binding(
            "a",
            "attention",
            "Waiting for you",
            id="fleet.attention",
            tooltip="open the pane, in any run, that has waited longest for your approval",
        ),
        Binding("down", "move(1)", "Next", id="fleet.next", show=False, tooltip="the next run"),
        Binding("up", "move(-1)", "Previous", id="fleet.previous", show=False, tooltip="the previous run"),
        Binding(
            "escape", "close", "Back", id="fleet.close", tooltip="back to the run the view was opened from"
        ),
    ]

    def __init__(
        self, reader: FleetReader, open_run: OpenRun, first: bool, clock: Callable[[], float] = time.time
    ) -> None:
        """`clock`: the wall clock the index's times are compared with."""
        super().__init__()
        self.reader = reader
        self.open_run = open_run
        self.first = first
        self.clock = clock
        self.index: FleetIndex | None = None
        self.shown: list[IndexedRun] = []
        """The runs in the table, in its order."""
        self.read_at: float | None = None
        self.problem: str | None = None
        """Why the last read failed (None: it did not)."""
        self.reads = 0
        """Reads that succeeded, so tests can wait for the next one."""
        self.header = Static(id="fleet-header")
        self.status = Static(id="fleet-status")
        self.table = FittedTable(COLUMNS, id="fleet-runs")
        self.workers_line = Static(id="fleet-workers")
        self._reading = False

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.status
        yield self.table
        yield self.workers_line
        yield KeysFooter()

    def on_mount(self) -> None:
        self._show()
        self.refresh_fleet()
        self.set_interval(REFRESH_S, self.refresh_fleet)

    async def on_unmount(self) -> None:
        await self.reader.aclose()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "close" and self.first)

    def refresh_fleet(self) -> None:
        """Read the broker again, unless the last read is still under way."""
        if not self._reading:
            self._reading = True
            self.run_worker(self._read(), group="fleet-read")

    async def _read(self) -> None:
        try:
            index = await self.reader.read()
        except Exception as exc:
            problem = self.reader.explain(exc)
            if problem is None:
                raise
            self.problem = problem
        else:
            self.index, self.read_at, self.problem = index, self.clock(), None
            self.reads += 1
        finally:
            self._reading = False
        self._show()

    def _show(self) -> None:
        now = self.clock()
        runs = [] if self.index is None else self.index.runs
        self.shown = [run for run in runs if run.ended is None or now - run.ended < ENDED_KEPT_S]
        palette = colours(self.app)
        chosen = self.chosen
        self.table.fill([self._row(run, now) for run in self.shown], [run.run_id for run in self.shown])
        if chosen is not None and chosen in self.shown:
            self.table.move_cursor(row=self.shown.index(chosen), animate=False)
        waiting = sum(len(run.needing) for run in self.shown if run.ended is None)
        workers = [] if self.index is None else self.index.workers
        header = Text.assemble(("lfg fleet ", "bold"), (inert(self.reader.where), "dim"), "  ")
        header.append(f"{plural(len(self.shown), 'run')}  {plural(len(workers), 'worker')} online")
        if waiting:
            header.append("  ")
            header.append(f"⚑ {waiting} waiting for you", f"bold reverse {palette.attention}")
        self.header.update(header)
        self.status.update(self._status(now))
        self.workers_line.update(_workers_text(workers))

    def _status(self, now: float) -> Text:
        palette = colours(self.app)
        if self.problem is not None:
            kept = "" if self.read_at is None else f"the list as read {_ago(now, self.read_at)}: "
            return Text(inert(f"{kept}{self.problem}"), palette.bad)
        if self.index is None:
            return Text("reading the broker…", "dim")
        if not self.shown:
            return Text("no runs on the broker: lfg run --publish or --broker puts them here", "dim")
        return Text("enter: open a run's panes  a: the pane that has waited longest for you", "dim")

    def _row(self, run: IndexedRun, now: float) -> tuple[Text, ...]:
        palette = colours(self.app)
        tickets = Text()
        if run.ended is not None:
            tickets.append(f"ended {_ago(now, run.ended)}  ", "dim")
        elif run.updated is not None and now - run.updated > SILENT_S:
            tickets.append(f"silent {_ago(now, run.updated)}  ", palette.waiting)
        styles = {
            "running": palette.running,
            "queued": palette.waiting,
            "completed": palette.good,
            "failed": palette.bad,
        }
        order = {state: number for number, state in enumerate(STATES)}
        for state, count in sorted(run.states.items(), key=lambda item: (order.get(item[0], 99), item[0])):
            tickets.append(cell(f"{count} {state}"), styles.get(state, "dim"))
            tickets.append(" ")
        tickets.rstrip()
        live = run.ended is None
        rate = "" if not live or run.tok_s is None else f"{run.tok_s:.0f}"
        waiting = Text()
        if live and run.needing:
            waiting.append(f"⚑ {len(run.needing)}", f"bold {palette.attention}")
            waiting.append(f" for {elapsed_text(max(0.0, now - min(run.needing.values())))}", "dim")
        if live and run.unread:
            waiting.append(" · " if run.needing else "")
            waiting.append(f"{run.unread} unread", palette.good)
        count, running = run.subagents
        if live and count:  # its coding agents' sub-agents: never the person's to attend to
            waiting.append(" · " if waiting.plain else "")
            waiting.append(plural(count, "sub-agent") + (f", {running} running" if running else ""), "dim")
        return (
            Text(cell(run.run_id, 24)),
            Text(f"{cell(run.who)}@{cell(run.host)}"),
            Text(cell(run.title, TITLE_WIDTH, keep_end=True)),
            Text(_ago(now, run.started), "dim"),
            tickets,
            Text(format_usd(run.cost) if run.cost is not None else "-"),
            Text(rate, "bold"),
            Text(share(run.cache_hit)),  # as the pane's `cache 83%`
            waiting,
        )

    @property
    def chosen(self) -> IndexedRun | None:
        """The run under the table's cursor."""
        if not self.shown or self.table.row_count == 0:
            return None
        return self.shown[max(0, min(self.table.cursor_row, len(self.shown) - 1))]

    def longest_waiting(self) -> tuple[str, str] | None:
        """The run and ticket that has waited longest for the person, of the live runs shown."""
        waits = [
            (since, run.run_id, ticket)
            for run in self.shown
            if run.ended is None
            for ticket, since in run.needing.items()
        ]
        if not waits:
            return None
        _, run_id, ticket = min(waits)
        return run_id, ticket

    def action_move(self, step: int) -> None:
        if self.shown:
            self.table.move_cursor(row=max(0, min(len(self.shown) - 1, self.table.cursor_row + step)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        chosen = self.chosen
        if chosen is None:
            self.app.bell()
            return
        self.run_worker(self.open_run(chosen.run_id, None), group="fleet-open")

    def action_attention(self) -> None:
        found = self.longest_waiting()
        if found is None:
            self.notify("No run is waiting for you.", timeout=2)
            return
        self.run_worker(self.open_run(*found), group="fleet-open")

    def action_close(self) -> None:
        self.dismiss(None)


def _ago(now: float, then: float) -> str:
    return f"{elapsed_text(max(0.0, now - then))} ago"


def _workers_text(workers: list[OnlineWorker]) -> Text:
    if not workers:
        return Text("no workers online (lfg worker --broker URL runs one)", "dim")
    text = Text("workers: ", "bold")
    for number, worker in enumerate(workers):
        if number:
            text.append("   ")
        text.append(f"{cell(worker.name)} ({cell(worker.host)})")
        serves = cell(", ".join(worker.serves), 60) or "nothing"
        text.append(f" serves {serves} · {worker.running} running", "dim")
    return text
