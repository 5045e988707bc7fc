"""isolation = "worktree": each ticket works in a git worktree of its own, and its diff is recorded."""

from __future__ import annotations

from pathlib import Path

from lfgtui.events import AttemptEnded, DiffUpdated, ErrorKind, Outcome, WorktreeReady
from lfgtui.history.store import Selection, Store
from lfgtui.sim.server import SimServer
from tests.support.git import git, repository
from tests.support.worktree_runs import run_in


async def test_each_ticket_writes_in_its_own_worktree_and_its_diff_is_kept(
    sim: SimServer, tmp_path: Path
) -> None:
    repo = repository(tmp_path / "repo")
    db = tmp_path / "history.sqlite3"
    events, outcomes, run_id = await run_in(sim, tmp_path, repo, db)
    assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}
    assert not (repo / "notes").exists(), "the repository the tickets started from is untouched"
    assert git(repo, "status", "--porcelain") == ""
    for ticket in ("one", "two"):
        (ready,) = [e for e in events if isinstance(e, WorktreeReady) and e.ticket == ticket]
        assert ready.branch == f"lfg/{run_id}/{ticket}"
        assert ready.base == git(repo, "rev-parse", "HEAD")
        tree = Path(ready.path)
        assert tree.parent.parent == tmp_path / "trees"
        assert (tree / "notes" / "summary.md").read_text().startswith("# Summary")
        final = [e for e in events if isinstance(e, DiffUpdated) and e.ticket == ticket][-1]
        assert (final.added, final.removed, final.files) == (3, 0, 1)
        assert final.text is not None and "+Written by the lfg writer scenario." in final.text
        ended = next(e for e in events if isinstance(e, AttemptEnded) and e.ticket == ticket)
        assert events.index(final) < events.index(ended)
    with Store.open(db) as store:
        record = store.load(Selection(run_id))
        rows = {t.row.ticket: t.attempts[0].row for t in record.tickets}
    assert rows["one"].branch == f"lfg/{run_id}/one"
    assert (rows["one"].diff_added, rows["one"].diff_files) == (3, 1)
    assert rows["one"].diff is not None and "notes/summary.md" in rows["one"].diff


async def test_a_workdir_outside_a_repository_fails_the_ticket_saying_why(
    sim: SimServer, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    events, outcomes, _ = await run_in(sim, tmp_path, plain, tmp_path / "history.sqlite3")
    assert outcomes == {"one": Outcome.FAILED, "two": Outcome.FAILED}
    ended = next(e for e in events if isinstance(e, AttemptEnded))
    assert ended.error is not None and ended.error.kind is ErrorKind.WORKTREE
    assert "not inside a git repository" in ended.error.message
    assert not sim.log, "nothing was sent to the model"


async def test_a_worktrees_root_reached_through_a_symlink_works(sim: SimServer, tmp_path: Path) -> None:
    """LFG_WORKTREES, a linked data folder, macOS's /tmp: the root is a symlink to the real folder."""
    (tmp_path / "real-trees").mkdir()
    (tmp_path / "trees").symlink_to(tmp_path / "real-trees")
    repo = repository(tmp_path / "repo")
    events, outcomes, run_id = await run_in(sim, tmp_path, repo, tmp_path / "history.sqlite3")
    assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}
    (ready, _) = [e for e in events if isinstance(e, WorktreeReady)]
    assert Path(ready.path).parent.parent == tmp_path / "real-trees", "the resolved root"
    written = tmp_path / "real-trees" / run_id / ready.ticket / "notes" / "summary.md"
    assert written.read_text().startswith("# Summary")
