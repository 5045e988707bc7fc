"""PlainLines: the lines handed straight to the compositor are the ones Textual's style cache makes."""

from __future__ import annotations

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from lfgtui.cost.metrics import Metrics
from lfgtui.ui.markdown.live import LiveMarkdown
from lfgtui.ui.markdown.plain_lines import KEPT_SCREENS, PlainLines, TextLine, one_line
from lfgtui.ui.widgets.gauges import gauge_text

ANSWER = "# Title\n\nSome **bold** and `code`, with a [link](https://example.com).\n\n- one\n- two\n"


class LinesApp(App[None]):
    CSS = """
    LiveMarkdown { height: 8; }
    #padded, .-padded { padding: 0 2; }
    """

    def compose(self) -> ComposeResult:
        yield TextLine(id="plain")
        yield TextLine(id="padded")
        yield LiveMarkdown(id="body")


def runs(strips: list[Strip]) -> list[list[tuple[str, Style | None]]]:
    """Each line's text runs and styles, however the segments happen to be cut."""
    return [[(s.text, s.style) for s in Segment.simplify(strip) if s.text] for strip in strips]


def first_line(widget: Widget) -> Strip:
    return widget.render_lines(Region(0, 0, *widget.outer_size))[0]


def by_style_cache(widget: Widget, crop: Region) -> list[Strip]:
    return super(PlainLines, widget).render_lines(crop)  # type: ignore[misc]


async def fill(app: LinesApp) -> None:
    for line in app.query(TextLine):
        line.update(Text.assemble(("⠋ ", "bold cyan"), ("ticket", "bold"), ("  sim/model", "dim")))
    body = app.query_one(LiveMarkdown)
    body.append(ANSWER)
    body.finish()


@pytest.mark.parametrize("no_color", [False, True])
async def test_lines_match_the_style_cache_whole_and_cropped(
    no_color: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    app = LinesApp()
    async with app.run_test(size=(40, 12)) as pilot:
        await fill(app)
        await pilot.pause()
        for widget in (app.query_one("#plain"), app.query_one("#body")):
            width, height = widget.outer_size
            inner = Region(3, height // 4, width - 7, height - height // 2)
            for crop in (Region(0, 0, width, height), inner):
                assert runs(widget.render_lines(crop)) == runs(by_style_cache(widget, crop))


async def test_a_widget_with_box_styles_is_drawn_by_the_style_cache() -> None:
    app = LinesApp()
    async with app.run_test(size=(40, 12)) as pilot:
        await fill(app)
        await pilot.pause()
        assert first_line(app.query_one("#padded")).text.startswith("  ⠋ ticket"), "the padding is drawn"
        plain = app.query_one("#plain")
        assert first_line(plain).text.startswith("⠋ ticket")
        plain.add_class("-padded")
        await pilot.pause()
        assert first_line(plain).text.startswith("  ⠋ ticket"), "a box style given later is drawn too"


async def test_a_theme_change_redraws_with_the_new_colours() -> None:
    app = LinesApp()
    async with app.run_test(size=(40, 12)) as pilot:
        await fill(app)
        await pilot.pause()
        body = app.query_one("#body")
        crop = Region(0, 0, *body.outer_size)
        before = runs(body.render_lines(crop))
        app.theme = "textual-light"
        await pilot.pause()
        body.flush()
        after = runs(body.render_lines(crop))
        assert after != before
        assert after == runs(by_style_cache(body, crop))


async def test_a_text_line_is_cut_with_an_ellipsis() -> None:
    app = LinesApp()
    async with app.run_test(size=(20, 12)) as pilot:
        line, padded = app.query_one("#plain", TextLine), app.query_one("#padded", TextLine)
        for each in (line, padded):
            each.update("a header that is far too long for twenty cells")
        await pilot.pause()
        strip = first_line(line)
        assert strip.cell_length == 20
        assert strip.text.rstrip().endswith("…")
        padded_strip = first_line(padded)
        assert padded_strip.cell_length == 20
        assert padded_strip.text.startswith("  a header") and padded_strip.text.endswith("…  "), (
            "cut within its padding"
        )
        assert one_line(app.console, line.text, 0, line.rich_style).cell_length == 0, "no room: no line"


async def test_a_following_body_hands_on_the_lines_it_made_as_they_scroll_up() -> None:
    """A line scrolled up a row is the copy made for it before (filtered once, not once per row it
    passes), and the copies kept stay a few screens' worth however long the answer grows."""
    app = LinesApp()
    async with app.run_test(size=(40, 12)) as pilot:
        body = app.query_one(LiveMarkdown)
        crop = Region(0, 0, *body.outer_size)
        shown = body.render_lines(crop)
        for n in range(200):
            body.append(f"line {n}\n\n")
            body.flush()
            await pilot.pause()
            before, shown = shown, body.render_lines(crop)
            assert runs(shown) == runs(by_style_cache(body, crop))
            if n > crop.height and body.scroll_offset.y:
                assert all(a is b for a, b in zip(shown[:-3], before[2:-1], strict=True)), "scrolled 2 rows"
        assert len(body._shown) <= KEPT_SCREENS * crop.height


async def test_a_line_that_fits_is_drawn_as_rich_draws_it() -> None:
    """`one_line` renders a line that fits straight; it is the line rich's own pass makes."""
    gauges = [
        gauge_text(Metrics(), rate, [rate / 2, None, rate, 0.0] * 4, elapsed, width, running)
        for rate, elapsed, width, running in (
            (0.0, None, 80, True),
            (51.5, 65.2, 60, True),
            (9.0, 3.0, 44, False),
        )
    ]
    header = Text.assemble(("⠋ ", "bold cyan"), ("ticket", "bold"))
    header.append_text(Text(" needs you · 2 min", "bold reverse yellow"))
    header.append("  sim/model", "dim")
    texts = [
        *gauges,
        header,
        Text(),
        Text("plain"),
        Text("styled as a whole", "italic red"),
        Text("中文 wide ✓ · ▁▂▃", "bold"),
        Text("a\tb"),
        Text("two\nlines"),
        Text("right", justify="right"),
    ]
    app = LinesApp()
    async with app.run_test(size=(100, 12)):
        console, style = app.console, app.query_one("#plain").rich_style
        for text in texts:
            for width in {max(1, text.cell_len + extra) for extra in (0, 7, -3)}:
                options = console.options.update(width=width, no_wrap=True, overflow="ellipsis")
                line = Strip(console.render_lines(text, options, style=style, pad=True)[0], width).simplify()
                assert list(one_line(console, text, width, style)) == list(line), (text, width)
