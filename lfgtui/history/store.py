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
import math
import os
import re
import secrets
import sqlite3
import stat
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self

import platformdirs

from lfgtui.events import (
    AgentStarted,
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    DiffUpdated,
    ErrorInfo,
    ErrorKind,
    Event,
    Outcome,
    PlanStep,
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
from lfgtui.folders import private_folder
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


DAMAGED_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


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

_LIST_COLUMNS = frozenset({"tools", "depends_on"})

BAD_TEXT = "?"
"""What a text column reads as when the file holds something else there: a row written by hand, by
another program or by an older lfg must never stop a reader."""
BAD_COUNT = -1
"""What a required integer column (every one is a count or a number ≥ 0) reads as when bad."""


@dataclass(frozen=True)
class Column:
    """A column's Python type (`str`, `float`, `int`, `bool`, `bytes` or `tuple`) and if it may be NULL."""

    name: str
    kind: type
    optional: bool


def _column(name: str, hint: Any) -> Column:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = isinstance(hint, types.UnionType)
    kind = args[0] if optional else typing.get_origin(hint) or hint
    return Column(name, kind, optional)


def read_value(value: Any, kind: type, optional: bool = False) -> Any:
    """A value as read from the file, made to fit its column: SQLite stores anything in any column,
    so a wrong type (or a NaN) becomes `BAD_TEXT`, NaN, `BAD_COUNT`, or None where NULL is allowed."""
    if value is None and optional:
        return None
    if kind is str:
        return value if isinstance(value, str) else BAD_TEXT
    if kind is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if number and math.isfinite(value) else math.nan
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return None if optional else BAD_COUNT
    if kind is bool:
        return value == 1
    if kind is bytes:
        return value if isinstance(value, bytes) else b""
    try:
        items = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        items = None
    return tuple(item for item in items if isinstance(item, str)) if isinstance(items, list) else ()


@functools.cache
def typed_columns(cls: type) -> tuple[Column, ...]:
    """The columns of a dataclass whose fields are named and typed as the values read into it."""
    hints = typing.get_type_hints(cls)
    return tuple(_column(f.name, hints[f.name]) for f in fields(cls))


def read_values(cls: type, values: Sequence[Any]) -> list[Any]:
    """The first `len(values)` fields of dataclass `cls`, each value made to fit (see `read_value`)."""
    return [read_value(v, c.kind, c.optional) for c, v in zip(typed_columns(cls), values, strict=False)]


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
        """The row as its fields' types say, whatever the file holds (see `read_value`)."""
        return cls(*read_values(cls, row))

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
    cost_usd: float | None = None
    cost_estimated: bool = False
    worktree: str | None = None
    branch: str | None = None
    diff_added: int | None = None
    diff_removed: int | None = None
    diff_files: int | None = None
    diff: str | None = None

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
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None


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
        """The part's extra facts; {} when it has none, or when what the file holds is unreadable."""
        try:
            info = json.loads(self.meta) if self.meta else {}
        except (ValueError, RecursionError):
            return {}
        return info if isinstance(info, dict) else {}


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
    cost_usd: float | None = None
    """The sum of the priced attempts' costs; None when none was priced."""
    unpriced: int = 0
    """Attempts that made requests but have no cost (no price was known for the model)."""
    cost_estimated: bool = False


@dataclass(frozen=True)
class DayCost:
    """What one day's attempts cost (local time), with the same meaning of the fields as above."""

    day: str
    attempts: int
    cost_usd: float | None
    unpriced: int
    cost_estimated: bool


@dataclass(frozen=True)
class _StatsRow:
    outcome: str | None
    ttft: float | None
    rate: float | None
    tokens: int
    cost: float | None
    estimated: bool


def _costs(rows: Sequence[_StatsRow]) -> tuple[float | None, int, bool]:
    """The summed cost of the priced rows (None: none priced), how many that streamed had no price,
    and whether any of the sum is an estimate."""
    priced = [r for r in rows if r.cost is not None and math.isfinite(r.cost)]
    total = sum(r.cost for r in priced if r.cost is not None) if priced else None
    unpriced = sum(1 for r in rows if r.cost is None and r.tokens)
    return total, unpriced, any(r.estimated for r in priced)


# --- opening ---------------------------------------------------------------------------------------


def _create(path: Path) -> None:
    """Create the folder (0700) and an empty database file (0600) unless they exist."""
    private_folder(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        path.chmod(0o600)


def _tighten(path: Path) -> list[str]:
    """Make the file and its -wal and -shm readable only by us (an older lfg, a copy or a restore
    may have left them 0644: they hold every prompt and answer); what cannot be changed is said."""
    warnings = []
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            status = file.stat()
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(status.st_mode)
        if not mode & 0o077:
            continue
        if status.st_uid != os.getuid():
            warnings.append(
                f"{file} is readable by others (mode {mode:o}) and owned by another user: "
                "lfg leaves it as it is; ask its owner to `chmod 600` it"
            )
            continue
        try:
            file.chmod(0o600)
        except OSError as exc:
            warnings.append(f"{file} is readable by others (mode {mode:o}) and cannot be tightened: {exc}")
    return warnings


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


def unusable(path: Path, exc: sqlite3.Error | OSError, doing: str = "open") -> StoreError:
    """What to tell the user when the file fails: for a damaged file (garbage over its pages, or not
    an SQLite file at all), what to do about it, since only they may decide to give it up."""
    if isinstance(exc, sqlite3.DatabaseError) and exc.sqlite_errorcode & 0xFF in DAMAGED_CODES:
        return StoreError(
            f"the history file {path} is damaged ({exc}). Move it aside, with its -wal and -shm files "
            f"if any (e.g. `mv {path} {path}.damaged`), and lfg starts a new one; lfg never deletes it"
        )
    return StoreError(f"cannot {doing} the history file {path}: {exc}")


def connect(path: Path) -> tuple[sqlite3.Connection, list[str]]:
    """A connection to the history file, created and migrated; autocommit, WAL, foreign keys on.
    Also returns warnings about the file's permissions that could not be fixed."""
    try:
        _create(path)
        warnings = _tighten(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except (sqlite3.Error, OSError) as exc:
        raise unusable(path, exc) from exc
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except (sqlite3.Error, OSError) as exc:
        conn.close()
        raise unusable(path, exc) from exc
    return conn, warnings


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
        private_folder(self.path.parent)
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


MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 64
MAX_QUERY_PREFIXES = 8
_WORDS = re.compile(r"[^\W_]+")  # what FTS5 unicode61 makes tokens of: letters and digits


class QueryTooLarge(sqlite3.OperationalError):
    """A search too big to run: FTS5's time grows with every term, and more than linearly with
    prefix terms (sixty-four `w*` take a minute over a few thousand answers). An `OperationalError`,
    as SQLite's own query errors are, so whatever shows a failed search (the history screen) shows
    this one too."""


def fts_query(text: str) -> str | None:
    """A user's words as a safe FTS5 query: every term quoted, `"exact phrases"` kept, all ANDed.

    FTS5 syntax in the input (NEAR, OR, -, ^, col:, brackets, stray quotes) is searched for as plain
    words, never interpreted; a bare term ending in `*` is a prefix search. A term that repeats
    another (whatever its case or punctuation) is dropped. None when nothing in the text could match
    a token. Raises `QueryTooLarge` beyond `MAX_QUERY_CHARS` characters, `MAX_QUERY_TERMS` terms (a
    phrase is one term) or `MAX_QUERY_PREFIXES` prefix terms.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryTooLarge(
            f"the search is {len(text)} characters long; at most {MAX_QUERY_CHARS} are searched"
        )
    terms: dict[tuple[tuple[str, ...], bool], str] = {}
    text = text.replace("\x00", " ")  # FTS5 reads the query as a C string: NUL would end it

    def add(term: str, prefix: bool = False) -> None:
        words = tuple(_WORDS.findall(term.casefold()))
        if words:
            terms.setdefault((words, prefix), '"' + term.replace('"', '""') + '"' + ("*" if prefix else ""))

    last = 0
    for match in _PHRASE.finditer(text):
        for word in text[last : match.start()].split():
            add(word.rstrip("*"), word.endswith("*"))
        add(match.group(1))
        last = match.end()
    for word in text[last:].split():
        add(word.rstrip("*"), word.endswith("*"))
    prefixes = sum(prefix for _, prefix in terms)
    if len(terms) > MAX_QUERY_TERMS or prefixes > MAX_QUERY_PREFIXES:
        raise QueryTooLarge(
            f"the search has {len(terms)} terms, {prefixes} of them prefixes (word*); "
            f"at most {MAX_QUERY_TERMS} terms and {MAX_QUERY_PREFIXES} prefixes are searched"
        )
    return " ".join(terms.values()) or None


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
    warnings: list[str] = field(default_factory=list)
    """Permissions of the file that could not be tightened; the command shows them."""

    @classmethod
    def open(cls, path: Path) -> Store:
        conn, warnings = connect(path)
        store = cls(path, conn, warnings=warnings)
        try:
            store.recovered = store.recover()
        except sqlite3.Error as exc:
            conn.close()
            raise unusable(path, exc, "recover") from exc
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
            raise unusable(path, exc, "read") from exc
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
        owner = self.conn.execute(
            "SELECT t.run_id, t.ticket FROM attempts a JOIN tickets t ON t.id = a.ticket_id WHERE a.id = ?",
            attempts,
        ).fetchone()
        if owner is None:
            raise StoreError(f"attempt {attempts[0]} belongs to no ticket in this history file")
        return Selection(owner[0], ticket=owner[1], attempt_id=attempts[0])

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

    # --- deleting ---

    def check_not_running(self, run_id: str) -> None:
        """Raise `StoreError` while the run's lfg holds its lock (see `RunLock`)."""
        if RunLock.alive(self.path, run_id):
            raise StoreError(f"run {run_id} is still running in another lfg; stop it first")

    def delete_run(self, run_id: str) -> None:
        """Remove a run and every row under it, and so its search index entries, in one transaction.
        Refuses a run still running in another lfg: it would go on writing into rows that are gone."""
        attempts = "SELECT a.id FROM attempts a JOIN tickets t ON t.id = a.ticket_id WHERE t.run_id = ?"
        with transaction(self.conn):
            self.check_not_running(run_id)
            self.conn.execute(f"DELETE FROM parts WHERE attempt_id IN ({attempts})", (run_id,))
            self.conn.execute(f"DELETE FROM turns WHERE attempt_id IN ({attempts})", (run_id,))
            self.conn.execute(f"DELETE FROM attempts WHERE id IN ({attempts})", (run_id,))
            self.conn.execute("DELETE FROM tickets WHERE run_id = ?", (run_id,))
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

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
                "SELECT total(CASE WHEN typeof(a.output_tokens) = 'integer' THEN a.output_tokens END) "
                "FROM attempts a "
                "JOIN tickets t ON t.id = a.ticket_id WHERE t.run_id = ?",
                (run_id,),
            ).fetchone()
            summaries.append(
                RunSummary(
                    read_value(run_id, str),
                    read_value(started_at, float),
                    read_value(ended_at, float, optional=True),
                    read_value(tickets_file, str, optional=True),
                    tickets,
                    tuple(outcomes.items()),
                    int(tokens),
                )
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
            snippet, spans = _highlights(" ".join(read_value(marked, str).split()))
            hits.append(SearchHit(*read_values(SearchHit, head), snippet=snippet, highlights=spans))
        return hits

    def stats(self, filters: Filters | None = None) -> list[ModelStats]:
        """TTFT p50/p95, tok/s p50 and cost per provider and model, over attempts that streamed."""
        where, params = (filters or Filters()).where()
        groups: dict[tuple[str, str], list[_StatsRow]] = {}
        for provider, model, outcome, ttft, rate, tokens, cost, estimated in self.conn.execute(
            "SELECT a.provider, coalesce(a.model, t.model, ''), a.outcome, a.ttft_ms, a.tokens_per_s, "
            "a.output_tokens, a.cost_usd, a.cost_estimated "
            f"FROM attempts a JOIN tickets t ON t.id = a.ticket_id WHERE a.provider IS NOT NULL {where}",
            params,
        ):
            groups.setdefault((read_value(provider, str), read_value(model, str)), []).append(
                _StatsRow(
                    outcome,
                    read_value(ttft, float, optional=True),
                    read_value(rate, float, optional=True),
                    read_value(tokens, int, optional=True) or 0,
                    read_value(cost, float, optional=True),
                    bool(estimated),
                )
            )
        stats = []
        for (provider, model), rows in sorted(groups.items()):
            ttfts = [r.ttft for r in rows if r.ttft is not None and math.isfinite(r.ttft)]
            rates = [r.rate for r in rows if r.rate is not None and math.isfinite(r.rate)]
            cost, unpriced, estimated = _costs(rows)
            stats.append(
                ModelStats(
                    provider=provider,
                    model=model,
                    attempts=len(rows),
                    completed=sum(1 for r in rows if r.outcome == Outcome.COMPLETED),
                    ttft_p50_ms=percentile(ttfts, 50),
                    ttft_p95_ms=percentile(ttfts, 95),
                    tokens_per_s_p50=percentile(rates, 50),
                    output_tokens=sum(r.tokens for r in rows),
                    cost_usd=cost,
                    unpriced=unpriced,
                    cost_estimated=estimated,
                )
            )
        return stats

    def daily_costs(self, filters: Filters | None = None) -> list[DayCost]:
        """What the attempts of each day cost, newest day first (days in local time)."""
        where, params = (filters or Filters()).where()
        days: dict[str, list[_StatsRow]] = {}
        for day, tokens, cost, estimated in self.conn.execute(
            "SELECT date(a.started_at, 'unixepoch', 'localtime'), a.output_tokens, a.cost_usd, "
            "a.cost_estimated FROM attempts a JOIN tickets t ON t.id = a.ticket_id "
            f"WHERE a.provider IS NOT NULL {where}",
            params,
        ):
            tokens_out, spent = (
                read_value(tokens, int, optional=True) or 0,
                read_value(cost, float, optional=True),
            )
            days.setdefault(read_value(day, str), []).append(
                _StatsRow(None, None, None, tokens_out, spent, bool(estimated))
            )
        return [DayCost(day, len(rows), *_costs(rows)) for day, rows in sorted(days.items(), reverse=True)]

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
    "input_tokens = ?, tokens_estimated = ?, cost_usd = ?, cost_estimated = ?"
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
        metrics.cost_usd,
        metrics.cost_usd is not None and metrics.cost_estimated,
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


def _error_kind(value: Any) -> ErrorKind:
    """The recorded kind of error; one this lfg does not know (a newer lfg's, an edited row) is
    `internal` rather than a crash."""
    try:
        return ErrorKind(value)
    except ValueError:
        return ErrorKind.INTERNAL


def _retrying(info: dict[str, Any]) -> dict[str, Any] | None:
    """A retry status's facts as `Retrying` fields, or None when the part is not one (or is damaged)."""
    error, retry, limit, delay = (info.get(k) for k in ("error", "retry", "max_retries", "delay_s"))
    if not (isinstance(error, dict) and isinstance(error.get("message"), str)):
        return None
    if not (isinstance(retry, int) and isinstance(limit, int) and isinstance(delay, int | float)):
        return None
    kind = _error_kind(error.get("kind"))
    return {
        "error": ErrorInfo(kind, error["message"]),
        "retry": retry,
        "max_retries": limit,
        "delay_s": delay,
    }


def _typed_note(info: dict[str, Any]) -> tuple[type[Event], dict[str, Any]] | None:
    """A status that carries facts (a coding agent's start, session or plan; a ticket's worktree) as
    its event type and fields, or None when the part is not one (or is damaged): then it comes back
    as a plain status."""
    log, session, plan = info.get("agent_log"), info.get("acp_session"), info.get("plan")
    worktree = [info.get(key) for key in ("worktree", "branch", "base")]
    if all(isinstance(value, str) for value in worktree):
        return WorktreeReady, dict(zip(("path", "branch", "base"), worktree, strict=True))
    if isinstance(log, str):
        return AgentStarted, {"log": log}
    if isinstance(session, str):
        return SessionOpened, {"session_id": session, "loaded": info.get("loaded") is True}
    well_formed = isinstance(plan, list) and all(
        isinstance(step, list) and len(step) == 3 and all(isinstance(field, str) for field in step)
        for step in plan
    )
    return (PlanUpdated, {"steps": tuple(PlanStep(*step) for step in plan)}) if well_formed else None


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
                "cache_read_tokens": turn.cache_read_tokens,
                "cache_write_tokens": turn.cache_write_tokens,
            }
            events.add((turn.usage_seq, 0), turn.usage_ms, Usage, **usage)
        if turn.ended_seq is not None and turn.ended_ms is not None:
            events.add((turn.ended_seq, 0), turn.ended_ms, CallEnded, stop_reason=turn.stop_reason or "")
    for part in record.parts:
        info = part.info
        match part.kind:
            case PartKind.PROMPT:
                continues = info.get("continues")
                continues = (
                    continues if isinstance(continues, int) and not isinstance(continues, bool) else None
                )
                events.add((part.seq, 0), part.t_ms, PromptSent, text=part.text, continues=continues)
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
            case PartKind.STATUS if (retrying := _retrying(info)) is not None:
                events.add((part.seq, 0), part.t_ms, Retrying, message=part.text, **retrying)
            case PartKind.STATUS if (typed := _typed_note(info)) is not None:
                kind, facts = typed
                events.add((part.seq, 0), part.t_ms, kind, message=part.text, **facts)
            case PartKind.STATUS:
                events.add((part.seq, 0), part.t_ms, Status, message=part.text)
    if row.diff_files is not None:
        diff = {"added": row.diff_added or 0, "removed": row.diff_removed or 0, "files": row.diff_files}
        events.add((1 << 62, -1), row.ended_ms or 0.0, DiffUpdated, text=row.diff, **diff)
    if row.outcome is not None:
        error = (
            ErrorInfo(_error_kind(row.error_kind), row.error_message or "", row.error_status)
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
