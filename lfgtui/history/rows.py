"""The rows of the history file as Python values: one frozen dataclass per table, the records that
nest them, and the codecs a column needs (lists as JSON, chunk times as varints, `Metrics` as the
attempt's summary columns).

Reading never trusts the file: every value read is made to fit its field (`values.py`).
"""

from __future__ import annotations

import functools
import json
import math
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar, Self

from lfgtui.events import ModelShare
from lfgtui.history.values import read_values
from lfgtui.turns import ProviderTurn

if TYPE_CHECKING:
    from lfgtui.cost.metrics import Metrics
    from lfgtui.worktrees.land import Landed

ID_BYTES = 6
ID_FORM = re.compile(f"[0-9a-f]{{{2 * ID_BYTES}}}")
"""What `new_id` makes: a run id read from elsewhere (a work entry) is checked against it."""


def new_id() -> str:
    """A short random hex id: random, so that a few leading characters already tell ids apart.

    `secrets` (and the OpenSSL bindings it loads) is imported here: only a writer makes ids."""
    import secrets

    return secrets.token_hex(ID_BYTES)


def pack_chunks(values: Sequence[int]) -> bytes:
    """Unsigned LEB128 varints: a chunk's (ms since the previous chunk, characters) costs ~2 bytes."""
    if max(values, default=0) < 0x80:  # most batches: each value is its own byte
        return bytes(values)
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


MAX_COLUMN_INT = 2**63 - 1


def stored_count(value: object) -> int | None:
    """A count as its column stores it: an integer from 0 to SQLite's largest, else NULL. Counts are
    checked where they enter lfg (providers/usage.py); this is the last line, so that no value can
    stop the writer and with it the record of every ticket of the run."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COLUMN_INT:
        return value
    return None


def stored_number(value: float | None) -> float | None:
    """A measure (a cost, a rate) as its column stores it: finite, else NULL."""
    return value if value is not None and math.isfinite(value) else None


# --- rows: one frozen dataclass per table, its fields named (and ordered) as the columns ---------

_LIST_COLUMNS = frozenset(
    {
        "tools",
        "depends_on",
        "auto_approve",
        "env_passthrough",
        "fallback",
        "additional_directories",
        "sandbox_readable",
    }
)


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
    imported_at: float | None = None
    """When `lfg history import` brought the run in from elsewhere; None for a run recorded here."""
    ticket_defaults: str | None = None
    """Its tickets file's `[defaults]` table as written, in JSON (migration 34): what a ticket added
    to it after `lfg resume` takes too; None for a run recorded before."""


@dataclass(frozen=True)
class TicketRow(Row):
    """A ticket as the run resolved it; `prompt` is the template, before `{{ outputs.ID }}`. The
    fields with defaults came with migration 4: `every_field` says the row holds them (see schema)."""

    table: ClassVar[str] = "tickets"
    ticket: str
    title: str
    prompt: str
    system: str | None
    provider: str
    model: str
    tools: tuple[str, ...]
    depends_on: tuple[str, ...]
    max_calls: int | None
    max_tokens: int | None
    temperature: float | None
    workdir: str | None
    auto_approve: tuple[str, ...] = ()
    auto_approve_all: bool = False
    env_passthrough: tuple[str, ...] = ()
    allow_git_writes: bool = False
    max_output_chars: int | None = None
    isolation: str = "none"
    max_cost_usd: float | None = None
    fanned_from: str | None = None
    line: int | None = None
    mode: str | None = None
    every_field: bool = False
    mcp_servers: str = "[]"
    """The ticket's MCP servers as JSON (`mcp.servers_json`), from migration 5."""
    check_command: str | None = None
    """A tournament contestant's `check`, from migration 9."""
    check_timeout_s: float | None = None
    fallback: tuple[str, ...] = ()
    max_wait_s: float | None = None
    """Its failover links ("provider/model") and wait, from migration 10."""
    synthesis_of: str | None = None
    """The tournament whose best two contestants it was started to combine (migration 12)."""
    judges: str | None = None
    """For a tournament's judge: the tournament it ranks, from migration 13."""
    forked_from: str | None = None
    forked_attempt: int | None = None
    """For a fork: the ticket and attempt whose conversation it started from, from migration 14."""
    on_quota: str | None = None
    """What it does when its provider's quota is spent, from migration 16 (None: "wait")."""
    judge_max_chars: int | None = None
    """For a contestant of a judged tournament: the cap on its judge's prompt, from migration 18
    (None: the default, as every judge had before)."""
    effort: str | None = None
    thinking: str | None = None
    show_thinking: bool | None = None
    """Its own reasoning settings, from migration 23 (None: not set)."""
    resume_session: str | None = None
    """The coding agent's own session it continues, from migration 25 (None: a new one)."""
    additional_directories: tuple[str, ...] = ()
    """The folders beside its workdir its coding agent may work in, from migration 26."""
    setup: str | None = None
    """The command run once in a new worktree before its work, from migration 27 (None: none)."""
    sandbox: str = "none"
    sandbox_network: bool = True
    """The sandbox its processes run in and whether its commands have the network, from migration 27."""
    sandbox_home: str = "no-secrets"
    sandbox_readable: tuple[str, ...] = ()
    """What its sandbox hides of the home and still reads there, from migration 28."""
    forked_turn: int | None = None
    """For a fork cut at an earlier turn: the user turn it went on after, from migration 29 (None:
    after the whole conversation)."""
    lead: bool = False
    lead_max_live: int | None = None
    lead_max_added: int | None = None
    """Whether it leads, and its caps on the tickets it adds, from migration 32 (None: the default)."""
    added_by_lead: str | None = None
    """The lead that added it as the run ran, from migration 33 (None: no lead did)."""
    lead_max_per_minute: int | None = None
    lead_budget_usd: float | None = None
    """A lead's rate and budget, from migration 34 (None: the default rate, no budget)."""
    sandbox_memory_mb: int | None = None
    sandbox_processes: int | None = None
    sandbox_cpus: float | None = None
    sandbox_tmp_mb: int | None = None
    """Its box's bounds, from migration 36 (None: the default of the machine it runs on)."""


