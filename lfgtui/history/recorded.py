"""A recorded run, shaped for the TUI: its tickets, each pane's events, and replay's timeline.

The recorder's twin (`recorder.py` writes a run's rows, `ticket_rows.py` a ticket's; this reads them
back), so the engine never reads the history. Nothing here touches a widget or a provider.
`recorded_run` turns one `Store.load` into:

- the tickets as they ran, rebuilt from their rows;
- per ticket, every attempt's events with their recorded timing (`attempt_events`), and for a
  continuation the follow-up prompt shown in the pane before it;
- each ticket's attempts as a resumed `Run` is seeded with them (`run/seeds.py` makes its `Earlier`):
  the attempts made, the latest outcome, and the whole conversation a follow-up continues
  (`conversation`, chained through earlier continuations).

`replay_events` puts every ticket on one timeline: a resumed run's panes are filled from it at once,
and `play` delivers it at the pace of a `ReplayClock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lfgtui.conversation import conversation_of, cut_after
from lfgtui.events import Event, Outcome
from lfgtui.history.rebuild import attempt_events
from lfgtui.history.rows import AttemptRecord, RunRecord
from lfgtui.history.schema import PartKind
from lfgtui.history.ticket_rows import ticket_from_row
from lfgtui.inert import inert
from lfgtui.providers.base import Message, ProviderConfig
from lfgtui.providers.catalog import ProviderUnavailable, resolve
from lfgtui.tickets.ticket import (
    Ticket,
    TicketFile,
)

IDLE_GAP_S = 1.0
NOT_KEPT_BEFORE = "auto_approve, env_passthrough, allow_git_writes, max_output_chars or max_cost_usd"
"""What an lfg before migration 4 did not record of a ticket (its worktree is known by its attempts)."""
GRANTS = (
    "auto_approve, env_passthrough, allow_git_writes, mcp_servers, additional_directories, check, setup, "
    "a sandbox's view of your home"
)
"""A ticket's fields that grant it something, which a run imported from elsewhere does not bring: said
early in the notice's line, so a terminal's wrap never splits what it says."""


@dataclass(frozen=True)
class RecordedAttempt:
    """One attempt: `messages` is its own part of the conversation (its prompt first)."""

    number: int
    started_at: float
    outcome: Outcome | None
    prompt: str
    continues: int | None
    events: tuple[Event, ...]
    messages: tuple[Message, ...]
    agent_session: str | None = None
    """The coding agent's session id (ACP), for `session/load`."""


@dataclass(frozen=True)
class RecordedTicket:
    ticket: Ticket
    attempts: tuple[RecordedAttempt, ...]
    base: tuple[Message, ...] = ()
    """For a fork: the conversation it started from (its parent's attempt's, whole or cut after the
    fork's `fork_turn`); every attempt of the fork continues it."""
    landed: str | None = None
    """Where its change was last landed (`LandingRow.label`), if it was."""

    def conversation(self, number: int) -> tuple[Message, ...]:
        """The whole conversation of attempt `number`: a fork's base, what it continued, then its
        own messages."""
        by_number = {a.number: a for a in self.attempts}
        chain: list[RecordedAttempt] = []
        attempt = by_number.get(number)
        while attempt is not None:
            chain.append(attempt)
            earlier = attempt.continues
            attempt = by_number.get(earlier) if earlier is not None and earlier < attempt.number else None
        return self.base + tuple(message for a in reversed(chain) for message in a.messages)

    def standalone(self) -> Ticket | None:
        """The ticket as a run of its own: its prompt as last sent, so no dependency is needed.

        None when it depends on other tickets and never sent a prompt (its dependencies never completed).
        """
        prompts = [a.prompt for a in self.attempts if a.continues is None and a.prompt]
        if prompts:
            return dataclasses.replace(self.ticket, prompt=prompts[-1], depends_on=())
        return None if self.ticket.depends_on else self.ticket


