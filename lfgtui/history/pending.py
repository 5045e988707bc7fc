"""The rows of the attempts a recorder is writing, as they change between one batch's writes.

Parts grow as deltas stream in (one part per run of deltas of one kind in one request), requests
gain their timings and usage, attempts end. `Pending` collects what changed while a batch is
applied and `write`s each changed row once at its end, so a part that got a hundred chunks in a
batch costs one row of its tails (schema.py's V19): a batch writes what it added, never the text
before it, so a long answer costs its length once more when it is sealed, not at every batch.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass, field

from lfgtui.cost.metrics import Metrics
from lfgtui.events import AttemptEnded, Event, ModelShare, ReasoningDelta, SubagentDelta, TextDelta
from lfgtui.history.rows import (
    ATTEMPT_METRICS_SET,
    PartRow,
    metrics_columns,
    pack_chunks,
    search_lead,
    stored_count,
    take_tails,
)
from lfgtui.history.schema import PartKind
from lfgtui.turns import ProviderTurn


@dataclass(eq=False)
class PendingPart:
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
    tailed: bool = False
    """Its row has tails in the file (schema.py's V19): what batches after its first added."""


@dataclass(eq=False)
class PendingWords:
    """A run of one sub-agent's deltas in a batch, no other event of its attempt between them: a row
    of `subagent_texts` at the batch's end, placed and timed as a part is (`seq` of its first delta,
    `t_ms`, each delta's `chunks`)."""

    attempt: PendingAttempt
    child: str
    seq: int
    t_ms: float
    text: list[str] = field(default_factory=list)
    chunks: list[int] = field(default_factory=list)
    last_ms: int = 0
    next_seq: int = 0
    """The seq its next delta has when no other event of the attempt came between: else a new row."""


@dataclass(eq=False)
class PendingRequest:
    """A request row being written: the `n`th request of its attempt; its timings come from `Metrics`."""

    row_id: int
    n: int
    usage_seq: int | None = None
    usage_ms: float | None = None
    ended_seq: int | None = None
    ended_ms: float | None = None
    stop_reason: str | None = None
    turn: ProviderTurn | None = None
    dirty: bool = False


@dataclass(eq=False)
class PendingAttempt:
    """An attempt being recorded: its metrics, its requests, the part streaming now (`current`), its
    tool calls still streaming arguments and those complete, and the name of each call for its result."""

    id: str
    t0: float
    wall0: float
    metrics: Metrics = field(default_factory=lambda: Metrics(live=False))
    """Its figures as the live metrics compute them, without what only a live view reads."""
    requests: list[PendingRequest] = field(default_factory=list)
    current: PendingPart | None = None
    tools: dict[str, PendingPart] = field(default_factory=dict)
    ready: dict[str, PendingPart] = field(default_factory=dict)
    """Each complete tool call's part: a coding agent's later `ToolCallUpdated` rewrites it."""
    names: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    """Each complete call's input as last shown: an update that changes it before the call's result
    (`ran`) moves when the call was ready to its time."""
    ran: set[str] = field(default_factory=set)
    """The calls whose result came."""
    ended: AttemptEnded | None = None
    waited_s: float = 0.0
    """How long it has waited for the person so far (its permission requests open)."""
    said: dict[str, str] = field(default_factory=dict)
    """The end of each sub-agent's words written so far, by child: its next row's search lead."""

    def ms(self, t: float) -> float:
        return (t - self.t0) * 1000


@dataclass
class Pending:
    """What the batch being applied has changed: each part and request once, and the attempts that
    ended; `write` writes them and starts afresh."""

    parts: list[PendingPart] = field(default_factory=list)
    requests: list[tuple[PendingAttempt, PendingRequest]] = field(default_factory=list)
    ended: list[PendingAttempt] = field(default_factory=list)
    subagent_texts: list[PendingWords] = field(default_factory=list)
    """What the batch added to sub-agents' words, a row each at its end: a run of one child's deltas
    that no other event of its attempt came between, so each comes back at its place."""
    subagent_runs: dict[tuple[PendingAttempt, str], PendingWords] = field(default_factory=dict)
    """Each child's latest run in the batch, by (attempt, child)."""

    def part(
        self,
        attempt: PendingAttempt,
        kind: PartKind,
        event: Event,
        call_id: str | None = None,
        name: str | None = None,
        meta: str | None = None,
    ) -> PendingPart:
        """A new part of the attempt, in the request it is in (None before the first)."""
        n = len(attempt.requests) - 1 if attempt.requests else None
        ms = attempt.ms(event.t)
        part = PendingPart(attempt.id, kind, event.seq, n, ms, call_id, name, meta=meta, end_ms=ms)
        self.touch(part)
        return part

    def note(
        self,
        attempt: PendingAttempt,
        event: Event,
        text: str,
        meta: str | None,
        kind: PartKind = PartKind.STATUS,
    ) -> None:
        """A part that is whole when it comes: a prompt, a status or the error."""
        part = self.part(attempt, kind, event, meta=meta)
        part.text.append(text)
        part.sealed = True

    def stream(self, attempt: PendingAttempt, kind: PartKind, event: Event, text: str) -> None:
        """A delta of text or reasoning: it extends the streaming part of its kind, or starts one."""
        part = attempt.current
        if part is None or part.kind != kind:
            self.seal(attempt)
            part = attempt.current = self.part(attempt, kind, event)
        self.chunk(attempt, part, event.t, text)

    def chunk(self, attempt: PendingAttempt, part: PendingPart, t: float, text: str) -> None:
        """Append a delta and when it came (as `chunks`); the request's token timings change too."""
        ms = attempt.ms(t)
        at = max(round(ms), part.last_ms)
        part.chunks += (at - part.last_ms, len(text))
        part.last_ms = at
        part.text.append(text)
        part.end_ms = ms
        self.touch(part)
        if attempt.requests:
            self.touch_request(attempt, attempt.requests[-1])

    def extend(
        self, attempt: PendingAttempt, part: PendingPart, deltas: list[TextDelta | ReasoningDelta]
    ) -> str:
        """Deltas that continue `part`, which `chunk` has marked changed, with its request, in this
        batch: each one's arrival recorded in `chunks` as `chunk` records it, their text appended
        at once; returns that text."""
        t0, last, chunks = attempt.t0, part.last_ms, part.chunks
        append = chunks.append
        ms = part.end_ms
        for delta in deltas:
            ms = (delta.t - t0) * 1000  # `attempt.ms`
            at = round(ms)
            if at < last:
                at = last
            append(at - last)
            append(len(delta.text))
            last = at
        part.last_ms, part.end_ms = last, ms
        text = "".join([delta.text for delta in deltas])
        part.text.append(text)
        return text

    def subagent_text(self, attempt: PendingAttempt, event: SubagentDelta) -> None:
        """A sub-agent's delta: appended to what the batch added to its child's words, with when it
        came (as `chunk` keeps a part's); no SQL until the batch's end."""
        ms = attempt.ms(event.t)
        words = self.subagent_runs.get((attempt, event.child))
        if words is None or words.next_seq != event.seq:
            words = PendingWords(attempt, event.child, event.seq, ms)
            self.subagent_runs[attempt, event.child] = words
            self.subagent_texts.append(words)
        words.next_seq = event.seq + 1
        at = max(round(ms), words.last_ms)
        words.chunks += (at - words.last_ms, len(event.text))
        words.last_ms = at
        words.text.append(event.text)

    def seal(self, attempt: PendingAttempt) -> None:
        """The streaming part is whole (another kind, a tool call or the end came): index it."""
        if attempt.current is not None:
            attempt.current.sealed = True
            self.touch(attempt.current)
            attempt.current = None

    def touch(self, part: PendingPart) -> None:
        if not part.dirty:
            part.dirty = True
            self.parts.append(part)

    def touch_request(self, attempt: PendingAttempt, request: PendingRequest) -> None:
        if not request.dirty:
            request.dirty = True
            self.requests.append((attempt, request))

    def write(self, conn: sqlite3.Connection) -> None:
        """Write every changed row (parts, then requests, then the ends), inside the batch's
        transaction: a new part is one INSERT (its id is kept); what a streaming part gained is a new
        row of its tails and its own small row's times, until it is sealed (or its text replaced),
        when its row takes its tails; the changed parts and requests are one `executemany` of each
        statement."""
        appended: list[tuple[object, ...]] = []
        replaced: list[tuple[object, ...]] = []
        tails: list[tuple[object, ...]] = []
        grown: list[tuple[object, ...]] = []
        for part in self.parts:
            text = "".join(part.text)
            chunks = pack_chunks(part.chunks)
            if part.row_id is None:
                part.row_id = _insert_part(conn, part, text, chunks)
            elif part.sealed or part.replace:
                if part.tailed:
                    before, before_chunks = take_tails(conn, part.row_id)
                    text = text if part.replace else before + text
                    chunks = before_chunks + chunks
                    part.tailed = False
                values = (text, chunks, part.end_ms, part.name, part.meta, part.sealed, part.row_id)
                (replaced if part.replace else appended).append(values)
            else:
                tails.append((part.row_id, text, chunks))
                grown.append((part.end_ms, part.name, part.meta, part.row_id))
                part.tailed = True
            part.text, part.chunks, part.replace, part.dirty = [], [], False, False
        self.parts.clear()
        if appended:
            conn.executemany(PART_APPENDED, appended)
        if replaced:
            conn.executemany(PART_REPLACED, replaced)
        if tails:
            conn.executemany(TAIL_INSERT, tails)
            conn.executemany(PART_GROWN, grown)
        if self.requests:
            conn.executemany(REQUEST_SET, [_request_values(attempt, req) for attempt, req in self.requests])
            for _, request in self.requests:
                request.dirty = False
            self.requests.clear()
        if self.subagent_texts:
            conn.executemany(SUBAGENT_TEXT_INSERT, [_words_values(words) for words in self.subagent_texts])
            self.subagent_texts.clear()
            self.subagent_runs.clear()
        for attempt in self.ended:
            _write_end(conn, attempt)
        self.ended.clear()


PART_APPENDED = (
    "UPDATE parts SET text = text || ?, chunks = CAST(chunks || ? AS BLOB), end_ms = ?, name = ?, meta = ?, "
    "sealed = ? WHERE id = ?"
)
"""A part's row grown by what the batch added (with its tails, once it is sealed)."""
PART_REPLACED = PART_APPENDED.replace("text || ?", "?", 1)
"""A part's row whose text the batch replaced (a tool call's arguments once whole)."""
TAIL_INSERT = "INSERT INTO part_tails (part_id, text, chunks) VALUES (?, ?, ?)"
"""What a batch added to a part still streaming: a row of its own, so the part's text is not rewritten."""
SUBAGENT_TEXT_INSERT = (
    "INSERT INTO subagent_texts (attempt_id, child, text, seq, t_ms, chunks, lead) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
"""A run of a sub-agent's words a batch added: a row of its own, never the text before it rewritten;
its search entry is made by a trigger (schema.py's V31)."""


def _words_values(words: PendingWords) -> tuple[object, ...]:
    """A run of a child's words as its row, its search lead the end of what the child said before."""
    attempt, text = words.attempt, "".join(words.text)
    lead = search_lead(attempt.said, words.child, text)
    return (attempt.id, words.child, text, words.seq, words.t_ms, pack_chunks(words.chunks), lead)


PART_GROWN = "UPDATE parts SET end_ms = ?, name = ?, meta = ? WHERE id = ?"
"""A part still streaming: its own row keeps its times up to date (its text is its first batch's)."""


def _insert_part(conn: sqlite3.Connection, part: PendingPart, text: str, chunks: bytes) -> int | None:
    """Insert a new part's row; returns its id."""
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
    return conn.execute(PartRow.insert_sql("attempt_id"), (part.attempt_id, *row.to_db())).lastrowid


REQUEST_SET = (
    "UPDATE requests SET first_reasoning_ms = ?, first_text_ms = ?, first_token_ms = ?, "
    "last_token_ms = ?, chunk_count = ?, estimated_tokens = ?, input_tokens = ?, output_tokens = ?, "
    "reasoning_tokens = ?, usage_seq = ?, usage_ms = ?, ended_seq = ?, ended_ms = ?, "
    "stop_reason = ?, cache_read_tokens = ?, cache_write_tokens = ?, models = ?, counted_chars = ?, "
    "counted_per_char = ?, turn_wire = ?, turn_source = ?, turn_body = ?, output_unseen = ? "
    "WHERE id = ?"
)


def _request_values(attempt: PendingAttempt, request: PendingRequest) -> tuple[object, ...]:
    """The values of a request's `REQUEST_SET`: its timings and counts as its attempt's metrics say."""
    measured = attempt.metrics.requests[request.n]

    def ms(t: float | None) -> float | None:
        return None if t is None else attempt.ms(t)

    return (
        ms(measured.first_reasoning),
        ms(measured.first_text),
        ms(measured.first_token),
        ms(measured.last_token),
        measured.chunks,
        measured.estimated_tokens,
        stored_count(measured.input_tokens),
        stored_count(measured.reported_tokens),
        stored_count(measured.reasoning_tokens),
        request.usage_seq,
        request.usage_ms,
        request.ended_seq,
        request.ended_ms,
        request.stop_reason,
        stored_count(measured.cache_read_tokens),
        stored_count(measured.cache_write_tokens),
        shares_json(measured.models),
        None if measured.reported_tokens is None else measured.counted_chars,
        measured.counted_per_char,
        *turn_columns(request.turn),
        measured.output_unseen,
        request.row_id,
    )


def turn_columns(turn: ProviderTurn | None) -> tuple[str | None, str | None, str | None]:
    """A request's `turn_wire`, `turn_source` and `turn_body` (migration 22): NULL for no turn."""
    return (None, None, None) if turn is None else (turn.wire, turn.source, turn.body)


def shares_json(shares: tuple[ModelShare, ...]) -> str | None:
    """A request's counts split by model, as its `models` column keeps them (NULL for none)."""
    if not shares:
        return None
    return json.dumps([dataclasses.asdict(share) for share in shares], ensure_ascii=False)


ATTEMPT_END_SET = (
    "outcome = ?, ended_at = ?, ended_ms = ?, error_kind = ?, error_message = ?, error_status = ?, "
    "waited_s = ?"
)


def end_columns(attempt: PendingAttempt, ended: AttemptEnded) -> tuple[object, ...]:
    """The values of `ATTEMPT_END_SET` for an attempt that ended so."""
    error = ended.error
    ms = attempt.ms(ended.t)
    return (
        ended.outcome.value,
        attempt.wall0 + ms / 1000,
        ms,
        error.kind.value if error else None,
        error.message if error else None,
        error.status if error else None,
        attempt.waited_s,
    )


def _write_end(conn: sqlite3.Connection, attempt: PendingAttempt) -> None:
    ended = attempt.ended
    assert ended is not None
    conn.execute(
        f"UPDATE attempts SET {ATTEMPT_END_SET}, {ATTEMPT_METRICS_SET} WHERE id = ?",
        (*end_columns(attempt, ended), *metrics_columns(attempt.metrics), attempt.id),
    )
