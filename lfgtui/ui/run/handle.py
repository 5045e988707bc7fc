"""Where what the person asks of a run goes: the engine running here, the run another lfg serves
(over the wire), or nowhere (a record, a replay), with the screen saying so.

`RunHandle` itself is the last: a run nothing acts on, every request refused as the person is told.
`LocalHandle` runs the tickets here (`lfg run`, `lfg resume`, a re-run from the history);
`ServedHandle` asks the server of an attached run. What the engine refuses is answered as a record
answers it. The run controller only asks its control, so another way of reaching a run is a new
class, not a branch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from lfgtui.alerts.moments import RunAlerts
from lfgtui.cost.metrics import MetricsBook
from lfgtui.inert import inert
from lfgtui.run import Approvals, Run, Sink
from lfgtui.run.approvals import Reply
from lfgtui.run.fork import CannotFork, check_forkable
from lfgtui.tickets.ticket import Ticket
from lfgtui.ui.screens.modals import ConfirmScreen, FollowUpScreen
from lfgtui.ui.screens.run import RunScreen
from lfgtui.ui.services import Services

if TYPE_CHECKING:
    from lfgtui.alerts.states import Standing
    from lfgtui.contest import Verdict
    from lfgtui.cost.prices import PriceBook
    from lfgtui.events import Event
    from lfgtui.history.writer import RunHistory
    from lfgtui.remote.attach import Followed
    from lfgtui.run.attempts import Earlier
    from lfgtui.tournament.referee import Referee
    from lfgtui.worktrees.tree import Worktree


class RunHandle:
    """A run nothing acts on (a record, a replay): its events go through `book`, every request is
    refused and the screen says why."""

    def __init__(self, prices: PriceBook | None) -> None:
        self.book = MetricsBook(prices=prices)
        """The run's metrics, which every event it shows goes through first."""
        self.screen: RunScreen | None = None
        self.verdicts: dict[str, Verdict] = {}
        """Each tournament's latest verdict, by the ticket id written in the file."""

    @property
    def run(self) -> Run | None:
        """The engine, when the run runs here."""
        return None

    def connect(self, show: Sink, screen: RunScreen) -> None:
        """Hear the run's events in `show` and speak through `screen` from now on."""
        self.screen = screen

    def attended(self, changed: tuple[Standing, ...], event: Event) -> None:
        """The attention states an event of the run (heard in `show`, not a recorded one) changed."""

    @property
    def _screen(self) -> RunScreen:
        assert self.screen is not None, "connect() first"
        return self.screen

    def start(self) -> None:
        """Once the screen is mounted and the feed has begun: start running the tickets."""

    def record(self, recording: RunHistory) -> None:
        """Record the run into `recording` from now on."""

    @property
    def running(self) -> int:
        """Tickets whose attempt (or wait for a dependency) is under way here."""
        return 0

    def limits(self, now: float) -> list[str]:
        """The providers' shared limits as the summary bar shows them."""
        return []

    def worktree(self, ticket_id: str) -> Worktree | None:
        """The ticket's worktree while it works in it here."""
        return None

    async def close(self) -> None:
        """Cancel what runs, wait for the outcomes to be recorded, close the agents."""

    def cancel(self, ticket_id: str) -> None:
        self._screen.app.bell()

    def retry(self, ticket_id: str) -> None:
        self._screen.notify("Only a ticket that ended without completing can be retried.", timeout=3)

    def resume(self, ticket_id: str) -> None:
        self._screen.notify('Only a ticket on_quota = "pause" paused can be resumed.', timeout=3)

    def answer(self, ticket_id: str, call_id: str, allowed: bool) -> None:
        self._screen.notify("That request is no longer waiting.", timeout=3)

    def reply(self, ticket_id: str, elicitation_id: str, reply: Reply) -> None:
        """Answer a coding agent's question (its form)."""
        self._screen.notify("That question is no longer waiting.", timeout=3)

    def retry_all(self) -> None:
        self._screen.notify("Every ticket has completed or is running.", timeout=3)

    def follow_up(self, ticket_id: str) -> None:
        self._screen.notify("Only a completed ticket can be followed up.", timeout=3)

    def fork(self, ticket_id: str, forked: Callable[[Ticket], None]) -> None:
        """Ask for the fork's prompt, start the fork and hand its ticket to `forked` (its pane)."""
        self._screen.notify("Only a run going on here (lfg run, lfg resume) forks a ticket.", timeout=3)

    def synthesize(self, verdict: Verdict) -> None:
        """Start the synthesis of a tournament of a run that does not run here."""
        self._screen.notify("This run is not running here: a synthesis starts in a run of this lfg.")

    def take_follow_up(self, ticket_id: str, prompt: str) -> int | str:
        """Send the ticket `prompt` as a follow-up: the number of the attempt that answers it, or why
        it cannot take one."""
        return "this run does not run in this lfg (a record or a replay): lfg resume it to send"

    def cancel_all(self) -> None:
        self._screen.notify("Nothing is running.", timeout=2)


