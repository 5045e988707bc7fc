"""The block splitter on its own: any text, split anywhere, gives the blocks the whole text gives."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lfgtui.ui.markdown.blocks import LONG_BLOCK, PIECE_LINES, PLAIN_PIECE, Join, Splitter

LINES = st.sampled_from(
    [
        "",
        "A paragraph line.",
        "# Heading",
        "## Sub heading",
        "- bullet",
        "* other bullet",
        "+ third bullet",
        "- - -",
        "* * *",
        "- -",
        "-\tx",
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
LONG_LINES = st.one_of(
    LINES,
    st.sampled_from(["word " * 9, "x" * 31, "- " * 12 + "x", "```" + "a" * 20, "  ```" + "b" * 20]),
    st.text(alphabet=" \t`~#-*+1.)x", max_size=30),
)
LONG_DOCUMENTS = st.lists(LONG_LINES, max_size=40).map("\n".join)
SMALL = {"long_block": 24, "plain_piece": 10}
"""Limits small enough that the generated documents have long blocks, cut into plain pieces."""


def blocks(chunks: list[str], **limits: int) -> list[tuple[str, Join, bool, bool, int]]:
    """Feed `chunks` with a `take()` after each (as the widget flushes), then finish; each block
    with where it starts in the whole text."""
    splitter = Splitter(**limits)
    found = []
    for chunk in chunks:
        splitter.feed(chunk)
        found += splitter.take()
    splitter.finish()
    found += splitter.take()
    return [(block.text, block.join, block.continued, block.plain, block.start) for block in found]


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
    joined = "".join(block for block, *_ in blocks([text]))
    assert "".join(joined.split()) == "".join(text.split())


@given(LONG_DOCUMENTS, st.lists(st.integers(min_value=0, max_value=800), max_size=12))
def test_each_block_starts_where_its_text_is_in_the_whole_text(text: str, points: list[int]) -> None:
    """What a pane's picked turn finds its lines by: a block's `start`, however the text streamed
    and across a finished stream that goes on (a follow-up after an answer)."""
    assume("```" not in text and "~~~" not in text)
    splitter = Splitter(**SMALL)
    found = []
    for _stream in range(2):  # an answer, finished, then the next turn's
        for chunk in cut(text, points):
            splitter.feed(chunk)
            found += splitter.take()
        splitter.finish()
        found += splitter.take()
    whole = text + text
    starts = [block.start for block in found]
    assert starts == sorted(starts)
    for block in found:
        assert whole[block.start :].startswith(block.text), (block.start, block.text)


def test_a_long_code_block_is_cut_into_pieces() -> None:
    code = "\n".join(f"x = {n}" for n in range(PIECE_LINES * 3))
    found = blocks([f"```python\n{code}\n```\n"])
    assert len(found) >= 3
    assert [join for _, join, *_ in found[1:]] == [Join.CODE] * (len(found) - 1)
    assert all(continued for _, _, continued, *_ in found[:-1]) and not found[-1][2]


def test_items_of_one_bullet_list_sit_tight() -> None:
    found = blocks(["- one\n- two\n\nAfter.\n"])
    assert [(text, join) for text, join, *_ in found] == [
        ("- one", Join.GAP),
        ("- two", Join.TIGHT),
        ("After.", Join.GAP),
    ]


def test_an_arriving_bullet_item_is_the_tail_alone() -> None:
    """Once the start of a line shows a bullet item (a marker, a space and a word: no thematic break
    can follow), the item before it is finished and the arriving one is the live tail alone."""
    splitter = Splitter()
    splitter.feed("- one\n- tw")
    assert [block.text for block in splitter.take()] == ["- one"]
    tail = splitter.tail()
    assert tail is not None and (tail.text, tail.join) == ("- tw", Join.TIGHT)
    splitter.feed("o\n- - ")  # a thematic break yet, or an item: not cut until the line shows which
    assert splitter.take() == []
    tail = splitter.tail()
    assert tail is not None and tail.text == "- two\n- -"
    splitter.feed("x")
    assert [block.text for block in splitter.take()] == ["- two"]
    tail = splitter.tail()
    assert tail is not None and tail.text == "- - x"


@settings(max_examples=400, deadline=None)
@given(LONG_DOCUMENTS, st.lists(st.integers(min_value=0, max_value=800), max_size=12))
def test_long_blocks_are_cut_the_same_however_the_text_is_split(text: str, points: list[int]) -> None:
    assert blocks(cut(text, points), **SMALL) == blocks([text], **SMALL)


@settings(max_examples=100, deadline=None)
@given(LONG_DOCUMENTS)
def test_long_blocks_token_by_token_are_cut_as_the_whole_text_is(text: str) -> None:
    assert blocks(list(text), **SMALL) == blocks([text], **SMALL)


@settings(max_examples=200, deadline=None)
@given(LONG_DOCUMENTS)
def test_plain_pieces_hold_exactly_the_text_and_no_more_than_a_piece(text: str) -> None:
    assume("```" not in text and "~~~" not in text)
    found = blocks([text], **SMALL)
    assert "".join("".join(block.split()) for block, *_ in found) == "".join(text.split())
    for block, join, _, plain, _ in found:
        if plain and join is Join.PLAIN:
            assert len(block) <= SMALL["plain_piece"]


def test_a_huge_paragraph_is_cut_into_plain_pieces_as_it_streams() -> None:
    """Each piece is cut once its text arrived, so what the splitter holds stays under a piece or two,
    however long the paragraph grows; even a paragraph of one line with no end yet."""
    paragraph = "All work and no play makes a long answer. " * 20_000
    splitter = Splitter()
    found = []
    for start in range(0, len(paragraph), 4_096):
        splitter.feed(paragraph[start : start + 4_096])
        found += splitter.take()
        assert len(splitter.buffer) <= max(LONG_BLOCK, PLAIN_PIECE + 4_096)
        tail = splitter.tail()
        assert tail is not None and len(tail.text) <= max(LONG_BLOCK, PLAIN_PIECE + 4_096)
        assert tail.plain is (start + 4_096 >= LONG_BLOCK)
    splitter.finish()
    found += splitter.take()
    assert all(block.plain for block in found)
    assert [block.join for block in found] == [Join.GAP] + [Join.PLAIN] * (len(found) - 1)
    assert max(len(block.text) for block in found) <= PLAIN_PIECE
    assert " ".join(block.text for block in found) == paragraph.rstrip()


def test_a_paragraph_under_the_limit_stays_markdown() -> None:
    paragraph = "x" * (LONG_BLOCK - 10)
    found = blocks([f"{paragraph}\n\n- after"])
    assert [block[:4] for block in found] == [
        (paragraph, Join.GAP, False, False),
        ("- after", Join.GAP, False, False),
    ]


def test_a_long_bullet_item_keeps_the_next_item_tight() -> None:
    item = "- " + "many words " * 3_000
    found = blocks([f"{item}\n- next\n"])
    assert found[0][1] is Join.GAP and found[0][3]
    assert found[-1][:4] == ("- next", Join.TIGHT, False, False)
