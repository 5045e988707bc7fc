"""Rendering shortcuts of the pane body equal the full rendering: a streaming paragraph that keeps the
rows that cannot change (`OpenParagraph`), a streaming table that draws only its new rows
(`OpenTable`), and a lone code block drawn without rich's `Markdown`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.segment import Segment
from rich.style import Style

from lfgtui.ui.markdown.blocks import Block, Join
from lfgtui.ui.markdown.render import (
    SMALL_TABLE,
    OpenParagraph,
    OpenTable,
    RenderKey,
    _code_rows,
    _syntax,
    render_block,
    render_strips,
)
from tests.support.app import drawn_by_rich

STYLE = Style(color="#e0e0e0", bgcolor="#1e1e1e")
PROSE = (
    "Streaming text arrives token by token. This paragraph is long enough to wrap several times in a\n"
    "narrow pane, with **bold**, *italic*, ~~struck~~ and `inline code` mixed in, a [link](https://"
    "example.com/a/long/path) and a word too long for any row: supercalifragilisticexpialidocious. "
    "A **bold run that spans many words and so several rows before it closes** ends here, and "
    "*an emphasis that never closes goes on  \nafter a hard break, with 日本語 wide cells and é."
)
FRAGMENTS = st.sampled_from(
    [
        "word",
        "a",
        "longerword",
        "supercalifragilisticexpialidocious",
        " ",
        "  ",
        "\n",
        "  \n",
        "\\\n",
        "**",
        "*",
        "_",
        "__",
        "`",
        "``",
        "`code`",
        " `a` ",
        "~~",
        "[",
        "]",
        "](https://example.com)",
        "<",
        ">",
        "<https://example.com>",
        "&amp;",
        "\\*",
        "日本語",
        "é",
        "\t",
        "1.",
        "- ",
        "#",
        "|",
        "---",
    ]
)


def console() -> Console:
    return Console(width=80, force_terminal=True, color_system="truecolor")


def key(width: int) -> RenderKey:
    return (width, STYLE, "monokai")


def streamed(opener: OpenParagraph, text: str, cuts: list[int], width: int) -> int:
    """Render `text` cut at `cuts` as a live tail, checking each rendering; rows reused in all."""
    shown = console()
    reused = 0
    for cut in sorted(set(cuts)):
        block = Block(text[:cut].rstrip(), Join.GAP)
        if not block.text.strip():
            continue
        assert opener.render(shown, block, key(width)) == render_block(shown, block, key(width)), (
            width,
            block.text,
        )
        reused += opener.reused
    return reused


def test_a_streaming_paragraph_reuses_rows_and_equals_the_full_rendering() -> None:
    cuts = list(range(1, len(PROSE) + 1, 5))
    for width in (10, 48):
        assert streamed(OpenParagraph(), PROSE, cuts, width) > 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(FRAGMENTS, min_size=1, max_size=60),
    st.lists(st.integers(min_value=1, max_value=400), max_size=12),
    st.sampled_from([8, 13, 30, 48]),
)
def test_any_text_cut_anywhere_renders_as_the_full_rendering(
    fragments: list[str], cuts: list[int], width: int
) -> None:
    text = " ".join(fragments)
    streamed(OpenParagraph(), text, [cut for cut in cuts if cut <= len(text)] + [len(text)], width)


def test_words_added_to_a_paragraph_are_not_parsed_again_and_render_the_same() -> None:
    """Plain words after plain words extend the paragraph's text; what could change how any of it
    parses (a delimiter, a bracket, a line break, a number that a `.` makes a list) parses anew."""
    shown, opener = console(), OpenParagraph()
    source, parses = "Streaming", []
    opener.render(shown, Block(source, Join.GAP), key(20))
    assert opener.parsed
    for word in [" text", " arrives", " token", " by", " token.", " Then", " more", ",", " and?", " 42"]:
        source += word
        block = Block(source, Join.GAP)
        assert opener.render(shown, block, key(20)) == render_block(shown, block, key(20)), source
        parses.append(opener.parsed)
    assert not any(parses), "plain words extend the text rendered before"
    for added, parses_again in [
        (" *emphasis", True),
        (" goes", False),  # no closing delimiter among the words: the opener stays text
        (" on*", True),
        (" then", True),
        (" words", False),
        ("\n2025", True),
        (". Year", True),  # `2025.` on a line of its own would start an ordered list
        (" after", False),
        (" &amp", True),
        (";", True),
        (" more", True),  # after `;`, which may end an entity
        (" it's: (so) fine", False),
        (" [a](b 'c", True),
        ("d'", True),  # a quote can close a link's title once a `[` came
        (")", True),
    ]:
        source += added
        block = Block(source, Join.GAP)
        assert opener.render(shown, block, key(20)) == render_block(shown, block, key(20)), source
        assert opener.parsed is parses_again, source


def test_a_run_of_spaces_that_fills_a_row_alone_is_wrapped_again_with_the_word_after_it() -> None:
    """At width 5 the spaces of `)    longe` end one row and fill the next alone; the rows after them
    are wrapped again from the word, not from the space."""
    text = "](https://example.com)    longerword"
    streamed(OpenParagraph(), text, list(range(1, len(text) + 1)), 5)


def test_rows_after_a_lines_leading_spaces_are_wrapped_again_from_the_line_start() -> None:
    """rich wraps a line's leading spaces and its first word as one word, which it may cut anywhere
    (here at width 5: `     `, `code `, ` wo`): a row that starts after them is no place to wrap
    again from. Only a code span of spaces starts a paragraph's line with spaces."""
    text = "`     `code` ` word"
    streamed(OpenParagraph(), text, list(range(1, len(text) + 1)), 5)


