"""LiveMarkdown in a real Textual app: what it draws, and how little work each token costs."""

from __future__ import annotations

import random
from dataclasses import replace
from itertools import pairwise

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from textual.app import App, ComposeResult
from textual.containers import Container
from textual.pilot import Pilot
from textual.strip import Strip

from lfgtui.ui.markdown import live as live_markdown
from lfgtui.ui.markdown.blocks import LONG_BLOCK, PIECE_LINES, PLAIN_PIECE
from lfgtui.ui.markdown.live import LiveMarkdown
from tests.support.app import settle, texts, whole

CODE_LINES = "\n".join(f"def handler_{i}(request):\n    return {{'id': {i}}}\n" for i in range(12))

DOCUMENT = f"""# Streaming answer

Streaming text arrives token by token. This paragraph is long enough to wrap several times in a
narrow pane, with **bold**, *italic*, ~~struck~~ and `inline code` mixed in.
## A heading right after a paragraph

- a list item with a [link](https://example.com)
- another item, with `code`
  - a nested item
- third

- a loose item after a blank line

1. first step

   More about the first step.

2. second step
   ```bash
   npm install

   npm test
   ```
3. third step

```python
{CODE_LINES}
```
Text right after a fence.

| metric | value |
|--------|-------|
| ttft   | 300 ms |
| rate   | 50 tok/s |

> a quote
> over two lines

> another quote

---

~~~
a tilde fence with ``` inside
~~~

* star list
* star two
- dash list after a star list

Paragraph before a fence
```js
const x = 1;
```

Final paragraph."""


class StreamApp(App[None]):
    CSS = """
    #box { width: 60; height: 12; }
    LiveMarkdown { width: 1fr; height: 1fr; }
    """

    def __init__(self, stream: LiveMarkdown | None = None) -> None:
        super().__init__()
        self.stream = stream or LiveMarkdown(code_theme="monokai")

    def compose(self) -> ComposeResult:
        with Container(id="box"):
            yield self.stream


class RecordingStream(LiveMarkdown):
    """Remembers which line ranges it asked Textual to repaint."""

    def __init__(self) -> None:
        super().__init__(code_theme="monokai")
        self.refreshed: list[tuple[int, int]] = []

    def refresh_lines(self, y_start: int, line_count: int = 1) -> None:
        self.refreshed.append((y_start, line_count))
        super().refresh_lines(y_start, line_count)


async def started(pilot: Pilot[None]) -> LiveMarkdown:
    await pilot.pause()
    stream = pilot.app.query_one(LiveMarkdown)
    assert stream.scrollable_content_region.width > 0
    return stream


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """The line's text runs and styles, however rich happened to cut them into segments."""
    return [(segment.text, segment.style) for segment in Segment.simplify(strip) if segment.text]


def code_background(theme: str) -> Style:
    return Syntax.get_theme(theme).get_background_style()


def has_code_background(strip: Strip, theme: str = "monokai") -> bool:
    background = code_background(theme).bgcolor
    return any(segment.style is not None and segment.style.bgcolor == background for segment in strip)


def blocks(count: int) -> str:
    kinds = (
        "Paragraph {i} with **bold** text and enough words to wrap at least once in the pane.",
        "1. item {i}\n2. another item {i}",
        "```python\nvalue_{i} = {i}\n```",
        "## Heading {i}",
    )
    return "\n\n".join(kinds[i % len(kinds)].format(i=i) for i in range(count))


@pytest.mark.parametrize(("chunk", "every"), [(4, 7), (1, 60), (13, 2), (97, 1)])
async def test_streamed_document_renders_like_the_whole_document(chunk: int, every: int) -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        pieces = [DOCUMENT[i : i + chunk] for i in range(0, len(DOCUMENT), chunk)]
        for index, piece in enumerate(pieces):
            stream.append(piece)
            if index % every == 0:
                stream.flush()
        stream.finish()
        settle(stream)

        assert stream.source == DOCUMENT
        expected = whole(stream, DOCUMENT)
        assert texts(stream) == [strip.text.rstrip() for strip in expected]
        assert [cells(strip) for strip in stream.lines] == [cells(strip) for strip in expected]


