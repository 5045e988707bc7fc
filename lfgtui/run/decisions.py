"""Where a request meets the run: one row per request (run/requests.py) saying what the run does and
what the asker is told, whoever asks: the person at the TUI (`YOU`), a watcher of a served run, the
coordinator whose worker reads it from the broker's control stream. `Run.ask` reads the table; the
TUI's handle, the server and the worker all call it, so each hears the same answer.

What must reach where the attempt runs (a sub-agent's cancel, an approval) goes through the run's
`AttemptRunner.reach` (run/attempts.py): here, the coding agent's session or the run's approvals; on a
coordinated run, the worker holding the ticket, which calls `Run.ask` with the same request (`reaches`).
What asks the person first or makes a pane (a fork, a landing, a re-run, a tournament's synthesis or
winner) stays above the engine, each with its reason (`ABOVE`). tests/run/test_decisions.py checks that
every request is in one table or the other.

A new request that acts on the run: its class in run/requests.py, one row here, its binding and its
`REQUESTS` row (ui/run/controller.py); CONTRIBUTING.md says so.
"""

from __future__ import annotations

import inspect
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from lfgtui.cost.prices import format_usd
from lfgtui.providers.kinds import kind_of
from lfgtui.run.attempts import AttemptRunner, RunFace, TicketState
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
    Land,
    Lead,
    Pending,
    Queue,
    Refusal,
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
    Told,
)

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Mapping

    from lfgtui.tickets.ticket import Ticket

MAX_KEY_CHARS = 200
"""The longest idempotency key an add-ticket may carry."""
Admits = Callable[[dict[str, Any], "Mapping[str, Ticket]"], "Ticket"]
"""What checks a ticket asked to be added to the running run (add-ticket), given its fields and the
run's tickets, as the run's tickets file was checked (tickets/load.py `load_added`): the ticket, or a
`ValueError` whose words name each field that is wrong. Set by the command that loaded the file."""


class Decides(RunFace, Protocol):
    """What a decision uses of the run (the scheduler's `Run` is one)."""

    states: Mapping[str, TicketState]
    runner: AttemptRunner
    admits: Admits | None
    added_keys: dict[tuple[str, str], Added]
    parents: dict[str, str]
    lead_paces: dict[str, deque[float]]
    open_until: asyncio.Event | None

    def add(self, ticket: Ticket, why: str | None = None, *, record: bool = False) -> None: ...

    def cancel(self, ticket_id: str, why: str | None = None, *, keep_tickets: bool = False) -> bool: ...

    def cancel_all(self) -> None: ...

    def retry(self, ticket_id: str, why: str | None = None) -> bool: ...

    def retry_all(self) -> list[str]: ...

    def resume(self, ticket_id: str) -> bool: ...

    def follow_up(
        self, ticket_id: str, follow_up: str, why: str | None = None, by: str = YOU
    ) -> str | None: ...

    def steer(self, ticket_id: str, text: str, by: str = YOU) -> str | None: ...

    def queue(self, ticket_id: str, text: str, by: str = YOU) -> str | None: ...

    def edit_queued(self, ticket_id: str, message_id: int, text: str, by: str = YOU) -> str | None: ...

    def unqueue(self, ticket_id: str, message_id: int, by: str = YOU) -> str | None: ...


Decide = Callable[[Decides, Any, str], Told | Awaitable[Told]]
"""What the run does with a request from `who`, and what it answers (later, when its answer comes from
where the attempt runs)."""


@dataclass(frozen=True)
class Decision:
    """A request's row: how the run decides it, and whether it must reach the attempt."""

    decide: Decide
    reaches: bool = False
    """Whether it must reach where the attempt runs: a coordinated run's worker acts on it when it
    arrives on the control stream (broker/work.py `ControlEntry`)."""


def _said(who: str, words: str) -> str | None:
    """Who asked, as the ticket's events say it (`words` then the asker); nothing for `YOU`."""
    return None if who == YOU else f"{words} {who}"


def _cancel(run: Decides, asked: Cancel, who: str) -> Told:
    """A lead's unfinished tickets stop with it unless the asker keeps them (`keep_tickets`)."""
    if run.cancel(asked.ticket, _said(who, "cancel asked by"), keep_tickets=asked.keep_tickets):
        return None
    return Refusal(f"{asked.ticket} is not running")


def _reach(run: Decides, asked: Approve | CancelChild, who: str) -> Told | Awaitable[Told]:
    """Carried to where the ticket's attempt runs, which answers."""
    return run.runner.reach(run, run.states[asked.ticket], asked, who)


