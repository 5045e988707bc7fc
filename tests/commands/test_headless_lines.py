"""`lfg run --headless` prints one line per event it shows: outside text in it (a sub-agent's task,
a tool's name, an agent's question) cannot start a line of its own that passes for lfg's."""

from __future__ import annotations

import io

import pytest

from lfgtui.commands.headless import PROGRESS, Progress
from lfgtui.cost.metrics import MetricsBook
from lfgtui.events import AttemptStarted, Event
from lfgtui.inert import EXPLICIT_BIDI
from tests.support.hostile import HOSTILE, hostile_event

UNSAFE = {chr(code) for code in [*range(0x20), 0x7F, *range(0x80, 0xA0), *EXPLICIT_BIDI]} - {"\t"}


@pytest.mark.parametrize(
    "kind", [k for k in PROGRESS.handlers if k is not AttemptStarted], ids=lambda k: k.__name__
)
def test_each_event_is_one_line_whatever_its_text_holds(kind: type[Event]) -> None:
    """Every event type the progress lines show, every string in it hostile (new lines, carriage
    returns, escapes, bidi overrides): the event adds at most one line, and it holds none of them."""
    out = io.StringIO()
    progress = Progress(out, MetricsBook(), 0.0)
    progress(hostile_event(AttemptStarted, "p", 0, "t"))
    before = out.getvalue().count("\n")
    event = hostile_event(kind, HOSTILE, 1, "t")
    progress(event)
    lines = out.getvalue().splitlines()[before:]
    answer = "          │ "  # an attempt's answer follows its ending, each line behind a gutter
    said = [line for line in lines if not line.startswith(answer)]
    assert len(said) <= 1, f"{kind.__name__} printed {said}"
    assert all(not (set(line) & UNSAFE) for line in lines), lines