@dataclass(frozen=True)
class LandingRow(Row):
    """What `lfg land` landed of a ticket's change, where (the `landings` table, migration 8)."""

    table: ClassVar[str] = "landings"
    landed_at: float
    repo: str
    branch: str
    base_branch: str
    strategy: str
    base_before: str
    landed_commit: str
    remote: str | None = None
    pull_request: str | None = None

    @classmethod
    def of(cls, landed: Landed) -> LandingRow:
        """The row of a landing just made."""
        return cls(**{name: getattr(landed, name) for name in cls.columns()})

    def label(self) -> str:
        """`landed 1a2b3c4d5e6f onto main (squash)`, or the pull request (with its branch's commit)."""
        commit = self.landed_commit[:12]
        if self.pull_request:
            return f"pull request {self.pull_request} ({self.branch} at {commit})"
        if self.remote:
            return f"pushed {self.branch} to {self.remote} at {commit}"
        return f"landed {commit} onto {self.base_branch} ({self.strategy})"


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
    tokens_per_s_estimated: bool = False
    waited_s: float | None = None
    """Seconds it waited for the person (None: recorded before lfg measured it)."""

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_ms is None else self.ended_ms / 1000


@dataclass(frozen=True)
class RequestRow(Row):
    """One request sent to a model: the `n`th of its attempt, for model call `call` (a retry is a new
    request of the same call), timed in ms."""

    table: ClassVar[str] = "requests"
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
    tokens_per_char: float | None = None
    models: str | None = None
    """How the counts split by the model that answered (migration 17), as JSON; see `model_shares`."""
    counted_chars: int | None = None
    """The characters the reported count holds, by lfg's account (migration 20); NULL when unknown."""
    counted_per_char: float | None = None
    """What lfg's calibration said a character is worth when the count came (migration 21)."""
    turn_wire: str | None = None
    turn_source: str | None = None
    turn_body: str | None = None
    """The call's output as its provider said it, when it must go back verbatim (migration 22)."""
    output_unseen: bool = False
    """Its output count holds output that never streamed (migration 24)."""

    def turn(self) -> ProviderTurn | None:
        """The call's `ProviderTurn`, when the row keeps a whole one."""
        if self.turn_wire is None or self.turn_source is None or self.turn_body is None:
            return None
        return ProviderTurn(self.turn_wire, self.turn_source, self.turn_body)

    def model_shares(self) -> tuple[ModelShare, ...]:
        """The split `models` holds; none when it holds none, or nothing readable as one."""
        try:
            listed = json.loads(self.models) if self.models else []
            return tuple(
                ModelShare(str(share["model"]), int(share["input_tokens"]), int(share["output_tokens"]))
                for share in listed
            )
        except (ValueError, TypeError, KeyError, RecursionError):
            return ()


@dataclass(frozen=True)
class PartRow(Row):
    """A prompt, a streamed text or reasoning, a tool call or result, a status line or the error;
    `request` is the `n` of the request it came in (None before the first)."""

    table: ClassVar[str] = "parts"
    seq: int
    request: int | None
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
        return self.meta_info(self.meta)

    @staticmethod
    def meta_info(meta: str | None) -> dict[str, Any]:
        """A part's `meta` column as its facts (see `info`)."""
        try:
            info = json.loads(meta) if meta else {}
        except (ValueError, RecursionError):
            return {}
        return info if isinstance(info, dict) else {}


