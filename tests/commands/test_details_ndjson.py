"""NDJSON keeps an answer whole as the history does: a coding agent's details that come after its
answer's first word (Claude Code's) are said once the answer pauses, never between its words."""

from __future__ import annotations

import io
import json

from lfgtui.commands.headless import JsonLines
from lfgtui.cost.metrics import MetricsBook
from lfgtui.events import AgentDetails, AttemptEnded, AttemptStarted, EventFactory, Outcome, TextDelta


def test_an_agents_details_line_never_splits_its_answer() -> None:
    out = io.StringIO()
    lines = JsonLines(out, MetricsBook(), 0.0)
    ev, other = EventFactory("write", 1), EventFactory("other", 1)
    for event in (
        ev(AttemptStarted, provider="claude-code", model="opus"),
        ev(TextDelta, text="Writing"),
        ev(AgentDetails, model="opus", mode="default"),
        other(TextDelta, text="Elsewhere."),
        ev(TextDelta, text=" a file."),
        ev(AttemptEnded, outcome=Outcome.COMPLETED),
    ):
        lines(event)
    said = [
        (line["ticket"], line["type"], line.get("text"))
        for line in map(json.loads, out.getvalue().splitlines())
    ]
    ours = [(kind, text) for ticket, kind, text in said if ticket == "write" and kind != "attention"]
    assert ours[:4] == [
        ("attempt_started", None),
        ("text", "Writing"),
        ("text", " a file."),
        ("agent", None),
    ], ours
    assert ours[4][0] == "attempt_ended"
