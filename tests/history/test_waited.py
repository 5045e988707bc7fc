"""How long each attempt waited for the person (migration 11, `attempts.waited_s`): its permission
requests open, and a question it ended on until the follow-up; summed by `lfg history stats`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptStarted,
    Event,
    EventFactory,
    Outcome,
    PromptSent,
    TextDelta,
)
from lfgtui.history.recorder import Item, Started
from lfgtui.history.store import Store
from tests.support.recording import WALL, Clock, as_schema_10, record, sample_attempt, ticket


class Attempt:
    """Items of one attempt at the times given (seconds after 100)."""

    def __init__(self, ticket_id: str, number: int) -> None:
        self.clock = Clock()
        self.ev = EventFactory(ticket_id, number, clock=self.clock)

    def at(self, t: float, event_type: type[Event], **fields: object) -> Item:
        self.clock.now = 100.0 + t
        event = self.ev(event_type, **fields)
        return Started(event, WALL) if isinstance(event, AttemptStarted) else event


def waited(db: Path) -> dict[int, float | None]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT number, waited_s FROM attempts ORDER BY number"))


def test_requests_open_and_a_question_until_its_follow_up_count_as_waiting(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    first, follow_up = Attempt("explore", 1), Attempt("explore", 2)
    asked = {"call_id": "c1", "name": "write_file", "arguments": {"path": "a"}, "message": "asked"}
    recorder = record(
        db,
        tmp_path,
        [
            first.at(0, AttemptStarted, provider="sim", model="agent-demo"),
            first.at(0, PromptSent, text="go"),
            first.at(1, ApprovalAsked, **asked),
            first.at(31, ApprovalAnswered, call_id="c1", allowed=True, by="you", message="approved"),
            first.at(32, TextDelta, text="Shall I also update the docs?"),
            first.at(33, AttemptEnded, outcome=Outcome.COMPLETED),
        ],
    )
    assert waited(db) == {1: pytest.approx(30.0)}, "the request was open 30 s"
    recorder.write(
        [
            follow_up.at(153, AttemptStarted, provider="sim", model="agent-demo"),
            follow_up.at(153, PromptSent, text="yes", continues=1),
            follow_up.at(154, TextDelta, text="Done."),
            follow_up.at(155, AttemptEnded, outcome=Outcome.COMPLETED),
        ]
    )
    assert waited(db) == {1: pytest.approx(150.0), 2: 0.0}, "and its question 120 s, until the follow-up"
    recorder.finish()
    with Store.open(db) as store:
        (stats,) = store.stats()
    assert stats.waited_s == pytest.approx(150.0)


def test_a_file_of_schema_10_is_migrated_and_its_attempts_say_they_were_not_measured(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    record(db, tmp_path, sample_attempt(), tickets=(ticket("explore"),)).finish()
    with sqlite3.connect(db) as conn:
        as_schema_10(conn)
    with Store.open(db) as store:
        (stats,) = store.stats()
        (run,) = store.list_runs()
    assert stats.attempts == 1 and stats.waited_s is None and run.tickets == 1
    assert waited(db) == {1: None}
