"""A coding agent's call that lfg saw only as the agent's account of it (Gemini CLI's title, the
command Codex ran) comes back from the history as such: a resumed pane rates the turn as the live
one did, and the request keeps no characters for the history's calibration to learn from."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lfgtui.cost.metrics import Metrics
from lfgtui.events import (
    Event,
    EventFactory,
    ToolCallReady,
    ToolCallStarted,
    ToolCallUpdated,
    ToolResult,
    Usage,
)
from tests.support.recording import recorded_and_rebuilt, turn_around_a_call


def turn(seen: int | None, counted_per_char: float | None = None) -> list[Event]:
    """A turn around a call announced and then located, its row holding `seen` characters of the
    model's input (None: it is the model's input); its count came with `counted_per_char`."""

    def call(ev: EventFactory) -> list[Event]:
        said = {"title": "README.md"}
        located = {**said, "locations": ["/w/README.md"]}
        row = {"call_id": "read_file__1", "name": "read_file README.md", "model_input_chars": seen}
        return [
            ev(ToolCallStarted, call_id="read_file__1", name="read_file README.md"),
            ev(ToolCallReady, **row, arguments=said, raw_arguments=json.dumps(said)),
            ev(ToolCallUpdated, **row, arguments=located, raw_arguments=json.dumps(located), kind="read"),
            ev(ToolResult, call_id="read_file__1", output="# Notes", is_error=False),
        ]

    return turn_around_a_call(call, reported=40, counted_per_char=counted_per_char)


def metrics(events: list[Event]) -> Metrics:
    measured = Metrics()
    for event in events:
        measured.apply(event)
    return measured


def test_a_described_call_comes_back_described_and_rates_the_turn_as_it_was_rated_live(
    tmp_path: Path,
) -> None:
    for seen in (0, 7, None):
        db = tmp_path / f"{seen}.sqlite3"
        live = turn(seen)
        rebuilt = recorded_and_rebuilt(db, tmp_path, live)
        [ready] = [e for e in rebuilt if isinstance(e, ToolCallReady)]
        assert ready.model_input_chars == seen
        resumed, shown = metrics(rebuilt), metrics(live)
        assert resumed.tokens_per_s == shown.tokens_per_s and shown.rate_estimated
        with sqlite3.connect(db) as conn:
            [(chars,)] = conn.execute("SELECT counted_chars FROM requests").fetchall()
        located = json.dumps({"title": "README.md", "locations": ["/w/README.md"]})
        assert chars == (88 + len(located) if seen is None else None)


def test_the_worth_a_count_came_with_comes_back_with_it(tmp_path: Path) -> None:
    """A count rated with what the run's calibration said when it came (nothing was counted when
    the request left) is rated so again by a resumed pane."""
    db = tmp_path / "h.sqlite3"
    live = turn(0, counted_per_char=0.2)
    rebuilt = recorded_and_rebuilt(db, tmp_path, live)
    [usage] = [e for e in rebuilt if isinstance(e, Usage)]
    assert usage.tokens_per_char == 0.2
    resumed, shown = metrics(rebuilt), metrics(live)
    assert resumed.tokens_per_s == shown.tokens_per_s == pytest.approx(80 * 0.2 / 2.0)
