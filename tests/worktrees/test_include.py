"""`.worktreeinclude`: a new worktree gets the person's ignored files it names, never into the diff."""

from __future__ import annotations

from pathlib import Path

from lfgtui.events import DiffUpdated, Outcome, Status
from lfgtui.history.store import Selection, Store
from lfgtui.sim.server import SimServer
from lfgtui.worktrees.include import COPY_FILES, include_ignored
from tests.support.git import commit_all, git, repository
from tests.support.worktree_runs import run_in


def _project(tmp_path: Path) -> Path:
    repo = repository(tmp_path / "repo")
    (repo / ".gitignore").write_text(".env\n.env.*\nnode_modules\nsecrets/\nbuild.log\n")
    (repo / ".worktreeinclude").write_text(".env*\nnode_modules\nsecrets\nREADME.md\nnotes.txt\n")
    commit_all(repo, "ignore rules")
    (repo / ".env").write_text("TOKEN=local\n")
    (repo / ".env.test").write_text("TOKEN=test\n")
    (repo / "build.log").write_text("not named\n")
    (repo / "notes.txt").write_text("untracked, not ignored\n")
    return repo


async def test_a_worktree_ticket_gets_the_named_ignored_files_and_says_so(
    sim: SimServer, tmp_path: Path
) -> None:
    repo = _project(tmp_path)
    db = tmp_path / "history.sqlite3"
    events, outcomes, run_id = await run_in(sim, tmp_path, repo, db)
    assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}
    for ticket in ("one", "two"):
        tree = tmp_path / "trees" / run_id / ticket
        assert (tree / ".env").read_text() == "TOKEN=local\n"
        assert (tree / ".env.test").read_text() == "TOKEN=test\n"
        assert not (tree / "build.log").exists(), "not named in .worktreeinclude"
        assert not (tree / "notes.txt").exists(), "untracked but not ignored: it would be landed"
        said = [e.message for e in events if type(e) is Status and e.ticket == ticket]
        assert ".worktreeinclude: copied .env, .env.test" in said
        final = [e for e in events if isinstance(e, DiffUpdated) and e.ticket == ticket][-1]
        assert final.text is not None and ".env" not in final.text, "nothing brought is in the diff"
    with Store.open(db) as store:
        attempt = store.load(Selection(run_id)).tickets[0].attempts[0]
        stored = [e.message for e in store.attempt_events(attempt.row.id) if type(e) is Status]
    assert ".worktreeinclude: copied .env, .env.test" in stored


async def test_a_large_folder_is_linked_a_small_one_copied_and_a_link_out_skipped(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    (repo / "node_modules" / "pkg").mkdir(parents=True)
    for number in range(COPY_FILES + 1):
        (repo / "node_modules" / "pkg" / f"f{number}.js").write_text("")
    (repo / "secrets").mkdir()
    (repo / "secrets" / "key").write_text("k\n")
    outside = tmp_path / "outside.env"
    outside.write_text("elsewhere\n")
    (repo / ".env.link").symlink_to(outside)
    tree = tmp_path / "tree"
    git(repo, "worktree", "add", "-q", str(tree))
    found = await include_ignored(repo, tree)
    assert found.copied == [".env", ".env.test", "secrets/"]
    assert found.linked == ["node_modules/"]
    assert found.skipped == [".env.link (a link out of the repository)"]
    assert (tree / "node_modules").resolve() == repo / "node_modules"
    assert (tree / "secrets" / "key").read_text() == "k\n" and not (tree / "secrets").is_symlink()
    assert not (tree / ".env.link").exists()
    assert git(tree, "status", "--porcelain") == "", "git ignores everything brought"


async def test_a_small_folder_holding_a_link_out_is_copied_without_it(tmp_path: Path) -> None:
    """A link out inside a small folder once made the whole folder linked to the person's, and the
    worktree reached the link's target through it (issue #72)."""
    repo = _project(tmp_path)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("the person's key\n")
    (repo / "secrets" / "inner").mkdir(parents=True)
    (repo / "secrets" / "key").write_text("k\n")
    (repo / "secrets" / "inner" / "ssh").symlink_to(home / ".ssh", target_is_directory=True)
    (repo / "secrets" / "sibling").symlink_to("key")
    tree = tmp_path / "tree"
    git(repo, "worktree", "add", "-q", str(tree))
    found = await include_ignored(repo, tree)
    assert found.copied == [".env", ".env.test", "secrets/"]
    assert found.linked == []
    assert found.skipped == ["secrets/inner/ssh (a link out of the repository)"]
    assert not (tree / "secrets").is_symlink()
    assert list((tree / "secrets" / "inner").iterdir()) == []
    assert (tree / "secrets" / "sibling").readlink() == Path("key"), "a link inside is copied as a link"
    assert git(tree, "status", "--porcelain") == ""


async def test_a_link_git_would_not_ignore_is_taken_back_out(tmp_path: Path) -> None:
    """`node_modules/` (trailing slash) ignores a folder, not a link of that name: a linked folder
    would be shown in the diff, and landed."""
    repo = _project(tmp_path)
    (repo / ".gitignore").write_text(".env\nnode_modules/\n")
    commit_all(repo, "only folders")
    (repo / "node_modules").mkdir()
    for number in range(COPY_FILES + 1):
        (repo / "node_modules" / f"f{number}.js").write_text("")
    tree = tmp_path / "tree"
    git(repo, "worktree", "add", "-q", str(tree))
    found = await include_ignored(repo, tree)
    assert found.linked == []
    assert "node_modules (git would not ignore it in the worktree)" in found.skipped
    assert not (tree / "node_modules").exists()
    assert git(tree, "status", "--porcelain") == ""
