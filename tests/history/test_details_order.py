"""What `lfg history show`/`export` print of an attempt: its prompt cache's hit rate, and its answer
whole. What a coding agent says about its session is not answer text: Claude Code says it after its
answer's first word, and `lfg history show`/`export` printed `Writing`, the agent line, then
`a file.`. The history keeps the answer whole and the agent's line after it."""

from __future__ import annotations

from pathlib import Path

from lfgtui.events import (
    AgentDetails,
    AttemptEnded,
    AttemptStarted,
    EventFactory,
    Outcome,
    PromptSent,
    RequestSent,
    TextDelta,
    Usage,
)
from lfgtui.history.export import to_markdown
from lfgtui.history.recorder import Started
from lfgtui.history.store import Selection, Store
from tests.support.recording import WALL, Clock, record


def test_an_agents_details_never_split_the_answer_they_came_in(tmp_path: Path) -> None:
    clock = Clock()
    ev = EventFactory("explore", 1, clock=clock)

    def at(t: float, event_type: type, **fields: object) -> object:
        clock.now = 100.0 + t
        return ev(event_type, **fields)

    started = at(0.0, AttemptStarted, provider="claude-code", model="opus")
    assert isinstance(started, AttemptStarted)
    items = [
        Started(started, WALL),
        at(0.001, PromptSent, text="Write a file."),
        at(0.002, RequestSent, call=0),
        at(0.5, TextDelta, text="Writing"),
        at(0.6, AgentDetails, model="opus", mode="default"),
        at(0.7, TextDelta, text=" a file."),
        at(0.8, AttemptEnded, outcome=Outcome.COMPLETED),
    ]
    recorder = record(tmp_path / "h.sqlite3", tmp_path, items)  # type: ignore[arg-type]
    recorder.finish()
    with Store.open(tmp_path / "h.sqlite3") as store:
        markdown = to_markdown(store.load(Selection(recorder.run_id)))
    assert "Writing a file." in markdown, markdown
    assert markdown.index("Writing a file.") < markdown.index("agent: "), "the agent's line after the answer"


def test_history_show_says_the_share_of_the_prompts_the_cache_read(tmp_path: Path) -> None:
    clock = Clock()
    ev = EventFactory("explore", 1, clock=clock)
    started = ev(AttemptStarted, provider="anthropic", model="claude-sonnet-5-5")
    assert isinstance(started, AttemptStarted)
    items = [
        Started(started, WALL),
        ev(PromptSent, text="Review."),
        ev(RequestSent, call=0),
        ev(TextDelta, text="Fine."),
        ev(Usage, input_tokens=1000, output_tokens=2, cache_read_tokens=800, cache_write_tokens=0),
        ev(AttemptEnded, outcome=Outcome.COMPLETED),
    ]
    recorder = record(tmp_path / "h.sqlite3", tmp_path, items)  # type: ignore[arg-type]
    recorder.finish()
    with Store.open(tmp_path / "h.sqlite3") as store:
        markdown = to_markdown(store.load(Selection(recorder.run_id)))
    assert " · cache 80%" in markdown, markdown
