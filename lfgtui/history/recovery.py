"""Recovering crashed runs: attempts left open by a run that is no longer alive become `interrupted`.

Their streaming parts are sealed (and so indexed), and each tool call that never got a result gets a
synthetic error result, so the conversation stays valid for every provider API. Nothing is ever sent
to a provider again. A run is alive while it holds its `RunLock`.

Every reader opens the history through `recover`, and almost always there is nothing to recover: what
an interrupted attempt needs (its rows, its events rebuilt, its metrics) is imported only when there is
one.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from lfgtui.history.database import transaction
from lfgtui.history.lock import RunLock
from lfgtui.history.schema import PartKind
from lfgtui.outcome import Outcome

INTERRUPTED_RESULT = "error: interrupted: lfg stopped before this tool call returned a result"
INTERRUPTED_STATUS = "interrupted: lfg stopped while this attempt was running"


def recover(conn: sqlite3.Connection, path: Path) -> list[str]:
    """Mark attempts of dead runs `interrupted` in the history file at `path`; returns their ids."""
    open_runs = [r for (r,) in conn.execute("SELECT id FROM runs WHERE ended_at IS NULL")]
    live = {run_id for run_id in open_runs if RunLock.alive(path, run_id)}
    stale = [
        (attempt_id, run_id)
        for attempt_id, run_id in conn.execute(
            "SELECT a.id, t.run_id FROM attempts a JOIN tickets t ON t.id = a.ticket_id "
            "WHERE a.outcome IS NULL"
        )
        if run_id not in live
    ]
    dead = [run_id for run_id in open_runs if run_id not in live]
    if not stale and not dead:
        return []
    with transaction(conn):
        for attempt_id, _ in stale:
            _interrupt(conn, attempt_id)
        for run_id in dead:
            conn.execute(
                "UPDATE runs SET ended_at = coalesce((SELECT max(a.ended_at) FROM attempts a "
                "JOIN tickets t ON t.id = a.ticket_id WHERE t.run_id = runs.id), started_at) "
                "WHERE id = ? AND ended_at IS NULL",
                (run_id,),
            )
    for run_id in dead:
        with contextlib.suppress(FileNotFoundError):
            RunLock.path_for(path, run_id).unlink()
    return [attempt_id for attempt_id, _ in stale]


def _interrupt(conn: sqlite3.Connection, attempt_id: str) -> None:
    from lfgtui.cost.metrics import Metrics
    from lfgtui.history.rebuild import attempt_events
    from lfgtui.history.rows import ATTEMPT_METRICS_SET, PartRow, metrics_columns, read_attempt, take_tails

    record = read_attempt(conn, attempt_id)
    if record.row.outcome is not None:
        return
    events = attempt_events(record, "", 0)
    last_ms = max((e.t * 1000 for e in events), default=0.0)
    request_seqs = (s for r in record.requests for s in (r.seq, r.usage_seq, r.ended_seq) if s is not None)
    said_seqs = (s.seq for s in record.subagents if s.seq is not None)
    next_seq = max((*(p.seq for p in record.parts), *request_seqs, *said_seqs), default=0) + 1  # after all
    growing = conn.execute("SELECT id FROM parts WHERE attempt_id = ? AND NOT sealed", (attempt_id,))
    for (part_id,) in growing.fetchall():  # a streaming part takes its tails (schema.py's V19)
        text, chunks = take_tails(conn, part_id)
        conn.execute(
            "UPDATE parts SET text = text || ?, chunks = CAST(chunks || ? AS BLOB), sealed = 1 WHERE id = ?",
            (text, chunks, part_id),
        )
    answered = {p.call_id for p in record.parts if p.kind == PartKind.TOOL_RESULT}
    dangling = [p for p in record.parts if p.kind == PartKind.TOOL_CALL and p.call_id not in answered]
    added = [
        PartRow(
            seq=next_seq + i,
            request=call.request,
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
            request=None,
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
    conn.executemany(PartRow.insert_sql("attempt_id"), [(attempt_id, *p.to_db()) for p in added])
    metrics = Metrics()
    for event in events:
        metrics.apply(event)
    conn.execute(
        "UPDATE attempts SET outcome = ?, ended_ms = ?, ended_at = started_at + ? / 1000.0, "
        + ATTEMPT_METRICS_SET
        + " WHERE id = ?",
        (Outcome.INTERRUPTED.value, last_ms, last_ms, *metrics_columns(metrics), attempt_id),
    )
