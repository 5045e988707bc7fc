"""The gauge line under each pane: TTFT, live tok/s with a sparkline, tokens and the thinking among
them, a coding agent's context, cost, elapsed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from lfgtui.cost.metrics import RATE_STEP_S, Metrics
from lfgtui.cost.prices import format_usd
from lfgtui.formats import context_percent, seconds, share, short_count, tokens, ttft
from lfgtui.ui.drawing.palette import DEFAULT

BARS = "▁▂▃▄▅▆▇█"
SPARK_SAMPLES = 16
MIN_SPARK = 4
"""Narrower than this, a sparkline says nothing: the pane shows none."""


def sparkline(values: Sequence[float | None]) -> str:
    """Bars scaled to the largest value shown, so the shape of the rate is visible at any speed; a
    blank for a step before the attempt started (a low bar there would read as a slow stream)."""
    top = max((v for v in values if v is not None), default=0.0)

    def bar(value: float | None) -> str:
        if value is None:
            return " "
        return BARS[0] if top <= 0 else BARS[min(len(BARS) - 1, int(value / top * (len(BARS) - 1) + 0.5))]

    return "".join(map(bar, values))


def since_start(samples: Sequence[float], until: float, started: float, ended: bool) -> list[float | None]:
    """`samples` (`RateHistory.rates(until, len(samples), ended)`, one a step, the last one ending by
    `until`) with the steps that ended before the attempt `started` blanked (None)."""
    last = int(until // RATE_STEP_S) - (0 if ended else 1)
    first = last - len(samples) + 1
    before = max(0, min(len(samples), int(started // RATE_STEP_S) - first))
    return [None] * before + list(samples[before:])


def context_gauge(metrics: Metrics) -> Text | None:
    """`ctx 45.2k/200k 23%`: how full a coding agent's context window is, as numbers; None until it
    says."""
    context = metrics.context
    if context is None:
        return None
    used = f"{short_count(context.used)}/{short_count(context.size)}"
    return Text.assemble(("ctx ", "dim"), used, " ", (context_percent(context.used, context.size), "bold"))


def thinking_gauge(metrics: Metrics) -> Text | None:
    """`think 3k 30.0s`: the thinking among the tokens (`~` while lfg's estimate) and the time before
    the first output that is not thinking, apart from tok/s, which never counts it; None when the
    attempt did not think."""
    thought = metrics.thinking_tokens
    if not thought:
        return None
    counted = f"{'~' if metrics.thinking_estimated else ''}{short_count(thought)}"
    took = f" {seconds(metrics.thinking_s)}" if metrics.thinking_s else ""
    return Text.assemble(("think ", "dim"), counted, took)


def cache_gauge(metrics: Metrics) -> Text | None:
    """`cache 83%`: the share of the ticket's prompts the provider's prompt cache read, then the last
    request's when it differs (`last 0%`: that one missed) and why it missed where lfg can tell
    (`(tools changed)`); None until a request's usage says."""
    hit, last = metrics.cache_hit, metrics.cache_hit_last
    if hit is None or last is None:
        return None
    shown = Text.assemble(("cache ", "dim"), share(hit))
    if round(last * 100) != round(hit * 100):
        shown.append_text(Text.assemble((" last ", "dim"), share(last)))
    missed = metrics.cache_miss
    if missed is not None:
        shown.append(f" ({missed})", "dim")
    return shown


def cost_gauge(metrics: Metrics) -> Text:
    """The cost, `~` while estimated, `$?` with no price, and `agent` after one the agent reported."""
    cost = Text(format_usd(metrics.cost_usd, metrics.cost_estimated))
    if metrics.cost_by_agent:
        cost.append(" agent", "dim")
    return cost


def elapsed_text(elapsed: float) -> str:
    minutes, secs = divmod(int(elapsed), 60)
    return f"{minutes}:{secs:02d}" if minutes else seconds(elapsed)


def gauge_text(
    metrics: Metrics,
    live_rate: float,
    samples: Sequence[float | None],
    elapsed: float | None,
    width: int,
    running: bool,
    spark_style: str = DEFAULT.running,
) -> Text:
    """One line of gauges that fits `width`; `~` marks a rate, a token count and a cost that are still
    estimated (from the characters, until the provider reports its usage; a rate also when an agent's
    count includes tool input it sent whole, see `Metrics.rate_estimated`); `$?` is a cost no price is
    known for, `agent` marks a cost the coding agent reported; `$0` before the attempt starts
    (`elapsed` None): nothing is spent yet, whatever the price.

    A coding agent's context (`ctx used/size %`) and then the cost come after the token numbers, each
    when it fits; the sparkline gets the room the numbers leave (its latest samples). When not
    everything fits, a running pane keeps its sparkline and a finished one its elapsed time. The
    thinking among the tokens (`think 3k 30.0s`) shows after them in the room all that leaves, and
    the prompt cache's hit rate (`cache 83% last 0%`) last, in the room that leaves.
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
    with_cost = [*parts, cost_gauge(metrics) if elapsed is not None else Text("$0")]  # nothing spent yet
    if room(with_cost) >= 0:
        parts = with_cost

    if elapsed is not None:
        with_elapsed = [*parts, Text(elapsed_text(elapsed))]
        if room(with_elapsed) > MIN_SPARK or (room(with_elapsed) >= 0 and not running):
            parts = with_elapsed
    thought = thinking_gauge(metrics)
    if thought is not None:
        with_thought = [*parts[:3], thought, *parts[3:]]
        if room(with_thought) > (MIN_SPARK if running else -1):
            parts = with_thought
    cached = cache_gauge(metrics)
    if cached is not None:
        with_cache = [*parts, cached]
        if room(with_cache) > (MIN_SPARK if running else -1):
            parts = with_cache
    spark = min(room(parts) - 1, len(samples))
    if spark >= MIN_SPARK:
        rate.append(" ")
        rate.append(sparkline(samples[-spark:]), spark_style)
    return separator.join(parts)
