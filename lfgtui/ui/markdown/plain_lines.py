"""Line-API widgets that hand the compositor their lines directly.

On every screen update Textual's compositor asks each widget under the changed area for its lines,
and a widget's style cache works out borders, padding, tint and opacity for each line it repaints
and copies it into a new `Strip`. The pane body and the pane's one-line header and gauges have none
of those styles, and at 16 streams nearly every pane changes every frame: those copies and checks
were a third of the screen update. A `PlainLines` widget returns what `render_line` made, through
the app's line filters (ANSI colours, NO_COLOR, dimming); with any box style it draws as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.filter import LineFilter
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

KEPT_SCREENS = 4
"""How many screens' worth of lines `PlainLines` keeps ready before it forgets the older half."""


class PlainLines(Widget):
    """A Line-API widget (it implements `render_line`) drawn without the style cache when it can be.

    Whether it can, and the background the line filters need, are worked out again only when the
    widget's styles change (a theme, a class on it or an ancestor), not on every screen update.
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._plain: tuple[bool, Color] | None = None
        self._shown: dict[int, tuple[Strip, Strip]] = {}
        """The lines shown lately, by the identity of the line `render_line` made: it and the copy
        handed to the compositor (cut or padded to the width, through the filters). A body that
        follows its tail shows the same lines a row higher each frame: each is filtered once, not
        once per row it passes. `Strip.apply_filter` would keep a filtered twin inside every line
        shown, cached lines included: at 16 streams that grew memory by ~1 MB/s."""
        self._shown_for: tuple[int, Sequence[LineFilter]] | None = None
        """The width and filters the copies in `_shown` were made for."""

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._plain = None
        self._shown.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._plain is None:
            self._plain = (self._has_no_box_styles(), self.background_colors[1])
        plain, background = self._plain
        if not plain or self.hover_style.link_id:
            return super().render_lines(crop)
        width = self.outer_size.width
        filters = self.get_line_filters()
        shown = self._shown
        if self._shown_for != (width, filters):
            shown.clear()
            self._shown_for = (width, filters)
        strips: list[Strip] = []
        for y in crop.line_range:
            strip = self.render_line(y)
            made = shown.pop(id(strip), None)  # put back last: the oldest are the least lately shown
            if made is None or made[0] is not strip:
                made = (strip, self._fitted(strip, width, filters, background))
            shown[id(strip)] = made
            strips.append(made[1])
        if len(shown) > KEPT_SCREENS * max(1, self.outer_size.height):
            for key in list(shown)[: len(shown) // 2]:  # the older half: lines scrolled away
                del shown[key]
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def _fitted(self, strip: Strip, width: int, filters: Sequence[LineFilter], background: Color) -> Strip:
        """`strip` cut or padded to `width`, through the app's line filters."""
        if strip.cell_length != width:
            strip = strip.adjust_cell_length(width, self.rich_style)
        for line_filter in filters:
            strip = Strip(line_filter.apply(list(strip), background), strip.cell_length)
        return strip

    def _has_no_box_styles(self) -> bool:
        styles = self.styles
        return not (
            styles.gutter
            or styles.outline
            or self.scrollbar_size_vertical
            or self.scrollbar_size_horizontal
            or styles.tint.a
            or styles.text_opacity != 1
            or styles.has_rule("hatch")
            or self.opacity != 1
        )


class TextLine(PlainLines):
    """One line of rich `Text`, cut with an ellipsis when too long; rendered once per change and width."""

    DEFAULT_CSS = """
    TextLine {
        height: 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.text = Text()
        self._strip: Strip | None = None
        self._style: Style | None = None
        """The base style, looked up (through every ancestor) once per style change, not per update."""

    def update(self, text: Text | str) -> None:
        self.text = text if isinstance(text, Text) else Text(text)
        self._strip = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strip = self._style = None

    def render(self) -> Text:
        """What it shows (drawn by `render_line`; this is what `width: auto` and a reader measure)."""
        return self.text

    def render_line(self, y: int) -> Strip:
        width = self.size.width  # within its padding, if it has any (then the style cache adds it)
        if self._style is None:
            self._style = self.rich_style
        if y:
            return Strip.blank(width, self._style)
        if self._strip is None or self._strip.cell_length != width:
            self._strip = one_line(self.app.console, self.text, width, self._style)
        return self._strip


def one_line(console: Console, text: Text, width: int, style: Style) -> Strip:
    """`text` on one line of `width` over `style`, cut with an ellipsis when too long: the first
    line rich's `Console.render_lines` makes of it. A line that fits (no tab, no line break, no
    justification of its own: a header, the gauges) is rendered straight, as rich would after its
    wrap pass (which makes the text's own style its first span), at about a third of the cost."""
    if width <= 0:  # e.g. within its padding on a screen not laid out yet: rich makes no line
        return Strip([], 0)
    plain = text.plain
    if text.cell_len > width or "\n" in plain or "\t" in plain or text.justify not in (None, "default"):
        options = console.options.update(width=width, no_wrap=True, overflow="ellipsis")
        return Strip(console.render_lines(text, options, style=style, pad=True)[0], width).simplify()
    if text.style:
        text = text.copy()
        text.stylize_before(text.style)
        text.style = ""
    segments = list(Segment.apply_style(text.render(console), style))
    if text.cell_len < width:
        segments.append(Segment(" " * (width - text.cell_len), style))
    return Strip(segments, width).simplify()
