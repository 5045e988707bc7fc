"""A ticket's work frozen as one commit, and a fresh checkout of it: what a tournament checks and lands.

A contestant's check must run on exactly the diff that is shown and would be landed, not on its
worktree, which the contestant (or something it started, or a sibling) may change after its diff was
taken. So once its attempt ends the work is frozen as a commit (`take`: every file of the worktree as
it is, tracked, changed and new, not ignored, on top of its branch's HEAD; the worktree, its index and
branch untouched), kept under `refs/lfg/checked/<run>/<ticket>` so that landing lands that commit
(worktrees/land.py), not what came after. On a broker's coordinator, whose checkout has no worktree of
the ticket (it is on a worker), the commit is the diff the worker reported applied onto its base
commit (`applied`).

The check then runs in a fresh detached worktree of that commit (`checkout`), removed after, in which
the files a contestant may not change for its own check (tournament/guard.py: its tests, the test
runner's configuration, what the check's command names) are put back as the base has them, and
those of them it added are left out. The worktree is read as review reads it (worktrees/confined.py:
its own HEAD, index, `config.worktree` and filters have no say), and no filter runs in the check's
checkout either.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path

from lfgtui.worktrees.confined import common_dir, no_filters
from lfgtui.worktrees.git import GitError, checked, git, line, quoted
from lfgtui.worktrees.tree import (
    CHECKOUT_TIMEOUT_S,
    DIFF_TEXT_CHARS,
    Worktree,
    _snapshot,
    branch_head,
    ref_safe,
)

CUT_NOTE = "[the diff is longer: cut at"
"""How `diff_text` ends a diff it cut: such a diff cannot be applied whole."""
_IDENTITY = {
    "GIT_AUTHOR_NAME": "lfg",
    "GIT_AUTHOR_EMAIL": "lfg@localhost",
    "GIT_COMMITTER_NAME": "lfg",
    "GIT_COMMITTER_EMAIL": "lfg@localhost",
}
"""A snapshot commit's author: it is lfg's record, not the person's commit (none may be configured)."""
_CONFIG = ("core.splitIndex=false",)
_PATHS_PER_CALL = 500
"""Paths named on one git command line, well under any system's limit on its length."""


def checked_ref(run_id: str, ticket_id: str) -> str:
    """Where a ticket's checked snapshot is kept in its repository."""
    return f"refs/lfg/checked/{ref_safe(run_id)}/{ref_safe(ticket_id)}"


@dataclass(frozen=True)
class Snapshot:
    """A ticket's work as one commit of `repo`, against `base`; `subdir` is where the ticket works."""

    repo: Path
    base: str
    commit: str
    subdir: str
    """The ticket's workdir relative to the repository's top (`.` at the top)."""


@dataclass(frozen=True)
class SnapshotDiff:
    """The snapshot's diff against its base: as `DiffUpdated` carries one, and every file's name."""

    added: int
    removed: int
    paths: tuple[str, ...]
    text: str


async def take(tree: Worktree) -> Snapshot:
    """The worktree's work as it is now, as a commit on its branch (`branch_head`: never the
    worktree's HEAD), kept at `checked_ref`."""
    async with _snapshot(tree, links=True) as env:
        files = line(await checked(tree.path, "write-tree", env=env))
    head = await branch_head(tree)
    commit = await _commit(tree.repo, files, head, f"lfg: {tree.ticket_id}")
    await checked(tree.repo, "update-ref", checked_ref(tree.run_id, tree.ticket_id), commit)
    return Snapshot(tree.repo, tree.base, commit, tree.workdir.relative_to(tree.path).as_posix())


