"""Lone surrogates mended (surrogates.py): each one U+FFFD, a high and a low half side by side the
one character they stand for, and a value with none the very same object (nothing copied)."""

from __future__ import annotations

import dataclasses

from lfgtui.surrogates import mended, mended_text


def test_each_lone_half_is_replaced_and_a_pair_side_by_side_joined() -> None:
    assert mended_text("a \ud83d\ude00 b \ud800 c \udfff") == "a \U0001f600 b \ufffd c \ufffd"
    assert mended_text("\udc00\ud800") == "\ufffd\ufffd", "a low half before a high one is no pair"


@dataclasses.dataclass(frozen=True)
class Held:
    words: str
    more: tuple[str, ...] = ()


def test_a_value_is_mended_however_deep_and_kept_when_whole() -> None:
    whole = {"k": [Held("fine — é", ("x",))]}
    assert mended(whole) is whole
    broken = {"\ud800": (Held("x \udfff", ("\ud801",)), 1, None)}
    assert mended(broken) == {"\ufffd": (Held("x \ufffd", ("\ufffd",)), 1, None)}