WORDS = st.sampled_from(
    [
        "word",
        "a",
        "longerword",
        "日本語",
        "é",
        "1",
        "2025",
        ".",
        ",",
        "?",
        " ",
        "x.",
        "'s",
        '"',
        ":",
        "(",
        ")",
        "/",
        "!",
        "-",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(WORDS, WORDS, WORDS, FRAGMENTS), min_size=1, max_size=80),
    st.sampled_from([5, 8, 13, 30]),
)
def test_prose_streamed_a_character_at_a_time_renders_as_the_full_rendering(
    pieces: list[str], width: int
) -> None:
    text = " ".join(pieces)
    streamed(OpenParagraph(), text, list(range(1, len(text) + 1)), width)


ITEM = (
    "- A bullet item streams as a paragraph does, beside its bullet: **bold**, `code` and a [link]"
    "(https://example.com) in words enough to wrap several times in a narrow pane,\n"
    "  with a line of its own indented under it  \n  and a hard break before this one."
)


ORDERED = "".join(
    f"{number}. Step {number} streams as a paragraph does, with `code` and **bold** words enough to wrap,\n"
    f"{' ' * (len(str(number)) + 2)}and a line of its own under it.\n"
    for number in range(1, 13)
)


@pytest.mark.parametrize("text, step", [(ITEM, 5), (ORDERED, 7)], ids=["bullet", "ordered"])
def test_a_streaming_list_reuses_rows_and_equals_the_full_rendering(text: str, step: int) -> None:
    """A list's items are drawn as their paragraphs, narrower by their markers: a bullet item alone
    (the splitter cuts each into a block), an ordered list as one block whose last item streams and
    whose items before it are kept, numbered as wide as rich numbers them (wider from the ninth on);
    rows are kept as a paragraph's are."""
    cuts = list(range(3, len(text) + 1, step))
    for width in (10, 48):
        opener = OpenParagraph()
        assert streamed(opener, text, cuts, width) > 0
        assert opener.drawn, "the list was drawn item by item, not whole"


LIST_LINES = st.sampled_from(
    [
        *("\n  ", "\n", "\n ", "\n   ", "\n    ", "\n  - ", "\n  1. ", "\n  2. ", "\n- ", "\n1. "),
        *("\n2. ", "\n10. ", "\n3) ", "\n1.", "\n 4. ", "\n  ```", "\n  ---"),
    ]
)
LIST_MARKERS = st.sampled_from(
    ["- ", "* ", "+ ", "-  ", "- - ", "-\t", "1. ", "7) ", "0. ", "9. ", "01. ", "1.  ", "1.\t"]
)


