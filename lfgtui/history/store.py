"""The history file: where it lives, opening it safely, recovering crashed runs, and every reader.

Opening creates the folder (0700) and the file (0600), turns on WAL and foreign keys and applies
pending migrations. It then marks attempts left open by a run that is no longer alive as
`interrupted`: their streaming parts are sealed (and so indexed), and each tool call that never got
a result gets a synthetic error result, so the conversation stays valid for every provider API.
Nothing is ever sent to a provider again.

A run proves it is alive by holding an exclusive `flock` on its own lock file beside the database;
the kernel drops the lock when the process dies, even on SIGKILL, so a second `lfg` running at the
same time never mistakes a live run for a crashed one.

Readers use their own connection; WAL lets them read while a run's writer streams.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self

import platformdirs

from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    Outcome,
    ReasoningDelta,
    RequestSent,
    Retrying,
    Status,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
)
from lfgtui.history.schema import MIGRATIONS, PartKind
from lfgtui.metrics import Metrics
from lfgtui.providers.base import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    parse_tool_arguments,
)

DB_ENV = "LFG_DB"
BUSY_TIMEOUT_S = 5.0
INTERRUPTED_RESULT = "error: interrupted: lfg stopped before this tool call returned a result"
INTERRUPTED_STATUS = "interrupted: lfg stopped while this attempt was running"
ID_BYTES = 6


class StoreError(Exception):
    """A history file that cannot be used, or an id that names nothing (or too many things)."""


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("lfgtui")) / "history.sqlite3"


def resolve_db_path(explicit: Path | None, env: Mapping[str, str], configured: Path | None) -> Path:
    """`--db PATH`, else `LFG_DB`, else `[history] path` in config.toml, else the user data folder."""
    if explicit is not None:
        return explicit.expanduser()
    if env.get(DB_ENV):
        return Path(env[DB_ENV]).expanduser()
    return configured if configured is not None else default_db_path()


def new_id() -> str:
    """A short random hex id: random, so that a few leading characters already tell ids apart."""
    return secrets.token_hex(ID_BYTES)


def pack_chunks(values: Iterable[int]) -> bytes:
    """Unsigned LEB128 varints: a chunk's (ms since the previous chunk, characters) costs ~2 bytes."""
    out = bytearray()
    for value in values:
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out)


def unpack_chunks(blob: bytes) -> list[tuple[int, int]]:
    """Each chunk of a part as (ms since the attempt started, characters)."""
    values: list[int] = []
    value = shift = 0
    for byte in blob:
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            values.append(value)
            value = shift = 0
    chunks: list[tuple[int, int]] = []
    at = 0
    for delta, length in zip(values[::2], values[1::2], strict=False):
        at += delta
        chunks.append((at, length))
    return chunks


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- rows: one frozen dataclass per table, its fields named (and ordered) as the columns ---------

_BOOL_COLUMNS = frozenset({"is_error", "sealed", "tokens_estimated"})
_LIST_COLUMNS = frozenset({"tools", "depends_on"})


