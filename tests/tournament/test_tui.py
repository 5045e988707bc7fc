"""The TUI opens a tournament's table once every contestant is checked, the winner marked; `M` there
lands the winner and archives the others' worktrees, asking before each."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from lfgtui.ui.modals import ConfirmScreen
from lfgtui.ui.pane import PaneState
from lfgtui.ui.verdict_screen import WINNER, VerdictScreen
from tests.support.app import SIZE, make_app, until
from tests.support.git import git, isolate_git
from tests.support.tournament import CONTESTANTS, calc_repo, tournament_tickets


async def test_the_verdict_opens_over_the_run_shows_again_on_compare_and_takes_the_winner(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = calc_repo(tmp_path / "repo")
    app = make_app(sim, tournament_tickets(tmp_path, repo))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, VerdictScreen), timeout=40)
        assert all(app.controller.panes[ticket].state is PaneState.COMPLETED for ticket in CONTESTANTS)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, VerdictScreen)
        assert screen.verdict.winner == "fix@tournament-pass"
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
        await take_the_winner(pilot, app, repo)


async def take_the_winner(pilot: Pilot[None], app: LfgApp, repo: Path) -> None:
    """`M` lands the winner onto the checkout's branch after a yes; the losers' worktrees hold their
    uncommitted calc.py (work not landed), so they go only after a second yes."""
    trees = {ticket: app.controller.control.worktree(ticket) for ticket in CONTESTANTS}
    before = git(repo, "rev-parse", "HEAD")
    await pilot.press("M")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    assert "Land the winner fix@tournament-pass" in str(app.screen.question)
    await pilot.press("y")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and "anyway" in app.screen.question)
    question = app.screen.question
    assert isinstance(question, str) and "uncommitted changes" in question
    winner = trees.pop("fix@tournament-pass")
    assert winner is not None and not winner.path.exists(), "landed, so archived"
    assert all(tree is not None and tree.path.exists() for tree in trees.values()), "nothing removed unasked"
    assert git(repo, "rev-parse", "HEAD~1") == before, "the winner landed first"
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    await pilot.press("y")
    await until(pilot, lambda: not any(tree is not None and tree.path.exists() for tree in trees.values()))
    assert git(repo, "branch", "--list", "lfg/*") == "", "no branch had commits of its own"
