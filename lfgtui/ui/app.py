"""The Textual app of `lfg run`: owns the run, feeds panes from its events, draws at a capped rate.

One frame clock for the whole app redraws only panes that changed and are on screen, so a hidden
or scrolled-away pane costs nothing until it is shown, and the cost of a token does not depend on
how many panes there are.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import Callable, Mapping
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from lfgtui.agent import Approve
from lfgtui.events import Event, Outcome, ReasoningDelta, TextDelta, ToolCallReady
from lfgtui.metrics import Metrics, MetricsBook
from lfgtui.providers.registry import Providers
from lfgtui.run import Run, Sink
from lfgtui.tickets import Ticket
from lfgtui.ui.modals import ConfirmScreen, HelpScreen
from lfgtui.ui.pane import LINES_EVERY, TicketPane
from lfgtui.ui.run_screen import HELP, RunScreen
from lfgtui.ui.themes import load_themes

FRAME_S = 1 / 20
SAMPLE_S = 0.5
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class LfgApp(App[int]):
    """Returns the run's exit code: 0 all completed, 1 otherwise, 130 / 143 after SIGINT / SIGTERM."""

    CSS_PATH = "app.tcss"
    TITLE = "lfg"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
    ]

    def __init__(
        self,
        tickets: tuple[Ticket, ...],
        providers: Providers,
        *,
        max_concurrency: int = 8,
        tool_env: Mapping[str, str] | None = None,
        yes: bool = False,
        theme: str = "dark",
        keymap: Mapping[str, str] | None = None,
        sinks: list[Sink] | None = None,
        run_id: str | None = None,
        notice: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.book = MetricsBook()
        self.clock = clock
        self.yes = yes
        self.theme_name = theme
        self.user_keymap = dict(keymap or {})
        self.run_id = run_id or secrets.token_hex(3)
        self.run_screen = RunScreen(tickets, self)
        self.panes: dict[str, TicketPane] = {pane.ticket.id: pane for pane in self.run_screen.panes}
        self.providers = providers
        self.ticket_run = Run(
            tickets,
            providers,
            self._approver,
            [self.book, self._on_event, *(sinks or [])],
            max_concurrency=max_concurrency,
            tool_env=tool_env,
            clock=clock,
        )
        self.notice = notice
        self.started = clock()
        self.frames = 0
        self.summary_stale = True

    def on_mount(self) -> None:
        for theme in load_themes().values():
            self.register_theme(theme)
        self.theme = self.theme_name
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        self.push_screen(self.run_screen)
        self.ticket_run.start()
        self.set_interval(FRAME_S, self._frame)
        self.set_interval(SAMPLE_S, self._sample)
        loop = asyncio.get_running_loop()
        for sig, code in ((signal.SIGINT, EXIT_SIGINT), (signal.SIGTERM, EXIT_SIGTERM)):
            loop.add_signal_handler(sig, self._on_signal, code)
        if self.notice:
            self.notify(self.notice, timeout=6)

    async def on_unmount(self) -> None:
        """However the app ends, no ticket keeps streaming and every connection is closed."""
        self.ticket_run.cancel_all()
        await self.ticket_run.wait()
        await self.providers.aclose()

    def _on_event(self, event: Event) -> None:
        metrics = self.book.attempts.get((event.ticket, event.attempt)) or Metrics()
        self.panes[event.ticket].apply(event, metrics)
        if not isinstance(event, TextDelta | ReasoningDelta):
            self.frames = 0
        self.summary_stale = True

    def _frame(self) -> None:
        now = self.clock()
        self.frames += 1
        for pane in self.run_screen.panes:
            if pane.needs_frame and pane.display and pane.is_on_screen:
                pane.render_frame(now, self.frames)
        if self.summary_stale or self.frames % LINES_EVERY == 0:
            self.summary_stale = False
            self.run_screen.summary.show(self.run_screen.panes, now, self.started, self.run_id)

    def _sample(self) -> None:
        now = self.clock()
        for pane in self.run_screen.panes:
            if pane.running:
                pane.sample_rate(now)

    def _approver(self, ticket: Ticket) -> Approve:
        async def approve(call: ToolCallReady) -> str | None:
            if self.yes or ticket.auto_approves(call.name):
                return None
            allowed = await self.panes[ticket.id].ask_approval(call)
            return None if allowed else f"the user did not approve this {call.name} call"

        return approve

    def cancel_ticket(self, ticket_id: str) -> None:
        if not self.ticket_run.cancel(ticket_id):
            self.bell()

    def retry_ticket(self, ticket_id: str) -> None:
        if not self.ticket_run.retry(ticket_id):
            self.notify("Only a ticket that ended without completing can be retried.", timeout=3)

    def confirm_cancel_all(self) -> None:
        running = sum(1 for pane in self.panes.values() if pane.running)
        if not running:
            self.notify("Nothing is running.", timeout=2)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.ticket_run.cancel_all()

        self.push_screen(ConfirmScreen(f"Cancel all {running} running tickets?"), answer)

    async def action_quit(self) -> None:
        running = sum(1 for pane in self.panes.values() if not pane.finished)
        if not running:
            await self._finish()
            return

        async def answer(yes: bool | None) -> None:
            if yes:
                await self._finish()

        self.push_screen(ConfirmScreen(f"{running} tickets have not finished. Cancel them and quit?"), answer)

    async def _finish(self, code: int | None = None) -> None:
        """Cancel what still runs, wait for every ticket to record its outcome, and exit."""
        self.ticket_run.cancel_all()
        outcomes = await self.ticket_run.wait()
        if code is None:
            code = 0 if all(o is Outcome.COMPLETED for o in outcomes.values()) else 1
        self.exit(code)

    def _on_signal(self, code: int) -> None:
        self.run_worker(self._finish(code), exclusive=True)

    def action_help(self) -> None:
        rows = []
        for binding in [*RunScreen.BINDINGS, *self.BINDINGS]:
            assert isinstance(binding, Binding)
            keys = self.user_keymap.get(binding.id or "", binding.key).replace("question_mark", "?")
            what = HELP.get(binding.id or "", binding.description.lower())
            rows.append((keys, what, binding.id or ""))
        self.push_screen(HelpScreen(rows))
