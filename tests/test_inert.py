"""Untrusted text is made inert before it is shown: no control character survives, nothing is lost."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from lfgtui.inert import BIDI_CONTROLS, EXPLICIT_BIDI, inert, json_text, revealed

CONTROLS = {*range(0x20), 0x7F, *range(0x80, 0xA0)} - {0x09, 0x0A}
HOSTILE = st.text(
    st.sampled_from(["\x1b", "\x07", "\x9b", "\r", "\n", "\t", "]", "0", ";", "a", "\u202e", "é"])
)


def test_escape_sequences_are_shown_not_obeyed() -> None:
    assert inert("a\x1b]0;pwned\x07b") == "a␛]0;pwned␇b"
    assert inert("\x1b]52;c;ZXZpbA==\x1b\\") == "␛]52;c;ZXZpbA==␛\\"
    assert inert("x\x9b2J") == "x\\x9b2J"
    assert inert("line\r\nnext\roverwrite") == "line\nnextoverwrite"
    assert inert("tab\tand\nnewline") == "tab\tand\nnewline"


def test_bidi_overrides_and_isolates_are_shown_and_marks_stay() -> None:
    """An override makes a terminal that does bidi show `safe\u202egnp.exe` as `safeexe.png`: shown
    as what it is. A right-to-left paragraph's marks (RLM) are left to do their job."""
    assert inert("safe\u202egnp.exe \u2066x\u2069") == "safe<U+202E>gnp.exe <U+2066>x<U+2069>"
    assert inert("שלום\u200f!") == "שלום\u200f!"


def test_revealed_shows_carriage_returns_and_bidi_controls() -> None:
    assert revealed("rm -rf /\r\u202eecho safe") == "rm -rf /␍<U+202E>echo safe"
    assert revealed("\u2066x\u2069") == "<U+2066>x<U+2069>"


@given(HOSTILE, st.integers(min_value=0, max_value=40))
def test_inert_text_has_no_control_characters_and_splits_anywhere(text: str, cut: int) -> None:
    shown = inert(text)
    assert not {ord(c) for c in shown} & (CONTROLS | EXPLICIT_BIDI)
    assert inert(text[:cut]) + inert(text[cut:]) == shown


@given(HOSTILE)
def test_revealed_text_has_no_controls_and_no_bidi(text: str) -> None:
    assert not {ord(c) for c in revealed(text)} & (CONTROLS | {0x0D} | BIDI_CONTROLS)


@given(st.text())
def test_json_text_is_the_same_value_with_nothing_a_terminal_obeys(text: str) -> None:
    line = json_text({"text": text})
    assert json.loads(line) == {"text": text}
    assert not {ord(c) for c in line} & (CONTROLS | BIDI_CONTROLS | {0x0D, 0x2028, 0x2029})


def test_a_lone_surrogate_can_still_be_written_out() -> None:
    text = "half \ud83d of an emoji"
    assert inert(text).encode("utf-8") == "half \ufffd of an emoji".encode()
    line = json_text({"text": text})
    assert line.encode("utf-8") and json.loads(line) == {"text": text}


def test_printable_text_is_left_as_it_is_by_every_function() -> None:
    """Each returns a printable chunk at once (most streamed tokens are): exact only while nothing any
    of them replaces is printable. The newline sends the whole text through the replacing path."""
    text = "".join(c for c in map(chr, range(0x110000)) if c.isprintable()) + "\n"
    assert inert(text) == text
    assert revealed(text) == text
    assert json_text(text) == json.dumps(text, ensure_ascii=False)
