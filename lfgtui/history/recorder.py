"""Recording a run as rows: the one place that writes a run into the history, one batch at a time.

It is synchronous and owns the run's write connection, so it runs on one thread (the writer's
executor, see writer.py) and a batch is one transaction, however the events were cut into batches.

Streaming text is coalesced: consecutive deltas of one kind in one request are one part row,
extended per batch (a row of its tails, schema.py's V19, folded into it once it is sealed) with each
delta's arrival packed into `chunks` (the rows being written and what a batch changed are
pending.py's). A crash loses at most the batch in flight; the next start marks the attempt
`interrupted` (see recovery.py).

An attempt's times count from its `AttemptStarted`. One queued on a broker (`AttemptQueued`) has
its row from then on (a crash while it waits leaves it there, as any open attempt), counted from its
queueing until a worker starts it: then its row and times count from that start, and what came
before (the wait, notes) moves to times before that zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lfgtui import __version__
from lfgtui.alerts.states import Attentions
from lfgtui.contest import CheckRan, VerdictDecided
from lfgtui.events import (
    AgentDetails,
    AttemptEnded,
    AttemptQueued,
    AttemptStarted,
    CallEnded,
    DiffUpdated,
    Event,
    Holding,
    PromptSent,
    Queued,
    ReasoningDelta,
    RequestSent,
    Status,
    Steered,
    SteerOffer,
    SubagentDelta,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolCallUpdated,
    ToolOutputDelta,
    ToolResult,
    Translation,
    Usage,
    WorktreeReady,
)
from lfgtui.history.calibration import recorded_calibration
from lfgtui.history.database import StoreError, transaction
from lfgtui.history.lock import RunLock
from lfgtui.history.notes import NOTES
from lfgtui.history.pending import ATTEMPT_END_SET, Pending, PendingAttempt, PendingRequest, end_columns
from lfgtui.history.rows import CheckRow, PartRow, RunRow, TicketRow, VerdictRow, new_id
from lfgtui.history.schema import PartKind
from lfgtui.history.store import Store
from lfgtui.history.ticket_rows import ticket_row
from lfgtui.surrogates import mended, said
from lfgtui.tickets.ticket import Ticket, TicketFile

if TYPE_CHECKING:
    from lfgtui.contest import Verdict
    from lfgtui.cost.prices import Pricer


@dataclass(frozen=True, slots=True)
class Started:
    """An `AttemptStarted` with the wall-clock time it came and the price of its model."""

    event: AttemptStarted
    wall: float
    pricer: Pricer | None = None


@dataclass(slots=True)
class Deltas:
    """A ticket's run of deltas in a batch: of one kind, of attempt `number`, each after the first."""

    kind: type[TextDelta | ReasoningDelta]
    number: int
    attempt: PendingAttempt
    deltas: list[TextDelta | ReasoningDelta] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Decided:
    """A tournament's verdict, decided at `wall` (Unix seconds)."""

    verdict: Verdict
    wall: float


