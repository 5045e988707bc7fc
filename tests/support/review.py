"""The review screen as the tests drive it: `lfg run`'s app recorded into a history file, the screen
opened with `v`, a comment kept; a ticket that writes a file in its own worktree."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.review import DiffView, ReviewScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import keys, pane, tickets, until
from tests.support.compose import first_run, lfg_app
from tests.support.git import commit_all, isolate_git, repository


@contextlib.asynccontextmanager
async def recorded_app(sim: SimServer, path: Path, db: Path, *, yes: bool = True) -> AsyncIterator[LfgApp]:
    """`lfg run`'s app on the tickets at `path`, recorded into `db` as `lfg run` records it; `yes`:
    every tool call allowed without asking (`--yes`)."""
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    async with open_run_history(db, loaded, "lfg run", pytest.fail) as history:
        assert history is not None
        app = lfg_app(loaded.tickets, Providers(sim=sim), yes=yes, run_id=history.run_id, history=db)
        first_run(app).record(history)
        yield app


async def open_review(pilot: object, app: LfgApp) -> ReviewScreen:
    await pilot.press("v")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, ReviewScreen) and laid_out(app.screen))
    assert isinstance(app.screen, ReviewScreen)
    return app.screen


def laid_out(screen: ReviewScreen) -> bool:
    """Whether the screen's diff is mounted and has its size: the screen is the app's before its
    children are (a CI run queried it a moment early: `NoMatches: DiffView`)."""
    views = screen.query(DiffView)
    return bool(views) and views.first().size.height > 0


async def comment(pilot: object, screen: ReviewScreen, text: str) -> None:
    """`c` on the cursor's line, the text typed, enter; waits until the draft is kept."""
    before = len(screen.desk.drafts)
    await pilot.press("c", *keys(text), "enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: len(screen.desk.drafts) == before + 1)


def writer_tickets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ticket that writes notes/summary.md (three lines) in its own worktree of a real repository."""
    isolate_git(tmp_path, monkeypatch)
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = repository(tmp_path / "repo")
    (repo / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 31)))
    commit_all(repo, "a long file")
    toml = f'[[ticket]]\nid = "w"\nprompt = "write notes"\nmodel = "writer"\nworkdir = "{repo}"\n'
    toml += 'isolation = "worktree"\ntools = ["write_file", "run_command"]\n'
    return tickets(tmp_path, toml)


async def review_when_done(pilot: object, app: LfgApp) -> ReviewScreen:
    """Once ticket w has completed and its diff is measured: its review screen."""
    await until(pilot, lambda: pane(app, "w").state is PaneState.COMPLETED)
    await until(pilot, lambda: pane(app, "w").diff is not None and pane(app, "w").diff.files == 1)
    return await open_review(pilot, app)
