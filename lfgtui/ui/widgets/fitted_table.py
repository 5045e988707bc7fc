"""A row-cursor table whose columns are as wide as their widest cell or label, set as its rows are.

Textual's DataTable (8.2.8) widens an auto-width column on its next idle, after the rows that need
it were added: a frame drawn between the two shows every cell cut to its column's label, and the
widening neither bumps the update count its row and line caches are keyed by nor clears them, so
unless the table's size changes after it, that frame is drawn again (the fleet view's snapshot
showed ` a1b ` for a run id after waiting for the column to widen). Here each `fill` measures its
cells and gives the columns fixed widths, re-made only when one changes: no frame waits on an idle.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from textual.render import measure
from textual.widgets import DataTable


class FittedTable(DataTable[RenderableType]):
    """`labels`: the columns, in order."""

    def __init__(self, labels: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self.labels = tuple(labels)
        self.widths: list[int] = []
        """The columns' widths as last set."""

    def fill(self, rows: Sequence[tuple[RenderableType, ...]], keys: Sequence[str]) -> None:
        """Show `rows` (each a cell per label), keyed by `keys`, in place of the table's rows."""
        console = self.app.console
        widths = [
            max([len(label), *(measure(console, cells[n], 1) for cells in rows)])
            for n, label in enumerate(self.labels)
        ]
        if widths == self.widths:
            self.clear()
        else:
            self.clear(columns=True)
            for label, width in zip(self.labels, widths, strict=True):
                self.add_column(label, width=width)
            self.widths = widths
        for cells, key in zip(rows, keys, strict=True):
            self.add_row(*cells, key=key)
