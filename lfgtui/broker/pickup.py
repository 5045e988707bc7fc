"""`lfg resume RUN --broker`: where a coordinated run picks up after its coordinator was killed.

The workers ran on while it was away: an attempt they held kept streaming to the run's event stream
and may have ended there. So the resumed coordinator adopts, not runs again: each ticket whose latest
attempt the history left open (recovery marked it `interrupted`, history/recovery.py) is recorded
again as that same attempt from the stream's start, when the run's work index (broker/work_index.py)
says it was enqueued; one that never was is enqueued again as that attempt (no worker ran it:
nothing was sent); a ticket the coordinator enqueued before the history recorded it is adopted too.
The rest is seeded as `lfg resume` seeds a run, and the tickets that never started run as they
would have.

A reopened attempt runs again as what it was: a follow-up (or a retry of one) with its prompt, the
whole conversation before it and its agent's session, from its own work entry when the broker still
has it, else from the history (`as_recorded`). A follow-up the coordinator started but never
enqueued, whose text no worker ever recorded, cannot be sent again: it stays as recovery ended it
(`unsent` says why), rather than send the ticket's first prompt in its place.

Nothing changes before every check passed: the run is on this broker (same prefix), its event
stream is whole (never trimmed) and has not ended, and no other coordinator holds it
(broker/coordinator_lease.py: one elsewhere is given until its lease lapses unrenewed). The
resume takes the coordinator lease then, in one step on the broker, before it registers or publishes
anything: of two resumes started together on two machines one picks the run up, the other is refused
having changed nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lfgtui.broker.client import explain
from lfgtui.broker.coordinator_lease import CoordinatorHeld
from lfgtui.broker.layout import ENTRY_END, Layout, loads
from lfgtui.broker.work import WorkError, WorkItem
from lfgtui.broker.work_index import read_index
from lfgtui.events import PromptSent, Status
from lfgtui.history.recovery import INTERRUPTED_STATUS
from lfgtui.outcome import Outcome
from lfgtui.remote.description import DescriptionError, read_description
from lfgtui.run.attempts import Earlier
from lfgtui.run.seeds import earlier_of

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.broker.coordinator_lease import CoordinatorLease
    from lfgtui.config.broker import Broker
    from lfgtui.history.recorded import RecordedAttempt, RecordedRun, RecordedTicket

PAGE = 500
"""Work entries read at once while looking for the run's."""