@dataclass(frozen=True)
class CheckRow(Row):
    """A tournament contestant's `check` of one attempt (migration 13): its output whole, as kept; the
    test counts None when the output had no summary; `checked_ms` when it ended, since the attempt
    started."""

    table: ClassVar[str] = "checks"
    command: str
    passed: bool
    output: str
    tests_passed: int | None
    tests_failed: int | None
    tests_errors: int | None
    tests_skipped: int | None
    checked_ms: float


@dataclass(frozen=True)
class SubagentTextRow(Row):
    """A run of a coding agent's sub-agent's own words that one batch wrote (migration 30): `child`
    its session id, as its record's notes name it; `text` the words. From migration 31, when
    they came, as a part's (`seq` of its first `SubagentDelta`, `t_ms`, each delta's `chunks`); a row
    recorded before holds a child's whole text, with no times (`seq` None)."""

    table: ClassVar[str] = "subagent_texts"
    child: str
    text: str
    seq: int | None = None
    t_ms: float | None = None
    chunks: bytes = b""


LEAD_CHARS = 48
"""The most of a child's words before a row that the row's search entry starts with (`search_lead`)."""
_TOKEN_CHAR = re.compile(r"[^\W_]")  # what FTS5 unicode61 makes tokens of (search.py's `_WORDS`)


def search_lead(said: dict[str, str], child: str, text: str) -> str:
    """The search lead of `child`'s next row, `text` (migration 31): the end of its words before it,
    at most `LEAD_CHARS` from a word's start, so a word or phrase a batch's end cut in two is found
    whole in the row after. `said` keeps the end of each child's words so far, by child; it is
    updated."""
    before = said.get(child, "")
    said[child] = (before + text)[-LEAD_CHARS - 1 :]
    lead = before[-LEAD_CHARS:]
    if len(before) > len(lead) and _TOKEN_CHAR.match(before[-len(lead) - 1]):  # it starts mid-word
        cut = next((i for i, ch in enumerate(lead) if not _TOKEN_CHAR.match(ch)), len(lead))
        lead = lead[cut:]
    return lead


def subagent_words(pieces: Sequence[SubagentTextRow]) -> dict[str, str]:
    """Each sub-agent's whole text, by child, in the order each first spoke: its rows joined."""
    texts: dict[str, list[str]] = {}
    for piece in pieces:
        texts.setdefault(piece.child, []).append(piece.text)
    return {child: "".join(said) for child, said in texts.items()}


@dataclass(frozen=True)
class VerdictRow(Row):
    """A tournament's verdict as decided (migration 12); `ranking` is JSON (see `placings`)."""

    table: ClassVar[str] = "verdicts"
    tournament: str
    decided_at: float
    winner: str | None
    judge: str | None
    ranking: str
    judge_error: str | None = None
    """Why its judge failed (the ranking is then the rule's), from migration 13."""

    def placings(self) -> list[tuple[str, int | None, list[str]]]:
        """The ranking, best first: each contestant's ticket id, attempt and reasons; [] when the file
        holds something else."""
        try:
            ranking = json.loads(self.ranking)
        except (ValueError, RecursionError):
            return []
        placed = []
        for place in ranking if isinstance(ranking, list) else []:
            if not isinstance(place, dict) or not isinstance(ticket := place.get("ticket"), str):
                continue
            attempt = place.get("attempt")
            reasons = place.get("reasons")
            reasons = [str(r) for r in reasons] if isinstance(reasons, list) else []
            placed.append((ticket, attempt if type(attempt) is int else None, reasons))
        return placed


@dataclass(frozen=True)
class AttemptRecord:
    row: AttemptRow
    requests: tuple[RequestRow, ...]
    parts: tuple[PartRow, ...]
    check: CheckRow | None = None
    """Its tournament check, when it was a checked contestant."""
    subagents: tuple[SubagentTextRow, ...] = ()
    """Its sub-agents' own words, as their rows hold them (a run of one child's each), in order:
    `subagent_words` joins each child's."""


def read_attempt(conn: sqlite3.Connection, attempt_id: str) -> AttemptRecord:
    """One attempt with its requests and parts."""
    (row,) = conn.execute(
        f"SELECT {AttemptRow.select()} FROM attempts WHERE id = ?", (attempt_id,)
    ).fetchall()
    requests = conn.execute(
        f"SELECT {RequestRow.select()} FROM requests WHERE attempt_id = ? ORDER BY n", (attempt_id,)
    )
    parts = read_parts(conn, "attempt_id = ?", (attempt_id,))
    check = conn.execute(f"SELECT {CheckRow.select()} FROM checks WHERE attempt_id = ?", (attempt_id,))
    checked = check.fetchone()
    return AttemptRecord(
        AttemptRow.from_db(row),
        tuple(RequestRow.from_db(r) for r in requests),
        parts,
        None if checked is None else CheckRow.from_db(checked),
        read_subagent_texts(conn, attempt_id),
    )


