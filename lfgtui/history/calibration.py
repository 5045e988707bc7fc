"""What the history knows of each model's tokens per character, to start a run's estimate with.

A run learns what a character of a model's output is worth from its own requests' counts
(cost/tokens.py `OutputCalibration`), but the tickets that start together all stream before any of
them reports one, and at lfg's fixed four characters a token their live tok/s reads a third high.
The history has every earlier request's reported count and the characters it holds by lfg's account
(`counted_chars`: none for a count that holds input lfg never saw; without the thinking's when the
count says its thinking, `reasoning_tokens`, which is then taken from the count too: a model's
hidden reasoning would make each of its characters worth tens of tokens); the weighted median of their
ratio over a model's latest requests (cost/tokens.py `weighted_median`, as a run's own calibration) is
what its first requests are estimated with, and that of every model's latest requests what a model it
never counted starts from.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from lfgtui.cost.tokens import ANY_MODEL, weighted_median

RECENT = 50
"""The latest requests of a model whose counts say what its characters are worth."""
MIN_CHARS = 200
"""A request with less output says little: a few characters round its estimate far off."""

_COUNTED = """
SELECT r.output_tokens - coalesce(r.reasoning_tokens, 0) AS counted, r.counted_chars
FROM attempts AS a INDEXED BY attempts_model JOIN requests AS r ON r.attempt_id = a.id
WHERE a.provider = ? AND a.model = ? AND counted > 0 AND r.counted_chars >= ?
ORDER BY a.started_at DESC, r.n DESC
LIMIT ?
"""
"""A model's latest counted requests of `MIN_CHARS` or more whose characters are known, newest first:
only that model's attempts are read (the index on (provider, model))."""
_ANY_COUNTED = """
SELECT output_tokens - coalesce(reasoning_tokens, 0) AS counted, counted_chars FROM requests
WHERE counted > 0 AND counted_chars >= ?
ORDER BY rowid DESC
LIMIT ?
"""
"""The latest such requests of every model, newest recorded first."""


def recorded_calibration(
    conn: sqlite3.Connection, models: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], float]:
    """Tokens per character of each of `models` (provider, model) whose latest requests reported a
    count, by their weighted median: reported tokens over the characters the count holds; and of every
    model's latest requests together, under `ANY_MODEL`, for the models the history never counted."""
    found: dict[tuple[str, str], float] = {}
    for provider, model in dict.fromkeys(models):
        found |= _median(conn.execute(_COUNTED, (provider, model, MIN_CHARS, RECENT)), (provider, model))
    return found | _median(conn.execute(_ANY_COUNTED, (MIN_CHARS, RECENT)), ANY_MODEL)


def _median(counted: Iterable[tuple[int, int]], key: tuple[str, str]) -> dict[tuple[str, str], float]:
    """`key` with the weighted median of the (reported tokens, characters) `counted`: none for none."""
    per_char = weighted_median(counted)
    return {} if per_char is None else {key: per_char}
