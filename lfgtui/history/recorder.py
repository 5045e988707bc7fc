"""Recording a run as rows: the one place that writes a run into the history, one batch at a time.

It is synchronous and owns the run's write connection, so it runs on one thread (the writer's
executor, see writer.py) and a batch is one transaction, however the events were cut into batches.

Streaming text is coalesced: consecutive deltas of one kind in one model call are one part row,
extended per batch (`text = text || ?`) with each delta's arrival packed into `chunks`. A crash
loses at most the batch in flight; the next start marks the attempt `interrupted` (see recovery.py).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.events import (
    AgentStarted,
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    DiffUpdated,
    Event,
    PlanUpdated,
    PromptSent,
    ReasoningDelta,
    RequestSent,
    Retrying,
    SessionOpened,
    Status,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
    WorktreeReady,
)
from lfgtui.history.database import StoreError, transaction
from lfgtui.history.lock import RunLock
from lfgtui.history.rows import (
    ATTEMPT_METRICS_SET,
    PartRow,
    RunRow,
    TicketRow,
    metrics_columns,
    new_id,
    pack_chunks,
)
from lfgtui.history.schema import PartKind
from lfgtui.history.store import Store
from lfgtui.metrics import Metrics
from lfgtui.tickets import Ticket, TicketFile

if TYPE_CHECKING:
    from lfgtui.prices import Pricer


@dataclass(frozen=True, slots=True)
class Started:
    """An `AttemptStarted` with the wall-clock time it came and the price of its model."""

    event: AttemptStarted
    wall: float
    pricer: Pricer | None = None


Item = Event | Started


@dataclass(eq=False)
class _Part:
    """A part row being written; `text` and `chunks` hold what the next batch adds to it."""

    attempt_id: str
    kind: PartKind
    seq: int
    request: int | None
    t_ms: float
    call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    meta: str | None = None
    row_id: int | None = None
    text: list[str] = field(default_factory=list)
    replace: bool = False
    chunks: list[int] = field(default_factory=list)
    last_ms: int = 0
    end_ms: float = 0.0
    sealed: bool = False
    dirty: bool = False


@dataclass(eq=False)
class _Request:
    """A request row being written: the `n`th request of its attempt; its timings come from `Metrics`."""

    row_id: int
    n: int
    usage_seq: int | None = None
    usage_ms: float | None = None
    ended_seq: int | None = None
    ended_ms: float | None = None
    stop_reason: str | None = None
    dirty: bool = False


@dataclass(eq=False)
class _Attempt:
    id: str
    t0: float
    wall0: float
    metrics: Metrics = field(default_factory=Metrics)
    requests: list[_Request] = field(default_factory=list)
    current: _Part | None = None
    tools: dict[str, _Part] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    ended: AttemptEnded | None = None

    def ms(self, t: float) -> float:
        return (t - self.t0) * 1000


def ticket_row(ticket: Ticket) -> TicketRow:
    """The ticket as the history (and a watcher, see remote/) describes it."""
    return TicketRow(
        ticket=ticket.id,
        title=ticket.title,
        prompt=ticket.prompt,
        system=ticket.system,
        provider=ticket.provider,
        model=ticket.model,
        tools=ticket.tools,
        depends_on=ticket.depends_on,
        max_calls=ticket.max_calls,
        max_tokens=ticket.max_tokens,
        temperature=ticket.temperature,
        workdir=str(ticket.workdir),
    )


class Recorder:
    """Turns batches of events into rows. Owns the write connection; use it from one thread only."""

    def __init__(self, store: Store, run_id: str, lock: RunLock, tickets: dict[str, int]) -> None:
        self.store = store
        self.conn = store.conn
        self.run_id = run_id
        self.lock = lock
        self._tickets = tickets
        self._attempts: dict[tuple[str, int], _Attempt] = {}
        self._dirty_parts: list[_Part] = []
        self._dirty_requests: list[tuple[_Attempt, _Request]] = []
        self._ended: list[_Attempt] = []

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
            lfg_version=version("lfgtui"),
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
        return cls(store, run_id, lock, ids)

    @classmethod
    def reopen(cls, path: Path, run_id: str) -> Recorder:
        """Record into a run again (`lfg resume`): take its lock and mark it open until `finish`."""
        store = Store.open(path)
        try:
            lock = RunLock(path, run_id)
        except OSError as exc:
            store.close()
            raise StoreError(f"run {run_id} is open in another lfg ({exc})") from exc
        try:
            with transaction(store.conn) as conn:
                conn.execute("UPDATE runs SET ended_at = NULL WHERE id = ?", (run_id,))
                ids = dict(conn.execute("SELECT ticket, id FROM tickets WHERE run_id = ?", (run_id,)))
        except BaseException:
            store.close()
            lock.release()
            raise
        return cls(store, run_id, lock, ids)

    def finish(self) -> None:
        """Mark the run ended, close the connection and release the lock (in that order)."""
        try:
            self.conn.execute("UPDATE runs SET ended_at = ? WHERE id = ?", (time.time(), self.run_id))
        finally:
            self.store.close()
            self.lock.release()

    def write(self, batch: list[Item]) -> None:
        """One transaction per batch: apply every item in order, then write what changed."""
        with transaction(self.conn):
            for item in batch:
                if isinstance(item, Started):
                    self._start(item)
                else:
                    self._apply(item)
            self._write_rows()

    # --- events to in-memory changes ---

    def _attempt(self, event: Event, wall: float | None = None, provider: str | None = None) -> _Attempt:
        key = (event.ticket, event.attempt)
        attempt = self._attempts.get(key)
        if attempt is None:
            attempt = self._attempts[key] = _Attempt(new_id(), event.t, wall or time.time())
            model = event.model if isinstance(event, AttemptStarted) else None
            self.conn.execute(
                "INSERT INTO attempts (id, ticket_id, number, provider, model, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (attempt.id, self._tickets[event.ticket], event.attempt, provider, model, attempt.wall0),
            )
        return attempt

    def _start(self, item: Started) -> None:
        event = item.event
        attempt = self._attempt(event, item.wall, event.provider)
        attempt.metrics.pricer = item.pricer

    def _apply(self, event: Event) -> None:
        attempt = self._attempt(event)
        attempt.metrics.apply(event)
        match event:
            case RequestSent(call=call):
                self._seal(attempt)
                n = len(attempt.requests)
                row_id = self.conn.execute(
                    "INSERT INTO requests (attempt_id, n, call, seq, request_ms) VALUES (?, ?, ?, ?, ?)",
                    (attempt.id, n, call, event.seq, attempt.ms(event.t)),
                ).lastrowid
                assert row_id is not None
                attempt.requests.append(_Request(row_id, n))
            case PromptSent(text=text, continues=continues):
                meta = None if continues is None else json.dumps({"continues": continues})
                self._note(attempt, event, text, meta, PartKind.PROMPT)
            case TextDelta(text=text):
                self._stream(attempt, PartKind.TEXT, event, text)
            case ReasoningDelta(text=text):
                self._stream(attempt, PartKind.REASONING, event, text)
            case ToolCallStarted(call_id=call_id, name=name):
                self._seal(attempt)
                partial = json.dumps({"partial": True})
                attempt.tools[call_id] = self._part(
                    attempt, PartKind.TOOL_CALL, event, call_id=call_id, name=name, meta=partial
                )
                attempt.names[call_id] = name
            case ToolCallArgsDelta(call_id=call_id, fragment=fragment):
                part = attempt.tools.get(call_id) or self._part(
                    attempt, PartKind.TOOL_CALL, event, call_id=call_id, meta=json.dumps({"partial": True})
                )
                attempt.tools[call_id] = part
                self._chunk(attempt, part, event.t, fragment)
            case ToolCallReady(call_id=call_id, name=name, raw_arguments=raw, error=error):
                self._seal(attempt)
                part = attempt.tools.pop(call_id, None) or self._part(
                    attempt, PartKind.TOOL_CALL, event, call_id=call_id
                )
                attempt.names[call_id] = part.name = name
                part.text, part.replace = [raw], True
                part.meta = json.dumps({"error": error}) if error else None
                part.end_ms = attempt.ms(event.t)
                part.sealed = True
                self._touch(part)
            case ToolResult(call_id=call_id, output=output, is_error=is_error):
                self._seal(attempt)
                name = attempt.names.get(call_id)
                part = self._part(attempt, PartKind.TOOL_RESULT, event, call_id=call_id, name=name)
                part.text.append(output)
                part.is_error, part.sealed = is_error, True
            case Retrying(message=message, error=error):
                self._seal(attempt)
                meta = {
                    "retry": event.retry,
                    "max_retries": event.max_retries,
                    "delay_s": event.delay_s,
                    "error": {"kind": error.kind.value, "message": error.message, "status": error.status},
                }
                self._note(attempt, event, message, json.dumps(meta))
            case SessionOpened(message=message, session_id=session_id, loaded=loaded):
                self._seal(attempt)
                self._note(attempt, event, message, json.dumps({"acp_session": session_id, "loaded": loaded}))
            case AgentStarted(message=message, log=log):
                self._seal(attempt)
                self._note(attempt, event, message, json.dumps({"agent_log": log}))
            case WorktreeReady(message=message, path=path, branch=branch, base=base):
                self._seal(attempt)
                self._note(
                    attempt, event, message, json.dumps({"worktree": path, "branch": branch, "base": base})
                )
                self.conn.execute(
                    "UPDATE attempts SET worktree = ?, branch = ? WHERE id = ?", (path, branch, attempt.id)
                )
            case DiffUpdated(added=added, removed=removed, files=files, text=text):
                self.conn.execute(
                    "UPDATE attempts SET diff_added = ?, diff_removed = ?, diff_files = ?, "
                    "diff = coalesce(?, diff) WHERE id = ?",
                    (added, removed, files, text, attempt.id),
                )
            case PlanUpdated(message=message, steps=steps):
                self._seal(attempt)
                plan = [[step.content, step.status, step.priority] for step in steps]
                self._note(attempt, event, message, json.dumps({"plan": plan}))
            case ApprovalAsked(message=message, call_id=call_id, name=name, arguments=arguments):
                self._seal(attempt)
                asked = {"approval": call_id, "tool": name, "arguments": arguments}
                self._note(attempt, event, message, json.dumps(asked))
            case ApprovalAnswered(message=message, call_id=call_id, allowed=allowed, by=by):
                self._seal(attempt)
                answer = {"answered": call_id, "allowed": allowed, "by": by}
                self._note(attempt, event, message, json.dumps(answer))
            case Status(message=message):
                self._seal(attempt)
                self._note(attempt, event, message, None)
            case Usage():
                if attempt.requests:
                    request = attempt.requests[-1]
                    request.usage_seq, request.usage_ms = event.seq, attempt.ms(event.t)
                    self._touch_request(attempt, request)
            case CallEnded(stop_reason=stop_reason):
                self._seal(attempt)
                if attempt.requests:
                    request = attempt.requests[-1]
                    request.ended_seq, request.ended_ms, request.stop_reason = (
                        event.seq,
                        attempt.ms(event.t),
                        stop_reason,
                    )
                    self._touch_request(attempt, request)
            case AttemptEnded(error=error):
                self._seal(attempt)
                for part in attempt.tools.values():
                    part.sealed = True
                    self._touch(part)
                if error is not None:
                    meta = {
                        "kind": error.kind.value,
                        "status": error.status,
                        "retry_after": error.retry_after,
                    }
                    self._note(attempt, event, error.message, json.dumps(meta), PartKind.ERROR)
                attempt.ended = event
                self._ended.append(attempt)
                del self._attempts[(event.ticket, event.attempt)]

    def _part(
        self,
        attempt: _Attempt,
        kind: PartKind,
        event: Event,
        call_id: str | None = None,
        name: str | None = None,
        meta: str | None = None,
    ) -> _Part:
        n = len(attempt.requests) - 1 if attempt.requests else None
        ms = attempt.ms(event.t)
        part = _Part(attempt.id, kind, event.seq, n, ms, call_id, name, meta=meta, end_ms=ms)
        self._touch(part)
        return part

    def _note(
        self, attempt: _Attempt, event: Event, text: str, meta: str | None, kind: PartKind = PartKind.STATUS
    ) -> None:
        part = self._part(attempt, kind, event, meta=meta)
        part.text.append(text)
        part.sealed = True

    def _stream(self, attempt: _Attempt, kind: PartKind, event: Event, text: str) -> None:
        part = attempt.current
        if part is None or part.kind != kind:
            self._seal(attempt)
            part = attempt.current = self._part(attempt, kind, event)
        self._chunk(attempt, part, event.t, text)

    def _chunk(self, attempt: _Attempt, part: _Part, t: float, text: str) -> None:
        ms = attempt.ms(t)
        at = max(round(ms), part.last_ms)
        part.chunks += (at - part.last_ms, len(text))
        part.last_ms = at
        part.text.append(text)
        part.end_ms = ms
        self._touch(part)
        if attempt.requests:
            self._touch_request(attempt, attempt.requests[-1])

    def _seal(self, attempt: _Attempt) -> None:
        if attempt.current is not None:
            attempt.current.sealed = True
            self._touch(attempt.current)
            attempt.current = None

    def _touch(self, part: _Part) -> None:
        if not part.dirty:
            part.dirty = True
            self._dirty_parts.append(part)

    def _touch_request(self, attempt: _Attempt, request: _Request) -> None:
        if not request.dirty:
            request.dirty = True
            self._dirty_requests.append((attempt, request))

    # --- in-memory changes to rows ---

    def _write_rows(self) -> None:
        for part in self._dirty_parts:
            self._write_part(part)
        self._dirty_parts.clear()
        for attempt, request in self._dirty_requests:
            self._write_request(attempt, request)
        self._dirty_requests.clear()
        for attempt in self._ended:
            self._write_end(attempt)
        self._ended.clear()

    def _write_part(self, part: _Part) -> None:
        text = "".join(part.text)
        chunks = pack_chunks(part.chunks)
        if part.row_id is None:
            row = PartRow(
                seq=part.seq,
                request=part.request,
                kind=part.kind,
                text=text,
                call_id=part.call_id,
                name=part.name,
                is_error=part.is_error,
                t_ms=part.t_ms,
                end_ms=part.end_ms,
                chunks=chunks,
                meta=part.meta,
                sealed=part.sealed,
            )
            part.row_id = self.conn.execute(
                PartRow.insert_sql("attempt_id"), (part.attempt_id, *row.to_db())
            ).lastrowid
        else:
            text_sql = "?" if part.replace else "text || ?"
            self.conn.execute(
                f"UPDATE parts SET text = {text_sql}, chunks = CAST(chunks || ? AS BLOB), end_ms = ?, "
                "name = ?, meta = ?, sealed = ? WHERE id = ?",
                (text, chunks, part.end_ms, part.name, part.meta, part.sealed, part.row_id),
            )
        part.text, part.chunks, part.replace, part.dirty = [], [], False, False

    def _write_request(self, attempt: _Attempt, request: _Request) -> None:
        measured = attempt.metrics.requests[request.n]

        def ms(t: float | None) -> float | None:
            return None if t is None else attempt.ms(t)

        self.conn.execute(
            "UPDATE requests SET first_reasoning_ms = ?, first_text_ms = ?, first_token_ms = ?, "
            "last_token_ms = ?, chunk_count = ?, estimated_tokens = ?, input_tokens = ?, output_tokens = ?, "
            "reasoning_tokens = ?, usage_seq = ?, usage_ms = ?, ended_seq = ?, ended_ms = ?, "
            "stop_reason = ?, cache_read_tokens = ?, cache_write_tokens = ? WHERE id = ?",
            (
                ms(measured.first_reasoning),
                ms(measured.first_text),
                ms(measured.first_token),
                ms(measured.last_token),
                measured.chunks,
                measured.estimated_tokens,
                measured.input_tokens,
                measured.reported_tokens,
                measured.reasoning_tokens,
                request.usage_seq,
                request.usage_ms,
                request.ended_seq,
                request.ended_ms,
                request.stop_reason,
                measured.cache_read_tokens,
                measured.cache_write_tokens,
                request.row_id,
            ),
        )
        request.dirty = False

    def _write_end(self, attempt: _Attempt) -> None:
        ended = attempt.ended
        assert ended is not None
        error = ended.error
        ms = attempt.ms(ended.t)
        self.conn.execute(
            "UPDATE attempts SET outcome = ?, ended_at = ?, ended_ms = ?, error_kind = ?, error_message = ?, "
            f"error_status = ?, {ATTEMPT_METRICS_SET} WHERE id = ?",
            (
                ended.outcome.value,
                attempt.wall0 + ms / 1000,
                ms,
                error.kind.value if error else None,
                error.message if error else None,
                error.status if error else None,
                *metrics_columns(attempt.metrics),
                attempt.id,
            ),
        )
