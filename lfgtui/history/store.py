"""Every reader of the history file (ids, runs, search, stats, a run's rows, an attempt's events
and conversation), and deleting a run. `Store.open` also recovers crashed runs (see recovery.py).

Readers use their own connection; WAL lets them read while a run's writer streams.

`lfg history list` opens a store to read a few summaries: the rows' dataclasses (`rows.py`), the
events and messages rebuilt from them (`rebuild.py`) and the figures of `stats.py` are imported by
the methods that return them.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.history.database import BUSY_TIMEOUT_S, StoreError, UnknownId, connect, transaction, unusable
from lfgtui.history.lock import RunLock
from lfgtui.history.recovery import recover
from lfgtui.history.schema import MIGRATIONS
from lfgtui.history.search import (
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    SUBAGENT_HITS,
    Filters,
    SearchHit,
    fts_query,
    split_marks,
)
from lfgtui.history.values import read_value, read_values
from lfgtui.outcome import Outcome

if TYPE_CHECKING:
    from lfgtui.events import Event
    from lfgtui.history.rows import AttemptRecord, RunRecord
    from lfgtui.history.stats import ContestantStats, DayCost, ModelStats, QuotaStats
    from lfgtui.providers.base import Message
    from lfgtui.worktrees.land import Landed


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
            store.recovered = recover(store.conn, store.path)
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
                raise UnknownId(f"run {run_id} has no ticket {ticket!r}")
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
    def _not_one(ref: str, candidates: list[str]) -> UnknownId:
        if not candidates:
            return UnknownId(f"no run or attempt with id {ref!r} (see `lfg history list`)")
        more = " and more" if len(candidates) > 5 else ""
        return UnknownId(f"{ref!r} is ambiguous: it could be {', '.join(candidates[:5])}{more}")

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
            self.conn.execute(f"DELETE FROM requests WHERE attempt_id IN ({attempts})", (run_id,))
            self.conn.execute(f"DELETE FROM attempts WHERE id IN ({attempts})", (run_id,))
            self.conn.execute("DELETE FROM tickets WHERE run_id = ?", (run_id,))
            self.conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    # --- landings ---

    _LANDING_COLUMNS = (
        "repo",
        "branch",
        "base_branch",
        "strategy",
        "base_before",
        "landed_commit",
        "remote",
        "pull_request",
        "landed_at",
    )

    def record_landing(self, run_id: str, ticket: str, landed: Landed) -> None:
        """Record that `lfg land` landed the ticket's change (see migration 8)."""
        names = ", ".join(self._LANDING_COLUMNS)
        values = tuple(getattr(landed, name) for name in self._LANDING_COLUMNS)
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT id FROM tickets WHERE run_id = ? AND ticket = ?", (run_id, ticket)
            ).fetchone()
            if row is None:
                raise UnknownId(f"run {run_id} has no ticket {ticket!r}")
            self.conn.execute(
                f"INSERT INTO landings (ticket_id, {names}) VALUES (?{', ?' * len(values)})",
                (row[0], *values),
            )

    def landings(self, run_id: str, ticket: str) -> list[Landed]:
        """What was landed of the ticket's change, oldest first."""
        from lfgtui.worktrees.land import Landed

        rows = self.conn.execute(
            f"SELECT {', '.join('l.' + name for name in self._LANDING_COLUMNS)} FROM landings l "
            "JOIN tickets t ON t.id = l.ticket_id WHERE t.run_id = ? AND t.ticket = ? ORDER BY l.id",
            (run_id, ticket),
        )
        return [Landed(**dict(zip(self._LANDING_COLUMNS, row, strict=True))) for row in rows]

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
        """Parts, sub-agents' words and sent review comments matching every word of `query`, best
        first (bm25: prompts, answers and comments weigh most)."""
        from lfgtui.history.reviews import REVIEW_HITS

        match = fts_query(query)
        if match is None:
            return []
        where, params = (filters or Filters()).where()
        rows = self.conn.execute(
            "SELECT p.attempt_id, t.run_id, t.ticket, a.number, p.kind, p.name, a.provider, a.model, "
            "a.outcome, a.started_at, "
            f"snippet(parts_fts, -1, '{SNIPPET_OPEN}', '{SNIPPET_CLOSE}', '…', 16), rank "
            "FROM parts_fts JOIN parts p ON p.id = parts_fts.rowid JOIN attempts a ON a.id = p.attempt_id "
            f"JOIN tickets t ON t.id = a.ticket_id WHERE parts_fts MATCH ? {where} ORDER BY rank LIMIT ?",
            (match, *params, limit),
        ).fetchall()
        marks = {"open": SNIPPET_OPEN, "close": SNIPPET_CLOSE, "where": where}
        rows += self.conn.execute(REVIEW_HITS.format(**marks), (match, *params, limit)).fetchall()
        rows += self.conn.execute(SUBAGENT_HITS.format(**marks), (match, match, *params, limit)).fetchall()
        hits = []
        for *head, marked, _ in sorted(rows, key=lambda row: row[-1])[:limit]:
            snippet, spans = split_marks(" ".join(read_value(marked, str).split()))
            hits.append(SearchHit(*read_values(SearchHit, head), snippet=snippet, highlights=spans))
        return hits

    def stats(self, filters: Filters | None = None) -> list[ModelStats]:
        """TTFT p50/p95, tok/s p50 and cost per provider and model, over attempts that streamed."""
        from lfgtui.history.stats import ModelStats, StatsRow, ended_early, percentile, summed_costs

        where, params = (filters or Filters()).where()
        groups: dict[tuple[str, str], list[StatsRow]] = {}
        for provider, model, outcome, ttft, rate, tokens, cost, estimated, waited, kind in self.conn.execute(
            "SELECT a.provider, coalesce(a.model, t.model, ''), a.outcome, a.ttft_ms, a.tokens_per_s, "
            "a.output_tokens, a.cost_usd, a.cost_estimated, a.waited_s, a.error_kind "
            f"FROM attempts a JOIN tickets t ON t.id = a.ticket_id WHERE a.provider IS NOT NULL {where}",
            params,
        ):
            groups.setdefault((read_value(provider, str), read_value(model, str)), []).append(
                StatsRow(
                    outcome,
                    read_value(ttft, float, optional=True),
                    read_value(rate, float, optional=True),
                    read_value(tokens, int, optional=True) or 0,
                    read_value(cost, float, optional=True),
                    bool(estimated),
                    read_value(waited, float, optional=True),
                    read_value(kind, str, optional=True),
                )
            )
        stats = []
        for (provider, model), rows in sorted(groups.items()):
            ttfts = [r.ttft for r in rows if r.ttft is not None and math.isfinite(r.ttft)]
            rates = [r.rate for r in rows if r.rate is not None and math.isfinite(r.rate)]
            cost, unpriced, estimated = summed_costs(rows)
            waits = [r.waited for r in rows if r.waited is not None and math.isfinite(r.waited)]
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
                    waited_s=sum(waits) if waits else None,
                    ended_early=ended_early([r.error_kind for r in rows]),
                )
            )
        return stats

    def contestant_stats(self, filters: Filters | None = None) -> list[ContestantStats]:
        """The leaderboard over past tournaments (each one's latest verdict), per provider and model
        of its contestants' attempts; `filters` narrow the contestants."""
        from lfgtui.history.rows import VerdictRow
        from lfgtui.history.stats import StatsRow, contestant_stats

        where, params = (filters or Filters()).where()
        entries = []
        for run_id, *row in self.conn.execute(
            f"SELECT v.run_id, {', '.join('v.' + c for c in VerdictRow.columns())} FROM verdicts v "
            "WHERE v.id = (SELECT max(w.id) FROM verdicts w WHERE w.run_id = v.run_id "
            "AND w.tournament = v.tournament) ORDER BY v.id"
        ):
            verdict = VerdictRow.from_db(row)
            for ticket, number, _ in verdict.placings():
                found = self.conn.execute(
                    "SELECT a.provider, coalesce(a.model, t.model, ''), a.outcome, a.output_tokens, "
                    "a.cost_usd, a.cost_estimated, coalesce(c.passed, 0) FROM attempts a "
                    "JOIN tickets t ON t.id = a.ticket_id LEFT JOIN checks c ON c.attempt_id = a.id "
                    f"WHERE t.run_id = ? AND t.ticket = ? AND a.number = ? {where}",
                    (run_id, ticket, number, *params),
                ).fetchone()
                if found is None or found[0] is None:
                    continue
                provider, model, outcome, tokens, cost, estimated, passed = found
                figures = StatsRow(
                    outcome,
                    None,
                    None,
                    read_value(tokens, int, optional=True) or 0,
                    read_value(cost, float, optional=True),
                    bool(estimated),
                )
                won = ticket == verdict.winner
                entries.append(
                    (read_value(provider, str), read_value(model, str), won, bool(passed), figures)
                )
        return contestant_stats(entries)

    def daily_costs(self, filters: Filters | None = None) -> list[DayCost]:
        """What the attempts of each day cost, newest day first (days in local time)."""
        from lfgtui.history.stats import DayCost, StatsRow, summed_costs

        where, params = (filters or Filters()).where()
        days: dict[str, list[StatsRow]] = {}
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
                StatsRow(None, None, None, tokens_out, spent, bool(estimated))
            )
        return [
            DayCost(day, len(rows), *summed_costs(rows)) for day, rows in sorted(days.items(), reverse=True)
        ]

    def quota_stats(self, filters: Filters | None = None) -> list[QuotaStats]:
        """Per provider, its quota as last seen, the waits for its reset and the 429s met, and a coding
        agent's context as last reported and its cost by its count, read from the attempts' notes (a
        `QuotaSeen`'s, a `Queued`'s reason, a `Retrying`'s error, a `ContextUsed`'s) and ends."""
        from lfgtui.history.rows import PartRow
        from lfgtui.history.stats import QuotaCounts

        where, params = (filters or Filters()).where()
        counts = QuotaCounts()
        for provider, attempt, started_at, t_ms, meta in self.conn.execute(
            "SELECT a.provider, a.id, a.started_at, p.t_ms, p.meta FROM parts p "
            "JOIN attempts a ON a.id = p.attempt_id JOIN tickets t ON t.id = a.ticket_id "
            "WHERE p.kind = 'status' AND p.meta IS NOT NULL "
            f"AND a.provider IS NOT NULL {where}",
            params,
        ):
            at = read_value(started_at, float) + read_value(t_ms, float) / 1000
            counts.note(read_value(provider, str), read_value(attempt, str), at, PartRow.meta_info(meta))
        for provider, failed in self.conn.execute(
            "SELECT a.provider, count(*) FROM attempts a JOIN tickets t ON t.id = a.ticket_id "
            f"WHERE a.provider IS NOT NULL AND a.error_status = 429 {where} GROUP BY a.provider",
            params,
        ):
            counts.refused[read_value(provider, str)] += failed
        return counts.stats()

    def load(self, selection: Selection) -> RunRecord:
        """A run, or the part of it a selection names, with every row under it."""
        from lfgtui.history.reviews import ticket_rows
        from lfgtui.history.rows import LandingRow, RunRecord, RunRow, TicketRecord, TicketRow, VerdictRow

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
            attempts = tuple(self.load_attempt(a) for a in attempt_ids)
            landings = tuple(
                LandingRow.from_db(landing)
                for landing in self.conn.execute(
                    f"SELECT {LandingRow.select()} FROM landings WHERE ticket_id = ? ORDER BY id",
                    (ticket_key,),
                )
            )
            reviews = tuple(ticket_rows(self.conn, ticket_key)) if selection.attempt_id is None else ()
            tickets.append(TicketRecord(TicketRow.from_db(row), attempts, landings=landings, reviews=reviews))
        verdicts = (
            VerdictRow.from_db(row)
            for row in self.conn.execute(
                f"SELECT {VerdictRow.select()} FROM verdicts WHERE run_id = ? ORDER BY id",
                (selection.run_id,),
            )
        )
        shown = {ticket.row.ticket for ticket in tickets}
        kept = tuple(v for v in verdicts if any(placed[0] in shown for placed in v.placings()))
        return RunRecord(RunRow.from_db(run), tuple(tickets), kept)

    def load_attempt(self, attempt_id: str) -> AttemptRecord:
        """One attempt with its requests and parts."""
        from lfgtui.history.rows import read_attempt

        return read_attempt(self.conn, attempt_id)

    def attempt_events(self, attempt_id: str) -> list[Event]:
        """The events of an attempt in order, `t` in seconds since it started (for replay and panes)."""
        from lfgtui.history.rebuild import attempt_events

        ticket, number = self.conn.execute(
            "SELECT t.ticket, a.number FROM attempts a JOIN tickets t ON t.id = a.ticket_id WHERE a.id = ?",
            (attempt_id,),
        ).fetchone()
        return attempt_events(self.load_attempt(attempt_id), ticket, number)

    def conversation(self, attempt_id: str) -> list[Message]:
        """The attempt as provider messages (prompt, answers, tool calls, results) to continue it."""
        from lfgtui.history.rebuild import conversation

        return conversation(self.load_attempt(attempt_id))
