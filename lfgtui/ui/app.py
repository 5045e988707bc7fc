"""The Textual app of `lfg run`, `lfg resume`, `lfg replay` and `lfg attach`: a stack of run
screens, each owning its run, drawn by one frame clock at a capped rate.

The command builds the app's `Services` and its first `RunController` (which run screen opens, live,
resumed, replayed or attached); the app adds to the stack what the screens ask for: `/` opens the
history screen, from which a recorded run opens read-only (a new controller on top) and a ticket of it
can be re-run; `F` (when a broker is known) opens the fleet view, from which any run on the broker opens
attached (a new controller on top). `lfg runs --tui` opens the app on the fleet view, with no run of
its own. The frame clock redraws only panes that changed and are on screen, so a hidden or
scrolled-away pane costs nothing until it is shown, and the cost of a token does not depend on how
many panes there are.
"""

from __future__ import annotations

import asyncio
import math
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import Screen

from lfgtui.events import Outcome
from lfgtui.formats import plural
from lfgtui.history.recorded import RecordedRun, provider_problems
from lfgtui.history.writer import open_run_history
from lfgtui.inert import inert
from lfgtui.tickets.ticket import Ticket, TicketFile
from lfgtui.ui.drawing.drivers import DRIVERS, TerminalLost
from lfgtui.ui.drawing.gc_pacing import FREEZE_EVERY_S, GcPacer
from lfgtui.ui.drawing.palette import DEFAULT, Palette
from lfgtui.ui.drawing.themes import load_themes
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.screens.command_palette import TEXTUAL_OWN, lfg_commands
from lfgtui.ui.screens.fleet import FleetScreen
from lfgtui.ui.screens.history import HistoryScreen
from lfgtui.ui.screens.modals import ConfirmScreen, HelpScreen
from lfgtui.ui.screens.run import RunScreen
from lfgtui.ui.services import Services
from lfgtui.ui.widgets.pane import TicketPane

FRAME_S = 1 / 20
FRAME_BUDGET_S = 0.025
"""Time one frame may spend drawing panes: half of its 50 ms. The rest is for the screen update
(about 7 ms at 16 streams), the streams' events and the user's keys."""
STREAMS_PER_FRAME = 4
"""Streaming panes a frame draws however few stream: up to 4, each is drawn every frame (20 a
second). Beyond, a frame draws about 2·√n of n (`streams_per_frame`), so each of 8 or 16 is drawn 10
times a second and each of 64 5 times: a pane's draw (re-rendering its answer's live tail) and the
screen update it causes cost about the same however small the pane, so drawing every pane every
frame would make a frame's cost grow with the panes until the screen falls behind the streams. At
8 coding agents streaming 50 tokens a second, a draw every frame showed 2 or 3 updates and redrawing
was half of lfg's CPU per update; the focused pane, the one being read, is still drawn every frame."""
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_SIGHUP = 129
EXIT_DECLINED = 2
"""The person said no to the question asked at start: nothing ran."""


@dataclass
class FrameWork:
    """What the frame clock has done, so tests and benchmarks can see that a frame's work follows
    the panes in view, not the number of tickets."""

    examined: int = 0
    """Panes looked at to see whether they need drawing (those in the grid's window)."""
    drawn: int = 0
    """Pane draws (`TicketPane.render_frame` calls)."""


def streams_per_frame(streaming: int) -> int:
    """How many of `streaming` panes that only stream (no change a person waits on) one frame
    draws: all of up to `STREAMS_PER_FRAME`, else about 2·√n (see `STREAMS_PER_FRAME`)."""
    return min(streaming, max(STREAMS_PER_FRAME, math.ceil(2 * math.sqrt(streaming))))


