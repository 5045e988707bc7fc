"""A ticket's work frozen as a commit (worktrees/snapshot.py): taken from its worktree, or applied
from the diff a worker reported; a fresh checkout of it with protected files as the base has them."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.worktrees.git import GitError
from lfgtui.worktrees.snapshot import applied, checked_ref, checkout, diff_of, take
from lfgtui.worktrees.tree import create_worktree, diff_text
from tests.support.git import commit_all, git, isolate_git, worktree_repo


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = worktree_repo(tmp_path / "repo")
    (repo / "conftest.py").write_text("# the base's\n")
    commit_all(repo, "a conftest")
    return repo


async def test_a_reported_diff_applied_onto_its_base_is_the_worktrees_own_snapshot(
    repo: Path, tmp_path: Path
) -> None:
    tree = await create_worktree(repo / "sub", "run1", "t", tmp_path / "trees")
    (tree.workdir / "code.py").write_text("one\n2\nthree\n")
    (tree.path / "new.txt").write_text("new\n")
    (tree.path / "conftest.py").write_text("# the contestant's\n")
    (tree.path / "delete.txt").unlink()
    taken = await take(tree)
    assert git(repo, "rev-parse", checked_ref("run1", "t")) == taken.commit and taken.subdir == "sub"
    reported = await applied(repo / "sub", tree.base, await diff_text(tree), "run2", "t")
    assert git(repo, "rev-parse", f"{reported.commit}^{{tree}}") == git(
        repo, "rev-parse", f"{taken.commit}^{{tree}}"
    )
    shown = await diff_of(reported)
    assert (shown.added, shown.removed) == (3, 4)
    assert shown.paths == ("conftest.py", "delete.txt", "new.txt", "sub/code.py")
    async with checkout(reported, ("conftest.py",), ("new.txt",)) as workdir:
        top = workdir.parent
        assert workdir.name == "sub" and (workdir / "code.py").read_text() == "one\n2\nthree\n"
        assert (top / "conftest.py").read_text() == "# the base's\n", "put back as the base has it"
        assert not (top / "new.txt").exists() and not (top / "delete.txt").exists(), "left out"
    assert not top.exists() and str(top) not in git(repo, "worktree", "list")
    assert (tree.path / "conftest.py").read_text() == "# the contestant's\n", "its worktree untouched"


async def test_a_reported_diff_that_cannot_be_checked_here_says_why(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    with pytest.raises(
        GitError, match="the commit 0123456789ab the worker's worktree started from is not in"
    ):
        await applied(repo, "0123456789ab" * 3 + "0123", "", "run1", "t")
    cut = "diff --git a/x b/x\n[the diff is longer: cut at 500000 characters]\n"
    with pytest.raises(GitError, match="the worker's diff was cut"):
        await applied(repo, base, cut, "run1", "t")
    foreign = (
        "diff --git a/nowhere.txt b/nowhere.txt\n--- a/nowhere.txt\n+++ b/nowhere.txt\n@@ -1 +1 @@\n-x\n+y\n"
    )
    with pytest.raises(GitError, match="the worker's diff does not apply onto"):
        await applied(repo, base, foreign, "run1", "t")
    assert not git(repo, "for-each-ref", "refs/lfg/"), "nothing kept of a diff that was not checked"
