"""No value of one ticket stops the history of the run: counts no column can take are stored as NULL,
and a batch that still fails leaves every attempt with its outcome, never `interrupted`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    Event,
    EventFactory,
    Outcome,
    RequestSent,
    TextDelta,
    Usage,
)
from lfgtui.history.recorder import Started
from lfgtui.history.writer import open_run_history
from tests.support.recording import WALL, record, ticket, ticket_file


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def attempt(ticket_id: str, *middle: tuple[type[Event], dict[str, object]]) -> list[Event]:
    """An attempt of `ticket_id` that sends a request, gets `middle`, and completes."""
    ev = EventFactory(ticket_id, 1)
    events: list[Event] = [ev(AttemptStarted, provider="sim", model="hello"), ev(RequestSent, call=0)]
    events += [ev(kind, **fields) for kind, fields in middle]
    return [*events, ev(AttemptEnded, outcome=Outcome.COMPLETED)]


def test_counts_no_column_can_take_are_stored_as_null(tmp_path: Path) -> None:
    """Providers' counts are checked where they arrive; this is the writer's own last line."""
    db = tmp_path / "h.sqlite3"
    events = attempt(
        "explore",
        (TextDelta, {"text": "Hello."}),
        (Usage, {"input_tokens": 10, "output_tokens": 2**70, "cache_read_tokens": -5}),
    )
    started = events[0]
    assert isinstance(started, AttemptStarted)
    recorder = record(db, tmp_path, [Started(started, WALL), *events[1:]])
    recorder.finish()
    assert rows(db, "SELECT input_tokens, output_tokens, cache_read_tokens FROM requests") == [
        (10, None, None)
    ]
    assert rows(db, "SELECT outcome, input_tokens, output_tokens FROM attempts") == [("completed", 10, None)]


async def test_a_batch_that_fails_leaves_every_attempt_with_its_outcome(tmp_path: Path) -> None:
    """A lone surrogate (valid in JSON as an escape, not in SQLite's UTF-8) fails the batch."""
    db = tmp_path / "h.sqlite3"
    problems: list[str] = []
    loaded = ticket_file(tmp_path, ticket("good"), ticket("bad"))
    async with open_run_history(db, loaded, "lfg run", problems.append) as history:
        assert history is not None
        for event in attempt("good", (TextDelta, {"text": "Fine."}))[:-1]:
            history(event)
        for event in attempt("bad", (TextDelta, {"text": "odd \ud800 text"})):
            history(event)
        history(EventFactory("good", 1, clock=lambda: 1e9)(AttemptEnded, outcome=Outcome.COMPLETED))
    (said,) = problems
    assert said.startswith("history could not record part of this run (UnicodeEncodeError: ")
    assert said.endswith("from now on it records only how each attempt ends")
    outcomes = rows(db, "SELECT t.ticket, a.outcome FROM attempts a JOIN tickets t ON t.id = a.ticket_id")
    assert sorted(outcomes) == [("bad", "completed"), ("good", "completed")]
