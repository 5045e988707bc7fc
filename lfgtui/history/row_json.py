"""One history row as JSON and back, every value checked against its column.

The lossless export (export.py) is made of these rows, and so is a ticket as a watcher or a worker is
told it (remote/description.py, broker/work.py): those pass rows on without the export's Markdown,
reviews or prices, so this module imports only the rows' own vocabulary (issue #77: a worker and
`lfg attach` start without loading the export).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import re
from dataclasses import asdict
from typing import Any, TypeVar

from lfgtui.config.validation import RUN_ID_PATTERN
from lfgtui.events import ErrorKind, Outcome
from lfgtui.history.database import StoreError
from lfgtui.history.rows import ID_BYTES, Row
from lfgtui.history.schema import PartKind
from lfgtui.history.values import Column, typed_columns
from lfgtui.tickets.ticket import ISOLATIONS

R = TypeVar("R", bound=Row)


def row_json(row: Row) -> dict[str, Any]:
    data = asdict(row)
    for name, value in data.items():
        if isinstance(value, float) and not math.isfinite(value):
            data[name] = None  # a bad value read from the file (see `read_value`): JSON has no NaN
    if "chunks" in data:
        data["chunks"] = base64.b64encode(data["chunks"]).decode("ascii")
    for name, value in data.items():
        if isinstance(value, tuple):
            data[name] = list(value)
    return data


MAX_TIME = 253402300799.0
"""The last second of the year 9999: a wall-clock time beyond it cannot be shown as a date."""
SQLITE_INTEGERS = range(-(2**63), 2**63)
RECORD_ID = re.compile(f"[0-9a-f]{{{2 * ID_BYTES}}}")
"""A run or attempt id as `new_id` makes them; `lfg` finds them by hex prefix."""
_ENUMS: dict[str, frozenset[str]] = {
    "outcome": frozenset(o.value for o in Outcome),
    "error_kind": frozenset(k.value for k in ErrorKind),
    "kind": frozenset(k.value for k in PartKind),
    "isolation": frozenset(ISOLATIONS),
}
_TIMES = frozenset({"started_at", "ended_at"})
_AMOUNTS = frozenset({"cost_usd", "chunk_count", "diff_added", "diff_removed", "diff_files"})
"""Columns besides the token counts (`*_tokens`) that hold an amount, which is never negative."""


def _amount(column: str) -> bool:
    return column.endswith("_tokens") or column in _AMOUNTS


class InvalidExport(StoreError):
    """A document that is not an export this lfg can load; says where (the JSON path, with the
    ticket and attempt it is in) and what is wrong."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"not a valid lfg history export: {where}: {problem}")


def brief(value: Any) -> str:
    """A value as a message quotes it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidExport(where, f"must be a string, not {brief(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidExport(where, "holds a lone surrogate (\\udXXX), which is not text") from None
    return value


def _number(value: Any, where: str, column: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidExport(where, f"must be a number, not {brief(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidExport(where, f"must be a finite number, not {brief(value)}")
    if column in _TIMES and not 0 <= number <= MAX_TIME:
        raise InvalidExport(where, f"must be a Unix time between 1970 and 9999, not {brief(value)}")
    if number < 0 and _amount(column):
        raise InvalidExport(where, f"must not be negative, not {brief(value)}")
    return number


def _value(value: Any, column: Column, where: str) -> Any:
    """One exported field, checked against its column and converted to what the row holds."""
    if value is None:
        if column.optional:
            return None
        raise InvalidExport(where, "must not be null")
    name = column.name
    if column.kind is str:
        text = _text(value, where)
        if name == "id" and not RECORD_ID.fullmatch(text):
            raise InvalidExport(where, f"must be {2 * ID_BYTES} lowercase hex digits, not {brief(text)}")
        if name == "ticket" and not RUN_ID_PATTERN.fullmatch(text):
            allowed = "letters, digits, '_', '-', '.' and one '@'"
            raise InvalidExport(where, f"may use only {allowed}, not {brief(text)}")
        if name in _ENUMS and text not in _ENUMS[name]:
            raise InvalidExport(where, f"must be one of {', '.join(sorted(_ENUMS[name]))}, not {brief(text)}")
        if name == "meta":
            try:
                meta = json.loads(text)
            except (ValueError, RecursionError):
                meta = None
            if not isinstance(meta, dict):
                raise InvalidExport(where, f"must be a JSON object in a string, not {brief(text)}")
        return text
    if column.kind is float:
        return _number(value, where, name)
    if column.kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value not in SQLITE_INTEGERS:
            raise InvalidExport(where, f"must be a whole number of at most 19 digits, not {brief(value)}")
        if value < 0 and _amount(name):
            raise InvalidExport(where, f"must not be negative, not {brief(value)}")
        return value
    if column.kind is bool:
        if not isinstance(value, bool):
            raise InvalidExport(where, f"must be true or false, not {brief(value)}")
        return value
    if column.kind is bytes:
        try:
            return base64.b64decode(_text(value, where), validate=True)
        except binascii.Error:
            raise InvalidExport(where, "must be base64") from None
    if not isinstance(value, list):
        raise InvalidExport(where, f"must be a list of strings, not {brief(value)}")
    items = tuple(_text(item, f"{where}[{i}]") for i, item in enumerate(value))
    for i, item in enumerate(items):
        if name == "depends_on" and not RUN_ID_PATTERN.fullmatch(item):
            raise InvalidExport(f"{where}[{i}]", f"is not a ticket id: {brief(item)}")
    return items


def row_from_json(cls: type[R], data: dict[str, Any], where: str, names: dict[str, str] | None = None) -> R:
    """A row from its JSON object, where `names` maps a column to the key it has there (when not its
    own); a column added after the first version of the format (it has a default) may be absent, as
    in an export written before it existed."""
    values = []
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    for column in typed_columns(cls):
        key = names.get(column.name, column.name) if names else column.name
        if key in data:
            values.append(_value(data[key], column, f"{where}.{key}"))
        elif column.name in defaults:
            values.append(defaults[column.name])
        else:
            raise InvalidExport(f"{where}.{key}", "is missing")
    return cls(*values)