@dataclass(frozen=True, slots=True)
class Added:
    """A ticket the run took on while it ran, its row before its events: a fork (run/fork.py, its
    `fork_of`), the synthesis of tournament `synthesis_of`, or a ticket added (by a `lead`)."""

    ticket: Ticket
    synthesis_of: str | None = None
    lead: str | None = None
    """The lead that added it (`Run.parents`), if a lead did."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """The person dropped what attempt `attempt` of `ticket` held, unsent, when its run stopped
    (`lfg resume`, run/held.py): a note at the end of that attempt saying it holds nothing, so the
    next resume offers them no more. `said`: what was dropped, and by whom."""

    ticket: str
    attempt: int
    said: str


Item = Event | Started | Decided | Added | Dropped


def storable(item: Item) -> Item:
    """`item` with text UTF-8 cannot hold mended, and said (surrogates.py): events are mended where they
    are made, so this is for one that came another way, which must not fail its whole batch."""
    if (whole := mended(item)) is not item:
        said(f"the history, {type(item).__name__}", item)
    return whole


INSERT_ATTEMPT = (
    "INSERT INTO attempts (id, ticket_id, number, provider, model, started_at) VALUES (?, ?, ?, ?, ?, ?)"
)


class Recorder:
    """Turns batches of events into rows. Owns the write connection; use it from one thread only."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        lock: RunLock,
        tickets: dict[str, int],
        reopened: dict[tuple[str, int], tuple[str, float]] | None = None,
    ) -> None:
        self.store = store
        self.conn = store.conn
        self.run_id = run_id
        self.lock = lock
        self._tickets = tickets
        self._attempts: dict[tuple[str, int], PendingAttempt] = {}
        self._started: dict[tuple[str, int], tuple[PendingAttempt, tuple[object, ...]]] = {}
        """Every attempt begun and the values of its row's INSERT, for `record_ends`."""
        self._queued: set[tuple[str, int]] = set()
        """Attempts whose row began when they were queued on a broker, until a worker starts them."""
        self._reopened = dict(reopened or {})
        """Attempts recorded already that this run records again from their start (an `lfg resume
        --broker` adopting what workers ran while the coordinator was away): by (ticket, number),
        the attempt's id and wall-clock start, both kept."""
        self._pending = Pending()
        self._attention = Attentions()
        """The tickets' attention states: how long each attempt waits for the person."""
        self.calibration: dict[tuple[str, str], float] = {}
        """What the history says a character of each of the run's models is worth, to start its
        estimate with (history/calibration.py)."""

    @classmethod
    def begin(cls, path: Path, tickets: TicketFile, command: str) -> Recorder:
        """Open the file (recovering crashed runs), take this run's lock, record the run and tickets."""
        store = Store.open(path)
        run_id = new_id()
        try:
            lock = RunLock(path, run_id)
        except OSError as exc:
            store.close()
            raise StoreError(f"cannot lock the run in {path}: {exc}") from exc
        run = RunRow(
            id=run_id,
            started_at=time.time(),
            ended_at=None,
            tickets_file=str(tickets.path.resolve()),
            command=command,
            cwd=os.getcwd(),
            lfg_version=__version__,
            ticket_defaults=json.dumps(dict(tickets.defaults)),  # checked as loaded: TOML's plain values
        )
        ids: dict[str, int] = {}
        try:
            with transaction(store.conn) as conn:
                conn.execute(RunRow.insert_sql(), run.to_db())
                for ticket in tickets.tickets:
                    values = (run_id, *ticket_row(ticket).to_db())
                    ids[ticket.id] = conn.execute(TicketRow.insert_sql("run_id"), values).lastrowid or 0
        except BaseException:
            store.close()
            lock.release()
            raise
        recorder = cls(store, run_id, lock, ids)
        links = [link for t in tickets.tickets for link in ((t.provider, t.model), *t.fallback)]
        with contextlib.suppress(sqlite3.Error):  # a guess to start with: never a reason not to record
            recorder.calibration = recorded_calibration(store.conn, links)
        return recorder

    @classmethod
    def reopen(cls, path: Path, run_id: str, again: Collection[tuple[str, int]] = ()) -> Recorder:
        """Record into a run again (`lfg resume`): take its lock and mark it open until `finish`.
        `again`: attempts (ticket, number) to record anew from their start, each replacing its rows
        once its first event comes (so a resume that stops before leaves it as it was)."""
        store = Store.open(path)
        try:
            lock = RunLock.take(path, run_id)  # claimed when the run was read
        except OSError as exc:
            store.close()
            raise StoreError(f"run {run_id} is open in another lfg ({exc})") from exc
        try:
            with transaction(store.conn) as conn:
                conn.execute("UPDATE runs SET ended_at = NULL WHERE id = ?", (run_id,))
                ids = dict(conn.execute("SELECT ticket, id FROM tickets WHERE run_id = ?", (run_id,)))
                reopened = {
                    (ticket, number): (attempt_id, started_at)
                    for ticket, number in again
                    for attempt_id, started_at in conn.execute(
                        "SELECT id, started_at FROM attempts WHERE ticket_id = ? AND number = ?",
                        (ids.get(ticket), number),
                    )
                }
        except BaseException:
            store.close()
            lock.release()
            raise
        return cls(store, run_id, lock, ids, reopened)

    def finish(self) -> None:
        """Mark the run ended, close the connection and release the lock (in that order)."""
        try:
            self.conn.execute("UPDATE runs SET ended_at = ? WHERE id = ?", (time.time(), self.run_id))
        finally:
            self.store.close()
            self.lock.release()

    def write(self, batch: list[Item]) -> None:
        """One transaction per batch: apply every item in order, then write what changed.

        Streamed text and thinking are most of a batch, so a delta that continues its ticket's run
        (same attempt, same kind, nothing else of the ticket between) waits in that run, and the run
        is applied whole (`_continue`) before the batch's next item of another kind, or at its end:
        nothing but the ticket's own deltas is between, so every row comes out as it would one event
        at a time (tests/history/test_batched_rows.py)."""
        runs: dict[str, Deltas] = {}
        with transaction(self.conn):
            for item in batch:
                kind = type(item)
                if (kind is not TextDelta and kind is not ReasoningDelta) or not item.text.isascii():
                    item = storable(item)
                if kind is TextDelta or kind is ReasoningDelta:  # a delta (its type is enough per token)
                    run = runs.get(item.ticket)
                    if run is not None and run.kind is kind and run.number == item.attempt:
                        run.deltas.append(item)
                        continue
                    if run is not None:
                        self._continue(runs.pop(item.ticket))
                    self._apply(item)
                    runs[item.ticket] = Deltas(kind, item.attempt, self._attempt(item))
                    continue
                if runs:
                    for run in runs.values():
                        self._continue(run)
                    runs.clear()
                if isinstance(item, Started):
                    self._start(item)
                elif isinstance(item, CheckRan):
                    self._checked(item)
                elif isinstance(item, Decided):
                    self._decided(item)
                elif isinstance(item, Added):
                    self._add(item)
                elif isinstance(item, Dropped):
                    self._dropped(item)
                else:
                    self._apply(item)
            for run in runs.values():
                self._continue(run)
            self._pending.write(self.conn)

    def _continue(self, run: Deltas) -> None:
        """The deltas that continued a run begun by a delta `_apply` took: the metrics take them as
        they would one by one (`Metrics.apply_run`); the streaming part takes them as
        `Pending.stream` would one by one (it and its request are marked changed already); the
        attention states take the text at once (a stall, the only state a delta ends, ended with the
        run's first delta)."""
        deltas, attempt = run.deltas, run.attempt
        if not deltas:
            return
        attempt.metrics.apply_run(deltas)
        part = attempt.current
        assert part is not None and part.dirty
        text = self._pending.extend(attempt, part, deltas)
        last = deltas[-1]
        self._attend(replace(last, text=text) if run.kind is TextDelta else last)

    def record_ends(self, items: list[Started | AttemptEnded | Added]) -> None:
        """Only how each attempt started and ended (outcome and error), for when a batch could not be
        written and the rows in memory no longer match the file: every attempt keeps its outcome
        rather than being found `interrupted`, its row written now if a failed batch held its INSERT.
        Written again whole after it failed, it records each once."""
        with transaction(self.conn):
            for item in items:
                if isinstance(item, Added):
                    self._add(item)
                    continue
                if isinstance(item, Started):
                    self._start(item)
                event = item.event if isinstance(item, Started) else item
                started = self._started.get((event.ticket, event.attempt))
                if started is None:
                    continue
                attempt, row = started
                self.conn.execute(INSERT_ATTEMPT.replace("INSERT", "INSERT OR IGNORE", 1), row)
                if isinstance(item, AttemptEnded):
                    self.conn.execute(
                        f"UPDATE attempts SET {ATTEMPT_END_SET} WHERE id = ? AND outcome IS NULL",
                        (*end_columns(attempt, item), attempt.id),
                    )

    def _add(self, item: Added) -> None:
        """The row of a ticket the run took on while it ran; once only (a batch written again after a
        rolled-back one finds it missing from the file, whatever was remembered)."""
        ticket = item.ticket
        found = self.conn.execute(
            "SELECT id FROM tickets WHERE run_id = ? AND ticket = ?", (self.run_id, ticket.id)
        ).fetchone()
        if found is None:
            row = replace(ticket_row(ticket), synthesis_of=item.synthesis_of, added_by_lead=item.lead)
            values = (self.run_id, *row.to_db())
            found = (self.conn.execute(TicketRow.insert_sql("run_id"), values).lastrowid or 0,)
        self._tickets[ticket.id] = found[0]

    def _dropped(self, item: Dropped) -> None:
        """A note that the ended attempt holds nothing now, after its last part (`Dropped`)."""
        found = self.conn.execute(
            "SELECT a.id, coalesce(max(p.seq), -1) + 1, coalesce(max(p.end_ms), 0) FROM attempts a "
            "LEFT JOIN parts p ON p.attempt_id = a.id WHERE a.ticket_id = ? AND a.number = ? GROUP BY a.id",
            (self._tickets.get(item.ticket), item.attempt),
        ).fetchone()
        if found is None:  # no such attempt recorded (its rows were lost): nothing holds it
            return
        attempt_id, seq, at_ms = found
        note = Holding(ticket=item.ticket, attempt=item.attempt, seq=seq, t=0.0, message=item.said)
        meta = json.dumps(NOTES[Holding].meta(note))
        row = PartRow(seq, None, PartKind.STATUS, item.said, None, None, False, at_ms, at_ms, b"", meta, True)
        self.conn.execute(PartRow.insert_sql("attempt_id"), (attempt_id, *row.to_db()))

    # --- events to in-memory changes ---

    def _attempt(
        self, event: Event, wall: float | None = None, provider: str | None = None
    ) -> PendingAttempt:
        """The attempt `event` belongs to, its row begun with its first event. One that ended here
        already takes what comes after its end (an agent that went on after its prompt was answered,
        issue 78): a number's row is inserted once, never again."""
        key = (event.ticket, event.attempt)
        attempt = self._attempts.get(key)
        if attempt is None and (ended := self._started.get(key)) is not None:
            return ended[0]
        if attempt is None:
            attempt_id, wall = new_id(), wall or time.time()
            if (reopened := self._reopened.pop(key, None)) is not None:
                attempt_id, wall = reopened
                self.conn.execute("DELETE FROM attempts WHERE id = ?", (attempt_id,))  # its rows go too
            attempt = self._attempts[key] = PendingAttempt(attempt_id, event.t, wall)
            model = event.model if isinstance(event, AttemptStarted) else None
            row = (attempt.id, self._tickets[event.ticket], event.attempt, provider, model, attempt.wall0)
            self._started[key] = (attempt, row)
            self.conn.execute(INSERT_ATTEMPT, row)
        return attempt

    def _start(self, item: Started) -> None:
        event = item.event
        attempt = self._attempt(event, item.wall, event.provider)
        if (key := (event.ticket, event.attempt)) in self._queued:
            self._queued.discard(key)
            self._started_after_queue(attempt, item)
        attempt.metrics.pricer = item.pricer
        attempt.metrics.apply(event)  # output times count from the start, as the live metrics do
        self._attend(event)

    def _started_after_queue(self, attempt: PendingAttempt, item: Started) -> None:
        """A worker started an attempt queued on a broker: its row and times count from that start
        from now on, and what it recorded while queued moves to before that zero."""
        event = item.event
        shift = attempt.ms(event.t)
        attempt.t0, attempt.wall0 = event.t, item.wall
        for part in self._pending.parts:
            if part.attempt_id == attempt.id:
                part.t_ms, part.end_ms = part.t_ms - shift, part.end_ms - shift
        self.conn.execute(
            "UPDATE parts SET t_ms = t_ms - ?, end_ms = end_ms - ? WHERE attempt_id = ?",
            (shift, shift, attempt.id),
        )
        self.conn.execute(
            "UPDATE attempts SET provider = ?, model = ?, started_at = ? WHERE id = ?",
            (event.provider, event.model, item.wall, attempt.id),
        )
        key = (event.ticket, event.attempt)
        _, row = self._started[key]
        self._started[key] = (attempt, (*row[:3], event.provider, event.model, item.wall))

    def _checked(self, item: CheckRan) -> None:
        """The check's row, on the attempt it checked (one this run recorded; a check again of the
        same attempt replaces it)."""
        started = self._started.get((item.ticket, item.attempt))
        if started is None:
            return
        attempt, result, tests = started[0], item.result, item.result.tests
        counts = (None,) * 4 if tests is None else (tests.passed, tests.failed, tests.errors, tests.skipped)
        row = CheckRow(result.command, result.passed, result.output, *counts, attempt.ms(item.t))
        insert = CheckRow.insert_sql("attempt_id").replace("INSERT", "INSERT OR REPLACE", 1)
        self.conn.execute(insert, (attempt.id, *row.to_db()))

    def _decided(self, item: Decided) -> None:
        verdict = item.verdict
        ranking = [
            {"ticket": p.ticket, "attempt": verdict.contestant(p.ticket).attempt, "reasons": list(p.reasons)}
            | ({"label": label} if (label := verdict.label_of(p.ticket)) is not None else {})
            for p in verdict.ranking
        ]
        ranked = json.dumps(ranking)
        row = VerdictRow(
            verdict.tournament, item.wall, verdict.winner, verdict.judge, ranked, verdict.judge_error
        )
        self.conn.execute(VerdictRow.insert_sql("run_id"), (self.run_id, *row.to_db()))

    def _apply(self, event: Event) -> None:
        key = (event.ticket, event.attempt)
        if isinstance(event, AttemptQueued) and key not in self._attempts:
            self._queued.add(key)
        elif isinstance(event, AttemptEnded):
            self._queued.discard(key)
        attempt = self._attempt(event)
        attempt.metrics.apply(event)
        self._attend(event)
        record = RECORDED.handlers.get(type(event))
        if record is not None:
            record(self, attempt, event)

    def _attend(self, event: Event) -> None:
        """Count the time a ticket needed the person to the attempt that asked, once it no longer
        does: still running (a request answered), or ended (a question a follow-up answers)."""
        before = self._attention.standings.get(event.ticket)
        for standing in self._attention.apply(event):
            if (
                before is None
                or not before.needs_you
                or standing.ticket != event.ticket
                or not standing.entered
            ):
                continue
            waited = max(event.t - before.since, 0.0)
            started = self._started.get((event.ticket, before.attempt))
            if started is None:
                continue
            asked = started[0]
            if asked.ended is None or asked in self._pending.ended:  # its end is not written yet
                asked.waited_s += waited
            else:
                self.conn.execute(
                    "UPDATE attempts SET waited_s = coalesce(waited_s, 0) + ? WHERE id = ?",
                    (waited, asked.id),
                )

    def _request(self, attempt: PendingAttempt, event: RequestSent) -> None:
        self._pending.seal(attempt)
        n = len(attempt.requests)
        row_id = self.conn.execute(
            "INSERT INTO requests (attempt_id, n, call, seq, request_ms, tokens_per_char) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (attempt.id, n, event.call, event.seq, attempt.ms(event.t), event.tokens_per_char),
        ).lastrowid
        assert row_id is not None
        attempt.requests.append(PendingRequest(row_id, n))

    def _prompt(self, attempt: PendingAttempt, event: PromptSent) -> None:
        meta = None if event.continues is None else json.dumps({"continues": event.continues})
        self._pending.note(attempt, event, event.text, meta, PartKind.PROMPT)

    def _steered(self, attempt: PendingAttempt, event: Steered) -> None:
        """A steer: a prompt part at its place, who sent it its meta (searched as a prompt is)."""
        self._pending.note(attempt, event, event.text, json.dumps({"steered_by": event.by}), PartKind.PROMPT)

    def _text(self, attempt: PendingAttempt, event: TextDelta) -> None:
        self._pending.stream(attempt, PartKind.TEXT, event, event.text)

    def _reasoning(self, attempt: PendingAttempt, event: ReasoningDelta) -> None:
        self._pending.stream(attempt, PartKind.REASONING, event, event.text)

    def _subagent_text(self, attempt: PendingAttempt, event: SubagentDelta) -> None:
        """A sub-agent's words: kept apart from the parent's parts (never its answer, nor splitting
        it), written once a batch (`Pending.write`)."""
        self._pending.subagent_text(attempt, event)

    def _tool_started(self, attempt: PendingAttempt, event: ToolCallStarted) -> None:
        pending = self._pending
        pending.seal(attempt)
        partial = json.dumps({"partial": True})
        attempt.tools[event.call_id] = pending.part(
            attempt, PartKind.TOOL_CALL, event, call_id=event.call_id, name=event.name, meta=partial
        )
        attempt.names[event.call_id] = event.name

    def _tool_arguments(self, attempt: PendingAttempt, event: ToolCallArgsDelta) -> None:
        pending, call_id = self._pending, event.call_id
        part = attempt.tools.get(call_id) or pending.part(
            attempt, PartKind.TOOL_CALL, event, call_id=call_id, meta=json.dumps({"partial": True})
        )
        attempt.tools[call_id] = part
        pending.chunk(attempt, part, event.t, event.fragment)

    def _tool_ready(self, attempt: PendingAttempt, event: ToolCallReady) -> None:
        pending, call_id = self._pending, event.call_id
        pending.seal(attempt)
        part = attempt.tools.pop(call_id, None) or pending.part(
            attempt, PartKind.TOOL_CALL, event, call_id=call_id
        )
        attempt.names[call_id] = part.name = event.name
        part.text, part.replace = [event.raw_arguments], True
        attempt.inputs[call_id] = event.raw_arguments
        said: dict[str, object] = {"error": event.error} if event.error else {}
        if event.model_input_chars is not None:  # an agent's account of the call (events.py)
            said["model_input_chars"] = event.model_input_chars
        part.meta = json.dumps(said) if said else None
        part.end_ms = attempt.ms(event.t)
        part.sealed = True
        pending.touch(part)
        attempt.ready[call_id] = part

    def _tool_updated(self, attempt: PendingAttempt, event: ToolCallUpdated) -> None:
        pending, call_id = self._pending, event.call_id
        part = attempt.ready.get(call_id) or pending.part(attempt, PartKind.TOOL_CALL, event, call_id=call_id)
        attempt.ready[call_id] = part
        attempt.names[call_id] = part.name = event.name
        if attempt.inputs.get(call_id) != event.raw_arguments and call_id not in attempt.ran:
            part.end_ms = attempt.ms(event.t)  # its input came now: the rebuilt call is ready then (metrics)
        attempt.inputs[call_id] = event.raw_arguments
        part.text, part.replace, part.sealed = [event.raw_arguments], True, True
        said: dict[str, object] = {"kind": event.kind, "locations": list(event.locations)}
        if event.model_input_chars is not None:
            said["model_input_chars"] = event.model_input_chars
        part.meta = json.dumps(said)
        pending.touch(part)

    def _tool_result(self, attempt: PendingAttempt, event: ToolResult) -> None:
        pending = self._pending
        pending.seal(attempt)
        attempt.ran.add(event.call_id)
        name = attempt.names.get(event.call_id)
        part = pending.part(attempt, PartKind.TOOL_RESULT, event, call_id=event.call_id, name=name)
        part.text.append(event.output)
        part.is_error, part.sealed = event.is_error, True

    def _note(self, attempt: PendingAttempt, event: Event) -> None:
        """A status, or what a coding agent said about its session: a note, its facts as its meta."""
        self._pending.seal(attempt)
        kind = NOTES.get(type(event))
        if kind is None:
            assert isinstance(event, Status)
            self._pending.note(attempt, event, event.message, None)
        else:
            self._pending.note(attempt, event, kind.text(event), json.dumps(kind.meta(event)))

    def _details(self, attempt: PendingAttempt, event: AgentDetails) -> None:
        """What a coding agent said about its session (Claude Code says it after its answer's first
        word): a note after the streaming part, which goes on, so the answer stays one part."""
        self._pending.note(
            attempt, event, NOTES[AgentDetails].text(event), json.dumps(NOTES[AgentDetails].meta(event))
        )

    def _queued(self, attempt: PendingAttempt, event: Queued) -> None:
        """A wait for the provider's limits: a plain note (it comes back as a `Status`), its reason
        kept as its meta for `lfg history stats --by quota` (how often a quota's reset was waited for)."""
        self._pending.seal(attempt)
        self._pending.note(attempt, event, event.message, json.dumps({"queued": event.reason}))

    def _worktree(self, attempt: PendingAttempt, event: WorktreeReady) -> None:
        self._note(attempt, event)
        self.conn.execute(
            "UPDATE attempts SET worktree = ?, branch = ? WHERE id = ?",
            (event.path, event.branch, attempt.id),
        )

    def _diff(self, attempt: PendingAttempt, event: DiffUpdated) -> None:
        self.conn.execute(
            "UPDATE attempts SET diff_added = ?, diff_removed = ?, diff_files = ?, "
            "diff = coalesce(?, diff) WHERE id = ?",
            (event.added, event.removed, event.files, event.text, attempt.id),
        )

    def _usage(self, attempt: PendingAttempt, event: Usage) -> None:
        if attempt.requests:
            request = attempt.requests[-1]
            request.usage_seq, request.usage_ms = event.seq, attempt.ms(event.t)
            self._pending.touch_request(attempt, request)

    def _call_ended(self, attempt: PendingAttempt, event: CallEnded) -> None:
        self._pending.seal(attempt)
        if attempt.requests:
            request = attempt.requests[-1]
            request.ended_seq, request.ended_ms = event.seq, attempt.ms(event.t)
            request.stop_reason = event.stop_reason
            request.turn = event.turn
            self._pending.touch_request(attempt, request)

    def _ended(self, attempt: PendingAttempt, event: AttemptEnded) -> None:
        if attempt.ended is not None:  # said to end again: its end stands as first recorded
            return
        pending, error = self._pending, event.error
        pending.seal(attempt)
        for part in attempt.tools.values():
            part.sealed = True
            pending.touch(part)
        if error is not None:
            meta = {"kind": error.kind.value, "status": error.status, "retry_after": error.retry_after}
            pending.note(attempt, event, error.message, json.dumps(meta), PartKind.ERROR)
        attempt.ended = event
        pending.ended.append(attempt)
        del self._attempts[(event.ticket, event.attempt)]


