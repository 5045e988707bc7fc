"""Landing a ticket's worktree (`worktrees/land.py`) on real git repositories in temporary folders:
the person's checkout has uncommitted work of its own, the base moves with and without conflicts,
a bare repository is the remote, and `gh` is a recorder of its arguments on PATH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from lfgtui.worktrees.land import (
    LandConflict,
    LandError,
    LandOptions,
    Strategy,
    land,
    ticket_message,
)
from lfgtui.worktrees.tree import Worktree, create_worktree, metadata_file, read_metadata
from tests.support.git import commit_all, gh_recorder, git, isolate_git, worktree_repo


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return worktree_repo(tmp_path / "repo")


async def agent_tree(repo: Path, tmp_path: Path, ticket: str = "t") -> Worktree:
    """A ticket's worktree made by lfg's own code, with the agent's work left uncommitted in it."""
    tree = await create_worktree(repo, "run1", ticket, tmp_path / "trees")
    (tree.path / "notes.md").write_text("# Notes\n")
    (tree.path / "sub" / "code.py").write_text("one\nTWO\nthree\n")
    return tree


def person_works(repo: Path) -> dict[str, str]:
    """The person's own uncommitted work in their checkout: a change, a staged file, an untracked
    file and an ignored one; returned as `git status` says it."""
    (repo / "change.txt").write_text("a\nb\nc\nmine\n")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "scratch.txt").write_text("untracked\n")
    (repo / "build.log").write_text("ignored\n")
    return snapshot(repo)


def snapshot(repo: Path) -> dict[str, str]:
    files = ("change.txt", "staged.txt", "scratch.txt", "build.log")
    state = {name: (repo / name).read_text() for name in files if (repo / name).exists()}
    state["status"] = git(repo, "status", "--porcelain", "--ignored", "--", *files)
    return state


def as_it_was(repo: Path, tree: Worktree, main: str, work: dict[str, str], head: str) -> None:
    """Nothing moved and nothing was touched: the base, the person's work, the agent's uncommitted
    work, no stash, and no worktree left behind but the ticket's."""
    assert git(repo, "rev-parse", "main") == main
    assert snapshot(repo) == work
    assert git(tree.path, "rev-parse", "HEAD") == head
    status = sorted(entry.split() for entry in git(tree.path, "status", "--porcelain").splitlines())
    assert status == [["??", "notes.md"], ["M", "sub/code.py"]], "the agent's work, uncommitted"
    assert git(repo, "stash", "list") == ""
    assert len(git(repo, "worktree", "list", "--porcelain").split("\n\n")) == 2


def options(strategy: Strategy = Strategy.SQUASH, **more: object) -> LandOptions:
    return LandOptions(message="Add notes\n\nLanded by lfg.", strategy=strategy, **more)  # type: ignore[arg-type]


async def test_a_squash_lands_one_commit_and_leaves_the_persons_own_work_untouched(
    repo: Path, tmp_path: Path
) -> None:
    tree = await agent_tree(repo, tmp_path)
    assert tree.base_branch == "main"
    assert read_metadata(metadata_file(tree.path))[0].base_branch == "main"
    before = git(repo, "rev-parse", "main")
    work = person_works(repo)

    landed = await land(tree, options())

    assert landed.committed and landed.base_branch == "main" and landed.strategy == "squash"
    assert git(repo, "rev-list", "--count", f"{before}..main") == "1", "the base moved by one commit"
    assert git(repo, "rev-parse", "main^") == before
    assert landed.landed_commit == git(repo, "rev-parse", "main") and landed.base_before == before
    assert git(repo, "log", "-1", "--format=%B", "main").strip() == "Add notes\n\nLanded by lfg."
    assert snapshot(repo) == work, "the person's uncommitted, staged, untracked and ignored files"
    assert (repo / "notes.md").read_text() == "# Notes\n", "the checkout moved forward with the base"
    assert (repo / "sub" / "code.py").read_text() == "one\nTWO\nthree\n"
    assert not tree.path.exists() and not metadata_file(tree.path).exists()
    assert git(repo, "branch", "--list", tree.branch) == "", "the landed branch is deleted"
    assert "its change is landed" in landed.archived
    assert git(repo, "stash", "list") == ""
    assert len(git(repo, "worktree", "list", "--porcelain").split("\n\n")) == 1


