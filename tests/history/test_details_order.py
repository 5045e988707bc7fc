"""What a coding agent says about its session is not answer text: Claude Code says it after its
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