Record = Callable[[Recorder, PendingAttempt, Any], None]
RECORDED: Translation[Record] = Translation(
    "history recorder",
    {
        RequestSent: Recorder._request,
        PromptSent: Recorder._prompt,
        Steered: Recorder._steered,
        TextDelta: Recorder._text,
        ReasoningDelta: Recorder._reasoning,
        SubagentDelta: Recorder._subagent_text,
        ToolCallStarted: Recorder._tool_started,
        ToolCallArgsDelta: Recorder._tool_arguments,
        ToolCallReady: Recorder._tool_ready,
        ToolCallUpdated: Recorder._tool_updated,
        ToolResult: Recorder._tool_result,
        Status: Recorder._note,
        Queued: Recorder._queued,
        **dict.fromkeys(NOTES, Recorder._note),
        AgentDetails: Recorder._details,  # a note that never splits the answer it came in
        WorktreeReady: Recorder._worktree,  # a note, and the attempt's worktree and branch
        DiffUpdated: Recorder._diff,
        Usage: Recorder._usage,
        CallEnded: Recorder._call_ended,
        AttemptEnded: Recorder._ended,
    },
    {
        AttemptStarted: "it comes wrapped as `Started` (its wall-clock time and price): see `_start`",
        ToolOutputDelta: "a running command's output as it comes; the `ToolResult` keeps the whole of it",
        SteerOffer: "what a running turn takes from the person matters only while it runs (the composer's)",
        CheckRan: "a check's row, on the attempt it checked, which has ended: see `_checked`",
        VerdictDecided: "it comes wrapped as `Decided` (the wall-clock time it was decided): see `_decided`",
    },
)
"""How the history records each event type: a row, a part, a note or a column of the attempt."""
