"""A Static whose content is given once, measured once at each width.

A scroll container of `height: auto` (the help's key table) measures its content at two widths on
each layout: its own, then less its scrollbar's gutter. Textual keeps the height of one width, and
forgets it at every repaint besides, so each layout of the help measured, that is rendered, the
whole table twice: 4 times as it opened (10-55 ms each)."""

from __future__ import annotations

from textual.geometry import Size
from textual.visual import VisualType
from textual.widgets import Static


class MeasuredStatic(Static):
    """Keeps its content's height at every width it was measured at: its content, given to the
    constructor, is never updated, so only the width changes the height."""

    def __init__(self, content: VisualType, *, classes: str | None = None) -> None:
        super().__init__(content, classes=classes)
        self._heights: dict[int, int] = {}

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width not in self._heights:
            self._heights[width] = super().get_content_height(container, viewport, width)
        return self._heights[width]