@dataclass(frozen=True)
class Row:
    """A table row; `from_db`/`to_db` convert the few columns SQLite stores differently."""

    table: ClassVar[str]

    @classmethod
    @functools.cache
    def columns(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> Self:
        values = dict(zip(cls.columns(), row, strict=True))
        for name in _BOOL_COLUMNS.intersection(values):
            values[name] = bool(values[name])
        for name in _LIST_COLUMNS.intersection(values):
            values[name] = tuple(json.loads(values[name]))
        return cls(**values)

    def to_db(self) -> tuple[Any, ...]:
        values = []
        for name in self.columns():
            value = getattr(self, name)
            values.append(json.dumps(list(value)) if name in _LIST_COLUMNS else value)
        return tuple(values)

    @classmethod
    def select(cls) -> str:
        return ", ".join(cls.columns())

    @classmethod
    @functools.cache
    def insert_sql(cls, *extra: str) -> str:
        """INSERT of every column, after the `extra` parent-key columns the row does not carry."""
        names = [*extra, *cls.columns()]
        return f"INSERT INTO {cls.table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


@dataclass(frozen=True)
class RunRow(Row):
    table: ClassVar[str] = "runs"
    id: str
    started_at: float
    ended_at: float | None
    tickets_file: str | None
    command: str
    cwd: str | None
    lfg_version: str | None


@dataclass(frozen=True)
class TicketRow(Row):
    """A ticket as the run resolved it; `prompt` is the template, before `{{ outputs.ID }}`."""

    table: ClassVar[str] = "tickets"
    ticket: str
    title: str
    prompt: str
    system: str | None
    provider: str
    model: str
    tools: tuple[str, ...]
    depends_on: tuple[str, ...]
    max_turns: int | None
    max_tokens: int | None
    temperature: float | None
    workdir: str | None


@dataclass(frozen=True)
class AttemptRow(Row):
    """One attempt; `outcome` is None while it runs. The metrics columns come from `Metrics`."""

    table: ClassVar[str] = "attempts"
    id: str
    number: int
    provider: str | None
    model: str | None
    started_at: float
    ended_at: float | None
    ended_ms: float | None
    outcome: str | None
    error_kind: str | None
    error_message: str | None
    error_status: int | None
    ttft_ms: float | None
    ttft_text_ms: float | None
    ttft_reasoning_ms: float | None
    tokens_per_s: float | None
    output_tokens: int | None
    input_tokens: int | None
    tokens_estimated: bool

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_ms is None else self.ended_ms / 1000


@dataclass(frozen=True)
class TurnRow(Row):
    """One request to a model (a retry is a new turn with the same `call`), timed in ms."""

    table: ClassVar[str] = "turns"
    n: int
    call: int
    seq: int
    request_ms: float
    first_reasoning_ms: float | None
    first_text_ms: float | None
    first_token_ms: float | None
    last_token_ms: float | None
    chunk_count: int
    estimated_tokens: int
    input_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    usage_seq: int | None
    usage_ms: float | None
    ended_seq: int | None
    ended_ms: float | None
    stop_reason: str | None


@dataclass(frozen=True)
class PartRow(Row):
    """A prompt, a streamed text or reasoning, a tool call or result, a status line or the error."""

    table: ClassVar[str] = "parts"
    seq: int
    turn: int | None
    kind: str
    text: str
    call_id: str | None
    name: str | None
    is_error: bool
    t_ms: float
    end_ms: float
    chunks: bytes
    meta: str | None
    sealed: bool

    @property
    def info(self) -> dict[str, Any]:
        return json.loads(self.meta) if self.meta else {}


@dataclass(frozen=True)
class AttemptRecord:
    row: AttemptRow
    turns: tuple[TurnRow, ...]
    parts: tuple[PartRow, ...]


@dataclass(frozen=True)
class TicketRecord:
    row: TicketRow
    attempts: tuple[AttemptRecord, ...]


@dataclass(frozen=True)
class RunRecord:
    row: RunRow
    tickets: tuple[TicketRecord, ...]


@dataclass(frozen=True)
class Selection:
    """What an id names: a run, one ticket of it, or one attempt."""

    run_id: str
    ticket: str | None = None
    attempt_id: str | None = None


@dataclass(frozen=True)
class RunSummary:
    id: str
    started_at: float
    ended_at: float | None
    tickets_file: str | None
    tickets: int
    outcomes: tuple[tuple[str, int], ...]
    output_tokens: int


@dataclass(frozen=True)
class Filters:
    """Narrow a search or the stats; `status` is an outcome, or `running` for open attempts."""

    ticket: str | None = None
    model: str | None = None
    provider: str | None = None
    status: str | None = None
    since: float | None = None

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions on `a` (attempts) and `t` (tickets), and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.ticket is not None:
            clauses.append("t.ticket = ?")
            params.append(self.ticket)
        if self.model is not None:
            clauses.append("coalesce(a.model, t.model) = ?")
            params.append(self.model)
        if self.provider is not None:
            clauses.append("coalesce(a.provider, t.provider) = ?")
            params.append(self.provider)
        if self.status == "running":
            clauses.append("a.outcome IS NULL")
        elif self.status is not None:
            clauses.append("a.outcome = ?")
            params.append(self.status)
        if self.since is not None:
            clauses.append("a.started_at >= ?")
            params.append(self.since)
        return "".join(f" AND {c}" for c in clauses), params


@dataclass(frozen=True)
class SearchHit:
    """One matching part; `highlights` are (start, end) offsets of the matches within `snippet`."""

    attempt_id: str
    run_id: str
    ticket: str
    attempt: int
    kind: str
    name: str | None
    provider: str | None
    model: str | None
    outcome: str | None
    started_at: float
    snippet: str
    highlights: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ModelStats:
    provider: str
    model: str
    attempts: int
    completed: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    tokens_per_s_p50: float | None
    output_tokens: int


# --- opening ---------------------------------------------------------------------------------------


def _create(path: Path) -> None:
    """Create the folder (0700) and an empty database file (0600) unless they exist."""
    folder = path.parent
    if not folder.exists():
        with contextlib.suppress(FileExistsError):  # another lfg made it since the check: it is its mode
            folder.mkdir(parents=True, mode=0o700)
            folder.chmod(0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        path.chmod(0o600)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations, each in its own transaction; returns the file's schema version.

    Two processes may open a new file at once: the loser of the race fails on the tables the winner
    just made, rolls back, re-reads `user_version` and finds nothing left to do.
    """
    while True:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the history file has schema version {version}, newer than this lfg knows "
                f"({len(MIGRATIONS)}); upgrade lfg to read it"
            )
        if version == len(MIGRATIONS):
            return version
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE; {MIGRATIONS[version]}; PRAGMA user_version = {version + 1}; COMMIT;"
            )
        except sqlite3.OperationalError:
            if conn.in_transaction:
                conn.rollback()
            if conn.execute("PRAGMA user_version").fetchone()[0] == version:
                raise


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the history file, created and migrated; autocommit, WAL, foreign keys on."""
    try:
        _create(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the history file {path}: {exc}") from exc
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error; IMMEDIATE so writers queue, not deadlock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.execute("COMMIT")


class RunLock:
    """An exclusive flock on `<db>.locks/<run id>`, held for as long as the run's process lives."""

    def __init__(self, db: Path, run_id: str) -> None:
        self.path = self.path_for(db, run_id)
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    @staticmethod
    def path_for(db: Path, run_id: str) -> Path:
        return db.with_name(db.name + ".locks") / run_id

    @classmethod
    def alive(cls, db: Path, run_id: str) -> bool:
        """True while the process of that run holds its lock."""
        try:
            fd = os.open(cls.path_for(db, run_id), os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)


# --- the store ---------------------------------------------------------------------------------------

_SNIPPET_OPEN, _SNIPPET_CLOSE = "\x02", "\x03"
_PHRASE = re.compile(r'"([^"]*)"')


def fts_query(text: str) -> str | None:
    """A user's words as a safe FTS5 query: every term quoted, `"exact phrases"` kept, all ANDed.

    FTS5 syntax in the input (NEAR, OR, -, ^, col:, brackets, stray quotes) is searched for as plain
    words, never interpreted; a bare term ending in `*` is a prefix search. None when nothing in
    the text could match a token.
    """
    terms: list[str] = []
    text = text.replace("\x00", " ")  # FTS5 reads the query as a C string: NUL would end it

    def add(term: str, prefix: bool = False) -> None:
        if any(ch.isalnum() for ch in term):
            terms.append('"' + term.replace('"', '""') + '"' + ("*" if prefix else ""))

    last = 0
    for match in _PHRASE.finditer(text):
        for word in text[last : match.start()].split():
            add(word.rstrip("*"), word.endswith("*"))
        add(match.group(1))
        last = match.end()
    for word in text[last:].split():
        add(word.rstrip("*"), word.endswith("*"))
    return " ".join(terms) or None


def _highlights(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Strip snippet() markers, returning the plain text and the marked spans."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    start = 0
    for ch in marked:
        if ch == _SNIPPET_OPEN:
            start = at
        elif ch == _SNIPPET_CLOSE:
            spans.append((start, at))
        else:
            plain.append(ch)
            at += 1
    return "".join(plain), tuple(spans)


@dataclass
class Store:
    """A connection to the history file with every reader; `open` also recovers crashed runs."""

    path: Path
    conn: sqlite3.Connection
    recovered: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path) -> Store:
        conn = connect(path)
        store = cls(path, conn)
        try:
            store.recovered = store.recover()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot recover the history file {path}: {exc}") from exc
        return store

    @classmethod
    def open_read_only(cls, path: Path) -> Store:
        """A read-only connection for a reader on another thread: no recovery, never a write.

        It may be used from any thread, one query at a time; `conn.interrupt()` stops a query.
        """
        if not path.is_file():
            raise StoreError(f"no history recorded yet ({path} does not exist)")
        try:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                check_same_thread=False,
            )
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the history file {path}: {exc}") from exc
        if version != len(MIGRATIONS):
            conn.close()
            raise StoreError(
                f"the history file {path} has schema version {version}, this lfg reads {len(MIGRATIONS)}: "
                "run `lfg history list` once to upgrade it"
                if version < len(MIGRATIONS)
                else f"the history file {path} is newer than this lfg; upgrade lfg to read it"
            )
        return cls(path, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- recovery ---

    def recover(self) -> list[str]:
        """Mark attempts of dead runs `interrupted`; returns their ids."""
        open_runs = [r for (r,) in self.conn.execute("SELECT id FROM runs WHERE ended_at IS NULL")]
        live = {run_id for run_id in open_runs if RunLock.alive(self.path, run_id)}
        stale = [
            (attempt_id, run_id)
            for attempt_id, run_id in self.conn.execute(
                "SELECT a.id, t.run_id FROM attempts a JOIN tickets t ON t.id = a.ticket_id "
                "WHERE a.outcome IS NULL"
            )
            if run_id not in live
        ]
        dead = [run_id for run_id in open_runs if run_id not in live]
        if not stale and not dead:
            return []
        with transaction(self.conn):
            for attempt_id, _ in stale:
                self._interrupt(attempt_id)
            for run_id in dead:
                self.conn.execute(
                    "UPDATE runs SET ended_at = coalesce((SELECT max(a.ended_at) FROM attempts a "
                    "JOIN tickets t ON t.id = a.ticket_id WHERE t.run_id = runs.id), started_at) "
                    "WHERE id = ? AND ended_at IS NULL",
                    (run_id,),
                )
        for run_id in dead:
            with contextlib.suppress(FileNotFoundError):
                RunLock.path_for(self.path, run_id).unlink()
        return [attempt_id for attempt_id, _ in stale]

    def _interrupt(self, attempt_id: str) -> None:
        record = self._attempt(attempt_id)
        if record.row.outcome is not None:
            return
        events = attempt_events(record, "", 0)
        last_ms = max((e.t * 1000 for e in events), default=0.0)
        next_seq = max((p.seq for p in record.parts), default=0) + 1
        self.conn.execute("UPDATE parts SET sealed = 1 WHERE attempt_id = ? AND NOT sealed", (attempt_id,))
        answered = {p.call_id for p in record.parts if p.kind == PartKind.TOOL_RESULT}
        dangling = [p for p in record.parts if p.kind == PartKind.TOOL_CALL and p.call_id not in answered]
        added = [
            PartRow(
                seq=next_seq + i,
                turn=call.turn,
                kind=PartKind.TOOL_RESULT,
                text=INTERRUPTED_RESULT,
                call_id=call.call_id,
                name=call.name,
                is_error=True,
                t_ms=last_ms,
                end_ms=last_ms,
                chunks=b"",
                meta=json.dumps({"synthetic": True}),
                sealed=True,
            )
            for i, call in enumerate(dangling)
        ]
        added.append(
            PartRow(
                seq=next_seq + len(dangling),
                turn=None,
                kind=PartKind.STATUS,
                text=INTERRUPTED_STATUS,
                call_id=None,
                name=None,
                is_error=False,
                t_ms=last_ms,
                end_ms=last_ms,
                chunks=b"",
                meta=json.dumps({"synthetic": True}),
                sealed=True,
            )
        )
        self.conn.executemany(PartRow.insert_sql("attempt_id"), [(attempt_id, *p.to_db()) for p in added])
        metrics = Metrics()
        for event in events:
            metrics.apply(event)
        self.conn.execute(
            "UPDATE attempts SET outcome = ?, ended_ms = ?, ended_at = started_at + ? / 1000.0, "
            + ATTEMPT_METRICS_SET
            + " WHERE id = ?",
            (Outcome.INTERRUPTED.value, last_ms, last_ms, *metrics_columns(metrics), attempt_id),
        )

    # --- ids ---

    def resolve(self, ref: str) -> Selection:
        """A run or attempt id, or a unique prefix of one (as in git), or `RUN/TICKET`."""
        run_ref, _, ticket = ref.partition("/")
        if ticket:
            runs = self._matches("runs", run_ref)
            if len(runs) != 1:
                raise self._not_one(run_ref, [f"run {r}" for r in runs])
            run_id = runs[0]
            if not self.conn.execute(
                "SELECT 1 FROM tickets WHERE run_id = ? AND ticket = ?", (run_id, ticket)
            ).fetchone():
                raise StoreError(f"run {run_id} has no ticket {ticket!r}")
            return Selection(run_id, ticket=ticket)
        runs = self._matches("runs", ref)
        attempts = self._matches("attempts", ref)
        if len(runs) + len(attempts) != 1:
            raise self._not_one(ref, [f"run {r}" for r in runs] + [f"attempt {a}" for a in attempts])
        if runs:
            return Selection(runs[0])
        run_id, ticket = self.conn.execute(
            "SELECT t.run_id, t.ticket FROM attempts a JOIN tickets t ON t.id = a.ticket_id WHERE a.id = ?",
            attempts,
        ).fetchone()
        return Selection(run_id, ticket=ticket, attempt_id=attempts[0])

    def _matches(self, table: str, prefix: str) -> list[str]:
        prefix = prefix.lower()
        if not prefix or not all(ch in "0123456789abcdef" for ch in prefix):
            return []
        rows = self.conn.execute(
            f"SELECT id FROM {table} WHERE id >= ? AND id < ? ORDER BY id LIMIT 6", (prefix, prefix + "g")
        )
        return [r for (r,) in rows]

    @staticmethod
    def _not_one(ref: str, candidates: list[str]) -> StoreError:
        if not candidates:
            return StoreError(f"no run or attempt with id {ref!r} (see `lfg history list`)")
        more = " and more" if len(candidates) > 5 else ""
        return StoreError(f"{ref!r} is ambiguous: it could be {', '.join(candidates[:5])}{more}")

    # --- readers ---

    def list_runs(self, limit: int = 20) -> list[RunSummary]:
        """The most recent runs first, with their tickets' latest outcomes and the tokens streamed."""
        runs = self.conn.execute(
            "SELECT id, started_at, ended_at, tickets_file FROM runs ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        summaries = []
        for run_id, started_at, ended_at, tickets_file in runs:
            outcomes: dict[str, int] = {}
            tickets = 0
            for (outcome,) in self.conn.execute(
                "SELECT (SELECT coalesce(a.outcome, 'running') FROM attempts a WHERE a.ticket_id = t.id "
                "ORDER BY a.number DESC LIMIT 1) FROM tickets t WHERE t.run_id = ?",
                (run_id,),
            ):
                tickets += 1
                key = outcome or "not started"
                outcomes[key] = outcomes.get(key, 0) + 1
            (tokens,) = self.conn.execute(
                "SELECT coalesce(sum(a.output_tokens), 0) FROM attempts a "
                "JOIN tickets t ON t.id = a.ticket_id WHERE t.run_id = ?",
                (run_id,),
            ).fetchone()
            outcome_counts = tuple(outcomes.items())
            summaries.append(
                RunSummary(run_id, started_at, ended_at, tickets_file, tickets, outcome_counts, tokens)
            )
        return summaries

    def search(self, query: str, filters: Filters | None = None, limit: int = 20) -> list[SearchHit]:
        """Parts matching every word of `query`, best first (bm25, prompts and answers weigh most)."""
        match = fts_query(query)
        if match is None:
            return []
        where, params = (filters or Filters()).where()
        rows = self.conn.execute(
            "SELECT p.attempt_id, t.run_id, t.ticket, a.number, p.kind, p.name, a.provider, a.model, "
            "a.outcome, a.started_at, "
            f"snippet(parts_fts, -1, '{_SNIPPET_OPEN}', '{_SNIPPET_CLOSE}', '…', 16) "
            "FROM parts_fts JOIN parts p ON p.id = parts_fts.rowid JOIN attempts a ON a.id = p.attempt_id "
            f"JOIN tickets t ON t.id = a.ticket_id WHERE parts_fts MATCH ? {where} ORDER BY rank LIMIT ?",
            (match, *params, limit),
        )
        hits = []
        for *head, marked in rows:
            snippet, spans = _highlights(" ".join(marked.split()))
            hits.append(SearchHit(*head, snippet=snippet, highlights=spans))
        return hits

    def stats(self, filters: Filters | None = None) -> list[ModelStats]:
        """TTFT p50/p95 and tok/s p50 per provider and model, over attempts that streamed."""
        where, params = (filters or Filters()).where()
        groups: dict[tuple[str, str], list[tuple[str | None, float | None, float | None, int]]] = {}
        for provider, model, outcome, ttft, rate, tokens in self.conn.execute(
            "SELECT a.provider, a.model, a.outcome, a.ttft_ms, a.tokens_per_s, coalesce(a.output_tokens, 0) "
            f"FROM attempts a JOIN tickets t ON t.id = a.ticket_id WHERE a.provider IS NOT NULL {where}",
            params,
        ):
            groups.setdefault((provider, model), []).append((outcome, ttft, rate, tokens))
        stats = []
        for (provider, model), rows in sorted(groups.items()):
            ttfts = [ttft for _, ttft, _, _ in rows if ttft is not None]
            rates = [rate for _, _, rate, _ in rows if rate is not None]
            stats.append(
                ModelStats(
                    provider=provider,
                    model=model,
                    attempts=len(rows),
                    completed=sum(1 for outcome, *_ in rows if outcome == Outcome.COMPLETED),
                    ttft_p50_ms=percentile(ttfts, 50),
                    ttft_p95_ms=percentile(ttfts, 95),
                    tokens_per_s_p50=percentile(rates, 50),
                    output_tokens=sum(tokens for *_, tokens in rows),
                )
            )
        return stats

    def load(self, selection: Selection) -> RunRecord:
        """A run, or the part of it a selection names, with every row under it."""
        (run,) = self.conn.execute(
            f"SELECT {RunRow.select()} FROM runs WHERE id = ?", (selection.run_id,)
        ).fetchall()
        tickets = []
        for ticket_key, *row in self.conn.execute(
            f"SELECT id, {TicketRow.select()} FROM tickets WHERE run_id = ? "
            "AND (? IS NULL OR ticket = ?) ORDER BY id",
            (selection.run_id, selection.ticket, selection.ticket),
        ):
            attempt_ids = [
                a
                for (a,) in self.conn.execute(
                    "SELECT id FROM attempts WHERE ticket_id = ? AND (? IS NULL OR id = ?) ORDER BY number",
                    (ticket_key, selection.attempt_id, selection.attempt_id),
                )
            ]
            attempts = tuple(self._attempt(a) for a in attempt_ids)
            tickets.append(TicketRecord(TicketRow.from_db(row), attempts))
        return RunRecord(RunRow.from_db(run), tuple(tickets))

    def _attempt(self, attempt_id: str) -> AttemptRecord:
        (row,) = self.conn.execute(
            f"SELECT {AttemptRow.select()} FROM attempts WHERE id = ?", (attempt_id,)
        ).fetchall()
        turns = self.conn.execute(
            f"SELECT {TurnRow.select()} FROM turns WHERE attempt_id = ? ORDER BY n", (attempt_id,)
        )
        parts = self.conn.execute(
            f"SELECT {PartRow.select()} FROM parts WHERE attempt_id = ? ORDER BY seq", (attempt_id,)
        )
        return AttemptRecord(
            AttemptRow.from_db(row),
            tuple(TurnRow.from_db(t) for t in turns),
            tuple(PartRow.from_db(p) for p in parts),
        )

    def attempt_events(self, attempt_id: str) -> list[Event]:
        """The events of an attempt in order, `t` in seconds since it started (for replay and panes)."""
        ticket, number = self.conn.execute(
            "SELECT t.ticket, a.number FROM attempts a JOIN tickets t ON t.id = a.ticket_id WHERE a.id = ?",
            (attempt_id,),
        ).fetchone()
        return attempt_events(self._attempt(attempt_id), ticket, number)

    def conversation(self, attempt_id: str) -> list[Message]:
        """The attempt as provider messages (prompt, answers, tool calls, results) to continue it."""
        return conversation(self._attempt(attempt_id))


ATTEMPT_METRICS_SET = (
    "ttft_ms = ?, ttft_text_ms = ?, ttft_reasoning_ms = ?, tokens_per_s = ?, output_tokens = ?, "
    "input_tokens = ?, tokens_estimated = ?"
)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def metrics_columns(metrics: Metrics) -> tuple[Any, ...]:
    """The attempt's summary columns (see `ATTEMPT_METRICS_SET`), straight from `Metrics`."""
    return (
        _ms(metrics.ttft_s),
        _ms(metrics.ttft_text_s),
        _ms(metrics.ttft_reasoning_s),
        metrics.tokens_per_s,
        metrics.output_tokens,
        metrics.input_tokens,
        metrics.tokens_estimated,
    )


# --- restoring an attempt ------------------------------------------------------------------------


@dataclass
class _Events:
    """Builds an attempt's events in stored order, each `t` no earlier than the one before."""

    ticket: str
    attempt: int
    keyed: list[tuple[tuple[int, int], float, type[Event], dict[str, Any]]] = field(default_factory=list)

    def add(self, key: tuple[int, int], ms: float, cls: type[Event], **values: Any) -> None:
        self.keyed.append((key, ms, cls, values))

    def events(self) -> list[Event]:
        events: list[Event] = []
        t = 0.0
        for seq, (_, ms, cls, values) in enumerate(sorted(self.keyed, key=lambda item: item[0])):
            t = max(t, ms / 1000)
            events.append(cls(ticket=self.ticket, attempt=self.attempt, seq=seq, t=t, **values))
        return events


def _streamed(
    events: _Events, part: PartRow, cls: type[Event], field_name: str, first: int, **extra: Any
) -> None:
    """One event per stored chunk, its text sliced from the part; the first chunk at its exact time."""
    at = 0
    for i, (ms, length) in enumerate(unpack_chunks(part.chunks)):
        chunk = part.text[at : at + length]
        at += length
        when = part.t_ms if i == 0 and first == 0 else ms
        events.add((part.seq, first + i), when, cls, **{field_name: chunk}, **extra)


def attempt_events(record: AttemptRecord, ticket: str, number: int) -> list[Event]:
    """Rebuild an attempt's events from its rows (see `Store.attempt_events`).

    Order follows the original sequence numbers; a chunk's time is stored to the millisecond, the
    first chunk of each part and every other event exactly.
    """
    row = record.row
    events = _Events(ticket, number)
    if row.provider is not None:
        events.add((-1, 0), 0.0, AttemptStarted, provider=row.provider, model=row.model or "")
    for turn in record.turns:
        events.add((turn.seq, 0), turn.request_ms, RequestSent, call=turn.call)
        if turn.usage_seq is not None and turn.usage_ms is not None:
            usage = {
                "input_tokens": turn.input_tokens,
                "output_tokens": turn.output_tokens,
                "reasoning_tokens": turn.reasoning_tokens,
            }
            events.add((turn.usage_seq, 0), turn.usage_ms, Usage, **usage)
        if turn.ended_seq is not None and turn.ended_ms is not None:
            events.add((turn.ended_seq, 0), turn.ended_ms, CallEnded, stop_reason=turn.stop_reason or "")
    for part in record.parts:
        info = part.info
        match part.kind:
            case PartKind.TEXT:
                _streamed(events, part, TextDelta, "text", 0)
            case PartKind.REASONING:
                _streamed(events, part, ReasoningDelta, "text", 0)
            case PartKind.TOOL_CALL:
                call_id, name = part.call_id or "", part.name or ""
                events.add((part.seq, 0), part.t_ms, ToolCallStarted, call_id=call_id, name=name)
                _streamed(events, part, ToolCallArgsDelta, "fragment", 1, call_id=call_id)
                if not info.get("partial"):
                    arguments, error = parse_tool_arguments(part.text)
                    events.add(
                        (part.seq, 1 << 30),
                        part.end_ms,
                        ToolCallReady,
                        call_id=call_id,
                        name=name,
                        arguments=arguments,
                        raw_arguments=part.text,
                        error=info.get("error", error),
                    )
            case PartKind.TOOL_RESULT:
                events.add(
                    (part.seq, 0),
                    part.t_ms,
                    ToolResult,
                    call_id=part.call_id or "",
                    output=part.text,
                    is_error=part.is_error,
                )
            case PartKind.STATUS if "retry" in info:
                error = ErrorInfo(ErrorKind(info["error"]["kind"]), info["error"]["message"])
                events.add(
                    (part.seq, 0),
                    part.t_ms,
                    Retrying,
                    message=part.text,
                    error=error,
                    retry=info["retry"],
                    max_retries=info["max_retries"],
                    delay_s=info["delay_s"],
                )
            case PartKind.STATUS:
                events.add((part.seq, 0), part.t_ms, Status, message=part.text)
    if row.outcome is not None:
        error = (
            ErrorInfo(ErrorKind(row.error_kind), row.error_message or "", row.error_status)
            if row.error_kind
            else None
        )
        events.add((1 << 62, 0), row.ended_ms or 0.0, AttemptEnded, outcome=Outcome(row.outcome), error=error)
    return events.events()


def conversation(record: AttemptRecord) -> list[Message]:
    """See `Store.conversation`: one assistant message per model call, results after it."""
    call_of = {turn.n: turn.call for turn in record.turns}
    messages: list[Message] = []
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    names: dict[str, str] = {}
    current: int | None = None

    def flush() -> None:
        if text or reasoning or calls:
            messages.append(AssistantMessage("".join(text), "".join(reasoning), tuple(calls)))
        text.clear()
        reasoning.clear()
        calls.clear()

    for part in record.parts:
        call = call_of.get(part.turn) if part.turn is not None else None
        if call != current and part.kind in (PartKind.TEXT, PartKind.REASONING, PartKind.TOOL_CALL):
            flush()
            current = call
        match part.kind:
            case PartKind.PROMPT:
                messages.append(UserMessage(part.text))
            case PartKind.TEXT:
                text.append(part.text)
            case PartKind.REASONING:
                reasoning.append(part.text)
            case PartKind.TOOL_CALL:
                arguments, _ = parse_tool_arguments(part.text)
                call_id = part.call_id or ""
                names[call_id] = part.name or ""
                calls.append(ToolCall(call_id, part.name or "", arguments, part.text))
            case PartKind.TOOL_RESULT:
                flush()
                call_id = part.call_id or ""
                name = part.name or names.get(call_id, "")
                messages.append(ToolResultMessage(call_id, name, part.text, part.is_error))
    flush()
    return messages