class LocalHandle(RunHandle):
    """The tickets run here, by a `Run` whose first sink is the screen's and whose alerts ring it."""

    def __init__(
        self,
        services: Services,
        tickets: tuple[Ticket, ...],
        sinks: Sequence[Sink] = (),
        earlier: Mapping[str, Earlier] | None = None,
        make_run: Callable[..., Run] | None = None,
    ) -> None:
        """`sinks` also hear the run's events; `earlier`: where a resumed run takes each ticket up;
        `make_run`: what makes the run (a coordinated one, `lfg run --broker`), else a `Run`."""
        super().__init__(services.prices)
        self.services = services
        self.engine = (make_run or Run)(
            tickets,
            services.providers,
            Approvals(yes=services.yes, askable=True, forms=True),
            list(sinks),
            max_concurrency=services.max_concurrency,
            tool_env=services.tool_env,
            clock=services.clock,
            earlier=earlier,
            keep_agents=True,
            prices=services.prices,
            max_cost_usd=services.max_cost_usd,
        )
        self.engine.pauses = True  # the person is here to resume a ticket paused for its quota
        self.book = self.engine.book
        self.referee: Referee | None = None
        """Checks and ranks the contestants of the run's tournaments, when it has any."""
        self.alerts: RunAlerts | None = None
        """The run's alerts, once connected to its screen (the one that rings it)."""

    @property
    def run(self) -> Run:
        return self.engine

    def connect(self, show: Sink, screen: RunScreen) -> None:
        super().connect(show, screen)
        services, run = self.services, self.engine
        run.sinks.insert(0, show)
        command = [services.notify_command] if services.notify_command is not None else []
        self.alerts = RunAlerts(run, services.notify, [screen.alert, *command], told=True)
        run.sinks.append(self.alerts)
        if any(state.ticket.check is not None for state in run.states.values()):
            from lfgtui.tournament.referee import Referee
            from lfgtui.ui.screens.verdict import VerdictNews

            self.referee = Referee(run, VerdictNews(screen, screen.keys, self.verdicts))
            run.sinks.append(self.referee)

    def attended(self, changed: tuple[Standing, ...], event: Event) -> None:
        """The screen's tracker is the run's: its alerts hear from it (`RunAlerts` told)."""
        if self.alerts is not None:
            self.alerts.attended(changed, event)

    def start(self) -> None:
        self.engine.start()

    def record(self, recording: RunHistory) -> None:
        self.engine.record(recording)

    @property
    def running(self) -> int:
        return sum(1 for state in self.engine.states.values() if state.running)

    def limits(self, now: float) -> list[str]:
        return self.engine.limiters.summaries(now)

    def worktree(self, ticket_id: str) -> Worktree | None:
        return self.engine.states[ticket_id].worktree

    async def close(self) -> None:
        self.engine.cancel_all()
        if self.referee is not None:
            self.referee.cancel()
            await self.referee.settled()
        await self.engine.wait()
        await self.engine.close_agents()

    def cancel(self, ticket_id: str) -> None:
        if not self.engine.cancel(ticket_id):
            super().cancel(ticket_id)

    def retry(self, ticket_id: str) -> None:
        if not self.engine.retry(ticket_id):
            super().retry(ticket_id)

    def resume(self, ticket_id: str) -> None:
        if not self.engine.resume(ticket_id):
            super().resume(ticket_id)

    def answer(self, ticket_id: str, call_id: str, allowed: bool) -> None:
        if not self.engine.approvals.answer(ticket_id, call_id, allowed, "you"):
            super().answer(ticket_id, call_id, allowed)

    def reply(self, ticket_id: str, elicitation_id: str, reply: Reply) -> None:
        if not self.engine.approvals.reply(ticket_id, elicitation_id, reply):
            super().reply(ticket_id, elicitation_id, reply)

    def retry_all(self) -> None:
        retried = self.engine.retry_all()
        if not retried:
            super().retry_all()
        else:
            self._screen.notify(f"Retrying {len(retried)} tickets: {', '.join(retried)}", timeout=3)

    def follow_up(self, ticket_id: str) -> None:
        run = self.engine
        if not run.can_continue(ticket_id):
            super().follow_up(ticket_id)
            return

        def send(prompt: str | None) -> None:
            if prompt:
                run.continue_with(ticket_id, prompt)

        self._screen.app.push_screen(FollowUpScreen(ticket_id), send)

    def fork(self, ticket_id: str, forked: Callable[[Ticket], None]) -> None:
        run = self.engine
        try:
            check_forkable(run.states[ticket_id])
        except CannotFork as exc:
            self._screen.notify(inert(str(exc)), timeout=4, markup=False)
            return

        def send(prompt: str | None) -> None:
            if not prompt:
                return
            try:
                ticket = run.fork(ticket_id, prompt)
            except CannotFork as exc:  # it began a new turn meanwhile
                self._screen.notify(inert(str(exc)), timeout=4, markup=False)
                return
            forked(ticket)

        self._screen.app.push_screen(FollowUpScreen(ticket_id, "Fork"), send)

    def take_follow_up(self, ticket_id: str, prompt: str) -> int | str:
        problem = self.engine.follow_up(ticket_id, prompt)
        return problem if problem is not None else self.engine.states[ticket_id].attempt + 1

    def cancel_all(self) -> None:
        running = self.running
        if not running:
            super().cancel_all()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.engine.cancel_all()

        self._screen.app.push_screen(ConfirmScreen(f"Cancel all {running} running tickets?"), answer)


