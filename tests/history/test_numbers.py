"""No value of one ticket stops the history of the run: counts no column can take are stored as NULL,
and a batch that still fails leaves every attempt with its outcome, never `interrupted`."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
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


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def texts(db: Path) -> list[tuple[object, ...]]:
    return rows(
        db,
        "SELECT t.ticket, a.outcome, group_concat(p.text, '') "
        "FROM attempts a JOIN tickets t ON t.id = a.ticket_id "
        "LEFT JOIN parts p ON p.attempt_id = a.id AND p.kind = 'text' GROUP BY a.id ORDER BY t.ticket",
    )


async def test_text_utf8_cannot_hold_is_recorded_mended_and_costs_no_ticket_its_transcript(
    tmp_path: Path,
) -> None:
    """A lone surrogate (valid in JSON as an escape, not in SQLite's UTF-8) in an event made another
    way than the events of an attempt are (`EventFactory` mends them), as a path that forgot would:
    the writer mends it, and nothing of the run is lost (it failed the batch, and every ticket's
    transcript after it, before)."""
    db = tmp_path / "h.sqlite3"
    problems: list[str] = []
    loaded = ticket_file(tmp_path, ticket("good"), ticket("bad"))
    async with open_run_history(db, loaded, "lfg run", problems.append) as history:
        assert history is not None
        good, bad = attempt("good", (TextDelta, {"text": "Fine."})), attempt("bad")
        odd = TextDelta(ticket="bad", attempt=1, seq=2, t=bad[1].t, text="odd \ud800 text")
        for event in [*good[:-1], *bad[:2], odd, *bad[2:], good[-1]]:
            history(event)
    assert problems == []
    assert texts(db) == [("bad", "completed", "odd \ufffd text"), ("good", "completed", "Fine.")]


async def test_a_batch_that_fails_leaves_every_attempt_with_its_outcome(tmp_path: Path) -> None:
    """A value no column can take that the recorder does not catch (a model call numbered past
    SQLite's integers) fails its batch: the attempt it held keeps its outcome, and is said by name;
    a ticket running beside it is recorded whole, before and after (the whole run recorded only
    how each attempt ended before)."""
    db = tmp_path / "h.sqlite3"
    problems: list[str] = []
    loaded = ticket_file(tmp_path, ticket("good"), ticket("bad"))
    async with open_run_history(db, loaded, "lfg run", problems.append) as history:
        assert history is not None
        good = attempt("good", (TextDelta, {"text": "Fine, "}), (TextDelta, {"text": "and more."}))
        for event in good[:3]:
            history(event)
        await until(lambda: bool(rows(db, "SELECT 1 FROM parts")))
        for event in attempt("bad", (RequestSent, {"call": 2**70}), (TextDelta, {"text": "Lost."})):
            history(event)
        await until(lambda: bool(problems))
        for event in good[3:]:
            history(event)
    (said,) = problems
    assert said.startswith("history could not record part of bad (attempt 1) (OverflowError: ")
    assert said.endswith("from now on it records only how those attempts end, and every other attempt whole")
    assert texts(db) == [("bad", "completed", None), ("good", "completed", "Fine, and more.")]
