"""The rate a resumed or replayed pane reads is the live one, to the last digit: both come from the
chunks' times in whole ms since the attempt's start, as the history keeps them, by the same code,
whatever clock the live events were stamped on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    ToolCallUpdated,
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


def input_in_two_updates(start: float, said: bool) -> list[Event]:
    """Claude Code's turn around a command on a loaded machine: text (if `said`), the call announced
    bare, its first argument 152 ms after and the whole input 0.4 ms later, then more text."""
    clock = Clock(start)
    ev = EventFactory("explore", 1, clock=clock)

    def at(s: float, event_type: type[Event], **fields: object) -> Event:
        clock.now = start + s
        return ev(event_type, **fields)

    def texts(s: float) -> list[Event]:
        return [at(s + i * 0.007, TextDelta, text=" word5") for i in range(8)]

    call = {"call_id": "toolu_1", "name": "Bash"}
    first, whole = {"command": "ls"}, {"command": "ls", "description": "List the files"}
    return [
        at(0.0, AttemptStarted, provider="claude-code", model="default"),
        at(0.0012, RequestSent, call=0),
        *(texts(1.0) if said else ()),
        at(1.0495, ToolCallStarted, **call),
        at(1.0496, ToolCallReady, **call, arguments={}, raw_arguments="{}"),
        at(1.2015, ToolCallUpdated, **call, arguments=first, raw_arguments=json.dumps(first)),
        at(1.2019, ToolCallUpdated, **call, arguments=whole, raw_arguments=json.dumps(whole)),
        at(2.4, ToolResult, call_id="toolu_1", output="README.md"),
        *texts(3.0),
        at(3.2, Usage, output_tokens=33),
        at(3.201, AttemptEnded, outcome=Outcome.COMPLETED),
    ]


@pytest.mark.parametrize("said", [True, False], ids=["after-text", "first"])
def test_a_calls_input_given_in_two_updates_a_moment_apart_reads_the_same_rate_resumed(
    tmp_path: Path, said: bool
) -> None:
    """The history keeps a call's input as last given, at the time it last changed: the live rate
    places the second update's characters with the first's (it came with them), as the rebuilt call
    does (a CI run read 55.7 tok/s live and 67.9 resumed: the second part held out live)."""
    live = input_in_two_updates(UPTIME, said)
    shown = measured(live)
    resumed = measured(recorded_and_rebuilt(tmp_path / "h.sqlite3", tmp_path, live))
    assert shown.tokens_per_s is not None
    assert resumed.tokens_per_s == shown.tokens_per_s
