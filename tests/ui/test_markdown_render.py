"""Rendering shortcuts of the pane body equal the full rendering: a streaming paragraph that keeps the
rows that cannot change (`OpenParagraph`), and a lone code block drawn without rich's `Markdown`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style

from lfgtui.ui.markdown_blocks import Block, Join
from lfgtui.ui.markdown_render import OpenParagraph, RenderKey, render_block, render_strips

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


def test_a_new_width_or_another_block_starts_afresh() -> None:
    opener = OpenParagraph()
    streamed(opener, PROSE, [200, 260], 48)
    assert streamed(opener, PROSE, [270], 30) == 0
    assert streamed(opener, "Another paragraph entirely, " * 8, [150], 30) == 0


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
        rows = shown.render_lines(
            Markdown(text, code_theme="monokai", hyperlinks=False),
            shown.options.update_width(40),
            style=STYLE,
            pad=False,
        )
        rows = [row for row in rows if Segment.get_line_length(row)]
        want = [Segment.simplify(row) for row in Segment.set_shape(rows, 40, style=STYLE)]
        got = render_strips(shown, text, Join.GAP, False, key(40))
        assert [list(strip) for strip in got] == [list(row) for row in want], text
