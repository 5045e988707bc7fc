"""What the stats report: per provider and model, and per day, with the arithmetic that sums them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class ModelStats:
    provider: str
    model: str
    attempts: int
    completed: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    tokens_per_s_p50: float | None
    output_tokens: int
    cost_usd: float | None = None
    """The sum of the priced attempts' costs; None when none was priced."""
    unpriced: int = 0
    """Attempts that made requests but have no cost (no price was known for the model)."""
    cost_estimated: bool = False


@dataclass(frozen=True)
class DayCost:
    """What one day's attempts cost (local time), with the same meaning of the fields as above."""

    day: str
    attempts: int
    cost_usd: float | None
    unpriced: int
    cost_estimated: bool


@dataclass(frozen=True)
class StatsRow:
    """One attempt's figures as the stats read them."""

    outcome: str | None
    ttft: float | None
    rate: float | None
    tokens: int
    cost: float | None
    estimated: bool


def summed_costs(rows: Sequence[StatsRow]) -> tuple[float | None, int, bool]:
    """The summed cost of the priced rows (None: none priced), how many that streamed had no price,
    and whether any of the sum is an estimate."""
    priced = [r for r in rows if r.cost is not None and math.isfinite(r.cost)]
    total = sum(r.cost for r in priced if r.cost is not None) if priced else None
    unpriced = sum(1 for r in rows if r.cost is None and r.tokens)
    return total, unpriced, any(r.estimated for r in priced)