async def applied(workdir: Path, base: str, text: str, run_id: str, ticket_id: str) -> Snapshot:
    """The diff `text` a worker reported, applied onto `base` in the repository `workdir` is in, as a
    commit kept at `checked_ref`. GitError, saying why, when it cannot be: the base is not in this
    repository, the diff was cut, or it does not apply."""
    repo = Path(line(await checked(workdir, "rev-parse", "--show-toplevel")))
    subdir = line(await checked(workdir, "rev-parse", "--show-prefix")).rstrip("/") or "."
    found = await git(repo, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    if found.code != 0:
        raise GitError(
            f"the commit {base[:12]} the worker's worktree started from is not in {repo} "
            "(fetch it, or give the workers clones of the same history)"
        )
    base = line(found.out)
    if CUT_NOTE in text:
        raise GitError("the worker's diff was cut (too long to report whole), so it cannot be checked here")
    with tempfile.TemporaryDirectory(prefix="lfg-snapshot-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch, "index"))}
        patch = Path(scratch, "diff")
        await asyncio.to_thread(patch.write_text, text, encoding="utf-8")
        await checked(repo, "read-tree", base, env=env, config=_CONFIG)
        if text.strip():
            done = await git(repo, "apply", "--cached", "--whitespace=nowarn", str(patch), env=env)
            if done.code != 0:
                raise GitError(f"the worker's diff does not apply onto {base[:12]}: {quoted(done.err)}")
        files = line(await checked(repo, "write-tree", env=env, config=_CONFIG))
    commit = await _commit(repo, files, base, f"lfg: {ticket_id}")
    await checked(repo, "update-ref", checked_ref(run_id, ticket_id), commit)
    return Snapshot(repo, base, commit, subdir)


async def kept(tree: Worktree, files: str) -> str | None:
    """The commit kept at the worktree's `checked_ref` when the worktree's `files` (the tree review
    reads) are not exactly it (something changed after its check); None when it has none, or holds
    just that."""
    found = await git(tree.repo, "rev-parse", "--verify", "--quiet", checked_ref(tree.run_id, tree.ticket_id))
    if found.code != 0:
        return None
    commit = line(found.out)
    snapped = line(await checked(tree.repo, "rev-parse", f"{commit}^{{tree}}"))
    return None if files == snapped else commit


async def diff_of(snapshot: Snapshot, max_chars: int = DIFF_TEXT_CHARS) -> SnapshotDiff:
    """The snapshot's diff against its base, as a worktree's diff is read (`tree.diff_text`)."""
    repo, span = snapshot.repo, (snapshot.base, snapshot.commit)
    plain = ("--no-ext-diff", "--no-textconv", "--no-renames")
    numbers = await checked(repo, "diff", *plain, "--numstat", "-z", *span, "--")
    added = removed = 0
    paths: list[str] = []
    for record in numbers.decode(errors="replace").split("\0"):
        if not record:
            continue
        plus, minus, path = record.split("\t", 2)
        added += int(plus) if plus.isdigit() else 0
        removed += int(minus) if minus.isdigit() else 0
        paths.append(path)
    result = await git(repo, "diff", *plain, "-U3", *span, "--", limit=max_chars)
    if result.code != 0 and not result.truncated:
        raise GitError(f"git diff failed in {repo}: {quoted(result.err)}")
    text = result.out.decode(errors="replace")
    if result.truncated:
        text = text[: text.rfind("\n") + 1] + f"{CUT_NOTE} {max_chars} characters]\n"
    return SnapshotDiff(added, removed, tuple(paths), text)


async def in_base(snapshot: Snapshot, paths: Collection[str]) -> frozenset[str]:
    """Those of `paths` (files, relative to the repository's top) the snapshot's base has."""
    found: set[str] = set()
    listed = sorted(paths)
    for at in range(0, len(listed), _PATHS_PER_CALL):
        chunk = listed[at : at + _PATHS_PER_CALL]
        out = await checked(
            snapshot.repo,
            "--literal-pathspecs",
            "ls-tree",
            "-r",
            "-z",
            "--name-only",
            snapshot.base,
            "--",
            *chunk,
        )
        found.update(name for name in out.decode(errors="surrogateescape").split("\0") if name)
    return frozenset(found) & set(listed)


async def folders_in_base(snapshot: Snapshot, paths: Collection[str]) -> frozenset[str]:
    """Those of `paths` that are folders in the snapshot's base."""
    found = set()
    for path in paths:
        kind = await git(snapshot.repo, "cat-file", "-t", f"{snapshot.base}:{path}")
        if kind.code == 0 and kind.out.strip() == b"tree":
            found.add(path)
    return frozenset(found)


@contextlib.asynccontextmanager
async def checkout(
    snapshot: Snapshot, restored: Collection[str], left_out: Collection[str]
) -> AsyncIterator[Path]:
    """A fresh detached worktree of the snapshot, with each `restored` file as the base has it and
    each `left_out` file removed; yields the ticket's workdir in it. Removed after, whatever
    happened in it."""
    repo = snapshot.repo
    quiet = await no_filters(await common_dir(repo))  # the contestant's .gitattributes choose no filter
    with tempfile.TemporaryDirectory(prefix="lfg-check-") as scratch:
        place = Path(scratch) / secrets.token_hex(4)
        add = ("worktree", "add", "--detach", str(place), snapshot.commit)
        await checked(repo, *add, env=quiet, timeout_s=CHECKOUT_TIMEOUT_S)
        try:
            for path in restored:
                restore = ("--literal-pathspecs", "checkout", snapshot.base, "--", path)
                await checked(place, *restore, env=quiet)
            for path in left_out:
                _remove(place, path)
            workdir = place / snapshot.subdir
            with contextlib.suppress(OSError):
                workdir.mkdir(parents=True, exist_ok=True)
            yield workdir
        finally:
            removed = await git(repo, "worktree", "remove", "--force", str(place))
            if removed.code != 0:
                with contextlib.suppress(GitError):
                    await git(repo, "worktree", "prune")


def _remove(place: Path, path: str) -> None:
    """The file `path` the base has none of, gone from the worktree `place`."""
    target = place / path
    with contextlib.suppress(FileNotFoundError):
        if target.is_dir() and not target.is_symlink():
            raise GitError(f"{path} is a folder the base has no file of: it cannot be left out")
        os.unlink(target)


async def _commit(repo: Path, files: str, parent: str, message: str) -> str:
    env = {**_IDENTITY, "GIT_AUTHOR_DATE": "@0 +0000", "GIT_COMMITTER_DATE": "@0 +0000"}
    return line(await checked(repo, "commit-tree", files, "-p", parent, "-m", message, env=env))