@dataclass(frozen=True)
class RecordedRun:
    run_id: str
    tickets_file: Path | None
    tickets: tuple[RecordedTicket, ...]
    imported: bool = False
    """Brought in by `lfg history import`: its tickets' grants are withheld (see `withheld`)."""
    older: tuple[str, ...] = ()
    """Tickets recorded by an lfg that did not keep `NOT_KEPT_BEFORE`: they run with the defaults."""
    command: str = ""
    """The command line that ran it, as recorded."""
    parents: dict[str, str] = field(default_factory=dict)
    """The lead that added each ticket a lead added, by the ticket's id (`Run.parents`): a resumed
    lead's tickets from before are its own still. Empty in an imported run, which has no leads."""
    defaults: Mapping[str, Any] | None = None
    """Its tickets file's `[defaults]` table as recorded (migration 34), which a ticket added to it
    once resumed takes too (`added_to`); None for a run recorded before, or imported."""

    @property
    def coordinated(self) -> bool:
        """Whether it ran on a broker's workers (`lfg run --broker`): `lfg resume --broker` picks it up."""
        return self.command.startswith("lfg run ") and " --broker" in self.command

    @property
    def as_tickets(self) -> tuple[Ticket, ...]:
        return tuple(t.ticket for t in self.tickets)

    def added_to(self) -> TicketFile | None:
        """The tickets file a ticket added to the resumed run is checked against (commands/run.py
        `admits`): its tickets and its recorded `[defaults]`, where it was; None when its defaults are
        not known (then it takes no new tickets: an added ticket must not run looser than its own)."""
        if self.defaults is None or self.tickets_file is None:
            return None
        return TicketFile(self.tickets_file, self.as_tickets, offline_default=False, defaults=self.defaults)

    def notice(self) -> str | None:
        """What resuming this run must tell the person, since its tickets do not run quite as written:
        fields an older lfg did not record, or grants a file from elsewhere does not bring."""
        lines = []
        if self.older:
            who = ", ".join(self.older)
            lines.append(
                f"Recorded by an older lfg, which did not keep the {NOT_KEPT_BEFORE} of {who}: "
                "a retry or follow-up runs without them, and risky tools ask."
            )
        if self.imported:
            lines.append(
                f"Run {self.run_id} was imported from elsewhere: these fields of its tickets are not "
                f"applied here, and risky tools ask: {GRANTS}."
            )
        return "\n".join(lines) or None

    def outside(self, folder: Path, tickets: Sequence[Ticket] | None = None) -> list[Ticket]:
        """Of `tickets` (default: all), those of an imported run whose tools would work outside
        `folder`: somewhere its sender chose, which the person must agree to first."""
        if not self.imported:
            return []
        here = folder.resolve()
        return [t for t in tickets or self.as_tickets if not t.workdir.resolve().is_relative_to(here)]

    def outside_question(self, folder: Path, tickets: Sequence[Ticket]) -> str:
        """Whether `tickets` (from `outside`) may work where the run's sender said; plain text, inert."""
        places = "\n".join(f"  {t.workdir}  (ticket {t.id})" for t in tickets)
        return inert(
            f"Run {self.run_id} was imported from elsewhere. Its tickets' tools would work outside "
            f"the current folder {folder.resolve()}:\n{places}\nLet them work there?"
        )


def withheld(ticket: Ticket) -> Ticket:
    """A ticket from elsewhere (an imported run) without what it grants its tools: running without
    asking, the environment's variables, writing into `.git`, MCP servers (a program to start, a URL
    given the values of variables), folders beside the workdir its coding agent may work in, a
    tournament's `check` and a worktree's `setup` (commands lfg runs without asking), what a sandbox
    let it read of the home (it hides the home's secrets again), what its box may use beyond this
    machine's defaults (its bounds are the defaults again), and leading (lfg's MCP server in its
    session: tickets it would add). Its limits and isolation stay."""
    return dataclasses.replace(
        ticket,
        auto_approve=frozenset(),
        auto_approve_all=False,
        env_passthrough=(),
        allow_git_writes=False,
        mcp_servers=(),
        additional_directories=(),
        check=None,
        setup=None,
        sandbox_home="hidden" if ticket.sandbox_home == "hidden" else "no-secrets",
        sandbox_readable=(),
        sandbox_memory_mb=None,
        sandbox_processes=None,
        sandbox_cpus=None,
        sandbox_tmp_mb=None,
        lead=False,
    )


def _attempt(record: AttemptRecord, ticket: str) -> RecordedAttempt:
    row = record.row
    prompt = next((p for p in record.parts if p.kind == PartKind.PROMPT), None)
    continues = prompt.info.get("continues") if prompt is not None else None
    events = tuple(attempt_events(record, ticket, row.number))
    return RecordedAttempt(
        number=row.number,
        started_at=row.started_at,
        outcome=Outcome(row.outcome) if row.outcome else None,
        prompt=prompt.text if prompt is not None else "",
        continues=continues if isinstance(continues, int) else None,
        events=events,
        messages=tuple(conversation_of(events)),
        agent_session=next(
            (s for p in record.parts if isinstance(s := p.info.get("acp_session"), str)), None
        ),
    )


def recorded_run(record: RunRecord) -> RecordedRun:
    """Shape what `Store.load` returned (a run, or the ticket or attempt a selection names)."""
    imported = record.row.imported_at is not None
    shaped: dict[str, RecordedTicket] = {}
    for t in record.tickets:  # in the order recorded: a fork after the ticket it forked
        ticket = ticket_from_row(t)
        parent = None if ticket.fork_of is None else shaped.get(ticket.fork_of[0])
        base = () if parent is None or ticket.fork_of is None else parent.conversation(ticket.fork_of[1])
        if ticket.fork_turn is not None:
            base = cut_after(base, ticket.fork_turn)
        attempts = tuple(_attempt(a, t.row.ticket) for a in t.attempts)
        landed = t.landings[-1].label() if t.landings else None
        shaped[ticket.id] = RecordedTicket(withheld(ticket) if imported else ticket, attempts, base, landed)
    tickets = tuple(shaped.values())
    file = record.row.tickets_file
    older = tuple(t.row.ticket for t in record.tickets if not t.row.every_field)
    leads = {t.ticket.id for t in tickets if t.ticket.lead}
    parents = {t.row.ticket: lead for t in record.tickets if (lead := t.row.added_by_lead) in leads}
    defaults = None if imported else _defaults(record.row.ticket_defaults)
    return RecordedRun(
        record.row.id,
        Path(file) if file else None,
        tickets,
        imported,
        older,
        record.row.command,
        parents,
        defaults,
    )