def _approve(run: Decides, asked: Approve, who: str) -> Told | Awaitable[Told]:
    if not run.approvals.waits(asked.ticket, asked.call):
        return Refusal(
            f"no call {asked.call!r} of {asked.ticket} waits for approval (answered already, or it ended)"
        )
    return _reach(run, asked, who)


def _answer(run: Decides, asked: Answer, who: str) -> Told:
    """An answer checked against the question's form as the TUI's is (run/approvals.py `unfit`)."""
    ticket_id, elicitation_id, reply = asked.ticket, asked.elicitation, asked.reply
    unfit = run.approvals.unfit(ticket_id, elicitation_id, reply)
    if unfit is not None:
        return Refusal(unfit)
    if run.approvals.reply(ticket_id, elicitation_id, replace(reply, by=who)):
        return None
    waiting = f"no question {elicitation_id!r} of {ticket_id} waits for an answer"
    return Refusal(f"{waiting} (answered already, or it ended)")


def _retry(run: Decides, asked: Retry, who: str) -> Told:
    if run.retry(asked.ticket, _said(who, "retry asked by")):
        return None
    return Refusal(
        f"{asked.ticket} is running or has completed: only a ticket that ended otherwise is retried"
    )


def _resume(run: Decides, asked: Resume, who: str) -> Told:
    return None if run.resume(asked.ticket) else Refusal(f"{asked.ticket} is not paused for its quota")


def _follow_up(run: Decides, asked: FollowUp | ReviewSend, who: str) -> Told:
    """The follow-up's words, sent after the ticket's whole conversation, or queued as the next turn of
    one still working (`Run.follow_up` says why not)."""
    problem = run.follow_up(asked.ticket, asked.text or "", _said(who, "follow-up sent by"), by=who)
    return None if problem is None else Refusal(problem)


def _review_send(run: Decides, asked: ReviewSend, who: str) -> Told:
    """A review's comments go after a turn, never queued into one still working."""
    if run.states[asked.ticket].running:
        return Refusal(f"{asked.ticket} is still working: send once its turn has ended")
    return _follow_up(run, asked, who)


def _steer(run: Decides, asked: Steer, who: str) -> Told | Awaitable[Told]:
    """Into the running turn at its next safe point, or its next turn where it has none
    (run/steering.py: `Run.steer` says why not). On a coordinated run it is carried to the worker
    running the attempt, whose run steers it there (`Run.steers_only`)."""
    if run.runner.far and asked.ticket in run.states and run.states[asked.ticket].running:
        return _steer_afar(run, asked, who)
    problem = run.steer(asked.ticket, asked.text or "", who)
    return None if problem is None else Refusal(problem)


async def _steer_afar(run: Decides, asked: Steer, who: str) -> Told:
    """The worker steers it into its attempt's turn; where it cannot (no safe point there, no worker
    runs it now), it is held here as the ticket's next turn, which the coordinator sends, saying so.
    A worker that has not answered yet (`Pending`) may still steer it: it is queued here only once
    that worker refuses (broker/coordinator.py `BrokerRunner.reach`)."""
    told = run.runner.reach(run, run.states[asked.ticket], asked, who)
    if inspect.isawaitable(told):
        told = await told
    if told is None or isinstance(told, Pending):  # the worker may still steer it: never queued too
        return told
    problem = run.steer(asked.ticket, asked.text or "", who)
    return None if problem is None else Refusal(problem)


def _queue(run: Decides, asked: Queue, who: str) -> Told:
    """The running ticket's next turn, once this one completes (`Run.queue` says why not)."""
    problem = run.queue(asked.ticket, asked.text or "", who)
    return None if problem is None else Refusal(problem)


def _edit_held(run: Decides, asked: EditHeld, who: str) -> Told:
    """A held message's new words, until it is sent (`Run.edit_queued` says why not). On a coordinated
    run the coordinator holds what is queued; a steer already carried to a worker is the worker's."""
    problem = run.edit_queued(asked.ticket, asked.held, asked.text, who)
    return None if problem is None else Refusal(problem)


def _remove_held(run: Decides, asked: RemoveHeld, who: str) -> Told:
    """A held message taken back, unsent (`Run.unqueue` says why not)."""
    problem = run.unqueue(asked.ticket, asked.held, who)
    return None if problem is None else Refusal(problem)