@settings(max_examples=400, deadline=None)
@given(
    LIST_MARKERS,
    st.lists(st.one_of(WORDS, WORDS, FRAGMENTS, LIST_LINES), min_size=1, max_size=40),
    st.sampled_from([5, 8, 13, 30]),
)
def test_any_list_streamed_renders_as_the_full_rendering(marker: str, pieces: list[str], width: int) -> None:
    """Bullet items and ordered lists with nested lists, other delimiters, blank and lazy lines,
    fences, heading underlines and other blocks among their lines: what an item's paragraph cannot
    be is drawn whole, and all of it as rich draws it."""
    text = marker + "word " + " ".join(pieces)
    streamed(OpenParagraph(), text, list(range(1, len(text) + 1)), width)


def test_a_new_width_or_another_block_starts_afresh() -> None:
    opener = OpenParagraph()
    streamed(opener, PROSE, [200, 260], 48)
    assert streamed(opener, PROSE, [270], 30) == 0
    assert streamed(opener, "Another paragraph entirely, " * 8, [150], 30) == 0


def shaped_by_rich(shown: Console, text: str, width: int, theme: str = "monokai") -> list[list[Segment]]:
    """rich's own rows for `text` (`drawn_by_rich`), each padded to `width` and its styles merged."""
    rows = drawn_by_rich(shown, text, width, STYLE, theme)
    return [list(Segment.simplify(row)) for row in Segment.set_shape(rows, width, style=STYLE)]


def test_a_lone_code_block_is_drawn_as_rich_markdown_draws_it() -> None:
    shown = console()
    for text in [
        "```python\nfor index in range(3):\n    print(index)\n```",
        "```python\nunclosed = True\n\n\n",
        "~~~ js extra words\nconst x = 1;  \n~~~",
        "```\n    the arriving line of a plain fence",
        "```nosuchlanguage\nx\ty\n```",
        "    indented code\n    more",
    ]:
        got = render_strips(shown, text, Join.GAP, False, key(40))
        assert [list(strip) for strip in got] == shaped_by_rich(shown, text, 40), text