def warn(message: str) -> None:
    """A note on stderr (dropped when that terminal has gone away)."""
    with contextlib.suppress(OSError):
        print(f"lfg: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Adopted:
    """A work entry the coordinator before enqueued, which the resumed run adopts: tracked as the
    entries it enqueues itself are (`Dispatch.adopt`), so that one lost, or left on the own stream
    of a worker that left, is found and enqueued again or taken back as theirs are."""

    stream: str
    entry: str
    data: bytes
    """The entry's data as it was enqueued (what the run's work index holds)."""
    attempt: int
    """The attempt it was enqueued as."""


class PickupError(Exception):
    """The run cannot be picked up from this broker: the message says why (nothing was changed)."""


@dataclass(frozen=True)
class Pickup:
    """How the resumed run starts (see the module docstring)."""

    earlier: dict[str, Earlier]
    """Each ticket's seed: what the history holds, or the attempt before one that is reopened; a
    ticket left out never started, and starts."""
    reopened: dict[str, Adopted | None]
    """The tickets whose attempt runs again, by ticket: its work entry to adopt, or None to enqueue."""
    again: list[tuple[str, int]]
    """The recorded attempts (ticket, number) the history records anew."""
    unsent: dict[str, str] = dataclasses.field(default_factory=dict)
    """Why a ticket's open attempt is not run again, by ticket: a follow-up never sent, whose text
    was not recorded (it stays interrupted, as recovery ended it)."""

    def restored(self, recorded: RecordedRun) -> RecordedRun:
        """The record as the TUI's panes restore it: without the attempts recorded anew, whose
        events come again from the run's event stream, from its start (so none is shown twice)."""
        again = set(self.again)
        tickets = tuple(
            dataclasses.replace(
                t, attempts=tuple(a for a in t.attempts if (t.ticket.id, a.number) not in again)
            )
            for t in recorded.tickets
        )
        return dataclasses.replace(recorded, tickets=tickets)


def left_open(attempt: RecordedAttempt) -> bool:
    """Whether the attempt was running when its lfg died: recovery ended it `interrupted`, saying so."""
    return attempt.outcome is Outcome.INTERRUPTED and any(
        isinstance(event, Status) and event.message == INTERRUPTED_STATUS for event in attempt.events
    )


async def pick_up(
    redis: Redis,
    broker: Broker,
    recorded: RecordedRun,
    lease: CoordinatorLease,
    said: Callable[[str], None] = warn,
) -> Pickup:
    """Check that `recorded` can be picked up on `broker` and take its coordinator `lease` (`said`
    hears that it waits for one elsewhere to lapse), so that no other resume picks it up too; say
    how. Raises `PickupError`, having published nothing."""
    try:
        layout = Layout(broker.settings.prefix)
        return await _pick_up(redis, layout, recorded, broker.where, lease, said)
    except PickupError:
        raise
    except Exception as exc:
        if (problem := explain(exc, broker)) is None:
            raise
        raise PickupError(problem) from None


async def _pick_up(
    redis: Redis,
    layout: Layout,
    recorded: RecordedRun,
    where: str,
    lease: CoordinatorLease,
    said: Callable[[str], None],
) -> Pickup:
    run_id = recorded.run_id
    description = await redis.hget(layout.run(run_id), "run")
    if description is None:
        raise PickupError(
            f"the broker at {where} (prefix {layout.prefix!r}) has no run {run_id}: it was coordinated "
            "through another broker or prefix, or the broker has forgotten it"
        )
    try:
        described = read_description(loads(description), "the broker")
    except DescriptionError as exc:
        raise PickupError(str(exc)) from None
    if described.run_id != run_id:
        raise PickupError(f"the broker's entry for run {run_id} describes run {described.run_id!r}")
    await _whole_stream(redis, layout.events(run_id), run_id, where)
    try:
        await lease.claim(said)
    except CoordinatorHeld as exc:
        raise PickupError(str(exc)) from None
    providers = {ticket.ticket.provider for ticket in recorded.tickets}
    entries = await _work_entries(redis, layout, run_id, providers)
    earlier: dict[str, Earlier] = {}
    reopened: dict[str, Adopted | None] = {}
    again: list[tuple[str, int]] = []
    unsent: dict[str, str] = {}
    for ticket in recorded.tickets:
        tid, last = ticket.ticket.id, ticket.attempts[-1] if ticket.attempts else None
        entry = entries.get(tid)
        enqueued, item = (entry.attempt, _item({b"data": entry.data})) if entry is not None else (0, None)
        if last is not None and left_open(last):
            taken_over = len(ticket.attempts) > 1 and ticket.attempts[-2].outcome is Outcome.INTERRUPTED
            its_own = enqueued == last.number or (taken_over and enqueued < last.number)
            seed = item.earlier(last.number) if its_own and item is not None else as_recorded(ticket, last)
            if seed is None:
                earlier[tid], unsent[tid] = earlier_of(ticket), _UNSENT.format(tid, last.number)
                continue
            earlier[tid], reopened[tid] = seed, entry if its_own else None
            again.append((tid, last.number))
        elif entry is not None and enqueued > (last.number if last is not None else 0):
            # enqueued, not yet recorded
            earlier[tid] = item.earlier(enqueued) if item is not None else Earlier(enqueued - 1, None)
            reopened[tid] = entry
        elif last is not None:
            earlier[tid] = earlier_of(ticket)
    return Pickup(earlier, reopened, again, unsent)


_UNSENT = (
    "{0}: its follow-up (attempt {1}) was never sent to a worker and its text was not recorded, so it "
    "is not sent again: it stays interrupted (r runs the ticket's prompt anew; f then asks again)"
)


def as_recorded(ticket: RecordedTicket, attempt: RecordedAttempt) -> Earlier | None:
    """What sends `attempt` again as itself, from the history: its recorded prompt after the whole
    conversation of the attempt it continues, with that attempt's agent session; unrecorded, it
    asked what the attempt before it asked (a retry). None when that cannot be known: it (or the
    attempt it retried) was a follow-up, the attempt before it completed, whose text was never recorded."""
    number = attempt.number
    if any(isinstance(event, PromptSent) for event in attempt.events):
        continues = attempt.continues
        if continues is None:
            return Earlier(number - 1, None)
        continued = next((a for a in ticket.attempts if a.number == continues), None)
        return Earlier(
            number - 1,
            None,
            base=ticket.conversation(continues),
            follow_up=attempt.prompt,
            continues=continues,
            agent_session=continued.agent_session if continued is not None else None,
        )
    before = [a for a in ticket.attempts if a.number < number]
    if not before:
        return Earlier(number - 1, None)
    if before[-1].outcome is Outcome.COMPLETED or (retried := as_recorded(ticket, before[-1])) is None:
        return None
    return dataclasses.replace(retried, attempts=number - 1)


async def _whole_stream(redis: Redis, key: str, run_id: str, where: str) -> None:
    """Raise `PickupError` unless the run's event stream holds every entry it was given and no end."""
    from redis.exceptions import ResponseError

    try:
        info = await redis.xinfo_stream(key)
    except ResponseError:
        raise PickupError(f"the broker at {where} has no events of run {run_id} (they expired)") from None
    added = info.get("entries-added")
    if added is not None and added != info["length"]:
        raise PickupError(
            f"the broker at {where} trimmed {added - info['length']} entries of run {run_id}'s events: "
            "what its workers did while its coordinator was away cannot all be read"
        )
    last = await redis.xrevrange(key, count=1)
    if last and last[0][1].get(b"kind") == ENTRY_END.encode():
        raise PickupError(f"run {run_id} ended on the broker at {where}: there is nothing to pick up")


async def _work_entries(redis: Redis, layout: Layout, run_id: str, providers: set[str]) -> dict[str, Adopted]:
    """The latest work entry of each of the run's tickets, by ticket. From the run's work index,
    which keeps an entry after its stream forgot it; a run coordinated before there was one has its
    entries looked for on the providers' work streams and the workers' own (where a coding agent's
    follow-up goes)."""
    indexed = await read_index(redis, layout.work_index(run_id))
    if indexed is not None:
        found: dict[str, Adopted] = {}
        for tid, latest in indexed.items():
            data = loads(latest.data)
            if data.get("run") == run_id and type(attempt := data.get("attempt")) is int:
                found[tid] = Adopted(latest.stream, latest.entry, latest.data, attempt)
        return found
    streams = [layout.work(provider) for provider in sorted(providers)]
    streams += [layout.assigned(name.decode()) for name in await redis.zrange(layout.workers, 0, -1)]
    found = {}
    for stream in streams:
        start = "-"
        while entries := await redis.xrange(stream, min=start, max="+", count=PAGE):
            for entry_id, fields in entries:
                data = loads(fields.get(b"data"))
                ticket, attempt = data.get("ticket"), data.get("attempt")
                tid = ticket.get("ticket") if isinstance(ticket, dict) else None
                if data.get("run") != run_id or not isinstance(tid, str) or type(attempt) is not int:
                    continue
                if tid not in found or attempt >= found[tid].attempt:
                    found[tid] = Adopted(stream, entry_id.decode(), fields.get(b"data", b""), attempt)
            start = "(" + entries[-1][0].decode()
    return found


def _item(fields: dict[bytes, bytes]) -> WorkItem | None:
    """The attempt an entry holds, or None when it cannot be read whole, as a worker would drop it
    (the history says what the attempt was)."""
    try:
        return WorkItem.read(fields)
    except WorkError:
        return None
