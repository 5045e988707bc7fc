"""`Metrics.apply_run` (the history writer's way to take a batch's run of deltas) leaves the metrics
exactly as `apply` of each delta does: every field, the stretches, the rate history and the live
window, on streams with empty and blank chunks, chunks stamped before the one before, thinking and
answers, a one-chunk notice, pauses, deltas before any request and estimates at a calibrated rate;
and metrics that keep no live view's state (`live=False`, the writer's) have the same figures."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from lfgtui.cost.metrics import Metrics
from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptStarted,
    CallEnded,
    Event,
    EventFactory,
    ReasoningDelta,
    RequestSent,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
)

TEXTS = ("a", "", " ", "\n", "word ", "longer words here ", "ß∂ƒ ", "x" * 40)


def stream(seed: int) -> list[Event]:
    """One attempt's events: requests of runs of thinking and answer deltas with pauses between."""
    rng = random.Random(seed)
    clock = [50.0 + rng.random()]
    ev = EventFactory("t", 1, clock=lambda: clock[0])
    events: list[Event] = []

    def at(dt: float, kind: type[Event], **fields: object) -> None:
        clock[0] += dt
        events.append(ev(kind, **fields))

    at(0, AttemptStarted, provider="sim", model="m")
    if seed % 3 == 0:
        at(0.001, TextDelta, text="before any request")
    for call in range(3):
        per_char = None if call % 2 == 0 else 0.3 + rng.random() / 10
        at(0.002, RequestSent, call=call, input_estimate=10, tokens_per_char=per_char)
        if call == 1:
            at(0.01, TextDelta, text="Notice.")  # one chunk the thinking follows: an agent's notice
        for _ in range(rng.randint(2, 5)):
            kind = rng.choice((TextDelta, ReasoningDelta))
            for _ in range(rng.randint(1, 60)):
                step = rng.choice((0.0, 0.0004, 0.003, 0.005, 0.02, 0.6))
                at(step, kind, text=rng.choice(TEXTS))
                if rng.random() < 0.05:  # stamped before the one before: it arrived late
                    clock[0] -= 0.004
            if rng.random() < 0.3:
                at(0.01, ToolCallStarted, call_id=f"c{call}", name="ls")
                at(0.01, ToolCallReady, call_id=f"c{call}", name="ls", arguments={}, raw_arguments="{}")
                at(0.01, ApprovalAsked, message="?", call_id=f"c{call}", name="ls", arguments={})
                at(0.2, ApprovalAnswered, message="ok", call_id=f"c{call}", allowed=True, by="you")
                at(0.1, ToolResult, call_id=f"c{call}", output="a\nb")
        if call != 2:
            at(0.001, Usage, input_tokens=10, output_tokens=rng.randint(1, 400))
        at(0.001, CallEnded, stop_reason="stop")
    return events


def runs(events: list[Event]) -> list[list[Event]]:
    """The events cut as the history writer cuts a batch: each run of deltas of one kind together."""
    cut: list[list[Event]] = []
    for event in events:
        if cut and type(event) in (TextDelta, ReasoningDelta) and type(cut[-1][0]) is type(event):
            cut[-1].append(event)
        else:
            cut.append([event])
    return cut


def whole(metrics: Metrics, run: list[Event]) -> None:
    metrics.apply_run(run)  # type: ignore[arg-type]


def after_first(metrics: Metrics, run: list[Event]) -> None:
    """As the recorder does: the run's first delta through `apply`, the rest at once."""
    metrics.apply(run[0])
    if run[1:]:
        metrics.apply_run(run[1:])  # type: ignore[arg-type]


@pytest.mark.parametrize("live", [True, False])
@pytest.mark.parametrize("take", [whole, after_first])
@pytest.mark.parametrize("seed", range(12))
def test_a_run_of_deltas_leaves_the_metrics_as_each_delta_does(
    seed: int, take: Callable[[Metrics, list[Event]], None], live: bool
) -> None:
    one_by_one, by_runs, shown = Metrics(live=live), Metrics(live=live), Metrics()
    cut = runs(stream(seed))
    assert any(len(run) > 10 for run in cut), "the corpus has long runs"
    for run in cut:
        for event in run:
            one_by_one.apply(event)
            shown.apply(event)
        if type(run[0]) in (TextDelta, ReasoningDelta):
            take(by_runs, run)
        else:
            by_runs.apply(run[0])
        assert by_runs == one_by_one
        figures = (by_runs.tokens_per_s, by_runs.ttft_s, by_runs.ttft_text_s, by_runs.output_tokens)
        assert figures == (shown.tokens_per_s, shown.ttft_s, shown.ttft_text_s, shown.output_tokens)
        assert by_runs.requests == shown.requests, "without the live view's state, the same figures"
    assert live or not by_runs.history.counts, "the writer's metrics keep no live view's state"