async def test_a_merge_onto_a_base_that_moved_makes_a_merge_commit(repo: Path, tmp_path: Path) -> None:
    tree = await agent_tree(repo, tmp_path)
    git(tree.path, "add", "-A")
    git(tree.path, "commit", "-q", "-m", "agent's own commit")
    agent = git(tree.path, "rev-parse", "HEAD")
    (repo / "delete.txt").unlink()
    moved = commit_all(repo, "the person's commit")
    work = person_works(repo)

    landed = await land(tree, options(Strategy.MERGE, keep_branch=True))

    assert not landed.committed, "nothing was left uncommitted"
    assert git(repo, "rev-parse", "main^1", "main^2").split() == [moved, agent]
    assert landed.base_before == moved
    assert snapshot(repo) == work
    assert not (repo / "delete.txt").exists() and (repo / "notes.md").exists()
    assert not tree.path.exists()
    assert git(repo, "rev-parse", tree.branch) == agent, "--keep-branch keeps it"


async def test_the_persons_merge_settings_neither_stash_nor_stop_a_squash_onto_a_moved_base(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "merge.ff", "only")
    git(repo, "config", "merge.autoStash", "true")
    tree = await agent_tree(repo, tmp_path)
    (repo / "delete.txt").unlink()
    moved = commit_all(repo, "the person's commit")
    work = person_works(repo)

    landed = await land(tree, options())

    assert git(repo, "rev-parse", "main^") == moved == landed.base_before
    assert snapshot(repo) == work and git(repo, "stash", "list") == ""


async def test_a_rebase_replays_the_branch_commits_onto_the_moved_base(repo: Path, tmp_path: Path) -> None:
    tree = await agent_tree(repo, tmp_path)
    (tree.path / "first.txt").write_text("1\n")
    git(tree.path, "add", "first.txt")
    git(tree.path, "commit", "-q", "-m", "first")
    (repo / "delete.txt").unlink()
    moved = commit_all(repo, "the person's commit")

    landed = await land(tree, options(Strategy.REBASE))

    log = git(repo, "log", "--format=%P %s", f"{moved}..main").splitlines()
    assert [entry.split(" ", 1)[1] for entry in log] == ["Add notes", "first"]
    assert git(repo, "rev-list", "--merges", "--count", f"{moved}..main") == "0", "linear"
    assert landed.base_before == moved and (repo / "first.txt").exists()


@pytest.mark.parametrize("strategy", list(Strategy))
async def test_a_conflict_names_its_files_and_leaves_everything_as_it_was(
    repo: Path, tmp_path: Path, strategy: Strategy
) -> None:
    tree = await agent_tree(repo, tmp_path)
    head = git(tree.path, "rev-parse", "HEAD")
    (repo / "sub" / "code.py").write_text("one\nzwei\nthree\n")
    moved = commit_all(repo, "the person changed the same line")
    work = person_works(repo)

    with pytest.raises(LandConflict) as raised:
        await land(tree, options(strategy))

    assert raised.value.files == ("sub/code.py",)
    assert "sub/code.py" in str(raised.value)
    as_it_was(repo, tree, moved, work, head)
    assert read_metadata(metadata_file(tree.path))[0] == tree, "not archived"


async def test_uncommitted_work_of_the_person_in_a_landed_file_refuses_the_landing(
    repo: Path, tmp_path: Path
) -> None:
    tree = await agent_tree(repo, tmp_path)
    head, main = git(tree.path, "rev-parse", "HEAD"), git(repo, "rev-parse", "main")
    work = person_works(repo)
    (repo / "notes.md").write_text("the person's own notes\n")  # untracked, where the agent adds one

    with pytest.raises(LandError, match=r"checked out in .*\(notes\.md\)"):
        await land(tree, options())

    as_it_was(repo, tree, main, work, head)
    assert (repo / "notes.md").read_text() == "the person's own notes\n"


