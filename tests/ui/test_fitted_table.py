"""A table's rows are drawn at their cells' widths from the first frame (ui/widgets/fitted_table.py):
Textual's DataTable widens an auto-width column only on its next idle and kept a frame drawn before
that, cut to the labels' widths (the fleet view's snapshot caught ` a1b ` for a run id)."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from lfgtui.ui.widgets.fitted_table import FittedTable

LABELS = ("run", "who")


class Tabled(App[None]):
    def compose(self) -> ComposeResult:
        yield FittedTable(LABELS)


def drawn(table: FittedTable) -> list[str]:
    """The table's lines as drawn now, before any idle."""
    return [table.render_line(y).text.rstrip() for y in range(table.row_count + 1)]


async def test_rows_are_drawn_whole_before_the_table_idles_and_columns_follow_each_fill() -> None:
    app = Tabled()
    async with app.run_test(size=(80, 10)):
        table = app.query_one(FittedTable)
        table.fill([(Text("a1b2c3d4e5f6"), Text("ann@build-3"))], ["a"])
        assert drawn(table) == [" run           who", " a1b2c3d4e5f6  ann@build-3"]
        assert table.widths == [12, 11]
        table.fill([(Text("0f1"), Text("bo"))], ["b"])  # narrower: the columns follow, down to the labels
        assert drawn(table) == [" run  who", " 0f1  bo"]
        assert table.widths == [3, 3] and table.row_count == 1
