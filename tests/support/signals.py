"""What a signalled `lfg run` left in its history: its tickets, the saved outcomes, waiting for
its text to be recorded."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from lfgtui.history.rows import read_parts
from tests.support.patience import PATIENCE

TICKETS = (
    '[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "long-answer:repeat=50"\n\n'
    '[[ticket]]\nid = "b"\nprompt = "x"\nmodel = "long-answer:repeat=50,tokens_per_s=80"\n\n'
    '[[ticket]]\nid = "c"\nprompt = "x"\nmodel = "hello"\ndepends_on = ["a"]\n'
)


TEXT_PARTS = "attempt_id = ? AND kind = 'text'"


def saved(db: Path) -> tuple[dict[str, tuple[str | None, str]], float | None]:
    """Each ticket's (outcome, text) from the history file, and when its run ended."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        attempts = conn.execute(
            "SELECT a.id, t.ticket, a.outcome FROM attempts a JOIN tickets t ON t.id = a.ticket_id"
        ).fetchall()
        texts = {  # a streaming part's text is its row's and its tails' (history/schema.py's V19)
            ticket: "".join(
                p.text for p in read_parts(conn, "attempt_id = ? AND kind = 'text'", (attempt_id,))
            )
            for attempt_id, ticket, _ in attempts
        }
        (ended,) = conn.execute("SELECT ended_at FROM runs").fetchone()
    return {ticket: (outcome, texts[ticket]) for _, ticket, outcome in attempts}, ended


def wait_for_text(db: Path, more_than: int = 0, deadline_s: float = 30) -> None:
    """Poll the history file as another process would, until tickets a and b together have streamed
    more than `more_than` characters, each of them some."""
    deadline = time.monotonic() + deadline_s * PATIENCE
    while time.monotonic() < deadline:
        if db.exists():
            try:
                found, _ = saved(db)
            except (sqlite3.OperationalError, TypeError):
                found = {}
            texts = [found.get(ticket, (None, ""))[1] for ticket in "ab"]
            if all(texts) and sum(map(len, texts)) > more_than:
                return
        time.sleep(0.05)
    raise AssertionError("the run never streamed into the history file")
