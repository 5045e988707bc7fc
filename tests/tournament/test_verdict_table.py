"""The verdict's table fits the terminal: the winner's mark, the contestants, their checks and diffs
whole at 80 columns, the measures and the model left out first; every column when it is wide."""

from __future__ import annotations

import io

from rich.console import Console

from lfgtui.contest import TABLE_HEADER
from lfgtui.ui.screens.verdict import WINNER, verdict_table
from tests.support.verdicts import three_contestants


def drawn(width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    console.print(verdict_table(three_contestants(), width))
    return console.export_text().splitlines()


def test_at_80_columns_the_winner_is_marked_and_its_columns_are_named_whole() -> None:
    width = 80 - 6  # a verdict dialog's border and padding
    header, first, *others = drawn(width)
    assert header.split() == ["contestant", "check", "diff"], "the measures are in the reasons below"
    assert first.split()[:2] == [WINNER, "fix@tournament-pass"]
    assert "passed (2 passed)" in first and "+3 \u22121, 1 file" in first
    assert "failed (1 passed, 1 failed)" in others[1]
    assert all(len(line) <= width for line in (header, first, *others))


def test_a_wide_terminal_shows_every_column() -> None:
    header, first, *_ = drawn(160)
    assert header.split() == list(TABLE_HEADER)
    assert first.split()[:3] == [WINNER, "fix@tournament-pass", "sim/tournament-pass"]