class ServedHandle(RunHandle):
    """A run another lfg serves: cancel, retry and approvals go to its server, when it lets its
    watchers (`--control`); what the server refuses is said. A run that does not (one served without
    `--control`, one watched through the broker) says how it is controlled instead."""

    def __init__(self, attachment: Followed, prices: PriceBook | None) -> None:
        super().__init__(prices)
        self.attachment = attachment

    def connect(self, show: Sink, screen: RunScreen) -> None:
        """Hear the served run's tournaments too: its verdicts open as they do in the TUI that runs it
        (a run watched through the broker carries none)."""
        super().connect(show, screen)
        from lfgtui.remote.attach import Attachment, News
        from lfgtui.ui.screens.verdict import VerdictNews

        if isinstance(self.attachment, Attachment):
            self.attachment.news = News(VerdictNews(screen, screen.keys, self.verdicts), self.book.attempts)

    def cancel(self, ticket_id: str) -> None:
        self._ask("cancel", ticket_id)

    def retry(self, ticket_id: str) -> None:
        self._ask("retry", ticket_id)

    def answer(self, ticket_id: str, call_id: str, allowed: bool) -> None:
        self._ask("approve" if allowed else "deny", ticket_id, call_id)

    def reply(self, ticket_id: str, elicitation_id: str, reply: Reply) -> None:
        attachment, screen = self.attachment, self._screen
        assert attachment.run is not None, "an attached view opens on a described run"
        if not attachment.run.control:
            screen.notify(attachment.read_only)
            return

        async def send() -> None:
            problem = await attachment.reply(ticket_id, elicitation_id, reply.action, reply.content)
            if problem is not None:
                screen.notify(
                    inert(f"The server did not take the answer: {problem}"), timeout=4, markup=False
                )

        screen.run_worker(send(), group="remote")

    def synthesize(self, verdict: Verdict) -> None:
        """Ask the server to start the synthesis, as `S` at its own terminal would."""
        from lfgtui.remote.attach import Attachment

        attachment, screen = self.attachment, self._screen
        assert attachment.run is not None, "an attached view opens on a described run"
        if not isinstance(attachment, Attachment) or not attachment.run.control:
            screen.notify(attachment.read_only)
            return

        async def ask() -> None:
            problem = await attachment.synthesize(verdict.tournament)
            said = "The server started the synthesis" if problem is None else f"The server did not: {problem}"
            screen.notify(inert(said), timeout=4, markup=False)

        screen.run_worker(ask(), group="remote")

    def take_follow_up(self, ticket_id: str, prompt: str) -> int | str:
        return "another lfg runs this run: send from its own review screen (its drafts are in the history)"

    def _ask(self, action: str, ticket_id: str, call_id: str | None = None) -> None:
        attachment, screen = self.attachment, self._screen
        assert attachment.run is not None, "an attached view opens on a described run"
        if not attachment.run.control:
            screen.notify(attachment.read_only)
            return

        async def ask() -> None:
            problem = await attachment.act(action, ticket_id, call_id)
            if problem is not None:
                screen.notify(inert(f"The server did not {action}: {problem}"), timeout=4, markup=False)

        screen.run_worker(ask(), group="remote")