@pytest.mark.parametrize("seed", [1, 2])
async def test_every_flush_shows_what_rich_renders_for_the_text_so_far(seed: int) -> None:
    """Half-arrived fences, tables and lists never garble: the screen always reads like the prefix."""
    chunks = random.Random(seed)
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        position = 0
        while position < len(DOCUMENT):
            size = chunks.randint(1, 12)
            stream.append(DOCUMENT[position : position + size])
            position += size
            settle(stream)
            assert texts(stream) == [strip.text.rstrip() for strip in whole(stream, stream.source)]


async def test_long_code_block_is_drawn_in_pieces_but_reads_as_one_block() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        source = f"Intro\n\n```python\n{CODE_LINES}\n```\n\nOutro"
        for index in range(0, len(source), 3):
            stream.append(source[index : index + 3])
            stream.flush()
        stream.finish()
        settle(stream)

        assert stream.stats.blocks_rendered >= len(CODE_LINES.splitlines()) // PIECE_LINES
        lines = texts(stream)
        assert lines == [strip.text.rstrip() for strip in whole(stream, source)]
        code = [index for index, strip in enumerate(stream.lines) if has_code_background(strip)]
        assert code == list(range(code[0], code[-1] + 1)), "no gap between the pieces of one code block"


async def test_one_more_token_renders_only_the_tail() -> None:
    stream = RecordingStream()
    async with StreamApp(stream).run_test(size=(80, 24)) as pilot:
        await started(pilot)
        stream.append(blocks(50) + "\n\nThe last paragraph is still")
        settle(stream)
        await pilot.pause()
        assert stream.stats.blocks_rendered == 50
        finished_lines = texts(stream).index("The last paragraph is still") - 1
        before = replace(stream.stats)
        stream.refreshed.clear()

        stream.append(" going")
        assert stream.flush()

        assert stream.stats.blocks_rendered == before.blocks_rendered
        assert stream.stats.tail_renders == before.tail_renders + 1
        assert stream.stats.flushes == before.flushes + 1
        assert stream.refreshed, "the changed tail line is repainted"
        for start, count in stream.refreshed:
            assert start >= finished_lines
            assert start + count <= len(stream.lines)
        assert stream.stats.lines_refreshed - before.lines_refreshed <= 2

        stream.scroll_to(y=0, animate=False)
        stream.refreshed.clear()
        stream.append(" on")
        assert stream.flush() is False, "a tail change below the view repaints nothing"
        assert stream.refreshed == []
        assert stream.stats.blocks_rendered == before.blocks_rendered
        assert stream.scroll_offset.y == 0


