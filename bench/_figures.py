"""Percentiles and medians of the benchmarks' figures, and the cells of the markdown tables they print.

Shared by the scripts beside it (`from _figures import ...`: a script's own folder is on sys.path). It
imports nothing of lfgtui, so that `textual_baseline.py` runs where only Textual is installed.
"""

from __future__ import annotations

import statistics
from typing import Any


def percentile(values: list[float], p: float) -> float | None:
    """The value at fraction `p` (0.95 for p95) of the sorted values, without interpolation; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def median_of(results: list[dict[str, Any]], key: str) -> float | None:
    """The median of one figure over several runs' results, leaving out the runs that lack it."""
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def ms(value: float | None, spec: str = ".0f") -> str:
    """Seconds shown as milliseconds, `-` for none."""
    return "-" if value is None else format(value * 1000, spec)


def figure(value: Any, spec: str) -> str:
    """A figure some runs lack (the agents' CPU of an API run, say) as `-`."""
    return "-" if value is None else format(value, spec)


def ratio(ours: float | None, theirs: float | None) -> str:
    """`ours` as a multiple of `theirs`, `-` where either is missing or `theirs` is 0."""
    if ours is None or theirs is None or theirs == 0:
        return "-"
    return f"{ours / theirs:.2f}"


def table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table_head(columns: list[str]) -> str:
    """A markdown table's header line and the line under it."""
    return table_row(columns) + "\n|" + "---|" * len(columns)