def _add_ticket(run: Decides, asked: AddTicket, who: str) -> Told:
    """A ticket checked as the run's tickets file was (`Run.admits`), recorded, then started like the
    run's own (its quotas, its `depends_on`), who added it said in its events. A lead's is its child
    (`Run.parents`), within its caps."""
    if run.admits is None:
        return Refusal(
            "this run takes no new tickets: only `lfg run` adds them to the run it runs, and `lfg resume` "
            "to a run that recorded its [defaults]"
        )
    if asked.ticket is None:
        return Refusal("add-ticket: ticket is missing (its fields, as a [[ticket]] table has them)")
    if run.open_until is not None and run.open_until.is_set():
        return Refusal("the run is ending (end was asked): it takes no new tickets")
    if asked.key is not None and len(asked.key) > MAX_KEY_CHARS:
        return Refusal(f"add-ticket: key is longer than {MAX_KEY_CHARS} characters")
    key = None if asked.key is None else (_key_scope(who), asked.key)
    if key is not None and (known := run.added_keys.get(key)) is not None:
        return known  # asked again (a client that lost the answer): nothing more is added
    if isinstance(who, Lead) and (spent := over_budget(run, who.ticket)) is not None:
        return Refusal(f"{spent}: it may add no more")
    if isinstance(who, Lead) and (over := _over_caps(run, who.ticket) or _not_its_own(run, asked, who)):
        return Refusal(over)
    try:
        ticket = run.admits(asked.ticket, {name: state.written for name, state in run.states.items()})
    except ValueError as exc:
        return Refusal(str(exc))
    if isinstance(who, Lead) and (unpriced := _unpriced(run, ticket, who.ticket)) is not None:
        return Refusal(unpriced)
    if isinstance(who, Lead):
        run.parents[ticket.id] = who.ticket
    run.add(ticket, f"added by {who}", record=True)
    added = Added(ticket.id, who)
    if key is not None:
        run.added_keys[key] = added
    return added


def _key_scope(who: str) -> str:
    """Whose idempotency keys an asker's key is among: a lead's own (another lead's same key adds a
    ticket of its own, and never answers with one it may not reach), else the person's (the terminal
    and every watcher with the run's token, from wherever a client that lost its answer asks again)."""
    return f"lead {who.ticket}" if isinstance(who, Lead) else ""


PACED = (AddTicket, Steer, Queue, FollowUp)
"""What a lead's `lead_max_per_minute` counts: every add and message it asks, done or refused (a
lead looping on a refused add is paced as one that adds; its cancels are never held back), and
every ask refused as one it may not make at all (`refused_lead`)."""


LEAD_MAY = (AddTicket, Cancel, Steer, Queue, FollowUp)
"""What a lead's token may ask: add tickets, and message or cancel those it added (it waits for,
reads and lists them from the run's events)."""


def forbidden(run: Decides, asked: Request, who: str) -> str | None:
    """Why `who` may not ask this, in words (None: it may): a lead (`Lead`) asks only what
    `LEAD_MAY` holds, only of the tickets it added, and adds and messages (`PACED`) only until it has
    ended (stopped by the person, or its turn over); anyone else may ask anything."""
    if (why := never_a_leads(run.parents, asked, who)) is not None or not isinstance(who, Lead):
        return why
    lead = run.states[who.ticket]
    if isinstance(asked, PACED) and lead.outcome is not None and not lead.running:
        return (
            f"{who} has ended ({lead.outcome.value}): a lead adds tickets and sends messages only while "
            "it runs (a process it left behind holds its token); it may still cancel the tickets it added"
        )
    return None


def never_a_leads(parents: Mapping[str, str], asked: Request, who: str) -> str | None:
    """Why a lead may never ask this (None: it may, or `who` is no lead): what `LEAD_MAY` does not
    hold, or of a ticket it did not add (`parents`: the run's, or what the worker serving a lead's
    door learned of them, broker/lead_door.py, where the run's coordinator decides the rest)."""
    if not isinstance(who, Lead):
        return None
    if not isinstance(asked, LEAD_MAY):
        return (
            f"{who} may add tickets, and message, wait for, read, list and cancel the tickets it added: "
            f"{asked.kind} is the person's to ask"
        )
    ticket = getattr(asked, "ticket", None)
    if isinstance(ticket, str) and parents.get(ticket) != who.ticket:
        return f"{who} may reach only the tickets it added, and it did not add {ticket!r}"
    return None


MINUTE_S = 60.0


def paced(run: Decides, asked: Request, who: str) -> deque[float] | None:
    """When the lead asking asked the adds and messages of the last minute that `asked` counts among
    (`PACED`), or None: it counts for no pace (no lead asks it, or an add asked again by its key)."""
    if not isinstance(who, Lead) or not isinstance(asked, PACED):
        return None
    if isinstance(asked, AddTicket) and (_key_scope(who), asked.key) in run.added_keys:
        return None  # asked again by its key, answered with what it added: nothing new
    return _lasts(run.lead_paces.setdefault(who.ticket, deque()), run.clock())


