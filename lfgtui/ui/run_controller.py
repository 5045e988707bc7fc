"""One run on one run screen: its panes, its metrics, and the run feeding them (none when read-only).

The command that starts the app builds its first controller (`lfg run`, `lfg resume`, `lfg replay`,
`lfg attach`); the app keeps it, and any recorded run opened from the history screen or ticket re-run
from there, in a stack that follows its run screens. A controller is its run screen's `RunControl`, so
keys act on its own run, and it talks back only through its screen: notices, modals and workers go
there, and what the app must do (re-run a ticket as a new run) is a message the screen posts.
Restored and replayed events go through the same metrics book and pane code as live ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lfgtui.alerts.moments import RunAlerts
from lfgtui.cost.metrics import Metrics, MetricsBook
from lfgtui.events import Event, ReasoningDelta, TextDelta, ToolOutputDelta
from lfgtui.formats import quota_text
from lfgtui.history.writer import RunHistory
from lfgtui.inert import inert
from lfgtui.run import Approvals, Run, Sink
from lfgtui.run.resume import RecordedRun, ReplayClock, play, replay_events
from lfgtui.tickets.ticket import Ticket
from lfgtui.ui.diff_screen import DiffScreen
from lfgtui.ui.modals import ConfirmScreen, FollowUpScreen
from lfgtui.ui.pane import LINES_EVERY, TicketPane
from lfgtui.ui.run_screen import Mode, RunScreen
from lfgtui.ui.services import Services

if TYPE_CHECKING:
    from lfgtui.remote.attach import Followed
    from lfgtui.worktrees.tree import Worktree


class RunController:
    """`recorded` is the run a resumed, read-only or replayed controller shows; None for a fresh run."""

    def __init__(
        self,
        services: Services,
        tickets: tuple[Ticket, ...],
        mode: Mode = Mode.LIVE,
        run_id: str | None = None,
        *,
        first: bool = True,
        recorded: RecordedRun | None = None,
        sinks: Sequence[Sink] = (),
        attachment: Followed | None = None,
        make_run: Callable[..., Run] | None = None,
    ) -> None:
        """`first`: the controller the app opens with, which cannot be left. `sinks` also hear the run's
        events. `attachment`: the served run an attached controller follows (`lfg attach`). `make_run`:
        what makes its run (a coordinated one, `lfg run --broker`), else a `Run`."""
        self.services = services
        self.attachment = attachment
        self.mode = mode
        self.run_id = run_id or (recorded.run_id if recorded is not None else secrets.token_hex(3))
        self.recorded = recorded
        self.book = MetricsBook(prices=services.prices)
        self.screen = RunScreen(tickets, self, mode, first)
        self.panes: dict[str, TicketPane] = {pane.ticket.id: pane for pane in self.screen.panes}
        self.started = services.clock()
        self.summary_stale = True
        self.summary_frame = 0
        self.run: Run | None = None
        self._resources = contextlib.AsyncExitStack()
        self._replay: asyncio.Task[None] | None = None
        if mode in (Mode.LIVE, Mode.RESUMED):
            self.run = (make_run or Run)(
                tickets,
                services.providers,
                Approvals(yes=services.yes, askable=True),
                [self.show, *sinks],
                max_concurrency=services.max_concurrency,
                tool_env=services.tool_env,
                clock=services.clock,
                earlier=recorded.earlier() if recorded is not None and mode is Mode.RESUMED else None,
                keep_agents=True,
                prices=services.prices,
                max_cost_usd=services.max_cost_usd,
            )
            self.book = self.run.book
            command = [services.notify_command] if services.notify_command is not None else []
            self.run.sinks.append(RunAlerts(self.run, services.notify, [self.screen.alert, *command]))

    @property
    def label(self) -> str:
        """The run id, with what kind of view this is unless it streams live."""
        clock = self.services.clock
        if self.mode is Mode.REPLAY and isinstance(clock, ReplayClock):
            return f"{self.run_id} · replay at {clock.speed:g}x"
        if self.attachment is not None:  # its state may quote the network's words
            return inert(f"{self.run_id} · attached to {self.attachment.url} · {self.attachment.state}")
        return self.run_id if self.mode is Mode.LIVE else f"{self.run_id} · {self.mode}"

    @property
    def running(self) -> int:
        """Tickets whose attempt (or wait for a dependency) is under way."""
        return 0 if self.run is None else sum(1 for s in self.run.states.values() if s.running)

    async def record(self, history: contextlib.AbstractAsyncContextManager[RunHistory | None]) -> None:
        """Record this controller's run into `history` until the controller closes."""
        recording = await self._resources.enter_async_context(history)
        if recording is not None and self.run is not None:
            self.run_id = recording.run_id
            self.run.record(recording)

    def begin(self) -> None:
        """Once the screen is mounted: restore recorded panes, start the run or start the replay."""
        if self.attachment is not None:
            self._replay = asyncio.create_task(self._follow(self.attachment), name="attach")
        elif self.recorded is not None and self.mode is Mode.REPLAY:
            clock = self.services.clock
            assert isinstance(clock, ReplayClock), "a replay runs on a ReplayClock"
            events = replay_events(self.recorded)
            self._replay = asyncio.create_task(self._play(events, clock), name="replay")
        elif self.recorded is not None:
            events = replay_events(self.recorded)
            took = events[-1].t if events else 0.0
            self.started -= (
                took  # the record ends as the controller starts: its elapsed time goes on from there
            )
            for event in events:
                self.deliver(dataclasses.replace(event, t=event.t + self.started))
        if self.run is not None:
            self.run.start()

    async def _play(self, events: list[Event], clock: ReplayClock) -> None:
        await play(events, clock, self.deliver)
        self.screen.notify("Replay finished.", timeout=4)

    async def _follow(self, attachment: Followed) -> None:
        from lfgtui.remote.attach import AttachError

        def said(_: str) -> None:
            self.started = attachment.offset  # the run's start on this clock: the summary's elapsed
            self.summary_stale = True

        try:
            await attachment.follow(self.deliver, said)
        except AttachError as exc:
            self.screen.notify(inert(str(exc)), severity="error", timeout=10, markup=False)

    def deliver(self, event: Event) -> None:
        """A recorded event, through the same book and pane code as a live one."""
        self.book(event)
        self.show(event)

    def show(self, event: Event) -> None:
        """An event of this controller's run (or its record) to its pane; the frame clock draws it."""
        metrics = self.book.attempts.get((event.ticket, event.attempt)) or Metrics()
        self.panes[event.ticket].apply(event, metrics)
        if not isinstance(event, TextDelta | ReasoningDelta | ToolOutputDelta):
            self.summary_stale = True

    def show_summary(self, now: float, frame: int) -> None:
        """Redraw the summary bar when an event changed it, and every `LINES_EVERY` frames for the
        rates and the elapsed time."""
        if not self.summary_stale and frame - self.summary_frame < LINES_EVERY:
            return
        self.summary_stale = False
        self.summary_frame = frame
        limits = [] if self.run is None else self.run.limiters.summaries(now)
        limits += [quota_text(quota, now - quota.t) for quota in self.book.quotas.values()]
        screen = self.screen
        cost = self.book.cost_usd()
        screen.summary.show(screen.tally, now, self.started, self.label, cost, limits, screen.window)

    async def shutdown(self) -> None:
        """Stop the replay, cancel what runs, wait for the outcomes to be recorded, close the history."""
        if self._replay is not None:
            self._replay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replay
        if self.run is not None:
            self.run.cancel_all()
            await self.run.wait()
            await self.run.close_agents()
        await self._resources.aclose()

    # --- RunControl: what the run screen's keys ask for ---

    def cancel_ticket(self, ticket_id: str) -> None:
        if self.attachment is not None:
            self._ask_server("cancel", ticket_id)
        elif self.run is None or not self.run.cancel(ticket_id):
            self.screen.app.bell()

    def _ask_server(self, action: str, ticket_id: str, call_id: str | None = None) -> None:
        """Cancel, retry, approve or deny on the served run, when it lets its watchers."""
        attachment = self.attachment
        assert attachment is not None and attachment.run is not None
        if not attachment.run.control:
            self.screen.notify("This run is served read-only: its server was not started with --control.")
            return

        async def ask() -> None:
            problem = await attachment.act(action, ticket_id, call_id)
            if problem is not None:
                self.screen.notify(inert(f"The server did not {action}: {problem}"), timeout=4, markup=False)

        self.screen.run_worker(ask(), group="remote")

    def answer(self, ticket_id: str, call_id: str, allowed: bool) -> None:
        if self.attachment is not None:
            self._ask_server("approve" if allowed else "deny", ticket_id, call_id)
        elif self.run is None or not self.run.approvals.answer(ticket_id, call_id, allowed, "you"):
            self.screen.notify("That request is no longer waiting.", timeout=3)

    def retry_ticket(self, ticket_id: str) -> None:
        if self.attachment is not None:
            self._ask_server("retry", ticket_id)
            return
        if self.run is None or not self.run.retry(ticket_id):
            self.screen.notify("Only a ticket that ended without completing can be retried.", timeout=3)

    def retry_all(self) -> None:
        retried = [] if self.run is None else self.run.retry_all()
        if not retried:
            self.screen.notify("Every ticket has completed or is running.", timeout=3)
        else:
            self.screen.notify(f"Retrying {len(retried)} tickets: {', '.join(retried)}", timeout=3)

    def ask_follow_up(self, ticket_id: str) -> None:
        run = self.run
        if run is None or not run.can_continue(ticket_id):
            self.screen.notify("Only a completed ticket can be followed up.", timeout=3)
            return

        def send(prompt: str | None) -> None:
            if prompt:
                run.continue_with(ticket_id, prompt)

        self.screen.app.push_screen(FollowUpScreen(ticket_id), send)

    def show_diff(self, ticket_id: str) -> None:
        """The ticket's diff: taken now from its worktree while it works, else the one it left."""
        pane = self.panes[ticket_id]
        state = None if self.run is None else self.run.states[ticket_id]
        if state is not None and state.worktree is not None and pane.running:
            self.screen.run_worker(self._live_diff(ticket_id, state.worktree), group="diff")
            return
        if pane.diff is None or pane.diff.text is None:
            self.screen.notify("The diff of this attempt was not recorded.", timeout=3)
            return
        self.screen.app.push_screen(DiffScreen(ticket_id, pane.branch or "", pane.diff.text))

    async def _live_diff(self, ticket_id: str, tree: Worktree) -> None:
        from lfgtui.worktrees.git import GitError
        from lfgtui.worktrees.tree import diff_text

        try:
            text = await diff_text(tree)
        except GitError as exc:
            # git's own words and paths: inert and never markup (a `[@click=…]` would be an action)
            self.screen.notify(
                inert(f"The diff cannot be taken: {exc}"), severity="error", timeout=5, markup=False
            )
            return
        self.screen.app.push_screen(DiffScreen(ticket_id, tree.branch, text))

    def rerun_ticket(self, ticket_id: str) -> None:
        assert self.recorded is not None, "only a recorded run's tickets are re-run"
        recorded = next(t for t in self.recorded.tickets if t.ticket.id == ticket_id)
        ticket = recorded.standalone()
        if ticket is None:
            never = f"{ticket_id} never sent its prompt: its dependencies did not complete."
            self.screen.notify(never, timeout=4)
            return
        self.screen.post_message(RunScreen.Rerun(ticket, self.recorded))

    def confirm_cancel_all(self) -> None:
        running = self.running
        if not running:
            self.screen.notify("Nothing is running.", timeout=2)
            return

        def answer(yes: bool | None) -> None:
            if yes and self.run is not None:
                self.run.cancel_all()

        self.screen.app.push_screen(ConfirmScreen(f"Cancel all {running} running tickets?"), answer)
