"""The TUI opens a tournament's table once every contestant is checked and its judge (a pane of its
own) has ranked them, the winner marked, who ranked and why."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from lfgtui.sim.server import SimServer
from lfgtui.ui.pane import PaneState
from lfgtui.ui.verdict_screen import WINNER, VerdictScreen
from tests.support.app import SIZE, make_app, until
from tests.support.git import isolate_git
from tests.support.tournament import CONTESTANTS, calc_repo, tournament_tickets


async def test_the_verdict_opens_over_the_run_and_the_compare_key_shows_it_again(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = calc_repo(tmp_path / "repo")
    app = make_app(sim, tournament_tickets(tmp_path, repo, 'judge = "sim/tournament-judge"\n'))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, VerdictScreen), timeout=40)
        assert all(app.controller.panes[ticket].state is PaneState.COMPLETED for ticket in CONTESTANTS)
        assert app.controller.panes["fix@judge"].state is PaneState.COMPLETED
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, VerdictScreen)
        assert screen.verdict.winner == "fix@tournament-pass" and screen.verdict.judged
        ranked_by = screen.query_one("#verdict-ranked-by", Static).render()
        assert str(ranked_by) == "ranked by the judge fix@judge, on the diffs and checks under neutral labels"
        label = dict((ticket, name) for name, ticket in screen.verdict.labels)["fix@tournament-pass"]
        assert f"1. fix@tournament-pass ({label}): {label}: check passed, 2 tests passed" in str(
            screen.query_one("#verdict-reasons", Static).render()
        )
        table = screen.query_one("#verdict-table")
        lines = [table.render_line(y).text.strip() for y in range(table.size.height)]
        ranked = [line.split()[1] if line.startswith(WINNER) else line.split()[0] for line in lines[1:4]]
        assert ranked == list(CONTESTANTS)
        assert lines[1].startswith(WINNER) and "passed (2 passed)" in lines[1]
        assert "failed (0 passed, 1 error)" in lines[3]
        await pilot.press("escape")
        assert not isinstance(app.screen, VerdictScreen)
        await pilot.press("equals_sign")
        assert isinstance(app.screen, VerdictScreen)
