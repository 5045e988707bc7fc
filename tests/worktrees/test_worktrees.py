"""Worktrees per ticket, on real git repositories in temporary folders, with real git processes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lfgtui.worktrees.tree
from lfgtui.worktrees.cleanup import list_worktrees, remove_worktree
from lfgtui.worktrees.git import GitError
from lfgtui.worktrees.tree import (
    WORKTREES_ENV,
    DiffStat,
    Worktree,
    create_worktree,
    diff_stat,
    diff_text,
    ref_safe,
    worktrees_root,
)
from tests.support import warm_lfg
from tests.support.git import ESCAPE, commit_all, git, isolate_git, worktree_repo
from tests.support.patience import PATIENCE


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "worktrees"
    monkeypatch.setenv(WORKTREES_ENV, str(folder))
    return folder


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return worktree_repo(tmp_path / "repo")


def test_the_root_is_lfg_worktrees_or_the_user_data_folder() -> None:
    assert worktrees_root({"LFG_WORKTREES": "/somewhere/else"}) == Path("/somewhere/else")
    assert worktrees_root({}).name == "worktrees"
    assert "lfgtui" in worktrees_root({}).parts


async def test_a_worktree_from_a_sub_folder_works_in_the_same_sub_folder(repo: Path, root: Path) -> None:
    tree = await create_worktree(repo / "sub", "run1", "fix-it", root)
    assert tree.path == root / "run1" / "fix-it"
    assert tree.workdir == tree.path / "sub"
    assert (tree.workdir / "code.py").read_text() == "one\ntwo\nthree\n"
    assert tree.repo == repo
    assert tree.branch == "lfg/run1/fix-it"
    assert tree.base == git(repo, "rev-parse", "HEAD")
    assert git(tree.path, "rev-parse", "--abbrev-ref", "HEAD") == "lfg/run1/fix-it"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert (root / "run1" / "fix-it.json").is_file()


async def test_a_workdir_git_does_not_track_is_made_in_the_worktree(repo: Path, root: Path) -> None:
    (repo / "build" / "out").mkdir(parents=True)
    tree = await create_worktree(repo / "build" / "out", "run1", "t", root)
    assert tree.workdir == tree.path / "build" / "out"
    assert tree.workdir.is_dir()


async def test_a_folder_outside_any_repository_is_refused(tmp_path: Path, root: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError) as raised:
        await create_worktree(plain, "run1", "t", root)
    assert str(raised.value) == (
        f"{plain} is not inside a git repository; "
        'isolation = "worktree" needs one (git init, or drop isolation)'
    )
    assert await list_worktrees(root) == []


async def test_a_repository_without_commits_is_refused(tmp_path: Path, root: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(GitError, match="has no commits yet; commit once") as raised:
        await create_worktree(empty, "run1", "t", root)
    assert str(empty) in str(raised.value)


async def test_no_git_on_path_is_said_plainly(
    repo: Path, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(GitError, match="git is not installed"):
        await create_worktree(repo, "run1", "t", root)


def fake_git(folder: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `git` first on PATH that runs `script` (a real program: our code is not replaced)."""
    folder.mkdir()
    (folder / "git").write_text("#!/bin/sh\n" + script)
    (folder / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


async def test_gits_own_error_is_quoted_inert_and_bounded(
    repo: Path, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    noise = f"fatal: {ESCAPE}" + "x" * 100_000
    fake_git(tmp_path / "bin", f"printf '%s' '{noise}' >&2\nexit 128\n", monkeypatch)
    with pytest.raises(GitError) as raised:
        await create_worktree(repo, "run1", "t", root)
    message = str(raised.value)
    assert message.startswith(f"git rev-parse failed in {repo}: fatal: \u241b]0;pwned\u2407xxx")
    assert "\x1b" not in message
    assert len(message) < 600


async def test_a_real_git_failure_quotes_git_and_leaves_no_record(repo: Path, root: Path) -> None:
    git(repo, "branch", "lfg/run1")  # a branch where our branches' folder would be
    with pytest.raises(GitError) as raised:
        await create_worktree(repo, "run1", "t", root)
    assert str(raised.value).startswith(f"git worktree failed in {repo}: ")
    assert "refs/heads/lfg/run1" in str(raised.value)
    assert not (root / "run1" / "t.json").exists()
    assert await list_worktrees(root) == []


def running(pid: int) -> bool:
    """Whether `pid` is a live process (not gone, not a zombie waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_hung_git_is_killed_with_everything_it_started(
    repo: Path, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "sleeper.pid"
    fake_git(tmp_path / "bin", f"sleep 600 &\necho $! > '{pid_file}'\nwait\n", monkeypatch)
    monkeypatch.setattr("lfgtui.worktrees.git.GIT_TIMEOUT_S", 0.5)
    with pytest.raises(GitError, match=r"did not finish within 0\.5 s"):
        await create_worktree(repo, "run1", "t", root)
    sleeper = int(pid_file.read_text())
    for _ in range(round(500 * PATIENCE)):
        if not running(sleeper):
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the hung git's child outlived it")


ODD_IDS = [".", "..", "a..b", "x.lock", "trailing.", ".hidden", "@", "a@{b", "-dash", "Fix", "fix", "FIX"]
ODD_IDS += ["fix@gpt-4.1", "fix@gpt-4,1", "a/b", "sp ace", "tab\t", "ctl\x1b", "\u00e9t\u00e9", "+f", "f+"]


def test_odd_ids_make_valid_distinct_branch_and_folder_names(tmp_path: Path) -> None:
    names = [ref_safe(ticket) for ticket in ODD_IDS]
    assert len(set(names)) == len(ODD_IDS)
    assert len({name.casefold() for name in names}) == len(ODD_IDS)  # case-insensitive disks too
    for name in names:
        assert name not in (".", "..") and "/" not in name
        branch = f"lfg/run1/{name}"
        subprocess.run(["git", "check-ref-format", "--branch", branch], check=True, capture_output=True)
    with pytest.raises(GitError, match="empty"):
        ref_safe("")


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_different_ids_never_share_a_name(first: str, second: str) -> None:
    if first != second:
        assert ref_safe(first) != ref_safe(second)
    assert ref_safe(first).isascii() and "." not in ref_safe(first)


async def test_odd_ticket_ids_get_their_own_worktrees_inside_the_root(repo: Path, root: Path) -> None:
    ids = [".", "..", "x.lock", "Fix", "fix", "fix@gpt-4.1", "@"]
    trees = [await create_worktree(repo, "run.1", ticket, root) for ticket in ids]
    assert len({tree.path for tree in trees}) == len({tree.branch for tree in trees}) == len(ids)
    for tree, ticket in zip(trees, ids, strict=True):
        assert tree.path.parent == root / "run,1"
        assert tree.ticket_id == ticket
        assert git(tree.path, "rev-parse", "--abbrev-ref", "HEAD") == tree.branch
    assert sorted(info.ticket_id for info in await list_worktrees(root, "run.1")) == sorted(ids)


async def test_twelve_tickets_of_a_run_make_worktrees_of_one_repository_at_once(
    repo: Path, root: Path
) -> None:
    tickets = [f"t{n}" for n in range(12)] + ["t0", "t1"]  # two made twice at once: a retry in a hurry
    trees = await asyncio.gather(*(create_worktree(repo, "run1", ticket, root) for ticket in tickets))
    assert len({tree.branch for tree in trees}) == 12
    assert trees[12:] == trees[:2]
    listed = git(repo, "worktree", "list", "--porcelain")
    assert all(f"worktree {tree.path}" in listed for tree in trees)
    assert not lfgtui.worktrees.tree._repository_locks._locks  # nothing kept once nobody needs it


async def test_a_retry_continues_in_its_worktree(repo: Path, root: Path) -> None:
    first = await create_worktree(repo / "sub", "run1", "t", root)
    (first.workdir / "work.txt").write_text("half done\n")
    commit_all(first.path, "work")
    (repo / "later.txt").write_text("main moved on\n")
    commit_all(repo, "later")
    again = await create_worktree(repo / "sub", "run1", "t", root)
    assert again == first
    assert (again.workdir / "work.txt").read_text() == "half done\n"


async def test_a_retry_after_the_folder_was_deleted_checks_out_the_branch_again(
    repo: Path, root: Path
) -> None:
    first = await create_worktree(repo, "run1", "t", root)
    (first.path / "work.txt").write_text("committed\n")
    commit_all(first.path, "work")
    shutil.rmtree(first.path)
    (repo / "later.txt").write_text("main moved on\n")
    commit_all(repo, "later")
    again = await create_worktree(repo, "run1", "t", root)
    assert again == first  # same branch, same base: the diff still starts where the work started
    assert (again.path / "work.txt").read_text() == "committed\n"
    assert await diff_stat(again) == DiffStat(added=1, removed=0, files=1)


async def test_a_retry_after_clean_kept_the_branch_starts_from_its_base(repo: Path, root: Path) -> None:
    first = await create_worktree(repo, "run1", "t", root)
    (first.path / "work.txt").write_text("committed\n")
    commit_all(first.path, "work")
    assert (await remove_worktree(first, force=True)).removed
    (repo / "later.txt").write_text("main moved on\n")
    commit_all(repo, "later")
    again = await create_worktree(repo, "run1", "t", root)
    assert again.base == first.base
    assert (again.path / "work.txt").read_text() == "committed\n"


async def test_a_worktree_of_another_repository_under_the_same_ids_is_refused(
    repo: Path, root: Path, tmp_path: Path
) -> None:
    await create_worktree(repo, "run1", "t", root)
    other = worktree_repo(tmp_path / "other")
    with pytest.raises(GitError, match="already has a worktree of"):
        await create_worktree(other, "run1", "t", root)


def index_of(tree: Worktree) -> bytes:
    return Path(git(tree.path, "rev-parse", "--path-format=absolute", "--git-path", "index")).read_bytes()


async def changed_everywhere(repo: Path, root: Path) -> Worktree:
    """A worktree with a commit, an uncommitted change, a new file, an ignored one, a binary one and a
    deleted one."""
    tree = await create_worktree(repo, "run1", "t", root)
    (tree.path / "committed.txt").write_text("c1\nc2\n")
    commit_all(tree.path, "on the branch")
    (tree.path / "change.txt").write_text("a\nB\nc\nd\n")  # b -> B, + d
    (tree.path / "untracked.txt").write_text("new line\n")
    (tree.path / "debug.log").write_text("ignored\n" * 50)
    (tree.path / "image.bin").write_bytes(b"\x89PNG\x00\x01\x02" * 10)
    (tree.path / "delete.txt").unlink()
    return tree


async def test_the_diff_holds_commits_changes_and_new_files_not_ignored_ones(repo: Path, root: Path) -> None:
    tree = await changed_everywhere(repo, root)
    # committed.txt +2; change.txt +2 -1; untracked.txt +1; delete.txt -2; image.bin binary
    assert await diff_stat(tree) == DiffStat(added=5, removed=3, files=5)
    assert (await diff_stat(tree)).label() == "+5 \u22123, 5 files"
    text = await diff_text(tree)
    assert "+++ b/committed.txt" in text
    assert "-b\n+B\n" in text
    assert "+new line" in text
    assert "Binary files /dev/null and b/image.bin differ" in text
    assert "deleted file mode" in text and "--- a/delete.txt" in text
    assert "debug.log" not in text


async def test_diffing_leaves_the_worktrees_index_as_it_was(repo: Path, root: Path) -> None:
    tree = await changed_everywhere(repo, root)
    git(tree.path, "add", "change.txt")  # something staged, something not
    before = index_of(tree)
    status = git(tree.path, "status", "--porcelain")
    await diff_stat(tree)
    await diff_text(tree)
    await list_worktrees(root)
    assert index_of(tree) == before
    assert git(tree.path, "status", "--porcelain") == status
    assert "?? untracked.txt" in status


async def test_diffs_at_once_and_later_changes_all_count(repo: Path, root: Path) -> None:
    tree = await create_worktree(repo, "run1", "t", root)
    stats = await asyncio.gather(*(diff_stat(tree) for _ in range(6)), diff_text(tree))
    assert stats[:6] == [DiffStat(0, 0, 0)] * 6 and stats[6] == ""
    (tree.path / "sub" / "code.py").write_text("one\n")
    assert await diff_stat(tree) == DiffStat(added=0, removed=2, files=1)
    (tree.path / "sub" / "code.py").write_text("one\ntwo\nthree\n")
    assert await diff_stat(tree) == DiffStat(0, 0, 0)
    assert sorted(path.name for path in tree.path.parent.iterdir()) == ["t", "t.index", "t.json"]


async def test_a_diff_too_long_to_show_lists_its_file_and_says_so(repo: Path, root: Path) -> None:
    tree = await create_worktree(repo, "run1", "t", root)
    (tree.path / "big.txt").write_text("".join(f"line {n}\n" for n in range(20_000)))
    text = await diff_text(tree, max_chars=1000)
    assert text.splitlines()[0] == "diff --git a/big.txt b/big.txt"
    assert text.splitlines()[-1].startswith("lfg: not shown \u2014 its diff is 229,013 bytes")
    assert text.endswith(" bytes, more than lfg shows; review before landing\n")
    assert "+line 0" not in text


async def test_list_after_the_fact_with_a_hand_deleted_and_a_damaged_entry(repo: Path, root: Path) -> None:
    kept = await create_worktree(repo, "run1", "kept", root)
    (kept.path / "new.txt").write_text("x\ny\n")
    deleted = await create_worktree(repo, "run1", "deleted", root)
    other = await create_worktree(repo, "run2", "other", root)
    (other.path / "other.txt").write_text("o\n")
    commit_all(other.path, "other")
    shutil.rmtree(deleted.path)
    (root / "run2" / "broken.json").write_text("{not json")
    record = json.loads((root / "run1" / "kept.json").read_text())
    (root / "run2" / "copied.json").write_text(json.dumps(record))  # its ids are another worktree's
    (root / "run2" / "empty.json").write_text(json.dumps(record | {"run_id": "", "ticket_id": ""}))
    (root / "run2" / "orphan").mkdir()
    found = {info.ticket_id: info for info in await list_worktrees(root)}
    assert set(found) == {"kept", "deleted", "other", "broken", "copied", "empty", "orphan"}
    assert found["kept"].tree == kept and found["kept"].exists and found["kept"].dirty is True
    assert (
        found["kept"].stat == DiffStat(2, 0, 1) and found["kept"].ahead == 0 and found["kept"].problem is None
    )
    assert (
        found["other"].dirty is False
        and found["other"].ahead == 1
        and found["other"].stat == DiffStat(1, 0, 1)
    )
    assert not found["deleted"].exists and found["deleted"].stat is None
    assert "deleted by hand" in (found["deleted"].problem or "")
    for damaged in ("broken", "copied", "empty"):
        assert found[damaged].tree is None and "is damaged" in (found[damaged].problem or "")
    assert found["orphan"].tree is None and "is missing" in (found["orphan"].problem or "")
    assert {info.ticket_id for info in await list_worktrees(root, "run1")} == {"kept", "deleted"}
    assert await list_worktrees(root, "no-such-run") == []


async def test_clean_refuses_uncommitted_work_unless_forced(repo: Path, root: Path) -> None:
    tree = await create_worktree(repo, "run1", "t", root)
    (tree.path / "untracked.txt").write_text("work\n")
    refused = await remove_worktree(tree, force=False)
    assert refused.refused and not refused.removed
    assert "uncommitted changes or untracked files" in refused.message
    assert tree.path.is_dir() and (root / "run1" / "t.json").exists()
    forced = await remove_worktree(tree, force=True)
    assert forced.removed and not forced.refused
    assert forced.message == f"removed {tree.path} and its branch {tree.branch} (it had no commits)"
    assert not root.joinpath("run1").exists()
    assert git(repo, "branch", "--list", tree.branch) == ""


async def test_clean_keeps_a_worktree_whose_commits_are_not_landed_unless_forced(
    repo: Path, root: Path, tmp_path: Path
) -> None:
    tree = await create_worktree(repo, "run1", "t", root)
    (tree.path / "work.txt").write_text("work\n")
    commit_all(tree.path, "work")
    refused = await remove_worktree(tree, force=False)
    assert refused.refused and not refused.removed and tree.path.is_dir()
    assert f"its branch {tree.branch} has 1 commit that no other branch has" in refused.message
    assert "lfg land run1 t" in refused.message
    git(repo, "branch", "pushed", tree.branch)  # another branch has the commit: it is not lost
    assert (await remove_worktree(tree, force=False)).removed
    assert git(repo, "branch", "--list", tree.branch).strip("* ") == tree.branch


async def test_clean_keeps_a_branch_that_has_commits_and_names_it(repo: Path, root: Path) -> None:
    tree = await create_worktree(repo, "run1", "t", root)
    (tree.path / "work.txt").write_text("work\n")
    commit_all(tree.path, "work")
    (tree.path / "scratch.log").write_text("ignored files go with the worktree\n")
    removal = await remove_worktree(tree, force=True)
    assert removal.removed and not removal.refused
    assert f"kept branch {tree.branch}: it has 1 commit beyond" in removal.message
    assert f"git branch -D {tree.branch}" in removal.message
    assert not tree.path.exists()
    assert git(repo, "branch", "--list", tree.branch).strip("* ") == tree.branch
    assert await list_worktrees(root) == []


async def test_clean_forgets_a_hand_deleted_worktree(repo: Path, root: Path) -> None:
    tree = await create_worktree(repo, "run1", "t", root)
    shutil.rmtree(tree.path)
    [info] = await list_worktrees(root)
    removal = await remove_worktree(info, force=False)
    assert removal.removed
    assert removal.message.startswith(f"forgot {tree.path} (its folder was already deleted) and its branch")
    assert str(tree.path) not in git(repo, "worktree", "list", "--porcelain")
    assert await list_worktrees(root) == []


async def test_clean_keeps_an_entry_it_cannot_read(root: Path) -> None:
    (root / "run1").mkdir(parents=True)
    (root / "run1" / "t.json").write_text("[]")
    [info] = await list_worktrees(root)
    removal = await remove_worktree(info, force=True)
    assert removal.refused and "remove it by hand" in removal.message
    assert (root / "run1" / "t.json").exists()


def worktrees_command(*args: str) -> subprocess.CompletedProcess[str]:
    return warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "worktrees", *args],
        timeout=60 * PATIENCE,
    )


async def test_clean_and_list_take_a_runs_unique_prefix_as_every_command_does(repo: Path, root: Path) -> None:
    """`--run PREFIX` cleaned nothing and exited 0; an unknown or ambiguous one is now a clear error."""
    kept = await create_worktree(repo, "3fb0aa000000", "t", root)
    gone = await create_worktree(repo, "3fa2c0d1e7b9", "t", root)
    listed = worktrees_command("list", "--run", "3fa", "--json")
    assert [entry["run"] for entry in json.loads(listed.stdout)] == ["3fa2c0d1e7b9"], listed.stderr
    ambiguous = worktrees_command("clean", "--run", "3f")
    assert ambiguous.returncode == 2
    assert ambiguous.stderr == "lfg: '3f' is ambiguous: it could be run 3fa2c0d1e7b9, 3fb0aa000000\n"
    unknown = worktrees_command("clean", "--run", "77")
    assert unknown.returncode == 2 and unknown.stderr.startswith("lfg: no worktrees of a run '77' in "), (
        unknown.stderr
    )
    cleaned = worktrees_command("clean", "--run", "3fa")
    assert cleaned.returncode == 0, cleaned.stderr
    assert not gone.path.exists() and kept.path.exists()