def _defaults(text: str | None) -> dict[str, Any] | None:
    """The recorded `[defaults]` table (`RunRow.ticket_defaults`), or None: none recorded, or not a
    JSON object (a file edited by hand)."""
    if text is None:
        return None
    with contextlib.suppress(ValueError):
        if isinstance(table := json.loads(text), dict):
            return table
    return None


@dataclass
class Timeline:
    """Where attempts go on one timeline, in the order they started: `t` counts from the first one's
    start, and a pause in which no attempt was running (a run resumed the next day) lasts at most
    `IDLE_GAP_S`."""

    zero: float | None = None
    skipped: float = 0.0
    busy_until: float | None = None

    def place(self, started_at: float, running: bool = False) -> float:
        """What to add to the times of an attempt that started at `started_at` (wall clock), once every
        attempt that started before it is placed; `running` when one of those has not ended yet (then
        no pause came before this one)."""
        if self.zero is None:
            self.zero = started_at
        if not running and self.busy_until is not None and started_at > self.busy_until + IDLE_GAP_S:
            self.skipped += started_at - self.busy_until - IDLE_GAP_S
        return started_at - self.zero - self.skipped

    def ended(self, started_at: float, length: float) -> None:
        """An attempt placed before has ended, `length` seconds after it started."""
        self.busy_until = max(self.busy_until or started_at, started_at + length)


def replay_events(run: RecordedRun) -> list[Event]:
    """Every attempt on one `Timeline`, as recorded; `t` counts from 0."""
    attempts = sorted(
        ((a.started_at, a) for ticket in run.tickets for a in ticket.attempts),
        key=lambda item: item[0],
    )
    events: list[Event] = []
    timeline = Timeline()
    for started_at, attempt in attempts:
        offset = timeline.place(started_at)
        timeline.ended(started_at, attempt.events[-1].t if attempt.events else 0.0)
        events.extend(dataclasses.replace(e, t=e.t + offset) for e in attempt.events)
    events.sort(key=lambda event: event.t)
    return events


class ReplayClock:
    """Recorded time played `speed` times faster than real time, from `start` when created (`lfg
    replay --from`: what was recorded before it is delivered at once); paused, played on, and moved
    ahead by the replay's keys, which wake whatever waits on it."""

    def __init__(self, speed: float, clock: Callable[[], float] = time.monotonic, start: float = 0.0) -> None:
        self.speed = speed
        self.start = start
        self._clock = clock
        self._zero = clock()
        self._paused_at: float | None = None
        self._moved = asyncio.Event()

    def __call__(self) -> float:
        now = self._clock() if self._paused_at is None else self._paused_at
        return self.start + (now - self._zero) * self.speed

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self._clock()
            self._moved.set()

    def play_on(self) -> None:
        if self._paused_at is not None:
            self._zero += self._clock() - self._paused_at
            self._paused_at = None
            self._moved.set()

    def skip(self, recorded_s: float) -> None:
        """Move `recorded_s` seconds of the record ahead: what was recorded in them comes at once."""
        self.start += recorded_s
        self._moved.set()

    async def sleep_until(self, t: float) -> None:
        """Until the record reaches `t`: paused, it stands still, but a skip still moves it on."""
        while t > self():
            self._moved.clear()
            wait = None if self.paused else (t - self()) / self.speed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._moved.wait()


async def play(events: Sequence[Event], clock: ReplayClock, deliver: Callable[[Event], None]) -> None:
    """Deliver each event when the clock reaches its time (at once for those already due)."""
    for event in events:
        await clock.sleep_until(event.t)
        deliver(event)


def provider_problems(tickets: Sequence[Ticket], configs: Mapping[str, ProviderConfig]) -> list[str]:
    """Why recorded tickets could not be sent again: a provider no longer configured, a missing key."""
    users: dict[str, list[str]] = {}
    for ticket in tickets:
        users.setdefault(ticket.provider, []).append(ticket.id)
    problems = []
    for name, ids in users.items():
        who = f"ticket {ids[0]!r}" if len(ids) == 1 else "tickets " + ", ".join(repr(i) for i in ids)
        config = configs.get(name)
        if config is None:
            problems.append(
                f"{who} ran on provider {name!r}, which is not configured any more: "
                f"add [providers.{name}] to config.toml"
            )
            continue
        try:
            resolve(config)
        except ProviderUnavailable as exc:
            problems.append(f"{who}: {exc}")
    return problems
