"""One run on one run screen: its panes, its metrics, where its events come from and where what the
person asks of it goes.

The command that starts the app builds its first controller (`lfg run`, `lfg resume`, `lfg replay`,
`lfg attach`); the app keeps it, and any recorded run opened from the history screen or ticket re-run
from there, in a stack that follows its run screens. A controller is its run screen's `RunKeys`, so
keys act on its own run, and it talks back only through its screen: notices, modals and workers go
there, and what the app must do (re-run a ticket as a new run) is a message the screen posts.
What kind of run it shows is only in its pair: a `RunFeed` (ui/run/feed.py: nothing for a fresh run,
a record restored at once or played at its pace, a served run followed) and a `RunHandle`
(ui/run/handle.py: the engine here, the server over the wire, or nothing). Restored, replayed and
followed events go through the same metrics book and pane code as live ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lfgtui.cost.metrics import Metrics
from lfgtui.events import Event, RunFact
from lfgtui.formats import agent_usage_text, quota_text
from lfgtui.history.recorded import ReplayClock
from lfgtui.history.rows import LandingRow
from lfgtui.inert import inert
from lfgtui.run.requests import (
    AddTicket,
    Answer,
    Approve,
    Cancel,
    CancelAll,
    CancelChild,
    EditHeld,
    End,
    FollowUp,
    Fork,
    Land,
    Queue,
    RemoveHeld,
    Request,
    Rerun,
    Resume,
    Retry,
    RetryAll,
    ReviewSend,
    Steer,
    Synthesize,
    TakeWinner,
)
from lfgtui.run.seeds import earlier_of_each
from lfgtui.tickets.ticket import Ticket
from lfgtui.ui.run.feed import AttachedFeed, RecordFeed, ReplayFeed, RunFeed
from lfgtui.ui.run.handle import LocalHandle, Outcome, Refused, RunHandle, ServedHandle
from lfgtui.ui.run.merge import Merge
from lfgtui.ui.screens.diff import DiffScreen
from lfgtui.ui.screens.run import Mode, RunScreen
from lfgtui.ui.screens.verdict import VerdictNews
from lfgtui.ui.services import Services
from lfgtui.ui.widgets.pane import LINES_EVERY, STREAMED, TicketPane

FIRST_WORDS_BUDGET_S = 0.010
"""The longest the draws of first words take at once (`RunController._draw_first_words`)."""

if TYPE_CHECKING:
    from pathlib import Path

    from lfgtui.broker.gaps import Lost
    from lfgtui.contest import Verdict
    from lfgtui.cost.prices import PriceBook
    from lfgtui.history.recorded import RecordedRun
    from lfgtui.history.writer import RunHistory
    from lfgtui.remote.following import Followed
    from lfgtui.run import Run, Sink
    from lfgtui.run.attempts import Earlier
    from lfgtui.ui.screens.review import Landing
    from lfgtui.worktrees.land import Landed, LandOptions
    from lfgtui.worktrees.review import Comment
    from lfgtui.worktrees.tree import Worktree


class RunController:
    """One run on one screen: where its events come from (`feed`) and where what the person asks of
    it goes (`control`). Build one with `live`, `resumed`, `read_only`, `replay` or `attached`."""

    def __init__(
        self,
        services: Services,
        tickets: tuple[Ticket, ...],
        mode: Mode,
        feed: RunFeed,
        control: RunHandle,
        run_id: str | None = None,
        *,
        first: bool = True,
        recorded: RecordedRun | None = None,
    ) -> None:
        """`first`: the controller the app opens with, which cannot be left. `recorded`: the run whose
        tickets a read-only view can re-run."""
        self.services = services
        self.mode = mode
        self.feed = feed
        self.control = control
        self.run_id = run_id or (recorded.run_id if recorded is not None else self._fresh_id(control))
        self.recorded = recorded
        self.book = control.book
        self.screen = RunScreen(tickets, self, services, mode, first)
        self.news = VerdictNews(self.screen, self.screen.keys, control.verdicts)
        """What the run's facts show: a check's notice, a verdict's table."""
        self.panes: dict[str, TicketPane] = {pane.ticket.id: pane for pane in self.screen.panes}
        for ticket in recorded.tickets if recorded is not None else ():
            if ticket.landed is not None:
                self.panes[ticket.ticket.id].land(ticket.landed)
        self.started = services.clock()
        self.summary_stale = True
        self.summary_frame = 0
        self.unseen: set[str] = set()
        """Tickets of the run that have no pane here (`_unseen`)."""
        self._resources = contextlib.AsyncExitStack()
        self.drafts: dict[str, list[Comment]] = {}
        """Each ticket's review comments when the run has no history (else they are kept there)."""
        self._held: list[Event] | None = None
        """What a run started before its screen was up said meanwhile (`start_early`), shown at `begin`."""
        control.connect(self.heard, self.screen)
        control.forked = self.forked
        self._first_words: list[TicketPane] = []
        self._app_context: contextvars.Context | None = None
        """The app's context, from `begin` on: panes are drawn in it whatever task an event came on."""
        """Panes whose attempt's first words came, to draw at once (`_draw_soon`)."""
        self._adding: dict[str, list[tuple[Event, bool]]] = {}
        """Tickets the run took on whose pane is still to be made, with their events meanwhile (each
        with whether the run said it here, `heard`)."""
        self.merge = Merge()
        """Text pieces heard since the last frame, handed to their panes by it (`release_held`)."""
        if control.run is not None:
            control.run.added.append(self.added)

    @classmethod
    def live(
        cls,
        services: Services,
        tickets: tuple[Ticket, ...],
        run_id: str | None = None,
        *,
        first: bool = True,
        sinks: Sequence[Sink] = (),
        make_run: Callable[..., Run] | None = None,
    ) -> RunController:
        """A fresh run of `tickets` (`lfg run`, a ticket re-run from the history); `sinks` also hear it.
        `make_run`: what makes its run (a coordinated one, `lfg run --broker`), else a `Run`."""
        control = LocalHandle(services, tickets, sinks, make_run=make_run)
        return cls(services, tickets, Mode.LIVE, RunFeed(), control, run_id, first=first)

    @classmethod
    def resumed(
        cls,
        services: Services,
        recorded: RecordedRun,
        sinks: Sequence[Sink] = (),
        *,
        earlier: Mapping[str, Earlier] | None = None,
        make_run: Callable[..., Run] | None = None,
    ) -> RunController:
        """A recorded run taken up again (`lfg resume`): its record restored, its tickets run here, under
        its id (its worktrees are the recorded run's, history or not). `earlier`: where each ticket is
        taken up (default: where the record leaves it); `make_run`: what makes its run (a coordinated
        one picked up again, `lfg resume --broker`), else a `Run`."""
        tickets = recorded.as_tickets
        seeds = earlier_of_each(recorded.tickets) if earlier is None else earlier
        control = LocalHandle(services, tickets, sinks, earlier=seeds, make_run=make_run)
        control.run.run_id = recorded.run_id
        control.run.parents.update(recorded.parents)  # a lead's tickets from before are its own
        feed = RecordFeed(recorded, Mode.RESUMED)
        return cls(services, tickets, Mode.RESUMED, feed, control, recorded=recorded)

    @classmethod
    def read_only(cls, services: Services, recorded: RecordedRun) -> RunController:
        """A recorded run shown as it ended (opened from the history screen, over it)."""
        feed, control = RecordFeed(recorded, Mode.READ_ONLY), RunHandle(services.prices)
        tickets = recorded.as_tickets
        return cls(services, tickets, Mode.READ_ONLY, feed, control, first=False, recorded=recorded)

    @classmethod
    def replay(cls, services: Services, recorded: RecordedRun) -> RunController:
        """A recorded run played again at its pace (`lfg replay`) on the services' `ReplayClock`."""
        clock = services.clock
        assert isinstance(clock, ReplayClock), "a replay runs on a ReplayClock"
        feed, control = ReplayFeed(recorded, clock), RunHandle(services.prices)
        return cls(services, recorded.as_tickets, Mode.REPLAY, feed, control, recorded=recorded)

    @classmethod
    def attached(
        cls,
        services: Services,
        tickets: tuple[Ticket, ...],
        run_id: str,
        attachment: Followed,
        *,
        first: bool = True,
        prices: PriceBook | None = None,
    ) -> RunController:
        """A run another lfg serves (`lfg attach`, a run opened from the fleet view), described as
        `tickets` and `run_id`; priced by `prices` (the runner's), else the services'."""

        control = ServedHandle(attachment, prices or services.prices)
        controller = cls(
            services, tickets, Mode.ATTACHED, AttachedFeed(attachment), control, run_id, first=first
        )
        attachment.added = controller.forked  # a ticket the run took on as it ran: its pane
        return controller

    @property
    def run(self) -> Run | None:
        """The engine, when this controller's run runs here."""
        return self.control.run

    @staticmethod
    def _fresh_id(control: RunHandle) -> str:
        """A run not recorded: the id its engine has (the one a broker and its watchers know), else a
        new one."""
        return control.run.run_id if control.run is not None else secrets.token_hex(3)

    @property
    def label(self) -> str:
        """The run id, with what kind of view this is unless it streams live."""
        return self.feed.label(self.run_id)

    @property
    def running(self) -> int:
        """Tickets whose attempt (or wait for a dependency) is under way."""
        return self.control.running

    async def record(self, history: contextlib.AbstractAsyncContextManager[RunHistory | None]) -> None:
        """Record this controller's run into `history` until the controller closes."""
        recording = await self._resources.enter_async_context(history)
        if recording is not None:
            self.run_id = recording.run_id
            self.control.record(recording)

    def start_early(self) -> None:
        """A fresh run's tickets start before its screen is composed and mounted, so that their first
        requests do not wait on the UI's start-up: what they say until `begin` is held, then shown
        in order. Only a live run: a record restored or followed comes first in its panes."""
        if self.mode is Mode.LIVE and self._held is None:
            self._held = []
            self.control.start()

    def begin(self) -> None:
        """Once the screen is mounted: restore, replay or follow what the feed has, start the run (or
        show what it said while the screen came up, when it started early)."""
        self._app_context = contextvars.copy_context()  # the app's: what its widgets are made in
        self.feed.begin(self)
        held, self._held = self._held, None
        if held is None:
            self.control.start()
        for event in held or ():
            self._show(event, heard=True)

    def deliver(self, event: Event) -> None:
        """A recorded event, through the same book and pane code as a live one."""
        self.book(event)
        self.show(event)

    def lost(self, lost: Lost) -> None:
        """Events a watcher of a run on the broker will never get: the attempt's pane says its text
        is not whole (those of unknown tickets only the summary bar's state says)."""
        pane = self.panes.get(lost.ticket) if lost.ticket is not None else None
        if pane is not None:
            pane.lose(lost.text())

    def heard(self, event: Event) -> None:
        """An event of the run running here (its engine's sink): shown, and the attention states it
        changed told to the run's alerts too (`RunHandle.attended`), so the run keeps one tracker."""
        if self._held is not None:  # only the run speaks before `begin`: every held event is heard
            self._held.append(event)
            return
        self._show(event, heard=True)

    def show(self, event: Event) -> None:
        """An event of this controller's run (or its record) to its pane; the frame clock draws it."""
        self._show(event, heard=False)

    def _show(self, event: Event, heard: bool) -> None:
        if isinstance(event, RunFact):  # the run's, not a pane's: a check's result, a verdict
            self.news(event)
            return
        if (adding := self._adding.get(event.ticket)) is not None:
            adding.append((event, heard))
            return
        pane = self.panes.get(event.ticket)
        if pane is None:  # a ticket the run took on after this view began (a fork, on a run watched)
            self._unseen(event.ticket)
            return
        if pane.awaiting_words or pane.urgent or not self.merge.hold(event):  # drawn now, as was
            self.merge.release(event.ticket, self._apply)  # what came before it, first
            self._apply(event)
        changed = self.screen.attention.apply(event)
        if changed:
            self.screen.attend(changed)
            if heard:
                self.control.attended(changed, event)
        if changed or type(event) not in STREAMED:
            self.summary_stale = True

    def _apply(self, event: Event) -> None:
        """Hand `event` to its pane (held text pieces come joined, once a frame: `Merge`)."""
        pane = self.panes[event.ticket]
        metrics = self.book.attempts.get((event.ticket, event.attempt)) or Metrics()
        if pane.apply(event, metrics):
            self._draw_soon(pane)
        if type(event) not in STREAMED:  # a state, a diff, an approval: which keys apply may change
            self.screen.pane_changed(pane)

    def release_held(self) -> None:
        """Before a frame draws: every pane takes the text pieces held for it since the last."""
        if self.merge:
            self.merge.release_all(self._apply)

    def _draw_soon(self, pane: TicketPane) -> None:
        """An attempt's first words are drawn as soon as the loop is free (once the rest of what
        brought them is taken in), not on the pane's next frame: up to a frame (50 ms) sooner."""
        if not self._first_words:  # in the app's context: the event may have come on a task that a
            # watcher's request started (a synthesis), where no widget can be made
            asyncio.get_running_loop().call_soon(self._draw_first_words, context=self._app_context)
        self._first_words.append(pane)

    def _draw_first_words(self) -> None:
        """Draw the panes whose first words came, for at most `FIRST_WORDS_BUDGET_S` (a recorded run
        opened brings every pane's at once): those left are urgent, drawn first on the next frame."""
        panes, self._first_words = self._first_words, []
        now = self.services.clock()
        deadline = time.perf_counter() + FIRST_WORDS_BUDGET_S
        for pane in panes:
            if pane.urgent and pane.on_screen:  # not drawn by a frame meanwhile
                pane.render_frame(now, pane.drawn_frame)  # its turn among the streaming panes kept
                if time.perf_counter() > deadline:
                    break

    def _unseen(self, ticket_id: str) -> None:
        """Say once that a ticket this view has no pane for goes on unseen here."""
        if ticket_id not in self.unseen:
            self.unseen.add(ticket_id)
            said = (
                f"{ticket_id} (added as the run ran: a fork, a synthesis or a ticket added to it) is not "
                "shown here: this view has the run's tickets as it began"
            )
            self.screen.notify(inert(said), timeout=8, markup=False)

    def show_summary(self, now: float, frame: int) -> None:
        """Redraw the summary bar when an event changed it, and every `LINES_EVERY` frames for the
        rates and the elapsed time."""
        if not self.summary_stale and frame - self.summary_frame < LINES_EVERY:
            return
        self.summary_stale = False
        self.summary_frame = frame
        for pane in self.screen.tally.needs_you:  # how long each has waited, in its header
            pane.dirty = pane.lines_stale = True
        self.screen.show_title()
        limits = self.control.limits(now)
        limits += [quota_text(quota, now - quota.t) for quota in self.book.quotas.values()]
        limits += [agent_usage_text(usage, now) for usage in self.book.agents.values()]
        screen = self.screen
        cost = self.book.cost_usd()
        screen.summary.show(screen.tally, now, self.started, self.label, cost, limits, screen.window)

    def close_with(self, close: Callable[[], Awaitable[object]]) -> None:
        """Call `close` when the controller shuts down (the connection of a run it opened itself)."""
        self._resources.push_async_callback(close)

    async def shutdown(self) -> None:
        """Stop the feed, cancel what runs, wait for the outcomes to be recorded, close the history."""
        await self.feed.stop()
        await self.control.close()
        await self._resources.aclose()

    # --- RunKeys: what the run screen's keys ask for ---

    def ask(self, request: Request) -> Outcome:
        """Carry a person's request to this run: to the handler `REQUESTS` declares for its kind of
        handle (here, served, or nothing), else refused as the declaration says."""
        declared = REQUESTS[type(request)]
        handler = declared.record
        if isinstance(self.control, LocalHandle):
            handler = declared.local
        elif isinstance(self.control, ServedHandle):
            handler = declared.remote
        if isinstance(handler, Why):
            return self._refuse(handler)
        outcome = handler(self, request)
        if isinstance(outcome, Refused):  # refused as a record refuses it
            assert isinstance(declared.record, Why), "a request a handler refuses has a reason to say"
            return self._refuse(declared.record)
        return outcome

    def _refuse(self, why: Why) -> Outcome:
        if why.returned:
            return why.said
        if why.said:
            self.screen.notify(why.said, timeout=why.timeout)
        else:
            self.screen.app.bell()
        return None

    def land_ticket(self, asked: Land) -> Outcome:
        """Land the ticket's change once the person says yes (`worktrees/land.py`, as `lfg land`
        with its defaults)."""
        ticket_id = asked.ticket
        tree = self.control.worktree(ticket_id)
        if tree is None:
            self.screen.notify('This ticket has no worktree: isolation = "worktree" gives it one.', timeout=3)
            return None
        if self.panes[ticket_id].running:
            self.screen.notify("This ticket is still working: land it once it has ended.", timeout=3)
            return None
        self.screen.run_worker(self._land(ticket_id, tree), group="land", exclusive=True)
        return None

    async def _land(self, ticket_id: str, tree: Worktree) -> None:
        from lfgtui.ui.screens.modals import ConfirmScreen

        onto = tree.base_branch or "?"
        question = inert(
            f"Land {ticket_id} ({tree.branch}) onto {onto} as one commit, then archive its worktree?"
        )
        asked = ConfirmScreen(question)
        if await self.screen.app.push_screen(asked, wait_for_dismiss=True):
            await self.land_change(ticket_id, tree)

    async def land_change(self, ticket_id: str, tree: Worktree) -> Landed | None:
        """Land the ticket's change as `lfg land` does with its defaults, record it in the history and
        say so; None when it did not land (said why, everything as it was)."""
        from lfgtui.worktrees.land import LandOptions, ticket_message

        ticket = self.panes[ticket_id].ticket
        message = ticket_message(self.run_id, ticket_id, ticket.title, ticket.prompt)
        landed, _ = await self.land_as(ticket_id, tree, LandOptions(message=message))
        return landed

    async def land_as(
        self, ticket_id: str, tree: Worktree, options: LandOptions
    ) -> tuple[Landed | None, str]:
        """Land the ticket's change with `options` (`worktrees/land.py`, as `lfg land`), record it in
        the history, and say so in a notice: what was landed (None: nothing, everything as it was)
        and the sentence that said it."""
        from lfgtui.worktrees.git import GitError
        from lfgtui.worktrees.land import LandConflict, land

        if self.panes[ticket_id].running:
            said = "Not landed: this ticket is still working; land it once it has ended."
            self.screen.notify(said, severity="warning", timeout=4)
            return None, said
        try:
            landed = await land(tree, options)
        except GitError as exc:  # git's words and paths: inert, never markup
            kept = "; everything was left as it was" if isinstance(exc, LandConflict) else ""
            said = inert(f"Not landed: {exc}{kept}")
            self.screen.notify(said, severity="error", timeout=10, markup=False)
            return None, said
        self.panes[ticket_id].land(LandingRow.of(landed).label())
        said = landed.summary(ticket_id)
        if self.services.history is not None:
            said += await asyncio.to_thread(self._record_landing, self.services.history, ticket_id, landed)
        said = inert(said)
        self.screen.notify(said, timeout=8, markup=False)
        return landed, said

    def take_winner(self, asked: TakeWinner) -> Outcome:
        """Land a tournament's winner and archive the other contestants' worktrees, once the person
        says yes (ui/screens/verdict.py `take_winner`)."""
        from lfgtui.ui.screens.verdict import take_winner

        verdict = self.control.verdicts[asked.tournament]
        self.screen.run_worker(take_winner(self, verdict), group="land", exclusive=True)
        return None

    def _record_landing(self, path: Path, ticket_id: str, landed: Landed) -> str:
        """Record the landing in the history file (a thread of its own: SQLite blocks); what failed."""
        import sqlite3

        from lfgtui.history.database import StoreError
        from lfgtui.history.store import Store

        try:
            with Store.open(path) as store:
                store.record_landing(self.run_id, ticket_id, landed)
        except (StoreError, sqlite3.Error) as exc:
            return f" (the history did not record it: {exc})"
        return ""

    def synthesize(self, asked: Synthesize) -> Outcome:
        """Start a ticket in this run that combines the tournament's best two contestants' diffs, told
        why they were ranked so (tournament/synthesis.py), in a pane of its own."""
        from lfgtui.tournament.synthesis import start_synthesis

        assert self.control.run is not None, "a synthesis here starts in a run of this lfg"
        verdict = self.control.verdicts[asked.tournament]
        ticket = start_synthesis(self.control.run, verdict)  # its pane comes from the run's `added`
        on = f"{ticket.provider}/{ticket.model}"
        said = f"{ticket.id} started: a synthesis of {verdict.tournament}'s best two, on {on}"
        self.screen.notify(inert(said), timeout=6, markup=False)
        return None

    def looked(self, ticket_id: str) -> None:
        """The person looked at the ticket: what counts unread tickets elsewhere hears it."""
        if self.control.run is not None:
            self.control.run.looked(ticket_id)

    def added(self, ticket: Ticket) -> None:
        """The run took on a ticket (`Run.added`), maybe asked from outside the app (a watcher's
        request, on the server's task, where no widget can be made): its pane is made in the app, its
        events held until then."""
        if ticket.id not in self.panes and ticket.id not in self._adding:
            self._adding[ticket.id] = []
            self.screen.app.call_later(self._add_pane, ticket)

    def _add_pane(self, ticket: Ticket) -> None:
        held = self._adding.pop(ticket.id)
        self.forked(ticket)
        for event, heard in held:
            self._show(event, heard)

    def forked(self, ticket: Ticket) -> None:
        """A ticket the run took on (a fork, a synthesis, one a watcher asked for; on a run watched, one
        its server started): its pane, before its first event, once."""
        if ticket.id in self.panes:
            return
        self.panes[ticket.id] = self.screen.add_pane(ticket)
        self.summary_stale = True

    def show_diff(self, ticket_id: str) -> None:
        """The ticket's diff: taken now from its worktree while it works, else the one it left."""
        pane = self.panes[ticket_id]
        tree = self.control.worktree(ticket_id)
        if tree is not None and pane.running:
            self.screen.run_worker(self._live_diff(ticket_id, tree), group="diff")
            return
        if pane.diff is None or pane.diff.text is None:
            self.screen.notify("The diff of this attempt was not recorded.", timeout=3)
            return
        self.screen.looked(pane)
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

    def review(self, ticket_id: str) -> None:
        """The review screen of the ticket's diff, with its drafts (ui/screens/review.py)."""
        self.screen.run_worker(self._review(ticket_id), group="review", exclusive=True)

    async def _review(self, ticket_id: str) -> None:
        import sqlite3

        from lfgtui.history.database import StoreError
        from lfgtui.ui.screens.review import ReviewDesk, ReviewScreen
        from lfgtui.worktrees.git import GitError
        from lfgtui.worktrees.tree import find_worktree, reviewed

        pane = self.panes[ticket_id]
        tree = self.control.worktree(ticket_id) or find_worktree(self.run_id, ticket_id)
        worktree = None if isinstance(tree, str) else tree
        shown: list[str] = []  # the tree id of the diff the screen shows: what its landing lands
        try:
            now = await reviewed(worktree) if worktree is not None else None
            diff = now.parts.text() if now is not None else None
            shown += [now.files] if now is not None else []
        except GitError:  # the worktree is gone: the diff it recorded is still worth reviewing
            worktree, diff = None, None
        diff = diff if diff is not None else (pane.diff.text if pane.diff is not None else None)
        if diff is None:
            self.screen.notify("This ticket's diff was not recorded and its worktree is gone.", timeout=4)
            return
        kept = self.drafts.setdefault(ticket_id, [])
        history = self.services.history
        if history is None:
            said = "This run has no history: review drafts are kept only while this lfg runs."
            self.screen.notify(said, severity="warning", timeout=4)
        try:
            comments = await ReviewDesk.load(self.run_id, ticket_id, history, kept)
        except (StoreError, sqlite3.Error) as exc:  # history off for this run, or unreadable
            said = f"Review drafts are kept only while this lfg runs: the history cannot keep them ({exc})"
            self.screen.notify(inert(said), severity="warning", timeout=6, markup=False)
            history, comments = None, kept

        async def again(context: int) -> str | None:
            if worktree is None:
                return None
            try:
                now = await reviewed(worktree, context=context)
            except GitError:
                return None
            shown[:] = [now.files]
            return now.parts.text()

        def send(prompt: str) -> int | str:
            sent = self.ask(ReviewSend(ticket_id, prompt))
            assert isinstance(sent, int | str), "a review's send is answered with its attempt or why not"
            return sent

        desk = ReviewDesk(self.run_id, ticket_id, history, comments, send, again if worktree else None)
        self.screen.looked(pane)
        landing = self._landing(ticket_id, worktree, shown)
        await self.screen.app.push_screen(ReviewScreen(ticket_id, pane.branch or "", diff, desk, landing))

    def _landing(self, ticket_id: str, tree: Worktree | None, shown: list[str]) -> Landing | None:
        """What lands the reviewed ticket from its review screen: only a run of this lfg lands, and
        only a worktree that knows its base branch (`lfg land --onto` names another); only the tree
        `shown` holds, the one the screen shows (`lfg land --tree`)."""
        from lfgtui.ui.screens.review import Landing
        from lfgtui.worktrees.land import ticket_message

        if tree is None or tree.base_branch is None or self.control.run is None:
            return None
        ticket = self.panes[ticket_id].ticket

        async def land(options: LandOptions) -> str:
            _, said = await self.land_as(ticket_id, tree, replace(options, tree=shown[0] if shown else None))
            return said

        message = ticket_message(self.run_id, ticket_id, ticket.title, ticket.prompt)
        return Landing(tree.branch, tree.base_branch, message, land)

    def turns(self, ticket_id: str) -> tuple[str, ...] | None:
        """The ticket's conversation's user turns, where its run is held here."""
        return self.control.turns(ticket_id)

    def verdict(self, group: str) -> Verdict | None:
        """The latest verdict of a tournament of this run, once decided here."""
        return self.control.verdicts.get(group)

    def rerun_ticket(self, asked: Rerun) -> Outcome:
        """Run a recorded run's ticket again, as a new run (the app's to start: a message)."""
        assert self.recorded is not None, "only a recorded run's tickets are re-run"
        ticket_id = asked.ticket
        recorded = next(t for t in self.recorded.tickets if t.ticket.id == ticket_id)
        ticket = recorded.standalone()
        if ticket is None:
            never = f"{ticket_id} never sent its prompt: its dependencies did not complete."
            self.screen.notify(never, timeout=4)
            return None
        self.screen.post_message(RunScreen.Rerun(ticket, self.recorded))
        return None


