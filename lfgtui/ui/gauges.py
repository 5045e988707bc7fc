"""The gauge line under each pane: TTFT, live tok/s with a sparkline, tokens, elapsed."""

from __future__ import annotations

from collections import deque

from rich.text import Text

from lfgtui.metrics import Metrics

BARS = "▁▂▃▄▅▆▇█"
SPARK_SAMPLES = 16
MIN_SPARK = 4
"""Narrower than this, a sparkline says nothing: the pane shows none."""


def sparkline(values: deque[float]) -> str:
    """Bars scaled to the largest value shown, so the shape of the rate is visible at any speed."""
    top = max(values, default=0.0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))] for v in values)


def elapsed_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{seconds:.1f}s"


def gauge_text(
    metrics: Metrics, live_rate: float, samples: deque[float], elapsed: float | None, width: int
) -> Text:
    """One line of gauges that fits `width`; `~` marks a token count that is still an estimate.

    The sparkline gets the room the numbers leave (its latest samples); in a narrow pane it goes
    first, then the elapsed time.
    """
    ttft = "-" if metrics.ttft_s is None else f"{metrics.ttft_s * 1000:.0f} ms"
    tokens = f"{'~' if metrics.tokens_estimated else ''}{metrics.output_tokens}"
    rate = Text.assemble((f"{live_rate:5.1f}", "bold"), (" tok/s", "dim"))
    parts = [Text.assemble(("TTFT ", "dim"), ttft), rate, Text.assemble(tokens, (" tok", "dim"))]
    if elapsed is not None:
        parts.append(Text(elapsed_text(elapsed)))
    separator = Text(" · ", "dim")
    while len(parts) > 3 and sum(map(len, parts)) + len(separator) * (len(parts) - 1) > width:
        parts.pop()
    room = width - sum(map(len, parts)) - len(separator) * (len(parts) - 1) - 1
    if room >= MIN_SPARK:
        rate.append(" ")
        rate.append(sparkline(deque(list(samples)[-min(room, len(samples)) :])), "cyan")
    return separator.join(parts)
