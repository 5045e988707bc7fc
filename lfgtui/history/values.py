"""Values read from the history file, made to fit their columns.

Reading never trusts the file: SQLite stores anything in any column, so every value read is made to
fit its field. Apart from rows.py, whose dataclasses (one per table) the summaries of `lfg history
list` do not need.
"""

from __future__ import annotations

import functools
import json
import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

BAD_TEXT = "?"
"""What a text column reads as when the file holds something else there: a row written by hand, by
another program or by an older lfg must never stop a reader."""
BAD_COUNT = -1
"""What a required integer column (every one is a count or a number ≥ 0) reads as when bad."""


@dataclass(frozen=True)
class Column:
    """A column's Python type (`str`, `float`, `int`, `bool`, `bytes` or `tuple`) and if it may be NULL."""

    name: str
    kind: type
    optional: bool


def _column(name: str, hint: Any) -> Column:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = isinstance(hint, types.UnionType)
    kind = args[0] if optional else typing.get_origin(hint) or hint
    return Column(name, kind, optional)


def read_value(value: Any, kind: type, optional: bool = False) -> Any:
    """A value as read from the file, made to fit its column: SQLite stores anything in any column,
    so a wrong type (or a NaN) becomes `BAD_TEXT`, NaN, `BAD_COUNT`, or None where NULL is allowed."""
    if value is None and optional:
        return None
    if kind is str:
        return value if isinstance(value, str) else BAD_TEXT
    if kind is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if number and math.isfinite(value) else math.nan
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return None if optional else BAD_COUNT
    if kind is bool:
        return value == 1
    if kind is bytes:
        return value if isinstance(value, bytes) else b""
    try:
        items = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        items = None
    return tuple(item for item in items if isinstance(item, str)) if isinstance(items, list) else ()


@functools.cache
def typed_columns(cls: type) -> tuple[Column, ...]:
    """The columns of a dataclass whose fields are named and typed as the values read into it."""
    hints = typing.get_type_hints(cls)
    return tuple(_column(f.name, hints[f.name]) for f in fields(cls))


def read_values(cls: type, values: Sequence[Any]) -> list[Any]:
    """The first `len(values)` fields of dataclass `cls`, each value made to fit (see `read_value`)."""
    return [read_value(v, c.kind, c.optional) for c, v in zip(typed_columns(cls), values, strict=False)]