CODE_PIECES = st.sampled_from(
    [
        "x",
        "for index in range(3):",
        "    print(f'token {index}')",
        "# a comment",
        '"""',
        "'",
        " ",
        "    ",
        "\t",
        "\n",
        "\n\n",
        "  \n",
        "`",
        "```",
        "~~~",
        "日本語",
        "é",
        "e\u0301",
        "*",
        "supercalifragilisticexpialidocious",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(CODE_PIECES, min_size=1, max_size=16),
    st.sampled_from(["```python", "```", "~~~ js", "```nosuchlanguage", "````rust"]),
    st.booleans(),
    st.sampled_from([10, 13, 30, 80]),
    st.sampled_from(["monokai", "default", "solarized-light"]),
)
def test_any_lone_code_block_is_drawn_as_rich_markdown_draws_it(
    pieces: list[str], header: str, closed: bool, width: int, theme: str
) -> None:
    """Code whose lines fit is drawn without rich's layers, code with a longer line by rich: either
    way the rows are rich's own, whatever the code holds, its language, the theme and the width."""
    shown = console()
    fence = header.split(" ")[0].rstrip("abcdefghijklmnopqrstuvwxyz")
    text = f"{header}\n{''.join(pieces)}" + (f"\n{fence}" if closed else "")
    got = render_strips(shown, text, Join.GAP, False, (width, STYLE, theme))
    assert [list(strip) for strip in got] == shaped_by_rich(shown, text, width, theme), (text, width)


def test_code_whose_lines_fit_is_drawn_without_rich_layers() -> None:
    """The shortcut is what draws code that fits (and only that): the test above compares its rows."""
    shown = console()
    code = "for index in range(3):\n    print(f'token {index}')"
    assert _code_rows(shown, _syntax(code, "python", "monokai"), 40, STYLE) is not None
    assert _code_rows(shown, _syntax(code, "python", "monokai"), 20, STYLE) is None


TABLE = """| Model | TTFT (ms) | Tokens/s |
|:------|----------:|:--------:|
| alpha | 212 | 87.5 |
| beta | 340 | 61.2 |
| a **bold** cell long enough to wrap in a narrow pane, and then some | 95 | 143.0 |
| 日本語 | `code` | [link](https://example.com) |
| short | 1 |
| delta \\| pipe | 510 | 39.9 | extra |
| supercalifragilisticexpialidocious | 2 | 3 |
| gamma | 4 | 5 |"""
CELLS = st.sampled_from(
    [
        "a",
        "word",
        "two words",
        "12.5",
        "**bold**",
        "*it",
        "`code`",
        "日本語",
        "é",
        "\\|",
        "",
        " ",
        "supercalifragilisticexpialidocious",
        "[link](https://example.com)",
        "~~x~~",
    ]
)
LINES = st.sampled_from(["> a quote", "    indented", "", "- item", "plain words", "|", "| |"])


def streamed_table(opener: OpenTable, text: str, cuts: list[int], width: int) -> tuple[int, int]:
    """Render `text` cut at `cuts` as a live tail, checking each rendering that `opener` takes on:
    (renderings taken, rows reused in all)."""
    shown = console()
    taken = reused = 0
    for cut in sorted(set(cuts)):
        block = Block(text[:cut].rstrip(), Join.GAP)
        strips = opener.render(shown, block, key(width))
        if strips is None:
            continue
        assert strips == render_block(shown, block, key(width)), (width, block.text)
        taken += 1
        reused += opener.reused
    return taken, reused


@pytest.mark.parametrize("width", [10, 30, 48, 80])
def test_a_streaming_table_draws_only_new_rows_and_equals_the_full_rendering(width: int) -> None:
    cuts = list(range(1, len(TABLE) + 1, 3))
    taken, reused = streamed_table(OpenTable(), TABLE, cuts, width)
    small = len("\n".join(TABLE.split("\n")[: 1 + SMALL_TABLE])) + 1  # where body line 3 begins
    assert taken == len([cut for cut in cuts if cut > small]), "every cut past that is drawn as a table"
    assert reused > taken, "rows drawn before are kept while their columns keep their widths"
    ended = f"{TABLE}\n\nA paragraph after the table, which is no row of it."
    streamed_table(OpenTable(), ended, list(range(len(TABLE), len(ended) + 1)), width)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.lists(CELLS, min_size=1, max_size=5).map(lambda cells: "| " + " | ".join(cells) + " |"), LINES
        ),
        max_size=8,
    ),
    st.integers(min_value=1, max_value=4),
    st.lists(st.integers(min_value=1, max_value=400), max_size=12),
    st.sampled_from([8, 13, 30, 48]),
)
def test_any_table_cut_anywhere_renders_as_the_full_rendering(
    rows: list[str], columns: int, cuts: list[int], width: int
) -> None:
    text = "\n".join(
        ["| " + " | ".join(f"h{i}" for i in range(columns)) + " |", "|---" * columns + "|", *rows]
    )
    cuts = [cut for cut in cuts if cut <= len(text)] + list(range(len(text) - 12, len(text) + 1))
    streamed_table(OpenTable(), text, cuts, width)


def test_a_table_starts_afresh_for_a_new_width_or_another_table_and_declines_other_blocks() -> None:
    opener = OpenTable()
    streamed_table(opener, TABLE, [150, 170], 48)
    assert streamed_table(opener, TABLE, [180], 30) == (1, 0)
    assert streamed_table(opener, TABLE.replace("Model", "Name"), [190], 30) == (1, 0)
    assert opener.render(console(), Block("A paragraph | with a pipe\n---", Join.GAP), key(30)) is None
    assert not opener.drawn