def _lasts(times: deque[float], now: float) -> deque[float]:
    """`times`, those older than a minute gone."""
    while times and times[0] <= now - MINUTE_S:
        times.popleft()
    return times


def too_soon(run: Decides, who: str, times: deque[float]) -> str | None:
    """Why the lead may not add or message now (its `lead_max_per_minute`), saying when it may again."""
    assert isinstance(who, Lead)
    return _too_many(who, times, run.states[who.ticket].written.lead_max_per_minute, run.clock())


def _too_many(who: Lead, times: deque[float], cap: int, now: float) -> str | None:
    if len(times) < cap:
        return None
    again = max(1, math.ceil(times[0] + MINUTE_S - now))
    return (
        f"{who} has asked to add tickets or send messages {len(times)} times in the last minute (a "
        f"refused ask counts too), its lead_max_per_minute: it may again in {again} s"
    )


def counted(run: Decides, who: str, times: deque[float], told: Told) -> Told:
    """A lead's add or message, counted against its `lead_max_per_minute` whatever the answer (see
    `PACED`); a refusal says so, with how many it has left this minute."""
    assert isinstance(who, Lead)
    return _counted(times, run.states[who.ticket].written.lead_max_per_minute, run.clock(), told)


def _counted(times: deque[float], cap: int, now: float, told: Told) -> Told:
    times.append(now)
    if not isinstance(told, Refusal):
        return told
    pace = f"refused asks count against lead_max_per_minute too: {max(0, cap - len(times))} left this minute"
    return Refusal(f"{told.said} ({pace})")


def refused_lead(run: Decides, who: str, why: str) -> Refusal:
    """An ask `forbidden` to `who`: a lead's is counted against its `lead_max_per_minute` as its adds
    and messages are (a lead looping on what it may not ask is held back as one looping on a refused
    add), and refused with the pace's words once over it."""
    if not isinstance(who, Lead) or who.ticket not in run.states:
        return Refusal(why)
    cap = run.states[who.ticket].written.lead_max_per_minute
    return paced_refusal(run.lead_paces.setdefault(who.ticket, deque()), cap, run.clock(), who, why)


def paced_refusal(times: deque[float], cap: int, now: float, who: Lead, why: str) -> Refusal:
    """A lead's ask refused for `why`, counted among `times` (its last minute's asks) against `cap`:
    once over it, refused with the pace's words instead (what a lead's door on a worker refuses,
    broker/lead_door.py, is paced there so)."""
    times = _lasts(times, now)
    if (wait := _too_many(who, times, cap, now)) is not None:
        return Refusal(wait)
    told = _counted(times, cap, now, Refusal(why))
    assert isinstance(told, Refusal)
    return told


def over_budget(run: Decides, lead: str) -> str | None:
    """That the lead and its tickets have cost, together, its `lead_budget_usd`, in words; None: it
    has no budget, it is not reached, or no price is known."""
    budget = run.states[lead].written.lead_budget_usd
    if budget is None:
        return None
    spent, estimated = run.book.cost_usd({lead, *children(run, lead)})
    if spent is None or spent < budget:
        return None
    return (
        f"lead {lead} and its tickets cost {format_usd(spent, estimated)}, reaching its "
        f"lead_budget_usd ${budget:g}"
    )


def _unpriced(run: Decides, ticket: Ticket, lead: str) -> str | None:
    """Why a lead with a `lead_budget_usd` may not add this ticket: a model of it (its own, or a
    fallback's) has no price the run knows, so its cost (`$?`) would count nothing against the budget
    and it could run unbounded. A coding agent's is counted as it reports it (`ContextUsed`), so its
    provider needs no price of its own."""
    budget = run.states[lead].written.lead_budget_usd
    prices = run.book.prices
    if budget is None:
        return None
    for provider, model in ((ticket.provider, ticket.model), *ticket.fallback):
        config = None if prices is None else prices.configs.get(provider)
        if config is not None and (kind_of(config).coding_agent or prices.pricer(provider, model)):
            continue
        return (
            f"add-ticket: lead {lead} has a lead_budget_usd (${budget:g}), and {provider!r} has no "
            f"known price for model {model!r} (its cost would show $?, counting nothing against the "
            f"budget): add it on a priced provider or model, or the person gives [providers.{provider}] "
            "prices in the config"
        )
    return None


