"""Lone surrogates in text from outside, replaced where the text comes in, and said.

JSON allows `"\\ud800"`, half of a UTF-16 pair with no other half, and Python reads it as a character
that no UTF-8 can hold: the history's SQLite, the NDJSON, the served stream, a terminal and the next
request to a model would each fail on it, and one such character in one ticket once stopped a whole
run's recording. So the text is made whole where it enters the run: an attempt's events as they are
stamped (`events.EventFactory`: the adapters, the tool loop, a coding agent's updates, tool output),
events decoded from another process (`remote/codec.py`: broker entries, `lfg attach`) and a person's
requests as the run takes them (`Run.ask`: steer, queue, follow-up, edit-held, from the TUI, the
served API and the inbox page alike).

Each lone surrogate becomes U+FFFD, as every UTF-8 decoder writes broken text, and a high and a low
half that arrive side by side in one piece of text become the one character they stand for. What was
replaced is logged (lfg's log: the ticket, the attempt, the field and each code unit, as `\\ud800`),
so nothing is replaced unsaid. A reversible escape was the other choice: it would keep the code unit
in the text itself, but every reader (the model sent it back, a search, an export's reader) would then
have to know to unescape it, and what a person reads would differ from what is stored.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_LONE = re.compile("[\ud800-\udfff]")
_ESCAPED = re.compile(r"\\ud[89a-f][0-9a-f]{2}")
_PLAIN = frozenset({int, float, bool, type(None)})


def mended_text(text: str) -> str:
    """`text` with each lone surrogate as U+FFFD (a pair side by side joined into its character)."""
    if text.isascii() or _LONE.search(text) is None:  # almost every piece of text: ASCII is known at once
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def mended(value: Any) -> Any:
    """`value` with every string in it mended (`mended_text`), of the same type: in tuples, lists,
    dicts (keys too) and dataclasses; the very same object when nothing in it needed mending, which
    is almost always."""
    kind = type(value)
    if kind is str:
        return mended_text(value)
    if kind in _PLAIN:
        return value
    if kind is tuple or kind is list:
        items = [mended(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else kind(items)
    if kind is dict:
        pairs = [(mended(k), mended(v)) for k, v in value.items()]
        same = all(a is k and b is v for (a, b), (k, v) in zip(pairs, value.items(), strict=True))
        return value if same else dict(pairs)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {
            f.name: new
            for f in dataclasses.fields(value)
            if f.init and (new := mended(old := getattr(value, f.name))) is not old
        }
        return dataclasses.replace(value, **changed) if changed else value
    return value


def mended_fields(values: dict[str, Any], where: Callable[[], str]) -> dict[str, Any]:
    """`values` (a thing's fields by name) with each mended in place, and said with `where` they came
    (made only when one was): a field of ASCII text, almost every one, costs a type check."""
    for name, value in values.items():
        if (type(value) is not str or not value.isascii()) and (new := mended(value)) is not value:
            values[name] = new
            said(f"{where()}.{name}", value)
    return values


def said(where: str, value: object) -> None:
    """Log that `value` at `where` held lone surrogates, now replaced: each one as its code unit
    (`repr` writes a surrogate as its escape, in a string however deep)."""
    units = sorted(set(_ESCAPED.findall(repr(value))))
    log.warning(
        "%s held %s (lone surrogates, which UTF-8 cannot hold): replaced by U+FFFD", where, " ".join(units)
    )