def paced(shown: list[TicketPane], focused: TicketPane | None, frame: int) -> list[TicketPane]:
    """The panes frame number `frame` draws, of those `shown` (on screen, in the grid's order) that
    need it, in order: first every pane a person waits on or acts on (`urgent`: an answer's end, an
    approval, a question, a fold; the focused pane, which keys act on), then the streaming panes
    whose turn it is, longest-waiting first.

    The n panes under way take turns in blocks of neighbours: with `stride` frames between two
    draws of one pane, the k-th of them in the grid (0-based) is drawn on the frames where
    `frame % stride == k * stride // n`, and a pane that missed its turn (the frame's time budget
    ran out) is drawn on the next frame. Neighbours drawn together keep the screen update small:
    Textual repaints the box around everything that changed."""
    running = [pane for pane in shown if pane.running and pane is not focused]
    stride = math.ceil(len(running) / streams_per_frame(len(running))) if running else 1
    turn = {pane: k * stride // len(running) for k, pane in enumerate(running)}
    now: list[TicketPane] = []
    streaming: list[TicketPane] = []
    for pane in shown:
        if not pane.needs_frame:
            continue
        if pane.urgent or pane is focused:
            now.append(pane)
        elif turn.get(pane, frame % stride) == frame % stride or frame - pane.drawn_frame > stride:
            streaming.append(pane)
    streaming.sort(key=lambda pane: pane.drawn_frame)
    return now + streaming


class LfgApp(App[int]):
    """Returns the run's exit code: 0 all completed, 1 otherwise, 130 / 143 / 129 after SIGINT /
    SIGTERM / SIGHUP."""

    CSS_PATH = "app.tcss"
    TITLE = "lfg"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "q",
            "quit",
            "Quit",
            id="app.quit",
            tooltip="quit (asks while tickets run, then cancels them cleanly)",
        ),
        Binding(
            "question_mark",
            "help",
            "Help",
            id="app.help",
            tooltip="this help: the keys that work on the screen on show, in its mode",
        ),
        # Textual's own key for its palette (it adds none when an app binds the action): declared
        # here for its text, with no id, as Textual's has none (`[ui] keymap` cannot rebind it).
        Binding(
            App.COMMAND_PALETTE_BINDING,
            "command_palette",
            "palette",
            show=False,
            priority=True,
            tooltip="the command palette: every command here, lfg's themes, a ticket by id or title",
        ),
    ]

    def __init__(
        self,
        services: Services,
        first: RunController | None,
        *,
        theme: str = "dark",
        notice: str | None = None,
        question: str | None = None,
    ) -> None:
        """`first`: the controller the app opens with, built with the same `services`; None opens the
        fleet view of `services.broker` instead. `question`: asked before anything can run (inert,
        shown without markup); no exits with `EXIT_DECLINED`."""
        super().__init__()
        assert first is not None or services.broker is not None, "the fleet view needs a broker"
        self.services = services
        self.theme_name = theme
        self.controllers = [] if first is None else [first]
        self.notice = notice
        self.question = question
        self.palette = DEFAULT
        """The theme's colours for states and marks (see palette.py), kept current with the theme."""
        self.served: str | None = None
        """How to watch this run from elsewhere (`lfg run --serve`): said at start, long enough to copy."""
        self.frames = 0
        self.frame_work = FrameWork()
        self.gc_pacer = GcPacer()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notice, from any screen or widget, is drawn as text, made inert: many quote outside
        words (an agent's, git's, a server's), where a `[/]` would end the app; lfg's own need no
        markup. So `markup` is taken and ignored: no call can forget it."""
        super().notify(inert(message), title=inert(title), severity=severity, timeout=timeout, markup=False)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette's commands: lfg's (its keys, its themes, its tickets), then what Textual has
        that lfg does not replace (a screenshot, maximize)."""
        yield from lfg_commands(self, screen)
        for command in super().get_system_commands(screen):
            if command.title not in TEXTUAL_OWN:
                yield command

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for where the app runs, made to notice a terminal that went away."""
        driver = super().get_driver_class()
        return DRIVERS.get(driver, driver)

    def watch_theme(self) -> None:
        """A new theme (the command palette can change it): repaint every pane's lines in its colours."""
        self.palette = Palette.of(self.get_css_variables())
        for controller in self.controllers:
            for pane in controller.screen.panes:
                pane.dirty = pane.lines_stale = True
            controller.summary_stale = True

    @property
    def controller(self) -> RunController:
        """The controller on screen: the topmost one (the history screen may cover it)."""
        return self.controllers[-1]

    def on_load(self) -> None:
        """The first run's tickets start now, once the app runs and before the terminal is set up and
        the screen composed, so the first token does not wait on the UI's start-up. Not when the
        person must say yes first.

        The theme is set here too: Textual restyles every widget mounted by then once the theme is
        set (`refresh_css`), and here that is none, not the run screen's first panes (at 64 panes,
        a third of them restyled twice). And what lives now (the modules) is frozen for the GC
        pacer before the screen mounts: the collections the mounting of many panes sets off walk
        only what is new (`GcPacer.started`)."""
        for theme in load_themes().values():
            self.register_theme(theme)
        self.theme = self.theme_name
        self.gc_pacer.started()
        if self.controllers and not self.question:
            self.controllers[0].start_early()

    async def on_mount(self) -> None:
        self.palette = Palette.of(self.get_css_variables())
        if self.services.keymap:
            self.set_keymap(self.services.keymap)
        if self.controllers:
            await self.push_screen(self.controllers[0].screen)
            self.controllers[0].begin()
        else:
            await self.push_screen(self._fleet(first=True))
        self.set_interval(FRAME_S, self._frame)
        self.set_interval(FREEZE_EVERY_S, self._pace_gc)
        loop = asyncio.get_running_loop()
        signals = ((signal.SIGINT, EXIT_SIGINT), (signal.SIGTERM, EXIT_SIGTERM), (signal.SIGHUP, EXIT_SIGHUP))
        for sig, code in signals:
            loop.add_signal_handler(sig, self._on_signal, code)
        if self.notice:
            self.notify(inert(self.notice), timeout=6, markup=False)  # may quote a server's words
        if self.served:  # the address and token stay in `?`, whole, where no toast's width cuts them
            self.notify("Serving this run: ? shows how to watch it (address and token).", timeout=10)
        if self.question:
            self.run_worker(self._ask_first(self.question), group="ask")

    async def _ask_first(self, question: str) -> None:
        """The first controller's run waits for the person's yes (its screen's keys are under the modal)."""
        if not await self.push_screen(ConfirmScreen(question), wait_for_dismiss=True):
            await self._finish(EXIT_DECLINED)

    async def on_unmount(self) -> None:
        """However the app ends, no ticket keeps streaming and every connection is closed; the
        controllers end at once, since each may wait seconds for its agents to exit."""
        await asyncio.gather(*(controller.shutdown() for controller in reversed(self.controllers)))
        await self.services.providers.aclose()
        self.gc_pacer.stopped()

    def _frame(self) -> None:
        """Draw the panes that changed as `paced` chooses them, until the frame's budget is spent.

        Panes left over are drawn first on the next frame. The pacing and the budget keep the event
        loop free to take in every stream's events (and the user's keys) however many panes stream
        at once, so an overloaded screen updates each pane less often instead of falling behind the
        streams.
        """
        now = self.services.clock()
        self.frames += 1
        if not self.controllers:
            return
        for each in self.controllers:  # what each pane was told since the last frame, joined
            each.release_held()
        controller = self.controller
        views = controller.screen.views
        self.frame_work.examined += len(views)
        shown = [
            pane for view in views if ((pane := view.pane).running or pane.needs_frame) and pane.on_screen
        ]
        deadline = time.perf_counter() + FRAME_BUDGET_S
        for pane in paced(shown, controller.screen.focused_pane, self.frames):
            pane.render_frame(now, self.frames)
            self.frame_work.drawn += 1
            if time.perf_counter() > deadline:
                break
        controller.show_summary(now, self.frames)

    def _pace_gc(self) -> None:
        self.gc_pacer.tick(any(controller.screen.tally.running for controller in self.controllers))

    def on_run_screen_open_history(self) -> None:
        if self.services.history is None:
            self.notify("History is off for this run (--no-history).", timeout=3)
            return
        self.push_screen(HistoryScreen(self.services.history, self.open_recorded))

    async def open_recorded(self, recorded: RecordedRun, ticket: str | None) -> None:
        """Show a recorded run read-only, over the history screen, its `ticket` pane focused."""
        controller = RunController.read_only(self.services, recorded)
        await self._push(controller)
        if ticket in controller.panes:
            await controller.screen.show_pane(controller.panes[ticket])

    def on_run_screen_open_fleet(self) -> None:
        self.push_screen(self._fleet(first=False))

    def _fleet(self, first: bool) -> FleetScreen:
        from lfgtui.broker.fleet_index import FleetReader

        assert self.services.broker is not None, "the fleet view reads a broker"
        return FleetScreen(FleetReader(self.services.broker), self.open_broker_run, first)

    async def open_broker_run(self, run_id: str, ticket: str | None) -> None:
        """A run on the broker, over the fleet view: attached, its `ticket` pane focused. The run this
        app runs or watches already, when the fleet was opened over it, is shown there instead."""
        from lfgtui.broker.watch import BrokerAttachment
        from lfgtui.remote.following import AttachError

        fleet = self.screen
        below = self.controller if self.controllers else None
        if below is not None and below.run_id == run_id and self.screen_stack[-2:] == [below.screen, fleet]:
            fleet.dismiss(None)
            controller = below
        else:
            assert self.services.broker is not None, "the fleet view reads a broker"
            attachment = BrokerAttachment(self.services.broker, run_id)
            try:
                remote = await attachment.describe()
            except AttachError as exc:
                await attachment.aclose()
                why = inert(f"Cannot open run {run_id}: {exc}")
                self.notify(why, severity="error", timeout=8, markup=False)
                return
            controller = RunController.attached(
                self.services, remote.tickets, run_id, attachment, first=False, prices=remote.prices
            )
            controller.close_with(attachment.aclose)
            await self._push(controller)
        if ticket in controller.panes:
            await controller.screen.show_pane(controller.panes[ticket])

    def on_run_screen_rerun(self, message: RunScreen.Rerun) -> None:
        self.run_worker(self.rerun(message.ticket, message.recorded), group="rerun")

    async def rerun(self, ticket: Ticket, recorded: RecordedRun) -> None:
        """Run a recorded ticket again as a new run of its own, recorded as such."""
        problems = provider_problems((ticket,), self.services.providers.configs)
        if problems:
            self.notify(inert(f"Cannot re-run: {problems[0]}"), severity="error", timeout=8, markup=False)
            return
        if outside := recorded.outside(Path.cwd(), (ticket,)):
            question = ConfirmScreen(recorded.outside_question(Path.cwd(), outside))
            if not await self.push_screen(question, wait_for_dismiss=True):
                return
        controller = RunController.live(self.services, (ticket,), first=False)
        history = self.services.history
        if history is not None:
            tickets = TicketFile(recorded.tickets_file or Path(), (ticket,), offline_default=False)
            command = f"lfg history: re-run of {recorded.run_id}/{ticket.id}"
            await controller.record(open_run_history(history, tickets, command, self._history_problem))
        await self._push(controller)

    async def _push(self, controller: RunController) -> None:
        self.controllers.append(controller)
        await self.push_screen(controller.screen)
        controller.begin()

    def on_run_screen_leave(self, message: RunScreen.Leave) -> None:
        controller = next(s for s in self.controllers if s.screen is message.run_screen)
        self.run_worker(self.leave(controller), group="leave")

    async def leave(self, controller: RunController) -> None:
        """Leave a controller opened from the history: its run (a re-run) is cancelled first."""
        running = controller.running
        if running:
            question = ConfirmScreen(f"Cancel {running} running tickets and go back?")
            if not await self.push_screen(question, wait_for_dismiss=True):
                return
        await controller.shutdown()
        self.controllers.remove(controller)
        if self.screen is controller.screen:
            self.pop_screen()
        if self.controllers:
            self.controller.summary_stale = True

    def _history_problem(self, message: str) -> None:
        self.notify(inert(message), severity="warning", timeout=6, markup=False)

    async def action_quit(self) -> None:
        running = sum(controller.running for controller in self.controllers)
        if not running:
            await self._finish()
            return

        async def answer(yes: bool | None) -> None:
            if yes:
                await self._finish()

        have = "has" if running == 1 else "have"
        question = f"{plural(running, 'ticket')} {have} not finished. Cancel them and quit?"
        self.push_screen(ConfirmScreen(question), answer)

    async def _finish(self, code: int | None = None) -> None:
        """Cancel what still runs, wait for every ticket to record its outcome, and exit.

        The exit code is the first controller's: a replay, an attached view and the fleet view exit 0.
        """
        runs = [controller.run for controller in self.controllers if controller.run is not None]
        for run in runs:
            run.cancel_all()
        for run in runs:
            await run.wait()
        first = self.controllers[0].run if self.controllers else None
        outcomes = {} if first is None else await first.wait()
        if code is None:
            code = 0 if all(o is Outcome.COMPLETED for o in outcomes.values()) else 1
        self.exit(code)

    def _on_signal(self, code: int) -> None:
        self.run_worker(self._finish(code), exclusive=True)

    def on_terminal_lost(self, _: TerminalLost) -> None:
        """The terminal went away (EOF, EIO, a closed pipe), with or without a SIGHUP: a hangup."""
        self._on_signal(EXIT_SIGHUP)

    def action_help(self) -> None:
        """The keys that work on the screen on show, as the footer names them (`?`, `=`), a row per
        action: what its mode hides or the person rebound is as it is."""
        screen = self.screen
        rows: dict[str, tuple[list[str], str, str]] = {}
        for active in screen.active_bindings.values():
            binding = active.binding
            if not active.enabled or binding.system or not binding.description:
                continue
            keys, what, ident = rows.get(binding.action, ([], "", ""))
            ident = ident or binding.id or ""
            what = binding.tooltip if binding.id or not what else what  # lfg's text over Textual's
            rows[binding.action] = ([*keys, self.get_key_display(binding)], what, ident)
        shown = [(", ".join(keys), what, ident) for keys, what, ident in rows.values()]
        self.push_screen(HelpScreen(shown, where_keys(screen), self.served))


def where_keys(screen: Screen[object]) -> str:
    """The screen the help's keys work on, as its title says it."""
    if isinstance(screen, RunScreen):
        return f"for this {screen.mode.value} run"
    if isinstance(screen, HistoryScreen):
        return "for the history"
    if isinstance(screen, FleetScreen):
        return "for the fleet view"
    return ""
