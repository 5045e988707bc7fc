"""The TUI opens a tournament's table once every contestant is checked, the winner marked; `M` there
lands the winner and archives the others' worktrees, asking before each; `S` starts a synthesis of
the best two in a pane of its own, recorded in the history as one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot

from lfgtui.config.load import Config
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import open_run_history
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.modals import ConfirmScreen
from lfgtui.ui.screens.verdict import WINNER, VerdictScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, until
from tests.support.compose import first_run
from tests.support.git import git, isolate_git
from tests.support.tournament import CONTESTANTS, calc_repo, tournament_tickets


async def test_the_verdict_opens_over_the_run_takes_the_winner_and_synthesizes_the_best_two(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = calc_repo(tmp_path / "repo")
    db, tickets = tmp_path / "h.sqlite3", tournament_tickets(tmp_path, repo)
    loaded = load_tickets(tickets, Config(path=None), BUILTIN_TOOLS, env={})
    async with open_run_history(db, loaded, "lfg run", pytest.fail) as history:
        assert history is not None
        app = make_app(sim, tickets, history=db, run_id=history.run_id)
        first_run(app).record(history)
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
            await synthesize(pilot, app, sim)
    with Store.open(db) as store:
        record = store.load(Selection(history.run_id))
    (synthesis,) = [t for t in record.tickets if t.row.ticket == "fix-synthesis"]
    assert synthesis.row.synthesis_of == "fix" and synthesis.row.model == "tournament-pass"
    assert [a.row.outcome for a in synthesis.attempts] == ["completed"]
    assert [v.winner for v in record.verdicts] == ["fix@tournament-pass"]


async def synthesize(pilot: Pilot[None], app: LfgApp, sim: SimServer) -> None:
    """`S` over the verdict starts `fix-synthesis` on the winner's model, in a pane of its own, asked
    with the best two diffs and the reasons of their places, and no contestant's name."""
    asked = len(sim.log)
    await pilot.press("equals_sign")
    assert isinstance(app.screen, VerdictScreen)
    await pilot.press("S")
    await until(pilot, lambda: "fix-synthesis" in app.controller.panes)
    pane = app.controller.panes["fix-synthesis"]
    await until(pilot, lambda: pane.state is PaneState.COMPLETED, timeout=20)
    assert app.screen.focused is pane.view
    prompt = json.dumps(sim.log[asked].body)
    assert "write add in calc.py" in prompt and "## The change ranked first" in prompt
    assert "Ranked so because: check passed (2 passed)" in prompt
    assert "+    return a + b" in prompt and "+    return a - b" in prompt
    assert "Ranked so because: check failed (1 passed, 1 failed)" in prompt
    assert "fix@" not in prompt and "add two numbers" not in prompt, "labelled by place; the third left out"


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
    # every worktree, then every branch (none had commits of its own) removed once archiving ends
    await until(pilot, lambda: not any(tree is not None and tree.path.exists() for tree in trees.values()))
    await until(pilot, lambda: git(repo, "branch", "--list", "lfg/*") == "")
