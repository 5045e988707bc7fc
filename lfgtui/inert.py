"""Text from outside made inert before it is shown: no character of it can drive a terminal.

Answers, reasoning, tool arguments and output, provider messages and imported history are all
untrusted. Shown as they are, an escape sequence in them could set the terminal's title (OSC 0),
write the clipboard (OSC 52), plant a hyperlink (OSC 8), move the cursor or erase the screen.

Every function here maps one character at a time (`str.translate`), so streamed text can be made
inert chunk by chunk: an escape sequence split across two chunks is as harmless as a whole one,
because its ESC is shown as `␛` and what follows it is plain text. What is stored is never made
inert; only what is shown.
"""

from __future__ import annotations

import json
from typing import Any

BIDI_CONTROLS = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
"""Embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069) and the direction marks: they
can make a terminal show text in another order than it runs (a 'Trojan Source' command)."""


def _visible_control(code: int) -> str:
    """How a control character looks once inert: C0 as its Unicode control picture (`␛`, `␇`),
    DEL as `␡`, C1 as `\\x9b`."""
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}"


_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]

_INERT: dict[int, str | None] = {code: _visible_control(code) for code in _CONTROLS if code not in (9, 10)}
_INERT[0x0D] = None  # a carriage return would move the cursor back over the line: dropped, like rich does

_REVEALED: dict[int, str | None] = {
    **_INERT,
    0x0D: "\u240d",
    **{code: f"<U+{code:04X}>" for code in BIDI_CONTROLS},
}

_JSON_ESCAPES: dict[int, str] = {
    code: f"\\u{code:04x}" for code in [0x7F, *range(0x80, 0xA0), *BIDI_CONTROLS, 0x2028, 0x2029]
}


def inert(text: str) -> str:
    """`text` with every control character but newline and tab shown visibly (`␛]0;title␇`), and
    carriage returns dropped. Safe for a terminal and for a text file someone will `cat`."""
    return text.translate(_INERT)


def revealed(text: str) -> str:
    """`text` as a person must see it to judge it (an approval, a tool call): like `inert`, but a
    carriage return shows as `␍` and bidirectional controls as `<U+202E>`, so nothing can hide or
    reorder part of it."""
    return text.translate(_REVEALED)


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value)` that a terminal can show: the same JSON value, with DEL, the C1 controls,
    bidirectional controls and line separators written as `\\uXXXX` escapes (JSON already escapes
    C0). Keeps every character, so it stays lossless."""
    return json.dumps(value, ensure_ascii=False, **options).translate(_JSON_ESCAPES)
