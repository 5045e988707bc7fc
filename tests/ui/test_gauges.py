"""The gauge line: honest about estimates, and fitted to the pane's width."""

from __future__ import annotations

import pytest

from lfgtui.cost.metrics import Metrics
from lfgtui.cost.prices import OverridePricer
from lfgtui.events import EventFactory, RequestSent, TextDelta, Usage
from lfgtui.providers.base import PriceOverride
from lfgtui.ui.widgets.gauges import BARS, MIN_SPARK, SPARK_SAMPLES, gauge_text, since_start, sparkline

SAMPLES = [float(i) for i in range(SPARK_SAMPLES)]


def streamed(reported: int | None = None) -> Metrics:
    """An attempt that streamed some text; `reported`: the output tokens the provider then reported."""
    ev = EventFactory("t", 1, clock=iter([0.0, 0.3, 0.4, 0.5]).__next__)
    metrics = Metrics()
    metrics.apply(ev(RequestSent, call=0))
    metrics.apply(ev(TextDelta, text="Hello there, "))
    metrics.apply(ev(TextDelta, text="general Kenobi. Again."))
    if reported is not None:
        metrics.apply(ev(Usage, input_tokens=3, output_tokens=reported, reasoning_tokens=None))
    return metrics


def spark_length(text: str) -> int:
    return sum(1 for char in text if char in BARS)


def test_everything_shows_when_it_fits() -> None:
    line = gauge_text(streamed(), 51.5, SAMPLES, 65.2, width=80, running=True).plain
    assert line == f"TTFT 300 ms · ~51.5 tok/s {'▁▁▂▂▃▃▄▄▅▅▆▆▇▇██'} · ~7 tok · $? · 1:05"


def test_a_priced_attempt_shows_its_cost_estimated_until_usage_comes() -> None:
    rates = OverridePricer(PriceOverride(input_per_mtok=2_000.0, output_per_mtok=8_000.0))
    estimating = streamed()
    estimating.pricer = rates
    assert " · ~$0.056 · " in gauge_text(estimating, 1.0, SAMPLES, 1.0, width=80, running=True).plain
    reported = streamed(reported=9)
    reported.pricer = rates
    line = gauge_text(reported, 1.0, SAMPLES, 1.0, width=80, running=False).plain
    assert " · $0.078 · " in line, "3 input tokens at $2,000/M and 9 output at $8,000/M"


def test_estimates_are_marked_until_the_provider_reports_usage() -> None:
    assert "~7 tok" in gauge_text(streamed(), 10.0, SAMPLES, 1.0, width=80, running=False).plain
    reported = gauge_text(streamed(reported=9), 10.0, SAMPLES, 1.0, width=80, running=False).plain
    assert " 9 tok" in reported and "~" not in reported
    live = gauge_text(streamed(reported=9), 10.0, SAMPLES, 1.0, width=80, running=True).plain
    assert "~10.0 tok/s" in live, "a live rate is counted from estimates, whatever the usage says"


@pytest.mark.parametrize("width", range(36, 60))  # a pane is at least 40 wide: 36 inside
def test_a_narrow_pane_keeps_what_matters_and_never_overflows(width: int) -> None:
    running = gauge_text(streamed(), 123.4, SAMPLES, 65.2, width=width, running=True).plain
    finished = gauge_text(streamed(), 123.4, SAMPLES, 65.2, width=width, running=False).plain
    for line in (running, finished):
        assert len(line) <= width
        assert line.startswith("TTFT 300 ms · ") and "tok/s" in line and "~7 tok" in line
    numbers = len("TTFT 300 ms · ~123.4 tok/s · ~7 tok")
    if width >= numbers + len(" · $?"):
        assert " · $? " in f"{running} " and " · $? " in f"{finished} ", "an unpriced model's cost is $?"
    else:
        assert "$" not in running + finished, "the cost goes before the numbers it would push out"
    numbers += len(" · $?") if width >= numbers + len(" · $?") else 0
    if width >= numbers + 1 + MIN_SPARK:
        assert spark_length(running) >= MIN_SPARK, "a running pane gives up its elapsed time first"
    if width >= numbers + len(" · 1:05"):
        assert finished.endswith("1:05"), "a finished pane gives up its sparkline first"


def thought(thinking: int = 3_000) -> Metrics:
    """An attempt that waited 30 s, then streamed some text; its count of 3,009 holds `thinking`
    tokens of thinking that never streamed."""
    ev = EventFactory("t", 1, clock=iter([0.0, 30.0, 30.1, 30.2]).__next__)
    metrics = Metrics()
    metrics.apply(ev(RequestSent, call=0))
    metrics.apply(ev(TextDelta, text="Hello there, "))
    metrics.apply(ev(TextDelta, text="general Kenobi."))
    metrics.apply(ev(Usage, input_tokens=3, output_tokens=3_009, reasoning_tokens=thinking))
    return metrics


def test_the_thinking_among_the_tokens_shows_apart_when_there_is_room() -> None:
    line = gauge_text(thought(), 51.5, SAMPLES, 65.2, width=100, running=False).plain
    assert " · 3009 tok · think 3k 30.0s · $? · 1:05" in line
    for width in range(len("TTFT 30000 ms · ~51.5 tok/s · 3009 tok"), 100):  # the numbers always show
        running = gauge_text(thought(), 51.5, SAMPLES, 65.2, width=width, running=True).plain
        finished = gauge_text(thought(), 51.5, SAMPLES, 65.2, width=width, running=False).plain
        unthought = gauge_text(thought(0), 51.5, SAMPLES, 65.2, width=width, running=True).plain
        assert len(running) <= width and len(finished) <= width
        if spark_length(unthought) >= MIN_SPARK:
            assert spark_length(running) >= MIN_SPARK, "a running pane keeps its sparkline first"
        if "think" in finished:
            assert finished.endswith("1:05"), "and a finished one its elapsed time"


def test_steps_before_the_attempt_started_are_blank_not_slow() -> None:
    """Started 1.9 s ago (4 steps of 0.5 s): the 12 steps before it are blanks, not low bars."""
    samples = [0.0] * 12 + [10.0, 20.0, 30.0, 40.0]
    shown = since_start(samples, until=101.9, started=100.0, ended=True)
    assert shown == [None] * 12 + [10.0, 20.0, 30.0, 40.0]
    assert sparkline(shown) == " " * 12 + "▃▅▆█"
    assert since_start(samples, until=200.0, started=100.0, ended=False) == samples, "long enough: all"


def test_a_pane_that_has_not_started_has_spent_nothing() -> None:
    line = gauge_text(Metrics(), 0.0, [], None, width=80, running=False).plain
    assert line.endswith(" · $0"), "not `$?`: nothing was asked of any provider yet"