async def test_blocks_a_following_view_shows_repaint_their_lines_whatever_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a busy machine a frame brings several blocks and their renders outlast the budget by the
    wall clock: the blocks the view shows are still rendered at once and repaint only their lines
    (queued, they repainted the whole pane on every frame)."""
    stream = RecordingStream()
    async with StreamApp(stream).run_test(size=(80, 24)) as pilot:
        await started(pilot)
        stream.append(blocks(3) + "\n\nThe tail")
        settle(stream)
        await pilot.pause()
        monkeypatch.setattr(live_markdown, "RELAYOUT_BUDGET", -1.0)  # every render past the budget
        before = replace(stream.stats)
        stream.refreshed.clear()
        top = stream.scroll_offset.y

        stream.append(" ends.\n\n" + blocks(2) + "\n\nA new tail")
        assert stream.flush()

        assert stream.stats.blocks_rendered == before.blocks_rendered + 3  # the old tail, two new blocks
        assert not stream.dirty, "nothing was queued for later frames"
        # the new lines are repainted, or the view scrolled to them (which repaints it once)
        assert stream.refreshed or stream.scroll_offset.y > top
        assert texts(stream)[-1] == "A new tail"


async def test_work_per_token_does_not_depend_on_answer_length() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        work = []
        for count in (5, 200):
            stream.clear()
            stream.append(blocks(count) + "\n\nTail")
            settle(stream)
            before = replace(stream.stats)
            for word in (" one", " two", " three"):
                stream.append(word)
                stream.flush()
            work.append(
                (
                    stream.stats.blocks_rendered - before.blocks_rendered,
                    stream.stats.tail_renders - before.tail_renders,
                )
            )
        assert work == [(0, 3), (0, 3)]


async def test_open_code_fence_renders_as_code() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append("Intro\n\n```python\ndef f():\n    return 1\n")
        settle(stream)
        assert not any("```" in line for line in texts(stream))
        [definition] = [strip for strip in stream.lines if "def f():" in strip.text]
        assert has_code_background(definition)

        stream.append("```")
        settle(stream)
        assert not any("```" in line for line in texts(stream))

        stream.append("\nAfter")
        settle(stream)
        lines = texts(stream)
        assert not any("```" in line for line in lines)
        assert lines[-1] == "After"


async def test_long_open_code_fence_never_shows_a_fence_line() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append("```python\n")
        for number, line in enumerate(CODE_LINES.splitlines(keepends=True)):
            stream.append(line)
            if number % 3 == 0:
                settle(stream)
                lines = texts(stream)
                assert not any("```" in text for text in lines)
                assert all(has_code_background(strip) for strip in stream.lines)


async def test_a_streaming_paragraph_wraps_only_its_last_rows_and_shows_the_same() -> None:
    words = "A long paragraph of **streamed** prose wraps over many rows while it arrives. " * 12
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        for index in range(0, len(words), 9):
            stream.append(words[index : index + 9])
            settle(stream)
            assert [cells(strip) for strip in stream.lines] == [
                cells(strip) for strip in whole(stream, stream.source)
            ]
        reused = stream.stats.rows_reused
        assert reused > 0, "rows of the paragraph so far are kept, not wrapped again"
        stream.append(" And it ends.\n\nNext.")
        settle(stream)
        assert stream.stats.rows_reused > reused, "the finished paragraph keeps the tail's rows too"
        assert [cells(strip) for strip in stream.lines] == [
            cells(strip) for strip in whole(stream, stream.source)
        ]


async def test_a_streaming_table_draws_only_its_new_rows_and_shows_the_same() -> None:
    rows = "".join(f"| row {i} | {i * 37 % 500} ms | {i * 3.7:.1f} tok/s |\n" for i in range(12))
    table = f"| metric | ttft | rate |\n|---|---|---|\n{rows}"
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        cut = len(table) - 4  # the last row's end arrives with the next block
        for index in range(0, cut, 7):
            stream.append(table[index : min(index + 7, cut)])
            settle(stream)
            assert [cells(strip) for strip in stream.lines] == [
                cells(strip) for strip in whole(stream, stream.source)
            ]
        reused = stream.stats.rows_reused
        assert reused > 0, "rows of the table so far are kept, not drawn again"
        stream.append(f"{table[cut:]}\nNext.")
        settle(stream)
        assert stream.stats.rows_reused > reused, "the finished table keeps the tail's rows too"
        assert [cells(strip) for strip in stream.lines] == [
            cells(strip) for strip in whole(stream, stream.source)
        ]


async def test_half_arrived_table_renders_sanely() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append("Numbers:\n\n| a | b |\n|---|-")
        settle(stream)
        assert texts(stream)[0] == "Numbers:"

        stream.append("--|\n| 1 | 2 |\n| 3 |")
        settle(stream)
        lines = texts(stream)
        assert not any("|" in line for line in lines)
        assert any("1" in line and "2" in line for line in lines)

        stream.append(" 4 |\n")
        stream.finish()
        settle(stream)
        assert texts(stream) == [strip.text.rstrip() for strip in whole(stream, stream.source)]


async def test_follows_the_bottom_until_the_user_scrolls_up() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)

        async def add(paragraphs: int) -> None:
            for _ in range(paragraphs):
                stream.append("A line of streamed text.\n\n")
                stream.flush()
                await pilot.pause()

        await add(30)
        assert stream.max_scroll_y > 0
        assert stream.scroll_offset.y == stream.max_scroll_y
        stream.scroll_up(animate=False, immediate=True)  # a relative scroll starts from where it follows
        assert stream.scroll_offset.y == stream.max_scroll_y - 1
        await add(1)
        assert stream.scroll_offset.y == stream.max_scroll_y

        stream.scroll_to(y=stream.max_scroll_y - 1, duration=0.5)  # a flush stops an animating scroll
        await add(1)
        await pilot.pause(0.6)
        assert stream.scroll_offset.y == stream.max_scroll_y

        stream.scroll_to(y=3, animate=False)
        await add(5)
        assert stream.scroll_offset.y == 3

        stream.scroll_to(y=stream.max_scroll_y - 1, animate=False)
        await add(5)
        assert stream.scroll_offset.y == stream.max_scroll_y, "one line short of the end still follows"


@pytest.mark.parametrize("bar", [0, 1])
async def test_a_zero_width_scrollbar_is_left_alone_while_following(bar: int) -> None:
    """Moving an invisible scrollbar repainted it, and a repaint of a widget outside the layout made
    the compositor rebuild its whole map on every scrolled frame; a visible one still follows."""
    stream = LiveMarkdown()
    stream.styles.scrollbar_size_vertical = bar
    async with StreamApp(stream).run_test(size=(80, 24)) as pilot:
        await started(pilot)
        for _ in range(30):
            stream.append("A line of streamed text.\n\n")
            stream.flush()
            await pilot.pause()

        assert stream.scroll_offset.y == stream.max_scroll_y > 0
        assert stream.vertical_scrollbar.position == (stream.scroll_offset.y if bar else 0)


async def test_hidden_stream_costs_nothing_until_shown() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.display = False
        await pilot.pause()

        stream.append(blocks(10) + "\n\nTail")
        assert stream.flush() is False
        assert stream.stats.tail_renders == stream.stats.blocks_rendered == stream.stats.flushes == 0
        assert stream.dirty
        assert stream.lines == []

        stream.display = True
        await pilot.pause()
        settle(stream)
        assert stream.stats.blocks_rendered == 10
        assert stream.stats.tail_renders == 1
        assert stream.flush() is False, "nothing new: nothing to do"


async def test_stream_inside_a_hidden_container_costs_nothing_until_shown() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        box = pilot.app.query_one("#box")
        box.display = False
        await pilot.pause()

        stream.append("Hello")
        assert stream.flush() is False
        assert stream.stats.tail_renders == 0

        box.display = True
        await pilot.pause()
        assert stream.flush()
        assert texts(stream) == ["Hello"]


async def test_resize_renders_each_block_once_per_width() -> None:
    """An answer within the screens kept rendered around the view (see the next test for longer ones)."""
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append(blocks(8) + "\n\nTail")
        settle(stream)
        assert stream.stats.blocks_rendered == 8

        box = pilot.app.query_one("#box")
        box.styles.width = 40
        await pilot.pause()
        assert stream.dirty
        settle(stream)
        assert stream.stats.blocks_rendered == 16
        assert {strip.cell_length for strip in stream.lines} == {40}
        for word in (" a", " b", " c"):
            stream.append(word)
            stream.flush()
            await pilot.pause()
        assert stream.stats.blocks_rendered == 16

        box.styles.width = 60
        await pilot.pause()
        settle(stream)
        assert stream.stats.blocks_rendered == 16, "the previous width is still cached"
        assert {strip.cell_length for strip in stream.lines} == {60}
        assert texts(stream) == [strip.text.rstrip() for strip in whole(stream, stream.source)]


async def test_a_long_answer_keeps_only_a_few_screens_rendered() -> None:
    """Memory does not grow with the answer: far from the view a block keeps its text and height,
    and renders again, the same, when scrolled back into view."""
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        for number in range(1, 201):
            stream.append(f"Paragraph {number} has enough words to wrap once in the pane, and then some.\n\n")
            if number % 10 == 0:
                stream.flush()
                await pilot.pause()
        settle(stream)
        await pilot.pause()
        kept_following = stream.kept_blocks
        assert kept_following < 40, "a few screens around the bottom, not 200 paragraphs"

        rendered = stream.stats.blocks_rendered
        stream.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert stream.stats.blocks_rendered - rendered < 10, "only the blocks now in view render again"
        assert stream.kept_blocks < 40
        expected = [strip.text.rstrip() for strip in whole(stream, stream.source)]
        assert texts(stream) == expected
        view = [stream.render_line(y).text.rstrip() for y in range(stream.size.height)]
        assert view == expected[: stream.size.height]
        assert view[0].startswith("Paragraph 1 has")


async def test_resize_of_a_long_answer_renders_the_view_first_and_the_rest_over_frames() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append(blocks(300) + "\n\nTail")
        settle(stream)
        await pilot.pause()
        assert stream.stats.blocks_rendered == 300
        assert stream.scroll_offset.y == stream.max_scroll_y

        pilot.app.query_one("#box").styles.width = 40
        await pilot.pause()
        before = stream.stats.blocks_rendered
        assert stream.flush()
        assert stream.dirty, "one frame does not re-render 300 blocks"
        assert stream.stats.blocks_rendered - before < 300
        assert stream.scroll_offset.y == stream.max_scroll_y
        view = stream.scrollable_content_region.height
        in_view = [stream.render_line(y).text.rstrip() for y in range(view)]
        expected = [strip.text.rstrip() for strip in whole(stream, stream.source)]
        assert in_view == expected[-view:], "what is in view is already right"

        settle(stream)
        assert stream.stats.blocks_rendered - before == 300
        assert texts(stream) == expected
        assert stream.scroll_offset.y == stream.max_scroll_y


async def test_resize_keeps_a_scrolled_up_view_on_the_same_text() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append(blocks(300))
        settle(stream)
        await pilot.pause()
        target = next(index for index, line in enumerate(texts(stream)) if line.startswith("Paragraph 200 "))
        stream.scroll_to(y=target, animate=False)

        pilot.app.query_one("#box").styles.width = 40
        await pilot.pause()
        stream.flush()
        assert stream.dirty
        assert stream.render_line(0).text.startswith("Paragraph 200 ")
        settle(stream)
        assert stream.render_line(0).text.startswith("Paragraph 200 ")


async def test_narrow_stream_renders_at_the_minimum_width() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        pilot.app.query_one("#box").styles.width = 4
        await pilot.pause()
        stream.append("Some words that wrap")
        settle(stream)
        assert {strip.cell_length for strip in stream.lines} == {10}


async def test_finish_makes_the_tail_a_finished_block() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append("## Title\n\nSome text")
        stream.flush()
        assert texts(stream) == ["Title", "", "Some text"]

        stream.finish()
        settle(stream)
        assert not stream.dirty
        stream.append(" continued")
        settle(stream)
        assert texts(stream) == ["Title", "", "Some text", "", "continued"]


async def test_finish_closes_an_open_code_fence() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append("```python\nx = 1")
        stream.finish()
        settle(stream)
        lines = texts(stream)
        assert "x = 1" in [line.strip() for line in lines]
        assert not any("```" in line for line in lines)


async def test_clear_forgets_everything() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append(blocks(40))
        settle(stream)
        await pilot.pause()
        assert stream.scroll_offset.y > 0

        stream.clear()
        assert stream.source == ""
        stream.flush()
        await pilot.pause()
        assert stream.lines == []
        assert stream.virtual_size.height == 0
        assert stream.scroll_offset.y == 0

        stream.append("Hello again")
        settle(stream)
        assert texts(stream) == ["Hello again"]


async def test_blocks_are_separated_by_exactly_one_blank_line() -> None:
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        stream.append("- a\n- b\n\n\n\nPara\n## H\nText\n\n```py\nx = 1\n```\nafter")
        settle(stream)
        lines = texts(stream)
        assert lines[:8] == [" • a", " • b", "", "Para", "", "H", "", "Text"]
        assert lines[-2:] == ["", "after"]
        plain_blanks = [
            index
            for index, strip in enumerate(stream.lines)
            if not strip.text.strip() and not has_code_background(strip)
        ]
        assert all(second - first > 1 for first, second in pairwise(plain_blanks))


async def test_code_theme_follows_the_app_theme() -> None:
    stream = LiveMarkdown()
    async with StreamApp(stream).run_test(size=(80, 24)) as pilot:
        await started(pilot)
        pilot.app.theme = "textual-dark"
        await pilot.pause()
        stream.append("```python\nx = 1\n```\n\nText")
        settle(stream)
        assert any(has_code_background(strip, "monokai") for strip in stream.lines)
        dark_background = stream.rich_style.bgcolor

        pilot.app.theme = "textual-light"
        await pilot.pause()
        assert stream.dirty
        settle(stream)
        assert any(has_code_background(strip, "default") for strip in stream.lines)
        light_background = stream.rich_style.bgcolor
        assert light_background != dark_background
        text_line = stream.lines[-1]
        assert {segment.style.bgcolor for segment in text_line if segment.style} == {light_background}


WORDS = "All work and no play makes a long answer, however it ends. "


async def test_a_huge_paragraph_costs_each_flush_what_a_short_one_does() -> None:
    """The open paragraph was rendered whole on every flush, so an 8 MB one froze the pane. Past
    LONG_BLOCK it is shown as plain text in pieces: a flush renders the new text and the last piece,
    whether the paragraph is 64 KB or 4 MB, and every piece is still there to scroll to."""
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        worst = []
        for size in (64_000, 4_000_000):
            stream.clear()
            stream.flush()
            await pilot.pause()
            paragraph = (WORDS * (size // len(WORDS) + 1))[:size]
            stream.append(paragraph)
            settle(stream)
            await pilot.pause()
            flushes = []
            for _ in range(10):
                before = stream.stats.chars_rendered
                stream.append(WORDS * 16)
                stream.flush()
                flushes.append(stream.stats.chars_rendered - before)
            worst.append(max(flushes))
            await pilot.pause()
            assert stream.scroll_offset.y == stream.max_scroll_y > 0
            assert stream.render_line(stream.size.height - 1).text.rstrip().endswith("it ends.")
        assert all(work <= 2 * PLAIN_PIECE + len(WORDS) * 16 for work in worst), worst

        stream.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert stream.render_line(0).text.startswith(WORDS[:40])
        assert stream.source.startswith(paragraph) and len(stream.source) == len(paragraph) + 10 * 16 * len(
            WORDS
        )


async def test_a_long_paragraph_is_plain_text_and_reads_as_one() -> None:
    """Past LONG_BLOCK characters a paragraph's Markdown is shown as it was written (`**` included),
    its pieces directly under one another, every word there once."""
    async with StreamApp().run_test(size=(80, 24)) as pilot:
        stream = await started(pilot)
        words = [f"**w{number}**" for number in range(LONG_BLOCK // 5)]
        stream.append("Intro\n\n" + " ".join(words) + "\n\nAfter")
        stream.finish()
        settle(stream)
        lines = texts(stream)
        assert lines[:2] == ["Intro", ""] and lines[-2:] == ["", "After"]
        body = lines[2:-2]
        assert all(body), "no blank line between the pieces of one paragraph"
        assert " ".join(body).split() == words
