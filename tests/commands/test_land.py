"""`lfg land RUN TICKET` on tickets the sim agent ran in real worktrees of a real repository, while
the person's checkout has uncommitted work of its own; the landing is recorded in the history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfgtui.history.store import Store
from lfgtui.sim.server import SimServer
from tests.support.git import git, isolate_git, repository
from tests.support.worktree_runs import lfg, run_in


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
async def ran(sim: SimServer, tmp_path: Path) -> tuple[Path, Path, str]:
    """The repository, the history file and the run of two sim tickets that each wrote a file in a
    worktree of the repository, leaving it uncommitted there."""
    repo = repository(tmp_path / "repo")
    db = tmp_path / "history.sqlite3"
    _, _, run_id = await run_in(sim, tmp_path, repo, db)
    return repo, db, run_id


async def test_land_squashes_a_sim_tickets_work_onto_main_and_records_it(
    ran: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, db, run_id = ran
    (repo / "README.md").write_text("# Project\n\nthe person's own edit\n")
    before = git(repo, "rev-parse", "main")
    capsys.readouterr()

    assert await lfg("land", run_id[:8], "one", "--db", str(db)) == 0

    out = capsys.readouterr().out
    assert f"landed lfg/{run_id}/one onto main by squash: {before[:12]}.." in out
    assert "committed what the agent left uncommitted" in out and "archived: removed" in out
    assert "landed the files review shows (tree " in out
    assert git(repo, "rev-list", "--count", f"{before}..main") == "1"
    assert git(repo, "log", "-1", "--format=%B", "main").splitlines() == [
        *("one", "", "write", ""),  # the ticket's title (its id here), then its prompt
        f"Landed by lfg from ticket one of run {run_id}.",
    ]
    assert (repo / "notes" / "summary.md").read_text().startswith("# Summary")
    assert (repo / "README.md").read_text() == "# Project\n\nthe person's own edit\n"
    with Store.open(db) as store:
        (landing,) = store.landings(run_id, "one")
    assert (landing.branch, landing.base_branch, landing.strategy) == (f"lfg/{run_id}/one", "main", "squash")
    assert landing.base_before == before and landing.landed_commit == git(repo, "rev-parse", "main")
    assert landing.repo == str(repo) and landing.remote is None and landing.landed_at > 0

    # The other ticket wrote the same file: main has its change already.
    assert await lfg("land", run_id, "two", "--db", str(db), "--squash") == 1
    assert "nothing to land" in capsys.readouterr().err
    assert git(tmp_path / "trees" / run_id / "two", "status", "--porcelain") == "?? notes/", "as it was"
    with Store.open(db) as store:
        assert store.landings(run_id, "two") == []


async def test_land_names_what_it_cannot_find(
    ran: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, db, run_id = ran
    assert await lfg("land", run_id, "three", "--db", str(db)) == 2
    assert "has no ticket 'three'" in capsys.readouterr().err
    assert await lfg("land", "feedbeef", "one", "--db", str(db)) == 2
    with pytest.raises(SystemExit) as usage:
        await lfg("land", run_id, "one", "--squash", "--rebase", "--db", str(db))
    assert usage.value.code == 2
    assert git(repo, "branch", "--list", f"lfg/{run_id}/one") != "", "nothing was landed"


async def test_land_tree_lands_only_the_tree_review_showed(
    ran: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lfg review` ends with the tree id of what it shows; `lfg land --tree` refuses once the
    worktree holds another tree, and lands that one once it is reviewed again."""
    repo, db, run_id = ran
    before = git(repo, "rev-parse", "main")
    capsys.readouterr()
    assert await lfg("review", run_id, "one", "--db", str(db)) == 0
    shown = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("tree "))
    tree = shown.split()[1].rstrip(":")
    assert shown == f"tree {tree}: lfg land {run_id} one --tree {tree} lands exactly this"
    (tmp_path / "trees" / run_id / "one" / "later.txt").write_text("written after the review\n")

    assert await lfg("land", run_id, "one", "--tree", tree, "--db", str(db)) == 1
    assert f"no longer holds what review showed (tree {tree})" in capsys.readouterr().err
    assert git(repo, "rev-parse", "main") == before, "nothing landed"
    assert await lfg("land", run_id, "one", "--tree", "not-hex", "--db", str(db)) == 2
    assert "is not a tree id" in capsys.readouterr().err

    assert await lfg("review", run_id, "one", "--json", "--db", str(db)) == 0
    again = json.loads(capsys.readouterr().out)["tree"]
    assert await lfg("land", run_id, "one", "--tree", again[:7], "--db", str(db)) == 0
    assert f"landed the files review shows (tree {again[:12]}" in capsys.readouterr().out
    assert git(repo, "rev-parse", "main^{tree}") == again, "the base was main's: exactly that tree"
