"""The worktrees runs left behind, for `lfg worktrees list|clean`: what changed in each, and removal.

Each entry under the root is read back from its metadata file and measured with git (uncommitted
work, commits beyond the base, diff size); a damaged one is listed with its problem, never raised.
Removal keeps what would be lost: a worktree with uncommitted work, or with commits that are not
landed (no other branch, local or remote-tracking, has them), unless forced; and a branch with commits
beyond its base always, unless `lfg land` landed it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from lfgtui.formats import plural
from lfgtui.inert import inert
from lfgtui.worktrees.git import MESSAGE_CHARS, GitError, checked, git, line
from lfgtui.worktrees.snapshot import checked_ref
from lfgtui.worktrees.tree import (
    DiffStat,
    Worktree,
    branch_exists,
    diff_stat,
    forget,
    index_file,
    metadata_file,
    read_metadata,
    ref_safe,
    uncommitted,
)

LIST_CONCURRENCY = 8


@dataclass(frozen=True)
class WorktreeInfo:
    """One entry of the root folder, read after the fact. A fact that could not be found is None and
    `problem` says why; `tree` is None when the metadata file is missing or damaged."""

    run_id: str
    ticket_id: str
    path: Path
    tree: Worktree | None
    created: float | None
    exists: bool
    dirty: bool | None
    ahead: int | None
    """Commits on the branch beyond its base; None when the branch or its repository is gone."""
    stat: DiffStat | None
    problem: str | None


@dataclass(frozen=True)
class Removal:
    path: Path
    removed: bool
    """The worktree and its metadata are gone (the branch may be kept: `message` says)."""
    refused: bool
    """Nothing was removed because something would have been lost, or could not be checked."""
    message: str


async def _ahead(tree: Worktree) -> int | None:
    """Commits on the branch beyond its base; None when the branch is gone."""
    if not await branch_exists(tree.repo, tree.branch):
        return None
    count = await checked(tree.repo, "rev-list", "--count", f"{tree.base}..refs/heads/{tree.branch}", "--")
    return int(line(count))


async def _unlanded(tree: Worktree) -> int:
    """Commits on the branch beyond its base that no other branch, local or remote-tracking, has:
    work that was neither merged nor pushed. 0 when the branch is gone."""
    if not await branch_exists(tree.repo, tree.branch):
        return 0
    count = await checked(
        tree.repo,
        *("rev-list", "--count", f"refs/heads/{tree.branch}", "--not", tree.base),
        *(f"--exclude={tree.branch}", "--branches", "--remotes", "--"),
    )
    return int(line(count))


async def _info(tree: Worktree, created: float) -> WorktreeInfo:
    exists = tree.path.is_dir()
    dirty = ahead = stat = problem = None
    try:
        if not tree.repo.is_dir():
            raise GitError(f"its repository {tree.repo} no longer exists")
        ahead = await _ahead(tree)
        if exists:
            dirty = await uncommitted(tree)
            stat = await diff_stat(tree)
        else:
            problem = "its folder was deleted by hand (lfg worktrees clean forgets it)"
    except GitError as exc:
        problem = str(exc)
    return WorktreeInfo(
        tree.run_id, tree.ticket_id, tree.path, tree, created, exists, dirty, ahead, stat, problem
    )


def _damaged(path: Path, problem: str) -> WorktreeInfo:
    return WorktreeInfo(
        path.parent.name, path.name, path, None, None, path.is_dir(), None, None, None, problem
    )


def _entries(root: Path, run_id: str | None) -> tuple[list[tuple[Worktree, float]], list[WorktreeInfo]]:
    """The metadata of every worktree under `root` (of one run), and the damaged entries."""
    runs = [root / ref_safe(run_id)] if run_id is not None else sorted(root.glob("*"))
    read: list[tuple[Worktree, float]] = []
    damaged: list[WorktreeInfo] = []
    for run in runs:
        if not run.is_dir():
            continue
        for entry in sorted(run.iterdir()):
            if entry.suffix == ".json":
                try:
                    read.append(read_metadata(entry))
                except (OSError, ValueError) as exc:
                    problem = f"its metadata file {entry} is damaged ({inert(str(exc))[:MESSAGE_CHARS]})"
                    damaged.append(_damaged(entry.with_suffix(""), problem))
            elif entry.is_dir() and not metadata_file(entry).exists():
                damaged.append(_damaged(entry, f"its metadata file {metadata_file(entry)} is missing"))
    return read, damaged


async def list_worktrees(root: Path, run_id: str | None = None) -> list[WorktreeInfo]:
    """Every worktree under `root` (of run `run_id` only, when given) with what has changed in it,
    oldest first. A damaged entry is listed with its problem, never raised."""
    read, found = _entries(root, run_id)
    limit = asyncio.Semaphore(LIST_CONCURRENCY)

    async def bounded(tree: Worktree, created: float) -> WorktreeInfo:
        async with limit:
            return await _info(tree, created)

    found += await asyncio.gather(*(bounded(tree, created) for tree, created in read))
    return sorted(found, key=lambda info: (info.created or 0.0, str(info.path)))


def _forget_files(path: Path) -> None:
    """Our files for the worktree at `path`, and its run folder once empty."""
    metadata_file(path).unlink(missing_ok=True)
    index_file(path).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()


async def _settle_branch(tree: Worktree, landed: bool) -> str:
    """Delete the branch when it has no commits beyond its base (nothing is lost) or its change was
    landed; what was done."""
    ahead = await _ahead(tree)
    if ahead is None:
        return ""
    if landed:
        await checked(tree.repo, "branch", "-D", tree.branch)
        return f" and its branch {tree.branch} (its change is landed)"
    if ahead:
        commits = plural(ahead, "commit")
        return (
            f"; kept branch {tree.branch}: it has {commits} beyond {tree.base[:12]} "
            f"(merge it, or delete it with git branch -D {tree.branch})"
        )
    await checked(tree.repo, "branch", "-D", tree.branch)
    return f" and its branch {tree.branch} (it had no commits)"


async def remove_worktree(
    target: Worktree | WorktreeInfo, force: bool, landed: bool = False, keep_branch: bool = False
) -> Removal:
    """Remove a worktree unless it has uncommitted changes or untracked files, or commits no other
    branch has (`force` removes it all the same, discarding the uncommitted ones); then its branch,
    unless the branch has commits beyond its base (kept, and named, so they can be merged) and is not
    `landed`, or `keep_branch`; then our files for it. Never raises: a failure is a refusal that says
    why."""
    tree = target.tree if isinstance(target, WorktreeInfo) else target
    if tree is None:
        assert isinstance(target, WorktreeInfo)
        return Removal(target.path, False, True, f"kept {target.path}: {target.problem}; remove it by hand")
    if not tree.repo.is_dir():
        if tree.path.exists():
            return Removal(tree.path, False, True, f"kept {tree.path}: its repository {tree.repo} is gone")
        _forget_files(tree.path)
        return Removal(
            tree.path, True, False, f"forgot {tree.path}: it and its repository {tree.repo} are gone"
        )
    try:
        if tree.path.is_dir():
            if not force and await uncommitted(tree):
                return Removal(
                    tree.path,
                    False,
                    True,
                    f"kept {tree.path}: it has uncommitted changes or untracked files "
                    "(commit them, or clean with --force to discard them)",
                )
            if not force and not landed and (unlanded := await _unlanded(tree)):
                return Removal(
                    tree.path,
                    False,
                    True,
                    f"kept {tree.path}: its branch {tree.branch} has {plural(unlanded, 'commit')} that "
                    f"no other branch has (land them with lfg land {tree.run_id} {tree.ticket_id}, or "
                    "clean with --force: the branch is kept)",
                )
            # --force: checked above as review reads it; git's own check would run git status in the
            # worktree, by the config in its git folder (the agent's to write). A lock still holds.
            await checked(tree.repo, "worktree", "remove", "--force", str(tree.path))
            done = f"removed {tree.path}"
        else:
            await forget(tree.repo, tree.path)
            done = f"forgot {tree.path} (its folder was already deleted)"
    except GitError as exc:
        return Removal(tree.path, False, True, f"kept {tree.path}: {exc}")
    _forget_files(tree.path)
    await git(tree.repo, "update-ref", "-d", checked_ref(tree.run_id, tree.ticket_id))  # none: nothing done
    if keep_branch:
        return Removal(tree.path, True, False, f"{done}; kept its branch {tree.branch}")
    try:
        done += await _settle_branch(tree, landed)
    except GitError as exc:
        done += f"; kept branch {tree.branch}: {exc}"
    return Removal(tree.path, True, False, done)