async def test_an_ignored_file_of_the_person_is_not_written_over(repo: Path, tmp_path: Path) -> None:
    tree = await create_worktree(repo, "run1", "t", tmp_path / "trees")
    (tree.path / "keep.log").write_text("the agent's\n")
    git(tree.path, "add", "-f", "keep.log")
    git(tree.path, "commit", "-q", "-m", "a file the repository ignores")
    (repo / "keep.log").write_text("the person's\n")

    with pytest.raises(LandError, match=r"keep\.log"):
        await land(tree, options())

    assert (repo / "keep.log").read_text() == "the person's\n"


async def test_a_base_checked_out_nowhere_moves_by_its_ref_alone(repo: Path, tmp_path: Path) -> None:
    tree = await agent_tree(repo, tmp_path)
    git(repo, "switch", "-q", "-c", "elsewhere")
    work = person_works(repo)

    landed = await land(tree, options())

    assert git(repo, "rev-parse", "main") == landed.landed_commit
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "elsewhere"
    assert not (repo / "notes.md").exists(), "the checkout on another branch is not touched"
    assert snapshot(repo) == work


async def test_the_persons_hooks_run_as_git_would_and_a_refusal_undoes_the_commit(
    repo: Path, tmp_path: Path
) -> None:
    tree = await agent_tree(repo, tmp_path)
    head, main = git(tree.path, "rev-parse", "HEAD"), git(repo, "rev-parse", "main")
    hook = Path(git(repo, "rev-parse", "--git-common-dir"))
    hook = (repo / hook if not hook.is_absolute() else hook) / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\npwd >> '{tmp_path / 'hook.log'}'\necho no agents here >&2\nexit 1\n")
    hook.chmod(0o755)

    with pytest.raises(LandError, match="no agents here"):
        await land(tree, options())

    ran = (tmp_path / "hook.log").read_text().split()
    assert len(ran) == 1 and Path(ran[0]).name == "land", "on the squash, in lfg's scratch worktree"
    as_it_was(repo, tree, main, snapshot(repo), head)
    assert git(repo, "rev-parse", tree.branch) == head, "the branch's commit of the leftovers is undone"
    assert git(tree.path, "diff", "--cached", "--name-only") == "", "the agent's index is as it was"


async def test_a_branch_with_nothing_new_is_not_landed(repo: Path, tmp_path: Path) -> None:
    tree = await create_worktree(repo, "run1", "t", tmp_path / "trees")
    with pytest.raises(LandError, match="nothing to land"):
        await land(tree, options())
    assert tree.path.is_dir()


@pytest.fixture
def remote(repo: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "-u", "origin", "main")
    return bare


