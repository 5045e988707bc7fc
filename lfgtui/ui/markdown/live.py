"""The pane body: streamed Markdown drawn with the Line API.

Textual's `Markdown` widget lays out a tree of block widgets again on every update, which cannot keep
up with many concurrent streams. `LiveMarkdown` is one `ScrollView` instead: the source is split
into Markdown blocks as it arrives, each finished block is rendered once per width into cached strips,
and a frame re-renders only the live tail (of a streaming paragraph, only its last rows), so one more
token costs the same at the end of a long answer as at its start. Only blocks within a few screens of
the view keep their strips; the others render again when scrolled back. The app owns the frame clock
and calls `flush()` on dirty, visible panes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from time import perf_counter

from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lfgtui.ui.markdown.blocks import Block, Join, Splitter
from lfgtui.ui.markdown.plain_lines import PlainLines
from lfgtui.ui.markdown.render import (
    DARK_CODE_THEME,
    LIGHT_CODE_THEME,
    OpenCode,
    OpenParagraph,
    OpenTable,
    RenderKey,
    render_block,
)

MIN_WIDTH = 10
"""Narrowest width blocks are rendered at, so a squeezed pane still wraps sanely."""

RELAYOUT_BUDGET = 0.008
"""Seconds one flush may spend rendering blocks out of view (after a width or style change, or when a
hidden pane is shown), so a long answer never freezes the app; blocks in view are always rendered."""

KEEP_SCREENS = 2
"""Rendered lines are kept for this many view heights above and below the view; blocks further away
keep only their text and exact height, and render again when they come back into view. A pane that
streams for an hour holds a few screens of rendered lines, not the whole answer."""
KEEP_MIN_LINES = 40


@dataclass
class LiveMarkdownStats:
    """Work counters, so tests (and benchmarks) can see what a flush cost."""

    blocks_rendered: int = 0
    tail_renders: int = 0
    flushes: int = 0
    lines_refreshed: int = 0
    chars_rendered: int = 0
    """Characters of text rendered, finished blocks and tail alike: what a flush's work grows with."""
    rows_reused: int = 0
    """Rows of a streaming paragraph (or of the block it finished as) taken from its previous rendering
    instead of wrapped and drawn again."""


MARKED = Style(reverse=True)
"""The marked blocks' lines: reversed, which reads the same in every theme."""
LEFT_OUT = Style(dim=True)


@dataclass(frozen=True)
class Mark:
    """Blocks picked out of the text by where they start in the source: `shown` (from, to) drawn
    reversed, those from `dim_from` on dimmed (a pane's picked turn, and the turns a fork there
    leaves out)."""

    shown: tuple[int, int]
    dim_from: int | None = None

    def style(self, start: int) -> Style | None:
        """The style over the lines of a block starting at `start` (None: as it is)."""
        if self.shown[0] <= start < self.shown[1]:
            return MARKED
        if self.dim_from is not None and start >= self.dim_from:
            return LEFT_OUT
        return None