def children(run: Decides, lead: str) -> list[str]:
    """The tickets `lead` added, in the order it added them."""
    return [child for child, parent in run.parents.items() if parent == lead]


def live_children(run: Decides, lead: str) -> list[str]:
    """The tickets `lead` added that are at work or waiting to start (what stops with it)."""
    return [child for child in children(run, lead) if run.states[child].running]


def live(run: Decides, ticket: str) -> bool:
    """Whether the ticket has not ended yet: waiting to start, or running."""
    state = run.states[ticket]
    return state.running or state.outcome is None


def _over_caps(run: Decides, lead: str) -> str | None:
    """Why the lead may add no ticket now (its `lead_max_added`, its `lead_max_live`), or None."""
    written = run.states[lead].written
    added = children(run, lead)
    if len(added) >= written.lead_max_added:
        return (
            f"lead {lead} has added {len(added)} tickets, its lead_max_added: it may add no more "
            "(the person sets lead_max_added in the tickets file)"
        )
    running = [child for child in added if live(run, child)]
    if len(running) >= written.lead_max_live:
        return (
            f"lead {lead} has {len(running)} tickets unfinished ({', '.join(running)}), its "
            "lead_max_live: wait for one to end (wait_for_tickets), or cancel one, then add"
        )
    return None


def _not_its_own(run: Decides, asked: AddTicket, lead: Lead) -> str | None:
    """Why a lead's ticket may not wait on what it names: its `depends_on` (whose answers its prompt
    may quote) must be tickets the lead added, or it would read another ticket's answer."""
    wanted = (asked.ticket or {}).get("depends_on")
    if not isinstance(wanted, list):
        return None  # not a list: refused as at load, in words
    others = [name for name in wanted if not isinstance(name, str) or run.parents.get(name) != lead.ticket]
    if others:
        return f"add-ticket: depends_on: {lead} may name only the tickets it added, not {others[0]!r}"
    return None


def _end(run: Decides, asked: End, who: str) -> Told:
    """A run kept open (`lfg run --open`) told to end: it adds nothing more, and ends once its tickets
    at work have ended (`open_until`)."""
    if run.open_until is None:
        return Refusal(
            "this run is not kept open for new tickets (lfg run --open): it ends when its tickets have "
            "ended, or at its own terminal (q)"
        )
    if run.open_until.is_set():
        return Refusal("the run is ending already: it ends once its tickets at work have ended")
    run.open_until.set()
    return None


def _retry_all(run: Decides, asked: RetryAll, who: str) -> Told:
    return None if run.retry_all() else Refusal("every ticket has completed or is running")


def _cancel_all(run: Decides, asked: CancelAll, who: str) -> Told:
    if not any(state.running for state in run.states.values()):
        return Refusal("nothing is running")
    run.cancel_all()
    return None


DECISIONS: dict[type[Request], Decision] = {
    Cancel: Decision(_cancel, reaches=True),
    CancelChild: Decision(_reach, reaches=True),
    Approve: Decision(_approve, reaches=True),
    Answer: Decision(_answer),
    Retry: Decision(_retry),
    Resume: Decision(_resume),
    FollowUp: Decision(_follow_up),
    ReviewSend: Decision(_review_send),
    Steer: Decision(_steer, reaches=True),
    Queue: Decision(_queue),
    EditHeld: Decision(_edit_held),
    RemoveHeld: Decision(_remove_held),
    AddTicket: Decision(_add_ticket),
    End: Decision(_end),
    RetryAll: Decision(_retry_all),
    CancelAll: Decision(_cancel_all),
}
"""Every request the run decides itself (see the module docstring)."""

ABOVE: dict[type[Request], str] = {
    Fork: "asks the person for the fork's prompt, then makes its pane: the TUI calls `Run.fork`",
    Land: "asks first, then lands a worktree onto its base branch (worktrees/land.py), not the run",
    Rerun: "a recorded ticket run again as a new run: the app opens it",
    Synthesize: "needs the tournament's verdict, which the referee or the served hub holds",
    TakeWinner: "asks first, then lands the winner and archives the others' worktrees",
}
"""The requests decided above the engine, each with why (see the module docstring)."""


def decision(request: Request) -> Decision:
    """The row that decides `request`; a request decided above the engine (`ABOVE`) has none."""
    found = DECISIONS.get(type(request))
    if found is None:
        raise TypeError(
            f"{request.kind} is not the run's to decide: {ABOVE.get(type(request), 'undeclared')}"
        )
    return found
