"""The gauge line under each pane: TTFT, live tok/s with a sparkline, tokens, elapsed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from lfgtui.formats import tokens, ttft
from lfgtui.metrics import Metrics
from lfgtui.prices import format_usd
from lfgtui.ui.palette import DEFAULT

BARS = "▁▂▃▄▅▆▇█"
SPARK_SAMPLES = 16
MIN_SPARK = 4
"""Narrower than this, a sparkline says nothing: the pane shows none."""


def sparkline(values: Sequence[float]) -> str:
    """Bars scaled to the largest value shown, so the shape of the rate is visible at any speed."""
    top = max(values, default=0.0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))] for v in values)


def elapsed_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{seconds:.1f}s"


def gauge_text(
    metrics: Metrics,
    live_rate: float,
    samples: Sequence[float],
    elapsed: float | None,
    width: int,
    running: bool,
    spark_style: str = DEFAULT.running,
) -> Text:
    """One line of gauges that fits `width`; `~` marks a rate, a token count and a cost that are still
    estimated (from the characters, until the provider reports its usage); `$?` is a cost no price is
    known for.

    The cost comes after the token numbers, when it fits; the sparkline gets the room the numbers
    leave (its latest samples). When not everything fits, a running pane keeps its sparkline and a
    finished one its elapsed time.
    """
    estimated = "~" if running or metrics.tokens_estimated else ""  # the live rate always counts estimates
    rate = Text.assemble((f"{estimated}{live_rate:.1f}".rjust(5), "bold"), (" tok/s", "dim"))
    parts = [
        Text.assemble(("TTFT ", "dim"), ttft(metrics)),
        rate,
        Text.assemble(tokens(metrics.output_tokens, metrics.tokens_estimated), (" tok", "dim")),
    ]
    separator = Text(" · ", "dim")

    def room(shown: list[Text]) -> int:
        return width - sum(map(len, shown)) - len(separator) * (len(shown) - 1)

    with_cost = [*parts, Text(format_usd(metrics.cost_usd, metrics.cost_estimated))]
    if room(with_cost) >= 0:
        parts = with_cost

    if elapsed is not None:
        with_elapsed = [*parts, Text(elapsed_text(elapsed))]
        if room(with_elapsed) > MIN_SPARK or (room(with_elapsed) >= 0 and not running):
            parts = with_elapsed
    spark = min(room(parts) - 1, len(samples))
    if spark >= MIN_SPARK:
        rate.append(" ")
        rate.append(sparkline(samples[-spark:]), spark_style)
    return separator.join(parts)
