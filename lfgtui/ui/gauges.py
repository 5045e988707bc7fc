"""The gauge line under each pane: TTFT, live tok/s with a sparkline, tokens, a coding agent's
context, cost, elapsed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from lfgtui.cost.metrics import Metrics
from lfgtui.cost.prices import format_usd
from lfgtui.formats import context_percent, short_count, tokens, ttft
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


def context_gauge(metrics: Metrics) -> Text | None:
    """`ctx 45.2k/200k 23%`: how full a coding agent's context window is, as numbers; None until it
    says."""
    context = metrics.context
    if context is None:
        return None
    used = f"{short_count(context.used)}/{short_count(context.size)}"
    return Text.assemble(("ctx ", "dim"), used, " ", (context_percent(context.used, context.size), "bold"))


def cost_gauge(metrics: Metrics) -> Text:
    """The cost, `~` while estimated, `$?` with no price, and `agent` after one the agent reported."""
    cost = Text(format_usd(metrics.cost_usd, metrics.cost_estimated))
    if metrics.cost_by_agent:
        cost.append(" agent", "dim")
    return cost


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
    estimated (from the characters, until the provider reports its usage; a rate also when an agent's
    count includes tool input it sent whole, see `Metrics.rate_estimated`); `$?` is a cost no price is
    known for, `agent` marks a cost the coding agent reported.

    A coding agent's context (`ctx used/size %`) and then the cost come after the token numbers, each
    when it fits; the sparkline gets the room the numbers leave (its latest samples). When not
    everything fits, a running pane keeps its sparkline and a finished one its elapsed time.
    """
    estimated = "~" if running or metrics.rate_estimated else ""  # the live rate always counts estimates
    rate = Text.assemble((f"{estimated}{live_rate:.1f}".rjust(5), "bold"), (" tok/s", "dim"))
    parts = [
        Text.assemble(("TTFT ", "dim"), ttft(metrics)),
        rate,
        Text.assemble(tokens(metrics.output_tokens, metrics.tokens_estimated), (" tok", "dim")),
    ]
    separator = Text(" · ", "dim")

    def room(shown: list[Text]) -> int:
        return width - sum(map(len, shown)) - len(separator) * (len(shown) - 1)

    context = context_gauge(metrics)
    if context is not None and room([*parts, context]) >= 0:
        parts.append(context)
    with_cost = [*parts, cost_gauge(metrics)]
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
