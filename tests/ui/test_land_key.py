"""`M` in the TUI lands the focused worktree ticket's change, as `lfg land` does, after asking."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.modals import ConfirmScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.git import git, repository


async def test_capital_m_lands_a_finished_worktree_ticket_after_asking(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = repository(tmp_path / "repo")
    (repo / "README.md").write_text("# Project\n\nthe person's own edit\n")
    before = git(repo, "rev-parse", "main")
    toml = '[[ticket]]\nid = "w"\ntitle = "Write notes"\nprompt = "x"\nmodel = "writer"\n'
    toml += f'workdir = "{repo}"\nisolation = "worktree"\ntools = ["write_file", "run_command"]\n'
    app = make_app(sim, tickets(tmp_path, toml), yes=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "w").state is PaneState.COMPLETED, 30)
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen) and "onto main as one commit" in app.screen.question
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert git(repo, "rev-parse", "main") == before, "no: nothing landed"
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: any("Landed w onto main" in n.message for n in app._notifications))
        landed = git(repo, "rev-parse", "main")[:12]
        header = f"landed {landed} onto main (squash)"
        await until(pilot, lambda: header in pane(app, "w").header.text.plain)  # the next frame says it
        tree = tmp_path / "trees" / app.controller.run_id / "w"
    assert git(repo, "rev-list", "--count", f"{before}..main") == "1"
    assert git(repo, "log", "-1", "--format=%s", "main") == "Write notes"
    assert (repo / "notes" / "summary.md").exists()
    assert (repo / "README.md").read_text() == "# Project\n\nthe person's own edit\n", "untouched"
    assert not tree.exists(), "archived"
