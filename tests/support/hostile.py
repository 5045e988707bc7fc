"""Outside text at its worst, in every field: values of any lfg type whose every string is a hostile
text, made from the type's annotations, so a field added to an event or a verdict is filled without
anyone listing it."""

from __future__ import annotations

import dataclasses
import enum
import time
import types
import typing
from typing import Any

from lfgtui.cost.metrics import Metrics
from lfgtui.events import AttemptEnded, ElicitationAsked, Event, Outcome

PAYLOADS = {
    "closing tag": "Summarize the logs [/] and strip the [/b] tags",
    "click action": "[@click=app.quit]press me[/]",
    "link": "[link=https://evil.example/]a link[/link]",
    "ansi": "\x1b[2J\x1b[31mwiped \x1b[1;1Hmoved \x9b2Jc1",
    "osc": "\x1b]0;pwned\x07 \x1b]52;c;ZXZpbA==\x07 \x1b]8;;https://evil.example/\x1b\\here\x1b]8;;\x1b\\",
    "bidi": "safe\u202egnp.exe\u202c \u2066isolated\u2069 \u200fmark",
    "new line": "one\n[   9.9s] other  ✓ completed\rback",
}
HOSTILE = " ".join(PAYLOADS.values())
"""Every payload at once: one text that is each kind of trouble."""
LONE_SURROGATES = "half \ud800 of one, \udfff of another"
"""What JSON's `"\\ud800"` reads as in Python: characters no UTF-8 (a terminal, SQLite) can hold. Not
among the payloads: most of lfg never sees them, mended where text enters the run (surrogates.py)."""

FORM = {
    "type": "object",
    "title": HOSTILE,
    "description": HOSTILE,
    "properties": {
        HOSTILE: {"type": "string", "title": HOSTILE, "description": HOSTILE},
        "pick": {"type": "string", "title": HOSTILE, "enum": [HOSTILE, "b"], "enumNames": [HOSTILE, "B"]},
        "many": {"type": "array", "items": {"type": "string", "enum": [HOSTILE]}, "description": HOSTILE},
    },
    "required": [HOSTILE],
}
"""A form whose every word is hostile: its title, about, field names, titles, descriptions, choices."""
SPECIAL: dict[tuple[type[Event], str], Any] = {
    (ElicitationAsked, "form"): FORM,
    (AttemptEnded, "outcome"): Outcome.FAILED,
}
"""Fields whose value must have a shape to be drawn at all (a form is a JSON Schema)."""


STAMP = frozenset(f.name for f in dataclasses.fields(Event))
"""What every event carries, set by whoever makes it (`EventFactory`)."""

MADE_EMPTY = (Metrics,)
"""Types that hold no text, only numbers: made as they start."""


def hostile(kind: Any, text: str) -> Any:
    """A value of type `kind` with every `str` in it `text`: dataclasses, tuples, dicts and
    optionals are filled in (never left None), so each string reaches what draws it."""
    origin = typing.get_origin(kind)
    if kind is str or kind is Any:
        return text
    if origin in (typing.Union, types.UnionType):
        filled = [arm for arm in typing.get_args(kind) if arm is not type(None)]
        return hostile(filled[0], text)
    if origin is tuple:
        arms = typing.get_args(kind)
        return (hostile(arms[0], text),) if arms[-1] is Ellipsis else tuple(hostile(a, text) for a in arms)
    if origin is dict or kind is dict:
        return {text: text}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return next(iter(kind))
    if kind is bool:
        return False
    if kind in (int, float):
        return kind(1)
    if kind in MADE_EMPTY:
        return kind()
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        filled_in = {f.name: hostile(hints[f.name], text) for f in dataclasses.fields(kind) if f.init}
        return kind(**filled_in)
    return None  # a type drawn from no text (a provider's turn): left out


def hostile_fields(kind: type[Event], text: str) -> dict[str, Any]:
    """An event type's own fields (all but its stamp), every string in them `text`."""
    hints = typing.get_type_hints(kind)
    return {
        f.name: SPECIAL.get((kind, f.name), hostile(hints[f.name], text))
        for f in dataclasses.fields(kind)
        if f.init and f.name not in STAMP
    }


def hostile_event(kind: type[Event], text: str, seq: int, ticket: str) -> Event:
    stamp = {"ticket": ticket, "attempt": 1, "seq": seq, "t": time.monotonic()}
    return kind(**hostile_fields(kind, text), **stamp)
