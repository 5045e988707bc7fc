"""Where what the person asks of a run goes: the engine running here, the run another lfg serves
(over the wire), or nowhere (a record, a replay), with the screen saying so.

`RunHandle` itself is the last: a run nothing acts on, every request refused as the person is told.
`LocalHandle` runs the tickets here (`lfg run`, `lfg resume`, a re-run from the history);
`ServedHandle` asks the server of an attached run. Each request (lfgtui/run/requests.py) reaches the
handler ui/run/controller.py `REQUESTS` declares for the kind of handle, or its refusal; what the
engine refuses is answered as a record answers it.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lfgtui.alerts.moments import RunAlerts
from lfgtui.conversation import turns_before, user_turns
from lfgtui.cost.metrics import MetricsBook
from lfgtui.formats import plural
from lfgtui.inert import inert
from lfgtui.run import Approvals, Run, Sink
from lfgtui.run.decisions import live_children
from lfgtui.run.fork import CannotFork, check_forkable
from lfgtui.run.held import drop_held, left_held, send_held
from lfgtui.run.requests import (
    YOU,
    Added,
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
    Queue,
    RemoveHeld,
    Request,
    Retry,
    RetryAll,
    ReviewSend,
    Steer,
    Synthesize,
    Told,
)
from lfgtui.tickets.ticket import Ticket
from lfgtui.ui.screens.fork import ForkScreen
from lfgtui.ui.screens.held import HeldChoice, HeldScreen
from lfgtui.ui.screens.modals import ConfirmScreen, FollowUpScreen, LeadStopScreen
from lfgtui.ui.screens.new_ticket import NewTicketScreen
from lfgtui.ui.screens.run import RunScreen
from lfgtui.ui.services import Services

if TYPE_CHECKING:
    from lfgtui.alerts.states import Standing
    from lfgtui.contest import Verdict
    from lfgtui.cost.prices import PriceBook
    from lfgtui.events import Event
    from lfgtui.history.writer import RunHistory
    from lfgtui.remote.following import Followed
    from lfgtui.run.attempts import Earlier
    from lfgtui.tournament.referee import Referee
    from lfgtui.ui.widgets.pane import TicketPane
    from lfgtui.worktrees.tree import Worktree


class Refused:
    """What a handler returns when the run would not do what was asked: the person is told as a run
    nothing acts on tells them (the request's refusal, ui/run/controller.py `REQUESTS`)."""


REFUSED = Refused()
Outcome = int | str | Refused | None
"""What a request's handler returns: None when done (or said why not), REFUSED, or what the asker
reads back (a review's send: the attempt that answers it, or why none does)."""


class RunHandle:
    """A run nothing acts on (a record, a replay): its events go through `book`, every request is
    refused and the screen says why."""

    def __init__(self, prices: PriceBook | None) -> None:
        self.book = MetricsBook(prices=prices)
        """The run's metrics, which every event it shows goes through first."""
        self.screen: RunScreen | None = None
        self.verdicts: dict[str, Verdict] = {}
        """Each tournament's latest verdict, by the ticket id written in the file."""
        self.forked: Callable[[Ticket], None] = lambda ticket: None
        """Who makes the pane of a ticket the run took on at the person's request (a fork)."""
        self.composing: dict[str, bool] = {}
        """What the person last switched each ticket's composer to send (True: steer, False: queue):
        it opens so again, and three messages queued one after another stay queued, in order."""

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

    def turns(self, ticket_id: str) -> tuple[str, ...] | None:
        """The words of each user turn of the ticket's settled conversation, when it is held here
        (what a pane's turn cursor numbers its turns by); None where it is not."""
        return None

    async def close(self) -> None:
        """Cancel what runs, wait for the outcomes to be recorded, close the agents."""


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
            disk_reserve_mb=services.disk_reserve_mb,
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

            self.referee = Referee(run)  # its checks and verdicts reach `show` as facts of the run
            run.sinks.append(self.referee)

    def attended(self, changed: tuple[Standing, ...], event: Event) -> None:
        """The screen's tracker is the run's: its alerts hear from it (`RunAlerts` told)."""
        if self.alerts is not None:
            self.alerts.attended(changed, event)

    def start(self) -> None:
        self.engine.start()
        if held := left_held(self.engine):  # a resumed run that held messages when it stopped
            self._screen.app.push_screen(HeldScreen(held), self._settle_held)

    def retry(self, asked: Retry) -> Outcome:
        """Retry the ticket; when an attempt of it that did not complete left messages unsent, ask
        once first whether the retry sends them, drops them or keeps them held (escape: no retry)."""
        state = self.engine.states.get(asked.ticket)
        if state is None or not state.left_held or state.running:
            return self.ask(asked)  # the run refuses a completed ticket's retry in its own words
        held = {asked.ticket: state.left_held}

        def chosen(choice: HeldChoice | None) -> None:
            if choice is not None:
                self._retry_with(asked.ticket, choice)

        ended = state.outcome.value if state.outcome is not None else "stopped"
        count = len(state.left_held)
        question = f"{asked.ticket} ended {ended} while {count} message(s) sent to it were held"
        screen = HeldScreen(held, question, retrying=True)
        self._screen.app.push_screen(screen, chosen)
        return None

    def cancel(self, asked: Cancel) -> Outcome:
        """Cancel the ticket; a lead whose tickets it added are at work or waiting asks once first
        whether they stop with it (as a watcher's or lfg's cancel stops them) or keep running (escape:
        nothing is cancelled)."""
        state = self.engine.states.get(asked.ticket)
        live = [] if state is None or not state.running else live_children(self.engine, asked.ticket)
        if not live:
            return self.ask(asked)

        def chosen(stop: bool | None) -> None:
            if stop is not None:
                self.engine.ask(dataclasses.replace(asked, keep_tickets=not stop), YOU)

        self._screen.app.push_screen(LeadStopScreen(asked.ticket, live), chosen)
        return None

    def _retry_with(self, ticket_id: str, choice: HeldChoice) -> None:
        """Retry the ticket as the person chose of what it left unsent (send: held again for the retry)."""
        if choice is HeldChoice.SEND:
            problem = send_held(self.engine, ticket_id)
        else:
            if choice is HeldChoice.DROP:
                drop_held(self.engine, ticket_id)
            problem = (
                None if self.engine.ask(Retry(ticket_id), YOU) is None else f"{ticket_id} was not retried"
            )
        if problem is not None:
            self._screen.notify(inert(problem), severity="warning", timeout=5, markup=False)

    def _settle_held(self, choice: HeldChoice | None) -> None:
        """Send or drop what each ticket held when the run stopped, as the person chose; kept, nothing."""
        if choice is None or choice is HeldChoice.KEEP:
            return
        for ticket_id in left_held(self.engine):
            if choice is HeldChoice.SEND:
                problem = send_held(self.engine, ticket_id)
            else:
                problem = drop_held(self.engine, ticket_id)
            if problem is not None:
                self._screen.notify(inert(problem), severity="warning", timeout=5, markup=False)

    def record(self, recording: RunHistory) -> None:
        self.engine.record(recording)

    @property
    def running(self) -> int:
        return sum(1 for state in self.engine.states.values() if state.running)

    def limits(self, now: float) -> list[str]:
        return self.engine.limiters.summaries(now)

    def worktree(self, ticket_id: str) -> Worktree | None:
        return self.engine.states[ticket_id].worktree

    def turns(self, ticket_id: str) -> tuple[str, ...] | None:
        return user_turns(self.engine.states[ticket_id].conversation)

    async def close(self) -> None:
        self.engine.cancel_all()
        if self.referee is not None:
            self.referee.cancel()
            await self.referee.settled()
        await self.engine.wait()
        await self.engine.close_agents()

    # --- its handlers of requests (ui/run/controller.py `REQUESTS` declares which) ---

    def ask(self, asked: Request) -> Outcome:
        """Ask the run as the person here (`Run.ask`): None when done, REFUSED when it refuses (told as
        a record tells it), or, for a request in `IN_WORDS`, its refusal said in the run's words, when
        it comes (on a coordinated run, as the worker running the ticket answers, or that it did not)."""
        told = self.engine.ask(asked, YOU)
        words = IN_WORDS.get(type(asked))
        if words is None:
            assert not inspect.isawaitable(told), "only a request told in words is answered from afar"
            return None if told is None else REFUSED
        screen = self._screen

        async def say(told: Told | Awaitable[Told]) -> None:
            if inspect.isawaitable(told):
                told = await told
            if told is not None:
                screen.notify(inert(f"{words}: {told.said}"), timeout=6, markup=False)

        screen.run_worker(say(told), group=asked.kind)
        return None

    def retry_all(self, asked: RetryAll) -> Outcome:
        states = self.engine.states
        running = {ticket for ticket, state in states.items() if state.running}
        if self.engine.ask(asked, YOU) is not None:
            return REFUSED
        retried = [ticket for ticket, state in states.items() if state.running and ticket not in running]
        self._screen.notify(f"Retrying {plural(len(retried), 'ticket')}: {', '.join(retried)}", timeout=3)
        return None

    def follow_up(self, asked: FollowUp) -> Outcome:
        """Send the follow-up, asking the person for its words when the request has none. A ticket
        that completed while it kept messages an attempt left unsent (kept at a retry or a resume)
        asks once first: send them as its next turns, drop them, or keep them and write the follow-up."""
        run, ticket_id = self.engine, asked.ticket
        if not run.can_continue(ticket_id):
            return REFUSED
        if asked.text:
            return self.ask(asked)

        def send(prompt: str | None) -> None:
            if prompt:
                run.ask(FollowUp(ticket_id, prompt), YOU)

        kept = run.states[ticket_id].left_held
        if not kept:
            self._screen.app.push_screen(FollowUpScreen(ticket_id), send)
            return None

        def chosen(choice: HeldChoice | None) -> None:
            if choice is HeldChoice.SEND:
                problem = send_held(run, ticket_id)
                if problem is not None:
                    self._screen.notify(inert(problem), severity="warning", timeout=5, markup=False)
                return
            if choice is HeldChoice.DROP:
                drop_held(run, ticket_id)
            self._screen.app.push_screen(FollowUpScreen(ticket_id), send)

        question = f"{ticket_id} completed while it kept {len(kept)} message(s) sent to it"
        self._screen.app.push_screen(HeldScreen({ticket_id: kept}, question), chosen)
        return None

    def steer(self, asked: Steer | Queue) -> Outcome:
        """Steer a running ticket or queue its next turn: the words given, or the composer, which says
        which it will be and lists what the ticket holds (ui/screens/steer.py). On a coordinated run
        the turn runs on a worker: the composer says what the worker said its turn takes, and a steer
        is answered once the worker has (run/decisions.py `_steer_afar`)."""
        from lfgtui.ui.screens.steer import SteerDesk, SteerScreen

        run, ticket_id, screen = self.engine, asked.ticket, self._screen
        if not run.states[ticket_id].running:
            return REFUSED

        async def said_later(answer: Awaitable[Told]) -> None:
            if (told := await answer) is not None:
                screen.notify(inert(told.said), severity="warning", timeout=5, markup=False)

        def told(request: Request) -> str | None:
            answer = run.ask(request, YOU)
            if inspect.isawaitable(answer):  # a steer carried to the worker running the ticket
                screen.run_worker(said_later(answer), group=request.kind)
                return None
            return None if answer is None else answer.said

        def send(text: str, steer: bool) -> str | None:
            return told(Steer(ticket_id, text) if steer else Queue(ticket_id, text))

        if asked.text is not None:
            problem = send(asked.text, isinstance(asked, Steer))
            if problem is not None:
                self._screen.notify(inert(problem), severity="warning", timeout=5, markup=False)
            return None
        desk = SteerDesk(
            held=lambda: tuple(run.states[ticket_id].inbox.held),
            steerable=lambda: None if run.runner.far else run.steerable(ticket_id),
            offer=lambda: run.states[ticket_id].inbox.offer,
            kept=lambda: None if run.runner.far else run.steer_kept(ticket_id),
            send=send,
            edit=lambda message, text: told(EditHeld(ticket_id, message, text)),
            remove=lambda message: told(RemoveHeld(ticket_id, message)),
        )
        self._screen.app.push_screen(SteerScreen(ticket_id, desk, self.composing))
        return None

    def fork(self, asked: Fork) -> Outcome:
        """Ask for the fork's prompt, start the fork and hand its ticket to `forked` (its pane)."""
        run, ticket_id = self.engine, asked.ticket
        try:
            check_forkable(run.states[ticket_id])
        except CannotFork as exc:
            self._screen.notify(inert(str(exc)), timeout=4, markup=False)
            return None

        turns = user_turns(run.states[ticket_id].conversation)
        pane = self._screen.by_id.get(ticket_id)
        picked = None if pane is None else picked_turn(pane, turns)

        def send(asked: tuple[str, int] | None) -> None:
            if asked is None:
                return
            prompt, at = asked
            if pane is not None:
                pane.unpick()
            try:
                ticket = run.fork(ticket_id, prompt, at=at)
            except CannotFork as exc:  # it began a new turn meanwhile
                self._screen.notify(inert(str(exc)), timeout=4, markup=False)
                return
            self.forked(ticket)

        self._screen.app.push_screen(ForkScreen(ticket_id, turns, at=picked), send)
        return None

    def add_ticket(self, asked: AddTicket) -> Outcome:
        """Add the ticket the request carries, or the one the new-ticket form asks for: what the run
        refuses is said in words, in the form (or a notice), what it adds has a pane of its own."""
        if self.engine.admits is None:
            return REFUSED
        screen = self._screen

        def add(fields: dict[str, Any]) -> str | None:
            told = self.engine.ask(AddTicket(fields), YOU)
            assert not inspect.isawaitable(told), "a ticket is added here"
            if isinstance(told, Added):
                screen.notify(inert(f"{told.ticket} added to the run"), timeout=4, markup=False)
                return None
            return None if told is None else told.said

        if asked.ticket is not None:
            if (problem := add(asked.ticket)) is not None:
                screen.notify(inert(f"Not added: {problem}"), severity="warning", timeout=8, markup=False)
            return None

        async def send(fields: dict[str, Any]) -> str | None:
            return add(fields)

        screen.app.push_screen(NewTicketScreen(send))
        return None

    def review_send(self, asked: ReviewSend) -> Outcome:
        """Send the review's comments as a follow-up: the number of the attempt that answers it, or
        why it cannot take one."""
        told = self.engine.ask(asked, YOU)
        assert not inspect.isawaitable(told), "a follow-up is decided here"
        return told.said if told is not None else self.engine.states[asked.ticket].attempt + 1

    def cancel_all(self, asked: CancelAll) -> Outcome:
        """Cancel every running ticket once the person says yes."""
        running = self.running
        if not running:
            return REFUSED

        def answer(yes: bool | None) -> None:
            if yes:
                self.engine.ask(asked, YOU)

        self._screen.app.push_screen(ConfirmScreen(f"Cancel all {running} running tickets?"), answer)
        return None


def picked_turn(pane: TicketPane, turns: tuple[str, ...]) -> int | None:
    """The turn of the ticket's conversation (`turns`, 1-based) the pane's cursor is on, or None (no
    turn picked, or the pane's transcript no longer the conversation's last turns)."""
    if pane.picked is None:
        return None
    earlier = turns_before(turns, [turn.text for turn in pane.turns])
    return None if earlier is None else earlier + pane.picked


IN_WORDS: dict[type[Request], str] = {CancelChild: "Cannot cancel that sub-agent"}
"""Requests whose refusal the person reads in the run's own words after these (it offered no cancel,
it ended; a worker's answer), not as a record refuses them."""


class ServedHandle(RunHandle):
    """A run another lfg serves: cancel, retry and approvals go to its server, when it lets its
    watchers (`--control`); what the server refuses is said. A run that does not (one served without
    `--control`, one watched through the broker) says how it is controlled instead."""

    def __init__(self, attachment: Followed, prices: PriceBook | None) -> None:
        super().__init__(prices)
        self.attachment = attachment

    def connect(self, show: Sink, screen: RunScreen) -> None:
        """A served run's verdicts come as its facts, among its events, their contestants measured by
        this view's book (a run watched through the broker carries none)."""
        super().connect(show, screen)
        from lfgtui.remote.attach import Attachment

        if isinstance(self.attachment, Attachment):
            self.attachment.metrics = self.book.attempts

    # --- its handlers of requests (ui/run/requests.py declares which) ---

    def send(self, asked: Request) -> Outcome:
        """Ask the server (`POST /v1/requests`); what it refuses is said."""
        verbs = {
            Cancel: "cancel",
            CancelChild: "cancel that sub-agent",
            Retry: "retry",
            Answer: "take the answer",
            FollowUp: "send the follow-up",
            Steer: "steer",
            Queue: "queue it",
            EditHeld: "take the edit",
            RemoveHeld: "take it back",
            End: "end the run",
        }
        verb = verbs.get(type(asked))
        if isinstance(asked, Approve):
            verb = "approve" if asked.allowed else "deny"

        def told(problem: str | None) -> str | None:
            if problem is None:
                return "The run ends once its tickets at work have ended" if isinstance(asked, End) else None
            return f"The server did not {verb}: {problem}"

        return self._send(asked, told)

    def cancel(self, asked: Cancel) -> Outcome:
        """Cancel the served run's ticket; a running lead whose tickets it added are at work or
        waiting asks once first, as at the run's own terminal (`LocalHandle.cancel`), whether they
        stop with it or keep running (the cancel's `keep_tickets`); escape cancels nothing."""
        screen, attachment = self._screen, self.attachment
        assert attachment.run is not None, "an attached view opens on a described run"
        lead = screen.by_id.get(asked.ticket)
        live = [
            child
            for child, by in attachment.leads.items()
            if by == asked.ticket and (pane := screen.by_id.get(child)) is not None and pane.live
        ]
        if lead is None or not lead.running or not live or not attachment.run.control:
            return self.send(asked)  # the server refuses what it does not take, in words

        def chosen(stop: bool | None) -> None:
            if stop is not None:
                self.send(dataclasses.replace(asked, keep_tickets=not stop))

        screen.app.push_screen(LeadStopScreen(asked.ticket, live), chosen)
        return None

    def follow_up(self, asked: FollowUp) -> Outcome:
        """A follow-up to the served run's ticket: the words given, or asked for; the server sends it
        or says why not."""
        pane = self._screen.by_id.get(asked.ticket)
        if pane is None or pane.running:
            return REFUSED
        assert self.attachment.run is not None, "an attached view opens on a described run"
        if asked.text or not self.attachment.run.control:
            return self.send(asked)

        def send(prompt: str | None) -> None:
            if prompt:
                self.send(FollowUp(asked.ticket, prompt))

        self._screen.app.push_screen(FollowUpScreen(asked.ticket), send)
        return None

    def steer(self, asked: Steer | Queue) -> Outcome:
        """The TUI's composer (ui/screens/steer.py) on the served run: what the ticket holds is what
        its events said last (the pane's), and each send, edit and take-back goes to the server,
        which says when it refuses (a message sent meanwhile)."""
        from lfgtui.ui.screens.steer import SteerDesk, SteerScreen

        pane, ticket_id = self._screen.by_id.get(asked.ticket), asked.ticket
        if pane is None or not pane.running:
            return REFUSED
        assert self.attachment.run is not None, "an attached view opens on a described run"
        if asked.text is not None or not self.attachment.run.control:
            return self.send(asked)  # a run that takes no requests says so there

        def ask(request: Request) -> None:
            """Sent to the server; what it refuses is said once it answers."""
            self.send(request)

        desk = SteerDesk(
            held=lambda: pane.held,
            steerable=lambda: None,  # not known here: what its turn said it takes, as its events came
            offer=lambda: pane.offer,
            kept=lambda: None,  # not known here: its turn's offer says whether it keeps steers
            send=lambda text, steer: ask(Steer(ticket_id, text) if steer else Queue(ticket_id, text)),
            edit=lambda message, text: ask(EditHeld(ticket_id, message, text)),
            remove=lambda message: ask(RemoveHeld(ticket_id, message)),
        )
        self._screen.app.push_screen(SteerScreen(ticket_id, desk, self.composing))
        return None

    def add_ticket(self, asked: AddTicket) -> Outcome:
        """Ask the server to add the ticket the request carries, or the one the new-ticket form asks
        for; what it refuses is said in words (in the form)."""
        attachment, screen = self.attachment, self._screen
        assert attachment.run is not None, "an attached view opens on a described run"
        if asked.ticket is not None or not attachment.run.control:
            return self._send(
                asked, lambda problem: problem if problem is None else f"The server did not add it: {problem}"
            )

        async def send(fields: dict[str, Any]) -> str | None:
            problem = await attachment.ask(AddTicket(fields))
            if problem is None:
                screen.notify("The server added the ticket", timeout=4)
            return problem

        screen.app.push_screen(NewTicketScreen(send))
        return None

    def synthesize(self, asked: Synthesize) -> Outcome:
        """Ask the server to start the synthesis, as `S` at its own terminal would."""

        def told(problem: str | None) -> str:
            return "The server started the synthesis" if problem is None else f"The server did not: {problem}"

        return self._send(asked, told)

    def _send(self, asked: Request, told: Callable[[str | None], str | None]) -> Outcome:
        attachment, screen = self.attachment, self._screen
        assert attachment.run is not None, "an attached view opens on a described run"
        if not attachment.run.control:
            screen.notify(attachment.read_only)
            return None

        async def ask() -> None:
            said = told(await attachment.ask(asked))
            if said is not None:
                screen.notify(inert(said), timeout=4, markup=False)

        screen.run_worker(ask(), group="remote")
        return None
