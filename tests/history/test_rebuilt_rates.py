"""The rate a resumed or replayed pane reads is the live one, to the last digit: both come from the
chunks' times in whole ms since the attempt's start, as the history keeps them, by the same code,
whatever clock the live events were stamped on."""

from __future__ import annotations

import json
from pathlib import Path

from lfgtui.cost.metrics import Metrics
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    Event,
    EventFactory,
    Outcome,
    RequestSent,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
)
from tests.support.recording import Clock, recorded_and_rebuilt

UPTIME = 523_417.370_2
"""A `time.monotonic()` of a machine up for six days: the live events' clock."""


def steps_of_25_ms(start: float) -> list[Event]:
    """An agent's turn from `start`: a dozen one-line steps, each streamed over exactly 25 whole ms
    (the least a stretch must last to have a rate) between tool calls, as a loaded machine's agent
    sends them."""
    clock = Clock(start)
    ev = EventFactory("explore", 1, clock=clock)

    def at(s: float, event_type: type[Event], **fields: object) -> Event:
        clock.now = start + s
        return ev(event_type, **fields)

    events = [at(0.0, AttemptStarted, provider="agent", model="m"), at(0.0012, RequestSent, call=0)]
    for step in range(12):
        s = 0.1 + 0.137 * step
        word = "word " * (1 + step % 3)  # steps at different paces: a step left out moves the rate
        events += [at(s + 0.0004 + i * 0.003, TextDelta, text=word) for i in range(8)]
        events.append(at(s + 0.0246, TextDelta, text="last."))  # 25 ms after the first, in whole ms
        call = {"call_id": f"c{step}", "name": "read_file"}
        events += [
            at(s + 0.030, ToolCallStarted, **call),
            at(s + 0.031, ToolCallReady, **call, arguments={}, raw_arguments=json.dumps({})),
            at(s + 0.090, ToolResult, call_id=f"c{step}", output="# Notes"),
        ]
    events += [at(2.0, Usage, output_tokens=120), at(2.001, AttemptEnded, outcome=Outcome.COMPLETED)]
    return events


def measured(events: list[Event]) -> Metrics:
    metrics = Metrics()
    for event in events:
        metrics.apply(event)
    return metrics


def test_a_rebuilt_attempt_reads_the_live_rate_on_any_clock(tmp_path: Path) -> None:
    for n, start in enumerate((UPTIME, 100.0, 1_700_000_000.25)):
        live = steps_of_25_ms(start)
        shown = measured(live)
        assert shown.tokens_per_s is not None, "each step streamed for 25 ms: it has a rate"
        resumed = measured(recorded_and_rebuilt(tmp_path / f"{n}.sqlite3", tmp_path, live))
        assert resumed.tokens_per_s == shown.tokens_per_s, start
        assert resumed.ttft_s is not None and shown.ttft_s is not None
        assert round(resumed.ttft_s * 1000) == round(shown.ttft_s * 1000), "the history keeps whole ms"
