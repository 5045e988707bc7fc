"""A batch's streamed deltas are applied a run at a time (recorder.py's `write`): the file must hold the
same rows, byte for byte, as when every event is its own batch (where no run of deltas ever forms).

The corpus interleaves several attempts token by token, as many streams arriving at once do: thinking
and answers with empty and blank chunks, a stall in mid-stream, a tool call's arguments, an approval
the person answers, an answer ending on a question that the ticket's next attempt answers, two
attempts of one ticket streaming at once, an attempt queued on a broker before its start, a failure."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import sqlite3
from pathlib import Path

import pytest

from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptQueued,
    AttemptStarted,
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    Outcome,
    PromptSent,
    ReasoningDelta,
    RequestSent,
    Stalled,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
)
from lfgtui.history.recorder import Item, Recorder, Started
from lfgtui.history.rows import AttemptRecord, read_attempt
from tests.support.recording import WALL, record, ticket

CHUNKS = ("Let ", "me ", "", " ", "look ", "at\n", "the ", "files", ".\n\n", "Shall ", "I go on?", "\n")
SEARCHED = ("look", "files", "shall", "thinking", "path")


def attempt_items(ticket_id: str, number: int, start: float, step: float) -> list[tuple[float, Item]]:
    """One attempt's items in order, each with when it arrives (`step` apart while streaming; an
    item stamped a little late arrives after the one before it)."""
    clock = [start]
    ev = EventFactory(ticket_id, number, clock=lambda: clock[0])
    timed: list[tuple[float, Item]] = []

    def at(t: float, item_or_type: type[Event] | None = None, **fields: object) -> None:
        clock[0] = t
        assert item_or_type is not None
        event = ev(item_or_type, **fields)
        item: Item = Started(event, WALL + t) if isinstance(event, AttemptStarted) else event
        timed.append((max(t, timed[-1][0]) if timed else t, item))

    t = start
    if ticket_id == "queued":
        at(t, AttemptQueued, message="waiting for a worker", provider="sim", model="m")
        t += 0.05
    at(t, AttemptStarted, provider="sim", model="m")
    at(t, PromptSent, text="Go.")
    at(t + 0.001, RequestSent, call=0, input_estimate=20)
    t += 0.1
    for k in range(12):
        at(t, ReasoningDelta, text=f"thinking {k} " if k % 5 else "")
        t += step
    for k, chunk in enumerate(CHUNKS * 3):
        if ticket_id == "stall" and k == 7:
            at(t, Stalled, message="quiet", idle_s=30.0, limit_s=300.0)
        at(t - 2 * step if k % 7 == 6 else t, TextDelta, text=chunk)  # one in seven stamped before the last
        t += step * (1 + k % 3) / 2.0004
    at(t, ToolCallStarted, call_id="c1", name="list_dir")
    for fragment in ('{"pa', 'th": ', '"."}'):
        t += step
        at(t, ToolCallArgsDelta, call_id="c1", fragment=fragment)
    at(
        t,
        ToolCallReady,
        call_id="c1",
        name="list_dir",
        arguments={"path": "."},
        raw_arguments='{"path": "."}',
    )
    if ticket_id == "ask":
        at(t, ApprovalAsked, message="allow?", call_id="c1", name="list_dir", arguments={"path": "."})
        t += 0.3
        at(t, ApprovalAnswered, message="allowed", call_id="c1", allowed=True, by="you")
    at(t, Usage, input_tokens=20, output_tokens=40)
    at(t, CallEnded, stop_reason="tool_use")
    at(t + 0.01, ToolResult, call_id="c1", output="a.py\nb.py")
    at(t + 0.02, RequestSent, call=1, input_estimate=30)
    t += 0.1
    for chunk in CHUNKS:
        at(t, TextDelta, text=chunk)
        t += step
    at(t, Usage, input_tokens=30, output_tokens=12)
    at(t, CallEnded, stop_reason="stop")
    if ticket_id == "fails":
        error = ErrorInfo(kind=ErrorKind.OVERLOADED, message="overloaded", status=529)
        at(t, AttemptEnded, outcome=Outcome.FAILED, error=error)
    else:
        at(t, AttemptEnded, outcome=Outcome.COMPLETED)
    return timed


def corpus() -> list[Item]:
    """Every attempt's items merged in the order they arrive (each attempt's in its own order)."""
    attempts = [
        attempt_items("plain", 1, 100.0, 0.005),
        attempt_items("stall", 1, 100.002, 0.0071),
        attempt_items("ask", 1, 100.001, 0.0043),
        attempt_items("ask", 2, 100.9, 0.0052),  # after the first ended on a question
        attempt_items("twice", 1, 100.003, 0.006),
        attempt_items("twice", 2, 100.004, 0.006),  # the same ticket, streaming at once
        attempt_items("queued", 1, 100.0005, 0.0049),
        attempt_items("fails", 1, 100.0015, 0.008),
    ]
    return [item for _, item in heapq.merge(*attempts, key=lambda timed: timed[0])]


SPLITS = {
    "one batch": lambda items: [items],
    "batches of 7": lambda items: [items[i : i + 7] for i in range(0, len(items), 7)],
    "batches of 50": lambda items: [items[i : i + 50] for i in range(0, len(items), 50)],
}


def rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (the random ids of the run and its attempts numbered in a fixed order,
    the run's own wall-clock start and end left out), and what the search index finds."""
    conn = sqlite3.connect(db)
    try:
        tables = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if not name.startswith(("parts_fts", "review_fts", "sqlite_"))
        ]
        ids = itertools.count()
        known: dict[object, str] = {}
        for (value,) in [
            *conn.execute("SELECT id FROM runs"),
            *conn.execute("SELECT id FROM attempts ORDER BY ticket_id, number"),
        ]:
            known[value] = f"id{next(ids)}"
        found: dict[str, list[tuple[object, ...]]] = {}
        for table in tables:
            found[table] = sorted(
                (
                    tuple(known.get(value, value) for value in row)
                    for row in conn.execute(f"SELECT * FROM {table}")
                ),
                key=repr,
            )
        found["runs"] = [row[:1] + row[3:] for row in found["runs"]]
        for word in SEARCHED:
            found[f"search {word}"] = conn.execute(
                "SELECT rowid FROM parts_fts WHERE parts_fts MATCH ? ORDER BY rowid", (word,)
            ).fetchall()
        return found
    finally:
        conn.close()