async def test_pr_pushes_the_branch_and_opens_a_pull_request_with_gh(
    repo: Path, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = gh_recorder(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    tree = await agent_tree(repo, tmp_path)
    main = git(repo, "rev-parse", "main")

    landed = await land(tree, options(pull_request=True))

    assert landed.remote == "origin" and landed.pull_request == "https://github.com/example/project/pull/7"
    assert git(remote, "rev-parse", tree.branch) == landed.landed_commit
    assert git(remote, "rev-parse", "main") == main == git(repo, "rev-parse", "main"), "main stays"
    calls = [json.loads(entry) for entry in log.read_text().splitlines()]
    assert calls[0] == [str(repo), "auth", "status"]
    assert calls[1] == [
        str(repo),
        *("pr", "create", "--base", "main", "--head", tree.branch),
        *("--title", "Add notes", "--body", "Landed by lfg."),
    ]
    assert not tree.path.exists()


@pytest.mark.parametrize("gh", ["missing", "logged out"])
async def test_pr_without_a_usable_gh_pushes_and_says_the_command_that_finishes_it(
    repo: Path, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gh: str
) -> None:
    if gh == "logged out":
        gh_recorder(tmp_path / "bin", logged_in=False)
    else:
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin" / "git").symlink_to(git(repo, "--exec-path") + "/git")
    kept = "" if gh == "missing" else os.pathsep + os.environ["PATH"]
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{kept}")
    tree = await agent_tree(repo, tmp_path)

    landed = await land(tree, options(pull_request=True))

    assert git(remote, "rev-parse", tree.branch) == landed.landed_commit
    assert landed.pull_request is None
    assert landed.finish == f"gh pr create --base main --head {tree.branch} --fill"
    assert landed.why is not None and ("not installed" in landed.why or "not logged in" in landed.why)


def test_the_message_comes_from_the_ticket() -> None:
    message = ticket_message("run1", "fix", "", "Fix the parser.\nIt drops the last line.")
    assert message.splitlines()[0] == "Fix the parser."
    assert message.endswith("Landed by lfg from ticket fix of run run1.")
    assert ticket_message("r", "t", "A title", "x" * 10).startswith("A title\n\nxxxxxxxxxx")
    assert len(ticket_message("r", "t", "", "y" * 200).splitlines()[0]) == 72
    assert ticket_message("r", "t", "", "").splitlines()[0] == "ticket t"


def rebasing(checkout: Path) -> None:
    """The person rebases main there and stops halfway: HEAD is detached, main is theirs to finish."""
    stopped = ["git", "-C", str(checkout), "rebase", "-q", "--exec", "exit 1", "HEAD~1"]
    assert subprocess.run(stopped, capture_output=True, check=False).returncode != 0


def bisecting(checkout: Path) -> None:
    git(checkout, "bisect", "start", "HEAD", "HEAD~2")


def merging(checkout: Path) -> None:
    """A merge on main stopped at a conflict in a file the landing does not touch."""
    git(checkout, "switch", "-q", "-c", "theirs", "HEAD~1")
    (checkout / "change.txt").write_text("theirs\n")
    commit_all(checkout, "theirs")
    git(checkout, "switch", "-q", "main")
    subprocess.run(["git", "-C", str(checkout), "merge", "-q", "theirs"], capture_output=True, check=False)


def cherry_picking(checkout: Path) -> None:
    git(checkout, "switch", "-q", "-c", "theirs", "HEAD~1")
    (checkout / "change.txt").write_text("theirs\n")
    picked = commit_all(checkout, "theirs")
    git(checkout, "switch", "-q", "main")
    subprocess.run(["git", "-C", str(checkout), "cherry-pick", picked], capture_output=True, check=False)


@pytest.mark.parametrize(
    ("start", "doing"),
    [
        (rebasing, "a rebase of main (git rebase --continue, or --abort)"),
        (bisecting, "a bisect started on main (git bisect reset)"),
        (merging, "a merge on main (git merge --continue, or --abort)"),
        (cherry_picking, "a cherry-pick on main (git cherry-pick --continue, or --abort)"),
    ],
)
@pytest.mark.parametrize("where", ["the repository", "a worktree of it"])
async def test_a_base_the_person_is_rebasing_bisecting_or_merging_is_not_moved(
    repo: Path, tmp_path: Path, start: Callable[[Path], None], doing: str, where: str
) -> None:
    (repo / "change.txt").write_text("the person's\n")
    main = commit_all(repo, "the person's own commit")
    tree = await agent_tree(repo, tmp_path)
    head = git(tree.path, "rev-parse", "HEAD")
    checkout = repo
    if where != "the repository":
        checkout = tmp_path / "person"
        git(repo, "switch", "-q", "-c", "elsewhere")
        git(repo, "worktree", "add", "-q", str(checkout), "main")
    start(checkout)

    with pytest.raises(LandError) as refused:
        await land(tree, options())

    message = str(refused.value)
    what, _, finish = doing.partition(" (")
    assert message == (
        f"main is in use in {checkout}: it is in the middle of {what}; finish it there ({finish}, "
        "then land again; nothing was changed"
    )
    assert git(repo, "rev-parse", "main") == main, "main stays where the person left it"
    assert git(tree.path, "rev-parse", "HEAD") == head and tree.path.is_dir()
    assert git(repo, "branch", "--list", tree.branch) != ""


async def test_a_landing_moved_back_by_a_hook_keeps_the_worktree_and_its_branch(
    repo: Path, tmp_path: Path
) -> None:
    """The person's post-merge hook puts main back (as a rebase --abort would): the worktree and the
    branch stay until main has the landed commit."""
    hooks = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-path", "hooks"))
    moves_back = f'[ "$(pwd)" = "{repo}" ] && git reset -q --keep ORIG_HEAD\n'
    (hooks / "post-merge").write_text("#!/bin/sh\n" + moves_back)
    (hooks / "post-merge").chmod(0o755)
    tree = await agent_tree(repo, tmp_path)
    main = git(repo, "rev-parse", "main")

    landed = await land(tree, options())

    assert git(repo, "rev-parse", "main") == main, "the hook moved main back"
    assert landed.archived.startswith(f"kept {tree.path} and its branch {tree.branch}: main no longer has")
    assert tree.path.is_dir() and git(repo, "rev-parse", tree.branch) != ""
    assert read_metadata(metadata_file(tree.path))[0] == tree


def hook(path: Path, who: str, log: Path) -> None:
    """A hook that writes who wrote it, which hook it is and where it ran to `log`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{who} $(basename "$0") $(pwd)" >> "{log}"\n')
    path.chmod(0o755)


HUSKY_STUB = '#!/bin/sh\nexec sh "$(dirname "$(dirname "$0")")/$(basename "$0")" "$@"\n'
"""husky 9's `.husky/_/<hook>`: it runs `.husky/<hook>`, the tracked one."""


@pytest.mark.parametrize("layout", ["githooks", "husky"])
async def test_landing_runs_the_persons_hooks_never_the_ones_the_change_rewrote(
    repo: Path, tmp_path: Path, layout: str
) -> None:
    log = tmp_path / "hooks.log"
    tracked = repo / (".githooks" if layout == "githooks" else ".husky")
    for name in ("pre-commit", "post-merge"):
        hook(tracked / name, "person", log)
    if layout == "husky":
        (tracked / "_").mkdir()
        (tracked / "_" / ".gitignore").write_text("*\n")
        for name in ("pre-commit", "post-merge"):
            (tracked / "_" / name).write_text(HUSKY_STUB)
            (tracked / "_" / name).chmod(0o755)
    commit_all(repo, "the person's hooks")
    git(repo, "config", "core.hooksPath", ".githooks" if layout == "githooks" else ".husky/_")
    tree = await agent_tree(repo, tmp_path)
    agents = tree.path / tracked.name
    if layout == "husky":
        shutil.copytree(tracked / "_", agents / "_")  # husky install made it there too
    for name in ("pre-commit", "post-merge"):
        hook(agents / name, "agent", log)

    landed = await land(tree, options())

    ran = log.read_text().splitlines()
    assert ran and all(entry.startswith("person ") for entry in ran), ran
    assert f"person post-merge {repo}" in ran, "the person's own post-merge, in their checkout"
    assert any(entry.startswith("person pre-commit ") and entry.endswith("/land") for entry in ran), (
        "on the squash, in lfg's scratch worktree: no hook runs in the agent's worktree"
    )
    folder = ".githooks" if layout == "githooks" else ".husky/_"
    assert landed.hooks == (
        f"the hooks in {folder} ran as they were in {repo} before the landing; the change's own "
        f"{tracked.name}/post-merge, {tracked.name}/pre-commit did not run"
    )
    assert "agent" in (repo / tracked.name / "pre-commit").read_text(), "the change itself is landed"
    assert landed.hooks in landed.summary("t")