class LiveMarkdown(PlainLines, ScrollView):
    """Streamed Markdown: `append()` per token, `flush()` per frame, `finish()` at the end.

    Draws with the Line API from cached strips: finished blocks (rendered once per width) then the
    live tail (rendered again on each flush that changed it). Follows the bottom while the view is
    at the bottom; leaves the view alone once the user scrolls up.

    No scrollbar by default: a following pane moves its scrollbar on every frame, and repainting
    sixteen of them doubled the screen update. Mouse and keys still scroll; an app that wants the bar
    sets `scrollbar-size-vertical` (the gutter is stable, so the text width does not change when it shows).
    """

    DEFAULT_CSS = """
    LiveMarkdown {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 0;
    }
    """

    def __init__(
        self,
        *,
        code_theme: str | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`code_theme`: a Pygments style for code blocks; None follows the app theme's darkness."""
        super().__init__(name=name, id=id, classes=classes)
        self._code_theme = code_theme
        self._parts: list[str] = []
        self._pending: list[str] = []
        self._splitter = Splitter()
        self._blocks: list[Block] = []
        self._heights: list[int] = []
        """Lines each finished block takes for `_layout_key`, its separator included (an estimate
        while the block waits in `_stale`)."""
        self._offsets: list[int] = [0]
        """First line of each finished block; the last entry is the first line of the tail."""
        self._stale: list[int] = []
        """Blocks, in ascending order, not rendered for `_layout_key` yet."""
        self._kept: set[int] = set()
        """Blocks holding rendered strips (for any key)."""
        self._evicted: set[int] = set()
        """Blocks rendered for `_layout_key` whose strips were dropped far from the view: their height
        is exact, and `_line` renders them again on demand."""
        self._tail: list[Strip] = []
        """The live tail's strips, led by its separator line if it has one."""
        self._tail_key: tuple[str, Join, bool, bool] | None = None
        self._tail_render: tuple[str, Join, bool, list[Strip]] | tuple[()] = ()
        """The tail's last rendering: a block that finishes with exactly that text reuses it."""
        self._open_code = OpenCode()
        """The streaming code block's highlighted lines, for `_layout_key`."""
        self._open_paragraph = OpenParagraph()
        """The streaming paragraph's rows, for `_layout_key`."""
        self._open_table = OpenTable()
        """The streaming table's rows, for `_layout_key`."""
        self._layout_key: RenderKey | None = None
        self._blank_line = Strip.blank(0)
        """A blank line in the base style at the layout width, for separators and placeholders."""
        self._dirty = False
        self._changed_lines: tuple[int, int] | None = None
        """(first line, count) that `_update` changed in view, repainted once the flush has scrolled."""
        self._style: Style | None = None
        """The base style, looked up (through every ancestor) once per style change, not per flush."""
        self._tail_start = 0
        """Where the live tail begins in the source."""
        self._mark: Mark | None = None
        self.stats = LiveMarkdownStats()

    @property
    def source(self) -> str:
        """All the Markdown appended since the last `clear()`."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def dirty(self) -> bool:
        """Whether `flush()` has work to do: new text, a new width or style, or blocks still to re-render.

        The frame clock should flush a visible stream whenever this is set, not only while it streams.
        """
        return self._dirty

    @property
    def lines(self) -> Sequence[Strip]:
        """Every line as of the last flush (a copy, for inspection); blank where a block awaits rendering.

        Blocks dropped far from the view are rendered for the copy only: inspecting the whole answer
        neither keeps it rendered nor counts in `stats`.
        """
        lines = [self._line(index, keep=False) for index in range(self._offsets[-1])]
        return [*lines, *self._tail]

    @property
    def kept_blocks(self) -> int:
        """Finished blocks holding rendered lines now; the others keep only their text and height."""
        return len(self._kept)

    def append(self, text: str) -> None:
        """Add streamed text. Called once per token, so it only records the text and marks dirty."""
        if text:
            self._parts.append(text)
            self._pending.append(text)
            self._dirty = True

    def finish(self) -> None:
        """The stream ended (completed, cancelled or failed): the tail is final."""
        if self._pending:
            self._splitter.feed("".join(self._pending))
            self._pending.clear()
        self._splitter.finish()
        self._dirty = True
        self.flush()

    def clear(self) -> None:
        """Forget everything (a retried pane starts again)."""
        self._parts.clear()
        self._pending.clear()
        self._splitter = Splitter()
        self._blocks.clear()
        self._heights.clear()
        self._offsets = [0]
        self._stale.clear()
        self._kept.clear()
        self._evicted.clear()
        self._tail = []
        self._tail_key = None
        self._tail_render = ()
        self._open_code = OpenCode()
        self._open_paragraph = OpenParagraph()
        self._open_table = OpenTable()
        self._layout_key = None
        self._dirty = True
        self.scroll_to(0, 0, animate=False, immediate=True)

    def flush(self) -> bool:
        """Bring the screen up to date with the text appended so far; True if anything was repainted.

        Called by the app's frame clock. Costs nothing when clean, and nothing (staying dirty) while
        the widget is hidden or has no size. After a width or style change, or when many blocks arrive
        at once (a hidden pane shown again), it renders the blocks in view at once and the others within
        `RELAYOUT_BUDGET` per call, staying dirty until done.
        """
        if not self._dirty:
            return False
        width = self._render_width()
        if not width:
            return False
        self._dirty = False
        self.stats.flushes += 1
        if self._pending:
            self._splitter.feed("".join(self._pending))
            self._pending.clear()
        new_blocks = self._splitter.take()
        follow = not self.is_vertical_scrollbar_grabbed and self.scroll_offset.y >= self.max_scroll_y - 1
        anchor = None if follow else self._anchor()
        key = (width, self._base_style(), self._theme())
        relayout = key != self._layout_key
        if relayout:
            self._blocks.extend(new_blocks)
            self._relayout(key)
            changed = True
        else:
            changed = self._update(key, new_blocks, follow)
        moved = relayout or bool(self._stale)
        if self._stale:
            self._render_stale(key, follow, anchor)
            self._dirty = self._dirty or bool(self._stale)
        self._set_virtual_size(Size(width, self._offsets[-1] + len(self._tail)))
        top = self.scroll_offset.y
        if follow:
            bottom = self.max_scroll_y
            if top != bottom:
                self._follow_to(top, bottom)
        elif moved and anchor is not None:
            number, local = anchor
            line = self._offsets[number] + min(local, self._heights[number] - 1)
            self.scroll_to(y=line, animate=False, force=True)
        scrolled = self.scroll_offset.y != top
        if self._changed_lines and not (scrolled and not self.styles.scrollbar_size_vertical):
            start, count = self._changed_lines  # else `watch_scroll_y` repainted the whole view
            self.stats.lines_refreshed += count
            self.refresh_lines(start, count)
        self._changed_lines = None
        if not scrolled:  # else `watch_scroll_y` has just dropped what the new view is far from
            self._evict_far_blocks()
        return changed or moved or scrolled

    def _follow_to(self, top: int, bottom: int) -> None:
        """Scroll a view that follows the stream from `top` to its last line, `bottom`.

        As `scroll_to(y=bottom, animate=False, immediate=True)`, which cost a third of a flush's
        bookkeeping (validating the offset, stopping animations and releasing an anchor through
        Textual's reactive machinery): `bottom` is valid, the widget is never anchored, and only
        `watch_scroll_y` watches the offset, so this sets it and calls the watcher. A scroll still
        animating (the user's End key) goes through `scroll_to`, which stops it, as before.
        """
        if self.app.animator.is_being_animated(self, "scroll_y"):
            self.scroll_to(y=bottom, animate=False, force=True, immediate=True)
            return
        self.set_reactive(LiveMarkdown.scroll_target_y, bottom)
        self.set_reactive(LiveMarkdown.scroll_y, bottom)
        self.watch_scroll_y(top, bottom)

    def _evict_far_blocks(self) -> None:
        """Drop the strips of blocks more than `KEEP_SCREENS` view heights away from the view."""
        view = self.scrollable_content_region.height
        margin = max(view * KEEP_SCREENS, KEEP_MIN_LINES)
        top = self.scroll_offset.y - margin
        bottom = self.scroll_offset.y + view + margin
        offsets = self._offsets
        for number in [n for n in self._kept if offsets[n + 1] <= top or offsets[n] >= bottom]:
            block = self._blocks[number]
            if self._layout_key in block.strips:
                self._evicted.add(number)
            block.strips.clear()
            self._kept.discard(number)

    def _set_virtual_size(self, size: Size) -> None:
        """Set the scrollable size; without a layout pass when the widget's own size is fixed.

        `virtual_size` is a layout reactive: every new line would re-arrange the whole screen (every
        pane's widgets), which at 16 streams was a screen reflow on nearly every frame. A widget whose
        height does not depend on its content only needs its scroll limits and scrollbars updated, and
        not even that when it grows longer with no scrollbar drawn and already scrollable: the update
        (a sixth of a flush's bookkeeping) would set every scrollbar flag and offset to what it is.
        """
        if size == self.virtual_size:
            return
        height = self.styles.height
        if height is None or height.is_auto:
            self.virtual_size = size
            return
        old = self.virtual_size
        self.set_reactive(LiveMarkdown.virtual_size, size)
        if (
            size.width == old.width
            and size.height >= old.height
            and self.show_vertical_scrollbar
            and not self.styles.scrollbar_size_vertical
        ):
            return  # more lines below a view already scrollable: no scrollbar shows and no offset moves
        self._scroll_update(size)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """As ScrollView's, but a zero-width scrollbar is left alone: its repaint of nothing made the
        compositor rebuild its whole map (every widget of every pane) on each scrolled frame."""
        if self.styles.scrollbar_size_vertical:
            super().watch_scroll_y(old_value, new_value)
        elif round(old_value) != round(new_value):
            self.refresh(self.size.region)
        self._evict_far_blocks()  # a finished answer scrolled through keeps only a few screens too

    def mark(self, mark: Mark | None) -> None:
        """Draw `mark` over the text (None: none), and bring its first marked line into view. An
        empty `shown` marks the first block from there (a turn whose words are not shown: its answer)."""
        if mark is not None:
            number = bisect_left(self._blocks, mark.shown[0], key=lambda block: block.start)
            start = self._blocks[number].start if number < len(self._blocks) else self._tail_start
            if mark.shown[0] == mark.shown[1]:
                mark = Mark((start, start + 1), mark.dim_from)
        self._mark = mark
        self.refresh()
        if mark is not None:
            line = self._offsets[number] if number < len(self._blocks) else self._offsets[-1]
            self.scroll_to(y=max(0, line - 1), animate=False, force=True, immediate=True)

    def render_line(self, y: int) -> Strip:
        index = y + self.scroll_offset.y
        if index < self._offsets[-1]:
            line = self._line(index)
            if self._mark is None:
                return line
            number = bisect_right(self._offsets, index) - 1
            block = self._blocks[number]
            first = index == self._offsets[number]
            separator = first and self._separated(number, block.strips.get(self._layout_key))
            return self._marked(line, block.start, separator)
        index -= self._offsets[-1]
        if index < len(self._tail):
            line = self._tail[index]
            separator = index == 0 and len(self._tail) > 1 and line is self._blank_line
            return line if self._mark is None else self._marked(line, self._tail_start, separator)
        if self._layout_key is None:  # not laid out yet: no blank line of the right width and style
            return Strip.blank(self.outer_size.width, self.rich_style)
        return self._blank_line

    def _marked(self, line: Strip, start: int, separator: bool) -> Strip:
        """`line` of the block starting at `start` as the mark draws it (a separator left blank)."""
        assert self._mark is not None
        style = self._mark.style(start)
        return line if style is None or separator else line.apply_style(style)

    def on_resize(self, event: events.Resize) -> None:
        """A new width invalidates the layout; the next flush re-renders (lazily, once)."""
        self._dirty = True

    def notify_style_update(self) -> None:
        """A theme change may change the base style or code theme; the next flush checks."""
        super().notify_style_update()
        self._style = None
        self._dirty = True

    def _base_style(self) -> Style:
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def _render_width(self) -> int:
        """The width to render at, or 0 while hidden or without size."""
        if not self.display:
            return 0
        region = self.scrollable_content_region
        if region.width <= 0 or region.height <= 0:
            return 0
        return max(region.width, MIN_WIDTH)

    def _theme(self) -> str:
        if self._code_theme is not None:
            return self._code_theme
        return DARK_CODE_THEME if self.app.current_theme.dark else LIGHT_CODE_THEME

    def _line(self, index: int, keep: bool = True) -> Strip:
        """Line `index` of the finished blocks; a block dropped far from the view is rendered again
        (the same height: same text, same key), and kept unless `keep` is False."""
        number = bisect_right(self._offsets, index) - 1
        block = self._blocks[number]
        local = index - self._offsets[number]
        key = self._layout_key
        strips = block.strips.get(key) if key else None
        if strips is None and key is not None and number in self._evicted:
            if keep:
                self._ensure_rendered(number, key)
                strips = block.strips[key]
            else:
                strips = render_block(self.app.console, block, key)
        if self._separated(number, strips):
            local -= 1
        if strips is None or local < 0:
            return self._blank_line
        return strips[local]

    def _separated(self, number: int, strips: list[Strip] | None) -> bool:
        """Whether block `number` starts with a blank line (not for an empty rendering)."""
        return number > 0 and self._blocks[number].join is Join.GAP and strips != []

    def _height(self, number: int, key: RenderKey) -> int:
        """Lines block `number` takes at `key`: exact once rendered, else estimated from its text."""
        block = self._blocks[number]
        strips = block.strips.get(key)
        if strips is not None:
            lines = len(strips)
        elif block.strips:
            (old_width, *_rest), old = next(iter(block.strips.items()))
            lines = max(1, len(old) * old_width // key[0])
        else:
            lines = sum(len(line) // key[0] + 1 for line in block.text.splitlines())
        return lines + self._separated(number, strips)

    def _relayout(self, key: RenderKey) -> None:
        """Start over for a new width or style: cached blocks are placed, the others queued in `_stale`."""
        keep = {key, self._layout_key}
        self._layout_key = key
        width, style, _theme = key
        self._blank_line = Strip.blank(width, style)
        self._stale = []
        self._evicted.clear()  # heights at the new key are estimates until rendered
        for number, block in enumerate(self._blocks):
            for old in [cached for cached in block.strips if cached not in keep]:
                del block.strips[old]
            if key not in block.strips:
                self._stale.append(number)
        self._kept = {number for number, block in enumerate(self._blocks) if block.strips}
        self._heights = [self._height(number, key) for number in range(len(self._blocks))]
        self._offsets = [0, *accumulate(self._heights)]
        self._tail_key = None
        self._tail_render = ()
        self._open_code = OpenCode()
        self._open_paragraph = OpenParagraph()
        self._open_table = OpenTable()
        self._render_tail(key)
        self.refresh()

    def _anchor(self) -> tuple[int, int] | None:
        """(block, line within it) at the top of the view, to keep the view on it when heights change."""
        top = self.scroll_offset.y
        if top >= self._offsets[-1]:
            return None
        number = bisect_right(self._offsets, top) - 1
        return number, top - self._offsets[number]

    def _render_stale(self, key: RenderKey, follow: bool, anchor: tuple[int, int] | None) -> None:
        """Render queued blocks: those in view now, then the rest from the bottom up, within the budget."""
        view = self.scrollable_content_region.height
        if follow:
            need = view - len(self._tail)
            number = len(self._blocks) - 1
            while need > 0 and number >= 0:
                self._ensure_rendered(number, key)
                need -= self._heights[number]
                number -= 1
        elif anchor is not None:
            number, local = anchor
            need = view + local
            while need > 0 and number < len(self._blocks):
                self._ensure_rendered(number, key)
                need -= self._heights[number]
                number += 1
        deadline = perf_counter() + RELAYOUT_BUDGET
        while self._stale and perf_counter() < deadline:
            self._ensure_rendered(self._stale.pop(), key)
        while self._stale and key in self._blocks[self._stale[-1]].strips:
            self._stale.pop()
        self._offsets = [0, *accumulate(self._heights)]
        self.refresh()

    def _ensure_rendered(self, number: int, key: RenderKey) -> None:
        block = self._blocks[number]
        if key not in block.strips:
            block.strips[key] = render_block(self.app.console, block, key)
            self.stats.blocks_rendered += 1
            self.stats.chars_rendered += len(block.text)
            self._heights[number] = self._height(number, key)
            self._kept.add(number)
            self._evicted.discard(number)

    def _update(self, key: RenderKey, new_blocks: list[Block], follow: bool) -> bool:
        """Lay out newly finished blocks and the tail; note (in `_changed_lines`) the lines that differ.

        New blocks beyond the budget (a hidden pane shown again, a huge chunk) are queued like a relayout,
        but never those a following view will show: those would be rendered at once anyway, and
        queueing them repainted the whole pane. A busy app, whose frames bring several blocks each and
        whose renders take longer by the wall clock, so stays on this path instead of falling further
        behind on the queued one.
        """
        first = self._offsets[-1]
        old = self._tail
        added: list[Strip] = []
        deadline = perf_counter() + RELAYOUT_BUDGET
        shown_from = self._shown_from(new_blocks, key[0]) if follow else len(new_blocks)
        for index, block in enumerate(new_blocks):
            number = len(self._blocks)
            self._blocks.append(block)
            if not block.continued and self._tail_render[:3] == (block.text, block.join, block.plain):
                block.strips[key] = self._tail_render[3]
            elif index >= shown_from or (not self._stale and perf_counter() < deadline):
                block.strips[key] = self._render_finished(block, key, was_tail=index == 0)
                self.stats.blocks_rendered += 1
                self.stats.chars_rendered += len(block.text)
            else:
                self._stale.append(number)
            if block.strips:
                self._kept.add(number)
            self._heights.append(self._height(number, key))
            self._offsets.append(self._offsets[-1] + self._heights[-1])
            strips = block.strips.get(key)
            if strips is not None:
                if self._separated(number, strips):
                    added.append(self._blank_line)
                added.extend(strips)
        self._render_tail(key)
        if self._stale:
            return True
        new = added + self._tail
        same = 0
        for before, after in zip(old, new, strict=False):
            if before != after:
                break
            same += 1
        start = first + same
        end = first + max(len(old), len(new))
        top = self.scroll_offset.y
        start, end = max(start, top), min(end, top + self.size.height)
        if start >= end:
            return False
        self._changed_lines = (start, end - start)
        return True

    def _render_finished(self, block: Block, key: RenderKey, was_tail: bool) -> list[Strip]:
        """A newly finished block's strips; the block that was the live tail shares its rows."""
        console = self.app.console
        if was_tail and self._open_paragraph.drawn:  # the paragraph that was the tail
            strips = self._open_paragraph.render(console, block, key)
            self.stats.rows_reused += self._open_paragraph.reused
            return strips
        if was_tail and self._open_table.drawn:  # the table that was the tail
            table = self._open_table.render(console, block, key)
            if table is not None:
                self.stats.rows_reused += self._open_table.reused
                return table
        return render_block(console, block, key)

    def _shown_from(self, new_blocks: list[Block], width: int) -> int:
        """The first of `new_blocks` that a view following the bottom shows, by their estimated heights."""
        need = self.scrollable_content_region.height
        shown = len(new_blocks)
        while shown > 0 and need > 0:
            shown -= 1
            need -= sum(len(line) // width + 1 for line in new_blocks[shown].text.splitlines()) + 1
        return shown

    def _render_tail(self, key: RenderKey) -> None:
        tail = self._splitter.tail()
        self._tail_start = 0 if tail is None else tail.start
        if tail is None:
            self._tail = []
            self._tail_key = None
            return
        text, join, plain = tail.text, tail.join, tail.plain
        separated = join is Join.GAP and self._offsets[-1] > 0
        tail_key = (text, join, plain, separated)
        if tail_key == self._tail_key:
            return
        self._tail_key = tail_key
        code = self._splitter.open_code()
        if code is None:
            strips = self._open_table.render(self.app.console, tail, key)
            if strips is None:
                strips = self._open_paragraph.render(self.app.console, tail, key)
                self.stats.rows_reused += self._open_paragraph.reused
            else:
                self.stats.rows_reused += self._open_table.reused
                self._open_paragraph = OpenParagraph()
            self._tail_render = (text, join, plain, strips)
        else:
            strips = self._open_code.render(self.app.console, *code, join, key)
        self.stats.tail_renders += 1
        self.stats.chars_rendered += len(text)
        self._tail = [self._blank_line, *strips] if separated and strips else strips