@pytest.mark.parametrize("split", SPLITS)
def test_batched_deltas_write_the_rows_each_event_alone_writes(tmp_path: Path, split: str) -> None:
    items = corpus()
    tickets = tuple(ticket(name) for name in ("plain", "stall", "ask", "twice", "queued", "fails"))
    alone = record(tmp_path / "alone.sqlite3", tmp_path, *([item] for item in items), tickets=tickets)
    alone.finish()
    batched = record(tmp_path / "batched.sqlite3", tmp_path, *SPLITS[split](items), tickets=tickets)
    batched.finish()
    expected, got = rows(tmp_path / "alone.sqlite3"), rows(tmp_path / "batched.sqlite3")
    assert got.keys() == expected.keys()
    for table in expected:
        assert got[table] == expected[table], table
    assert len(expected["parts"]) > 40 and expected["search look"]
    with sqlite3.connect(tmp_path / "alone.sqlite3") as conn:  # the corpus has what it says it has
        (waited,) = conn.execute("SELECT count(*) FROM attempts WHERE waited_s > 0").fetchone()
        (queued,) = conn.execute("SELECT count(*) FROM parts WHERE text = 'waiting for a worker'").fetchone()
    assert waited >= 2 and queued == 1, "approvals answered, and a question the next attempt answers"


def read_back(recorder: Recorder) -> list[AttemptRecord]:
    """Every attempt of the recording as a reader gets it now (a streaming part's text whole), its
    random id and its wall-clock start left out (one queued on a broker has the clock's until it
    starts)."""
    conn = recorder.conn
    ids = [attempt_id for (attempt_id,) in conn.execute("SELECT id FROM attempts ORDER BY ticket_id, number")]
    return [
        dataclasses.replace(record, row=dataclasses.replace(record.row, id="", started_at=0.0))
        for record in (read_attempt(conn, attempt_id) for attempt_id in ids)
    ]


@pytest.mark.parametrize("split", ["batches of 7", "batches of 50"])
def test_a_streaming_part_reads_back_whole_after_every_batch(tmp_path: Path, split: str) -> None:
    """Between batches (a watcher, `lfg history show` of a running run, a crash) every part reads as
    it does when each event is its own batch, though a streaming part's batches are rows of its tails
    until it is sealed."""
    items = corpus()
    tickets = tuple(ticket(name) for name in ("plain", "stall", "ask", "twice", "queued", "fails"))
    batches = SPLITS[split](items)
    boundaries = set(itertools.accumulate(len(batch) for batch in batches))
    alone = record(tmp_path / "alone.sqlite3", tmp_path, tickets=tickets)
    batched = record(tmp_path / "batched.sqlite3", tmp_path, tickets=tickets)
    tailed = 0
    try:
        for k, item in enumerate(items, 1):
            alone.write([item])
            if k in boundaries:
                batched.write(batches.pop(0))
                assert read_back(batched) == read_back(alone), f"after item {k}"
                (tails,) = batched.conn.execute("SELECT count(*) FROM part_tails").fetchone()
                tailed = max(tailed, tails)
    finally:
        alone.finish()
        batched.finish()
    assert tailed, "some parts streamed over several batches"
