"""An agent's question as a form (ACP elicitation) in the history: the question and its answer are
notes of the attempt that come back as the same events, and the time the question was open counts as
waiting for the person (`attempts.waited_s`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    ElicitationAnswered,
    ElicitationAsked,
    EventFactory,
    Outcome,
    TextDelta,
)
from lfgtui.history.recorder import Started
from lfgtui.history.store import Selection, Store
from tests.support.recording import WALL, Clock, record

FORM = {"type": "object", "properties": {"name": {"type": "string", "title": "\x1b]0;x\x07Name"}}}


def test_the_question_and_its_answer_are_recorded_with_the_attempt_and_its_wait_counted(
    tmp_path: Path,
) -> None:
    db, clock = tmp_path / "h.sqlite3", Clock()
    ev = EventFactory("explore", 1, clock=clock)

    def at(t: float, event_type: type, **fields: object) -> object:
        clock.now = 100.0 + t
        return ev(event_type, **fields)

    asked = ElicitationAsked
    items = [
        Started(at(0, AttemptStarted, provider="sim-acp", model="elicit"), WALL),
        at(
            1,
            asked,
            message="the agent asks you",
            elicitation_id="elicitation-1",
            question="Name?",
            form=FORM,
        ),
        at(
            46,
            ElicitationAnswered,
            message="accepted",
            elicitation_id="elicitation-1",
            action="accept",
            content={"name": "Ada"},
            by="you",
        ),
        at(47, TextDelta, text="Hello Ada."),
        at(48, AttemptEnded, outcome=Outcome.COMPLETED),
    ]
    recorder = record(db, tmp_path, items)
    recorder.finish()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT waited_s FROM attempts").fetchone()[0] == pytest.approx(45.0)
    with Store.open(db) as store:
        attempt_id = store.load(Selection(recorder.run_id)).tickets[0].attempts[0].row.id
        events = store.attempt_events(attempt_id)
    [question] = [e for e in events if isinstance(e, ElicitationAsked)]
    [answer] = [e for e in events if isinstance(e, ElicitationAnswered)]
    assert (question.question, question.form, question.waits) == ("Name?", FORM, True), "stored lossless"
    assert (answer.action, answer.content, answer.by) == ("accept", {"name": "Ada"}, "you")
