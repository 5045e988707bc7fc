"""Text from outside made inert before it is shown: no character of it can drive a terminal.

Answers, reasoning, tool arguments and output, provider messages and imported history are all
untrusted. Shown as they are, an escape sequence in them could set the terminal's title (OSC 0),
write the clipboard (OSC 52), plant a hyperlink (OSC 8), move the cursor or erase the screen.

Every function here maps one character at a time, so streamed text can be made inert chunk by
chunk: an escape sequence split across two chunks is as harmless as a whole one, because its ESC
is shown as `␛` and what follows it is plain text. What is stored is never made
inert; only what is shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

EXPLICIT_BIDI = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
"""Embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069): they can make a terminal
show text in another order than it runs (a 'Trojan Source' command, `safe\u202egnp.exe`)."""
BIDI_CONTROLS = EXPLICIT_BIDI | {0x200E, 0x200F, 0x061C}
"""The explicit controls and the direction marks (LRM, RLM, ALM)."""


def _visible_control(code: int) -> str:
    """How a control character looks once inert: C0 as its Unicode control picture (`␛`, `␇`),
    DEL as `␡`, C1 as `\\x9b`."""
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}"


_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]

SURROGATES = range(0xD800, 0xE000)
"""A lone surrogate (JSON's `"\\ud800"`) cannot be encoded for a terminal: writing it would fail."""

_INERT: dict[int, str | None] = {code: _visible_control(code) for code in _CONTROLS if code not in (9, 10)}
_INERT[0x0D] = None  # a carriage return would move the cursor back over the line: dropped, like rich does
_INERT.update(dict.fromkeys(SURROGATES, "\ufffd"))
_INERT.update({code: f"<U+{code:04X}>" for code in EXPLICIT_BIDI})

_REVEALED: dict[int, str | None] = {
    **_INERT,
    0x0D: "\u240d",
    **{code: f"<U+{code:04X}>" for code in BIDI_CONTROLS},  # the marks too: nothing of it may hide
}

_JSON_ESCAPES: dict[int, str | None] = {
    code: f"\\u{code:04x}" for code in [0x7F, *range(0x80, 0xA0), *BIDI_CONTROLS, 0x2028, 0x2029, *SURROGATES]
}


def _character_class(codes: Iterable[int]) -> re.Pattern[str]:
    """A pattern that finds any of `codes`: text without them (almost all text) is scanned at C
    speed and returned as it is, where a `str.translate` would look every character up.

    Runs of codes are written as ranges (the surrogates as one, not as 2048 characters): the compiled
    pattern is the same, and compiling it costs a millisecond instead of several."""
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return re.compile(
        "["
        + "".join(
            re.escape(chr(low)) + (f"-{re.escape(chr(high))}" if high > low else "") for low, high in ranges
        )
        + "]"
    )


def _replacer(table: dict[int, str | None]) -> Callable[[str], str]:
    """Replaces what `table` maps; its pattern is compiled on the first call, so a command that
    shows no text (or no JSON, or nothing to reveal) does not pay for compiling it at import."""
    pattern: re.Pattern[str] | None = None

    def replace(text: str) -> str:
        nonlocal pattern
        if text.isprintable():  # no key of a table is printable: most chunks return here, at C speed
            return text
        if pattern is None:
            pattern = _character_class(table)
        return pattern.sub(lambda match: table[ord(match[0])] or "", text)

    return replace


_inert = _replacer(_INERT)
_revealed = _replacer(_REVEALED)
_json_escaped = _replacer(_JSON_ESCAPES)


def inert(text: str) -> str:
    """`text` with every control character but newline and tab shown visibly (`␛]0;title␇`), as are
    bidi embeddings, overrides and isolates (`<U+202E>`); carriage returns dropped and lone surrogates
    replaced by `�`. Safe for a terminal and for a text file someone will `cat`. The direction marks
    (LRM, RLM, ALM) stay: right-to-left prose uses them, and alone they reorder no run of letters."""
    return _inert(text)


def revealed(text: str) -> str:
    """`text` as a person must see it to judge it (an approval, a tool call): like `inert`, but a
    carriage return shows as `␍` and bidirectional controls as `<U+202E>`, so nothing can hide or
    reorder part of it."""
    return _revealed(text)


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value)` that a terminal can show: the same JSON value, with DEL, the C1 controls,
    bidirectional controls, line separators and lone surrogates written as `\\uXXXX` escapes (JSON
    already escapes C0). Keeps every character, so it stays lossless."""
    return _json_escaped(json.dumps(value, ensure_ascii=False, **options))
