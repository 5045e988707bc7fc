"""The gauge line under each pane: TTFT, live tok/s with a sparkline, tokens, elapsed."""

from __future__ import annotations

from collections import deque

from rich.text import Text

from lfgtui.metrics import Metrics

BARS = "▁▂▃▄▅▆▇█"
SPARK_SAMPLES = 16


def sparkline(values: deque[float]) -> str:
    """Bars scaled to the largest value shown, so the shape of the rate is visible at any speed."""
    top = max(values, default=0.0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))] for v in values)


def elapsed_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{seconds:.1f}s"


def gauge_text(metrics: Metrics, live_rate: float, samples: deque[float], elapsed: float | None) -> Text:
    """One line of gauges; `~` marks a token count that is still an estimate."""
    ttft = "-" if metrics.ttft_s is None else f"{metrics.ttft_s * 1000:.0f} ms"
    text = Text.assemble(("TTFT ", "dim"), ttft, ("  ·  ", "dim"))
    text.append(f"{live_rate:5.1f}", "bold")
    text.append(" tok/s ", "dim")
    text.append(sparkline(samples), "cyan")
    tokens = f"{'~' if metrics.tokens_estimated else ''}{metrics.output_tokens}"
    text.append("  ·  ", "dim")
    text.append(tokens)
    text.append(" tok", "dim")
    if elapsed is not None:
        text.append("  ·  ", "dim")
        text.append(elapsed_text(elapsed))
    return text
