"""Token counts as a provider reports them, checked once where they enter lfg.

A usage field may hold any JSON value: the SDKs build their models without validating them when a
stream does not fit their types, and an agent service or a coding agent sends what it likes. Prices
multiply counts exactly, SQLite stores 64-bit integers and the gauges add them up, so a count of
10.5, NaN, 1e400, "abc", a list, -3 or 2^70 taken as it came would lose the run. Every adapter reads
its usage through one `UsageCheck`: a count is a whole number from 0 to `MAX_TOKENS`; anything else
is ignored, so lfg's own estimate stays (shown `~`), and a `Status` says which field and why, once
per model call.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from lfgtui.events import Event, EventFactory, ModelShare, Status, Usage

MAX_TOKENS = 10**12
"""More than any request counts (the largest context windows hold about 10^7 tokens), and far below
SQLite's 2^63, so a sum of counts always fits a column."""
SHOWN_CHARS = 40
"""How much of an ignored value its status quotes."""
MAX_MODEL_CHARS = 200
"""Longer than any model's name; a longer one is not a name."""


def count_problem(value: object) -> str | None:
    """Why `value` is not a token count, or None when it is one (an integer, or a float with no
    fraction, from 0 to `MAX_TOKENS`)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "not a number"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "not a finite number"
        if not value.is_integer():
            return "not a whole number"
    if value < 0:
        return "negative"
    if value > MAX_TOKENS:
        return f"more than {MAX_TOKENS:,} tokens"
    return None


def _shown(value: object) -> str:
    """The start of `value` as JSON (NaN and Infinity as Python's JSON writes them)."""
    if isinstance(value, list):
        return "[…]"  # only its shape: the content could be megabytes
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, str):
        value = value[:SHOWN_CHARS]
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


@dataclass
class UsageCheck:
    """The usage of one model call read field by field; each value ignored is said once."""

    ev: EventFactory
    _said: set[tuple[str, str]] = field(default_factory=set)
    _notes: list[str] = field(default_factory=list)

    def count(self, name: str, value: Any) -> int | None:
        """The count in field `name` (as the provider names it), None when absent or ignored."""
        if value is None:
            return None
        problem = count_problem(value)
        if problem is None:
            return int(value)
        if (name, problem) not in self._said:
            self._said.add((name, problem))
            self._notes.append(
                f"ignored the provider's {name} = {_shown(value)}: {problem}; lfg keeps its own estimate"
            )
        return None

    def model(self, name: str, value: Any) -> str | None:
        """The model named in field `name`, None when absent or ignored."""
        if value is None:
            return None
        problem = None
        if not isinstance(value, str) or not value.strip():
            problem = "not a model's name"
        elif len(value) > MAX_MODEL_CHARS:
            problem = f"longer than {MAX_MODEL_CHARS} characters"
        if problem is None:
            return value
        if (name, problem) not in self._said:
            self._said.add((name, problem))
            self._notes.append(f"ignored the provider's {name} = {_shown(value)}: {problem}")
        return None

    def events(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        models: tuple[ModelShare, ...] = (),
        tokens_per_char: float | None = None,
        output_unseen: bool = False,
    ) -> list[Event]:
        """A `Status` for each value ignored since the last call, then a `Usage` of the counts read
        (none when no count is known: the metrics keep their estimate), with lfg's `tokens_per_char`."""
        events: list[Event] = [self.ev(Status, message=note) for note in self._notes]
        self._notes.clear()
        counts = (input_tokens, output_tokens, reasoning_tokens, cache_read_tokens, cache_write_tokens)
        if any(c is not None for c in counts):
            events.append(
                self.ev(
                    Usage,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    reasoning_tokens=reasoning_tokens,
                    cache_read_tokens=cache_read_tokens,
                    cache_write_tokens=cache_write_tokens,
                    models=models,
                    tokens_per_char=tokens_per_char,
                    output_unseen=output_unseen,
                )
            )
        return events