def read_subagent_texts(
    conn: sqlite3.Connection, attempt_id: str, since_seq: int | None = None
) -> tuple[SubagentTextRow, ...]:
    """The attempt's sub-agents' rows in the order written; from `since_seq` on (and none without a
    seq) when given, as a follower of a running attempt reads them (remote/tail.py)."""
    where, args = ("", (attempt_id,)) if since_seq is None else (" AND seq >= ?", (attempt_id, since_seq))
    rows = conn.execute(
        f"SELECT {SubagentTextRow.select()} FROM subagent_texts WHERE attempt_id = ?{where} ORDER BY id", args
    )
    return tuple(SubagentTextRow.from_db(row) for row in rows)


def read_parts(conn: sqlite3.Connection, where: str, args: Sequence[Any]) -> tuple[PartRow, ...]:
    """The parts `where` selects, in `seq` order, each whole: a streaming part's row with its tails
    (schema.py's V19) in order, read in the same statement, so a part sealed meanwhile is read once."""
    columns = ", ".join(f"p.{name}" for name in PartRow.columns())
    parts: list[tuple[PartRow, list[str], list[bytes]]] = []
    last_id = None
    for part_id, tail_text, tail_chunks, *row in conn.execute(
        f"SELECT p.id, t.text, t.chunks, {columns} FROM parts p "
        "LEFT JOIN part_tails t ON t.part_id = p.id AND NOT p.sealed "
        f"WHERE {where} ORDER BY p.seq, t.id",
        args,
    ):
        if part_id != last_id:
            part = PartRow.from_db(row)
            parts.append((part, [part.text], [part.chunks]))
            last_id = part_id
        if tail_text is not None:
            parts[-1][1].append(tail_text if isinstance(tail_text, str) else "")
            parts[-1][2].append(tail_chunks if isinstance(tail_chunks, bytes) else b"")
    return tuple(
        part if len(texts) == 1 else replace(part, text="".join(texts), chunks=b"".join(blobs))
        for part, texts, blobs in parts
    )


def take_tails(conn: sqlite3.Connection, part_id: int) -> tuple[str, bytes]:
    """Delete a part's tails (schema.py's V19) and return what they added to it, text and chunks,
    for its row to take when it is sealed."""
    tails = conn.execute("SELECT text, chunks FROM part_tails WHERE part_id = ? ORDER BY id", (part_id,))
    texts: list[str] = []
    blobs: list[bytes] = []
    for text, chunks in tails:
        texts.append(text if isinstance(text, str) else "")
        blobs.append(chunks if isinstance(chunks, bytes) else b"")
    if texts:
        conn.execute("DELETE FROM part_tails WHERE part_id = ?", (part_id,))
    return "".join(texts), b"".join(blobs)


@dataclass(frozen=True)
class ReviewRow(Row):
    """A review comment on the ticket's diff (history/reviews.py): the fields of `Comment`, in its order."""

    table: ClassVar[str] = "review_comments"
    path: str
    line: int
    body: str
    quote: str
    end_line: int | None
    side: str
    key: str
    created_at: float
    sent_at: float | None
    sent_attempt: int | None


@dataclass(frozen=True)
class TicketRecord:
    row: TicketRow
    attempts: tuple[AttemptRecord, ...]
    landings: tuple[LandingRow, ...] = ()
    """What `lfg land` (or `M`) landed of its change, oldest first."""
    reviews: tuple[ReviewRow, ...] = ()
    """Its review comments, drafts and sent (migration 15)."""


@dataclass(frozen=True)
class RunRecord:
    row: RunRow
    tickets: tuple[TicketRecord, ...]
    verdicts: tuple[VerdictRow, ...] = ()
    """Its tournaments' verdicts, oldest first (those of the selected tickets' tournaments)."""


ATTEMPT_METRICS_SET = (
    "ttft_ms = ?, ttft_text_ms = ?, ttft_reasoning_ms = ?, tokens_per_s = ?, output_tokens = ?, "
    "input_tokens = ?, tokens_estimated = ?, cost_usd = ?, cost_estimated = ?, tokens_per_s_estimated = ?"
)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def metrics_columns(metrics: Metrics) -> tuple[Any, ...]:
    """The attempt's summary columns (see `ATTEMPT_METRICS_SET`), straight from `Metrics`."""
    return (
        _ms(metrics.ttft_s),
        _ms(metrics.ttft_text_s),
        _ms(metrics.ttft_reasoning_s),
        stored_number(metrics.tokens_per_s),
        stored_count(metrics.output_tokens),
        stored_count(metrics.input_tokens),
        metrics.tokens_estimated,
        stored_number(metrics.cost_usd),
        metrics.cost_usd is not None and metrics.cost_estimated,
        metrics.tokens_per_s is not None and metrics.rate_estimated,
    )
