"""Review comments in the history file (migration 15): drafts kept until they are sent, and the sent
ones, searchable and exported with their ticket.

Every function takes the connection of a `Store` and writes in one transaction of its own, so a
draft is on disk once the call returns: closing the review screen, quitting lfg or `lfg resume`
loses none.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict

from lfgtui.history.database import UnknownId, transaction
from lfgtui.history.rows import ReviewRow
from lfgtui.worktrees.review import NEW, OLD, Comment


def row_of(comment: Comment) -> ReviewRow:
    return ReviewRow(**asdict(comment))


def comment_of(row: ReviewRow) -> Comment:
    """The comment a row holds (a side the file garbled reads as the new file's)."""
    return Comment(**(asdict(row) | {"side": row.side if row.side in (NEW, OLD) else NEW}))


def _ticket_key(conn: sqlite3.Connection, run_id: str, ticket: str) -> int:
    row = conn.execute("SELECT id FROM tickets WHERE run_id = ? AND ticket = ?", (run_id, ticket)).fetchone()
    if row is None:
        raise UnknownId(f"run {run_id} has no ticket {ticket!r}")
    return int(row[0])


def save_draft(conn: sqlite3.Connection, run_id: str, ticket: str, comment: Comment) -> None:
    """Store a new draft, or a draft's new text (by its key); a sent comment is never changed."""
    row = row_of(comment)
    with transaction(conn):
        key = _ticket_key(conn, run_id, ticket)
        conn.execute(
            f"{ReviewRow.insert_sql('ticket_id')} ON CONFLICT (key) DO UPDATE SET body = excluded.body "
            "WHERE review_comments.sent_at IS NULL",
            (key, *row.to_db()),
        )


def remove_draft(conn: sqlite3.Connection, key: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM review_comments WHERE key = ? AND sent_at IS NULL", (key,))


def mark_sent(conn: sqlite3.Connection, keys: Iterable[str], sent_at: float, attempt: int | None) -> None:
    """The drafts `keys` went to the agent as one follow-up, answered by attempt `attempt`."""
    with transaction(conn):
        conn.executemany(
            "UPDATE review_comments SET sent_at = ?, sent_attempt = ? WHERE key = ? AND sent_at IS NULL",
            [(sent_at, attempt, key) for key in keys],
        )


def ticket_comments(conn: sqlite3.Connection, run_id: str, ticket: str) -> list[Comment]:
    """The ticket's comments, drafts and sent, in the order they were written."""
    return [comment_of(row) for row in ticket_rows(conn, _ticket_key(conn, run_id, ticket))]


def ticket_rows(conn: sqlite3.Connection, ticket_key: int) -> list[ReviewRow]:
    return [
        ReviewRow.from_db(row)
        for row in conn.execute(
            f"SELECT {ReviewRow.select()} FROM review_comments WHERE ticket_id = ? ORDER BY id", (ticket_key,)
        )
    ]


def insert_rows(conn: sqlite3.Connection, ticket_key: int, rows: Sequence[ReviewRow]) -> None:
    """An imported ticket's comments (inside the caller's transaction)."""
    conn.executemany(ReviewRow.insert_sql("ticket_id"), [(ticket_key, *row.to_db()) for row in rows])


REVIEW_HITS = (
    "SELECT a.id, t.run_id, t.ticket, a.number, 'review', r.path, a.provider, a.model, a.outcome, "
    "a.started_at, snippet(review_fts, 0, '{open}', '{close}', '…', 16), review_fts.rank "
    "FROM review_fts JOIN review_comments r ON r.id = review_fts.rowid "
    "JOIN tickets t ON t.id = r.ticket_id "
    "JOIN attempts a ON a.ticket_id = t.id AND a.number = r.sent_attempt "
    "WHERE review_fts MATCH ? {where} ORDER BY review_fts.rank LIMIT ?"
)
"""Sent comments matching a search, as rows of a `SearchHit` (kind `review`, name the path) and their
rank: found under the attempt that answered them (its `?`: the match, the filters', the limit)."""
