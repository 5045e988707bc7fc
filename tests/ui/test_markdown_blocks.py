"""The block splitter on its own: any text, split anywhere, gives the blocks the whole text gives."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lfgtui.ui.markdown_blocks import PIECE_LINES, Join, Splitter

LINES = st.sampled_from(
    [
        "",
        "A paragraph line.",
        "# Heading",
        "## Sub heading",
        "- bullet",
        "* other bullet",
        "  indented continuation",
        "1. first",
        "2) second",
        "10. tenth",
        "```python",
        "```",
        "~~~",
        "    code = 1",
        "---",
        "| a | b |",
        "|---|---|",
        "> quote",
        "\t tab",
        "3",
    ]
)
DOCUMENTS = st.lists(LINES, max_size=40).map("\n".join)


def blocks(chunks: list[str]) -> list[tuple[str, Join, bool]]:
    """Feed `chunks` with a `take()` after each (as the widget flushes), then finish."""
    splitter = Splitter()
    found = []
    for chunk in chunks:
        splitter.feed(chunk)
        found += splitter.take()
    splitter.finish()
    found += splitter.take()
    return [(block.text, block.join, block.continued) for block in found]


def cut(text: str, points: list[int]) -> list[str]:
    edges = [0, *sorted({min(p, len(text)) for p in points}), len(text)]
    return [text[a:b] for a, b in pairwise(edges)]


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS, st.lists(st.integers(min_value=0, max_value=800), max_size=12))
def test_any_split_gives_the_blocks_of_the_whole_text(text: str, points: list[int]) -> None:
    assert blocks(cut(text, points)) == blocks([text])


@settings(max_examples=100, deadline=None)
@given(DOCUMENTS)
def test_token_by_token_gives_the_blocks_of_the_whole_text(text: str) -> None:
    assert blocks(list(text)) == blocks([text])


@given(DOCUMENTS)
def test_without_code_fences_the_blocks_hold_exactly_the_text(text: str) -> None:
    assume("```" not in text and "~~~" not in text)
    joined = "".join(block for block, _, _ in blocks([text]))
    assert "".join(joined.split()) == "".join(text.split())


def test_a_long_code_block_is_cut_into_pieces() -> None:
    code = "\n".join(f"x = {n}" for n in range(PIECE_LINES * 3))
    found = blocks([f"```python\n{code}\n```\n"])
    assert len(found) >= 3
    assert [join for _, join, _ in found[1:]] == [Join.CODE] * (len(found) - 1)
    assert all(continued for _, _, continued in found[:-1]) and not found[-1][2]


def test_items_of_one_bullet_list_sit_tight() -> None:
    found = blocks(["- one\n- two\n\nAfter.\n"])
    assert [(text, join) for text, join, _ in found] == [
        ("- one", Join.GAP),
        ("- two", Join.TIGHT),
        ("After.", Join.GAP),
    ]