Handler = Callable[[RunController, Any], Outcome]
"""What carries out a request, given the run's controller and the request."""


@dataclass(frozen=True)
class Why:
    """Why a kind of run has no handler for a request, as the person is told it (empty: the bell)."""

    said: str
    timeout: float = 3
    returned: bool = False
    """Handed back to the asker (a review's send shows it in its screen), not said in a notice."""


def _handle(method: Callable[[Any, Any], Outcome]) -> Handler:
    """A handler of the run's handle (`controller.control`: a `LocalHandle` or a `ServedHandle`)."""

    def handler(controller: RunController, asked: Any) -> Outcome:
        return method(controller.control, asked)

    handler.__qualname__ = method.__qualname__
    return handler


@dataclass(frozen=True)
class Declared:
    """A request, declared once: the binding (its id) whose key asks it, and who carries it out in a
    run running here (`local`), one another lfg serves (`remote`) and a record or a replay
    (`record`), each a handler or why there is none. The help line is the binding's own
    (ui/screens/run.py `key`). A local handler that returns REFUSED is answered as `record` says."""

    binding: str
    local: Handler | Why
    remote: Handler | Why
    record: Handler | Why


HELD_ONLY_RUNNING = Why(
    "Only a running ticket holds messages to change: each was sent, or said unsent, as it ended."
)
NOT_HERE = Why("Only a run going on here (lfg run, lfg resume) forks a ticket.")
NO_WORKTREE = 'This ticket has no worktree: isolation = "worktree" gives it one.'
REQUESTS: dict[type[Request], Declared] = {
    Cancel: Declared(
        "pane.cancel",
        _handle(LocalHandle.cancel),
        _handle(ServedHandle.cancel),
        Why("Nothing to cancel: this ticket is not running (only a running ticket can be cancelled)."),
    ),
    CancelChild: Declared(
        "pane.cancel_child",
        _handle(LocalHandle.ask),
        _handle(ServedHandle.send),
        Why("This run is not running here: it has no sub-agent to cancel.", timeout=5),
    ),
    Retry: Declared(
        "pane.retry",
        _handle(LocalHandle.retry),
        _handle(ServedHandle.send),
        Why("Only a ticket that ended without completing can be retried."),
    ),
    Resume: Declared(
        "pane.resume",
        _handle(LocalHandle.ask),
        Why('Only a ticket on_quota = "pause" paused can be resumed.'),
        Why('Only a ticket on_quota = "pause" paused can be resumed.'),
    ),
    Approve: Declared(
        "pane.approve",
        _handle(LocalHandle.ask),
        _handle(ServedHandle.send),
        Why("That request is no longer waiting."),
    ),
    Answer: Declared(
        "pane.answer",
        _handle(LocalHandle.ask),
        _handle(ServedHandle.send),
        Why("That question is no longer waiting."),
    ),
    FollowUp: Declared(
        "pane.follow_up",
        _handle(LocalHandle.follow_up),
        _handle(ServedHandle.follow_up),
        Why("Only a completed ticket can be followed up."),
    ),
    Steer: Declared(
        "pane.steer",
        _handle(LocalHandle.steer),
        _handle(ServedHandle.steer),
        Why("Only a running ticket can be steered: a completed one takes a follow-up."),
    ),
    Queue: Declared(
        "steer.switch",
        _handle(LocalHandle.steer),
        _handle(ServedHandle.steer),
        Why("Only a running ticket has a next turn to queue: a completed one takes a follow-up."),
    ),
    EditHeld: Declared("steer.up", _handle(LocalHandle.ask), _handle(ServedHandle.send), HELD_ONLY_RUNNING),
    RemoveHeld: Declared(
        "steer.take_back", _handle(LocalHandle.ask), _handle(ServedHandle.send), HELD_ONLY_RUNNING
    ),
    ReviewSend: Declared(
        "review.send",
        _handle(LocalHandle.review_send),
        Why(
            "another lfg runs this run: send from its own review screen (its drafts are in the history)",
            returned=True,
        ),
        Why("this run does not run in this lfg (a record or a replay): lfg resume it to send", returned=True),
    ),
    Fork: Declared("pane.fork", _handle(LocalHandle.fork), NOT_HERE, NOT_HERE),
    Land: Declared("pane.land", RunController.land_ticket, Why(NO_WORKTREE), Why(NO_WORKTREE)),
    Rerun: Declared(
        "pane.rerun",
        Why("A running run's ticket is retried (r), not re-run."),
        Why("A served run's ticket is retried (r), not re-run."),
        RunController.rerun_ticket,
    ),
    AddTicket: Declared(
        "run.add_ticket",
        _handle(LocalHandle.add_ticket),
        _handle(ServedHandle.add_ticket),
        Why(
            "This run takes no new tickets: a run of a tickets file (lfg run, or lfg resume of a run "
            "that recorded its [defaults]) takes them, here or served with --control.",
            timeout=5,
        ),
    ),
    End: Declared(
        "run.end",
        Why("At this terminal q ends the run: E ends a run kept open (lfg run --open) from lfg attach."),
        _handle(ServedHandle.send),
        Why("A record or a replay has nothing to end.", timeout=2),
    ),
    RetryAll: Declared(
        "run.retry_all",
        _handle(LocalHandle.retry_all),
        Why("Every ticket has completed or is running."),
        Why("Every ticket has completed or is running."),
    ),
    CancelAll: Declared(
        "run.cancel_all",
        _handle(LocalHandle.cancel_all),
        Why("Nothing is running.", timeout=2),
        Why("Nothing is running.", timeout=2),
    ),
    Synthesize: Declared(
        "verdict.synthesize",
        RunController.synthesize,
        _handle(ServedHandle.synthesize),
        Why("This run is not running here: a synthesis starts in a run of this lfg.", timeout=5),
    ),
    TakeWinner: Declared(
        "verdict.land", RunController.take_winner, RunController.take_winner, RunController.take_winner
    ),
}
"""Every request a person may make of a run (lfgtui/run/requests.py), declared once; checked whole by
tests/ui/test_requests.py, as the event translations are."""
