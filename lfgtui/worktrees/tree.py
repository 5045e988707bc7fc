"""A git worktree per ticket: `isolation = "worktree"` gives a ticket its own checkout and branch.

A ticket whose workdir is inside a git repository works in `<root>/<run>/<ticket>`, a `git worktree`
on the new branch `lfg/<run>/<ticket>` made from the repository's HEAD; it works in the same
sub-folder of it that its workdir is of the repository. Worktrees stay after the run (the work is
the point) until `lfg worktrees clean` removes them.

What `list` needs after the run has ended is kept next to each worktree in `<root>/<run>/<ticket>.json`
(repository, branch, base commit, the branch the repository was on then, run, ticket, the workdir's
sub-path, when it was made). It is
written before git makes the worktree, so a crash in between leaves an entry that `clean` can forget.

Ids become folder and branch names through `ref_safe`: only `a-z 0-9 _ -` pass as they are, `.`
becomes `,`, `@` becomes `=`, an upper-case letter `+` and its lower-case form, and any other
character `+0` and six hex digits; so no name is `..`, ends in `.lock`, or differs from another only
in case (macOS folders and loose refs ignore case), and two ids never share a name.

A ticket that runs again under the same run id (a retry) continues in its worktree; if only its
branch is left (the worktree was cleaned but the branch had commits), a new worktree checks it out.

git itself is run by `git.py`; `cleanup.py` lists and removes what runs left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from lfgtui.folders import private_folder
from lfgtui.inert import inert
from lfgtui.worktrees.binary import binaries, literal
from lfgtui.worktrees.confined import common_dir, confined_env, no_filters
from lfgtui.worktrees.git import GitError, checked, git, line, quoted
from lfgtui.worktrees.patch import FILE_BYTES, PatchParts, Unshown, embedded_reason
from lfgtui.worktrees.size import diff_size

WORKTREES_ENV = "LFG_WORKTREES"
BRANCH_PREFIX = "lfg"
METADATA_VERSION = 1
CHECKOUT_TIMEOUT_S = 300.0
"""`git worktree add` writes every file: a large repository needs more than `git.py`'s limit."""
DIFF_TEXT_CHARS = 500_000

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_STAND_INS = {".": ",", "@": "="}
"""`.` makes `..` and `.lock`; a worktree folder named `@` breaks `git worktree add` (git 2.39)."""
_SHORTSTAT = re.compile(r"(\d+) (file|insertion|deletion)")


@dataclass(frozen=True)
class Worktree:
    path: Path
    """The worktree's top folder, `<root>/<run>/<ticket>`."""
    workdir: Path
    """Where the ticket works: the same sub-folder of `path` that its workdir is of `repo`."""
    repo: Path
    """The top folder of the checkout the ticket's workdir was in."""
    branch: str
    base: str
    """The commit the branch started from (full sha): the diff is measured against it."""
    run_id: str
    ticket_id: str
    base_branch: str | None = None
    """The branch the repository's checkout was on when the worktree was made: where `lfg land` brings
    the change. None when it was on no branch (a detached HEAD), or the worktree was made by an lfg
    before landing existed."""


@dataclass(frozen=True)
class DiffStat:
    added: int
    removed: int
    files: int

    def label(self) -> str:
        """`+12 \u22123, 2 files` (a minus sign), for a pane header or a table."""
        return diff_size(self.added, self.removed, self.files)


def worktrees_root(env: Mapping[str, str] = os.environ) -> Path:
    """Where worktrees are made: `$LFG_WORKTREES`, else the user data folder's `worktrees`; resolved
    (see `_resolved_root`)."""
    override = env.get(WORKTREES_ENV)
    if override:
        return _resolved_root(Path(override).expanduser())
    return _resolved_root(Path(platformdirs.user_data_dir("lfgtui")) / "worktrees")


def _resolved_root(root: Path) -> Path:
    """`root` with every symlink resolved (`$LFG_WORKTREES`, a linked data folder, macOS's /tmp): git
    and the tools compare resolved paths, so a worktree's path is made from the resolved root once."""
    try:
        return root.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise GitError(f"the worktrees folder {root} cannot be resolved: {inert(str(exc))}") from None


def ref_safe(name: str) -> str:
    """`name` as a folder name and a ref name component (see the module docstring); injective."""
    if not name:
        raise GitError("an empty run or ticket id cannot name a worktree")
    parts: list[str] = []
    for char in name:
        if char in _PLAIN:
            parts.append(char)
        elif char in _STAND_INS:
            parts.append(_STAND_INS[char])
        elif "A" <= char <= "Z":
            parts.append("+" + char.lower())
        else:
            parts.append(f"+0{ord(char):06x}")
    return "".join(parts)


def branch_name(run_id: str, ticket_id: str) -> str:
    return f"{BRANCH_PREFIX}/{ref_safe(run_id)}/{ref_safe(ticket_id)}"


def metadata_file(path: Path) -> Path:
    return path.with_name(f"{path.name}.json")


def index_file(path: Path) -> Path:
    """Our own index of the worktree, kept between diffs so that unchanged files are not hashed again."""
    return path.with_name(f"{path.name}.index")


class _RepositoryLocks:
    """One asyncio lock per repository, dropped when nobody holds or waits for it. Making a worktree
    reads our record, looks at the folder and the branch, then adds: two makers of one ticket at once
    (a hurried retry) must not both add. Git's own locks keep different tickets apart; this lock also
    has one repository check out one worktree at a time."""

    def __init__(self) -> None:
        self._locks: dict[Path, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def held(self, repo: Path) -> AsyncIterator[None]:
        lock, users = self._locks.get(repo, (asyncio.Lock(), 0))
        self._locks[repo] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[repo]
            if users == 1:
                del self._locks[repo]
            else:
                self._locks[repo] = (lock, users - 1)


_repository_locks = _RepositoryLocks()


def _require_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise GitError(f"{folder} is not a folder")


async def _repository_of(workdir: Path) -> tuple[Path, str, str, str | None]:
    """The top folder of the checkout `workdir` is in, the workdir's sub-path in it, its HEAD, and
    the branch it is on (None: a detached HEAD)."""
    _require_folder(workdir)
    top = await git(workdir, "rev-parse", "--show-toplevel")
    if top.code != 0:
        if b"not a git repository" in top.err:
            raise GitError(
                f"{workdir} is not inside a git repository; "
                'isolation = "worktree" needs one (git init, or drop isolation)'
            )
        raise GitError(f"git rev-parse failed in {workdir}: {quoted(top.err)}")
    repo = Path(line(top.out))
    prefix = line(await checked(workdir, "rev-parse", "--show-prefix"))
    head = await git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if head.code != 0:
        raise GitError(
            f"the repository {repo} has no commits yet; commit once so the worktree has a HEAD to start from"
        )
    branch = await git(repo, "symbolic-ref", "--quiet", "HEAD")
    on = line(branch.out).removeprefix("refs/heads/") if branch.code == 0 else None
    return repo, prefix, line(head.out), on


def _write_metadata(tree: Worktree, created: float) -> None:
    """Atomically: a crash leaves the old file or the new one, never half of one."""
    record = {
        "version": METADATA_VERSION,
        "run_id": tree.run_id,
        "ticket_id": tree.ticket_id,
        "repo": str(tree.repo),
        "branch": tree.branch,
        "base": tree.base,
        "subdir": tree.workdir.relative_to(tree.path).as_posix(),
        "created": created,
        "base_branch": tree.base_branch,
    }
    target = metadata_file(tree.path)
    scratch = target.with_name(f"{target.name}.{secrets.token_hex(4)}")
    scratch.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(scratch, target)


def read_metadata(file: Path) -> tuple[Worktree, float]:
    """The worktree a metadata file describes, and when it was made; ValueError when damaged."""
    record = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(record, dict) or record.get("version") != METADATA_VERSION:
        raise ValueError("not a version 1 metadata record")
    fields = ("run_id", "ticket_id", "repo", "branch", "base", "subdir")
    if not all(isinstance(record.get(name), str) for name in fields) or not record["ticket_id"]:
        raise ValueError(f"needs the text fields {', '.join(fields)}")
    created = record.get("created")
    if not isinstance(created, int | float) or isinstance(created, bool):
        raise ValueError("needs a number 'created'")
    base_branch = record.get("base_branch")
    if base_branch is not None and (not isinstance(base_branch, str) or not base_branch):
        raise ValueError("its 'base_branch' is not a branch name")
    path = file.with_name(file.name.removesuffix(".json"))
    tree = Worktree(
        path=path,
        workdir=path / record["subdir"],
        repo=Path(record["repo"]),
        branch=record["branch"],
        base=record["base"],
        run_id=record["run_id"],
        ticket_id=record["ticket_id"],
        base_branch=base_branch,
    )
    subdir = Path(record["subdir"])
    if not tree.run_id:
        raise ValueError("needs a run id")
    expected = (ref_safe(tree.run_id), ref_safe(tree.ticket_id), branch_name(tree.run_id, tree.ticket_id))
    if (file.parent.name, path.name, tree.branch) != expected:
        raise ValueError("its run, ticket or branch is not the one its name says")
    if subdir.is_absolute() or ".." in subdir.parts:
        raise ValueError("its sub-path leads out of the worktree")
    return tree, float(created)


def find_worktree(run_id: str, ticket_id: str, recorded: Sequence[Path] = ()) -> Worktree | str:
    """The ticket's worktree as lfg recorded it beside the worktree: found from the latest of the
    `recorded` paths (its attempts' worktrees) that has a record, else in the worktrees folder; or
    why there is none."""
    paths = [*reversed(recorded), worktrees_root() / ref_safe(run_id) / ref_safe(ticket_id)]
    for path in paths:
        try:
            tree, _ = read_metadata(metadata_file(path))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            return f"the worktree record {metadata_file(path)} cannot be read ({exc})"
        return tree
    return (
        f"ticket {ticket_id} of run {run_id} has no worktree (it did not run with "
        'isolation = "worktree", or its worktree was cleaned)'
    )


def work_gone(known: Worktree | None, root: Path, run_id: str, ticket_id: str) -> str | None:
    """Why the work of ticket `ticket_id` cannot be forked because its worktree was removed (`lfg
    worktrees clean`, or by hand); None when it is there. `known` is the worktree the run holds for
    it, if any, else its record under `root` is read. A fork made anyway would start from the
    repository's HEAD, not from the ticket's work."""
    path = known.path if known is not None else _resolved_root(root) / ref_safe(run_id) / ref_safe(ticket_id)
    branch = known.branch if known is not None else branch_name(run_id, ticket_id)
    if path.is_dir() and (known is not None or metadata_file(path).is_file()):
        return None
    return (
        f"the worktree {path} was removed (lfg worktrees clean, or by hand) and its uncommitted work "
        "with it; a fork would start from the repository's HEAD, not from this work. What was committed "
        f"is on the branch {branch} if it was kept (git log {branch}); fork another ticket, or run this "
        "one again"
    )


async def branch_exists(repo: Path, branch: str) -> bool:
    found = await git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
    return found.code == 0


async def forget(repo: Path, path: Path) -> None:
    """Unregister the worktree at `path`, whose folder is gone. Only this one: `git worktree prune`
    would also drop the user's own worktrees whose folder is on an unmounted disk."""
    result = await git(repo, "worktree", "remove", "--force", str(path))
    if result.code != 0 and b"is not a working tree" not in result.err:
        raise GitError(f"git worktree remove failed in {repo}: {quoted(result.err)}")


async def create_worktree(workdir: Path, run_id: str, ticket_id: str, root: Path) -> Worktree:
    """The worktree ticket `ticket_id` of run `run_id` works in, made if need be (see the module
    docstring for a retry). Several at once are safe: one repository makes one at a time."""
    repo, prefix, head, on = await _repository_of(workdir)
    path = _resolved_root(root) / ref_safe(run_id) / ref_safe(ticket_id)
    wanted = Worktree(path, path / prefix, repo, branch_name(run_id, ticket_id), head, run_id, ticket_id, on)
    async with _repository_locks.held(repo):
        try:
            private_folder(path.parent)
            tree = await _made(wanted)
            tree.workdir.mkdir(
                parents=True, exist_ok=True
            )  # an untracked or ignored folder is not checked out
        except OSError as exc:
            raise GitError(f"cannot make the worktree {path}: {inert(str(exc))}") from None
    return tree


async def _made(wanted: Worktree) -> Worktree:
    """`wanted` as it is found, or made: the worktree itself when it exists; a new one on its branch
    when only the branch is left, based where it was; else a new branch from HEAD."""
    path, repo, branch = wanted.path, wanted.repo, wanted.branch
    known: tuple[Worktree, float] | None = None
    with contextlib.suppress(OSError, ValueError):
        known = read_metadata(metadata_file(path))
    if known is not None and known[0].repo != repo:
        raise GitError(
            f"ticket {wanted.ticket_id!r} of run {wanted.run_id} already has a worktree of {known[0].repo}, "
            f"not of {repo}; use another run id, or lfg worktrees clean --run {wanted.run_id}"
        )
    if known is not None and path.is_dir():
        return replace(wanted, base=known[0].base, base_branch=known[0].base_branch)
    if path.exists():
        raise GitError(f"{path} exists but lfg has no record of it; move it away, then run again")
    await forget(repo, path)
    tree = wanted
    add = ("worktree", "add", "-b", branch, str(path), wanted.base)
    if await branch_exists(repo, branch):
        base = known[0].base if known else line(await checked(repo, "merge-base", wanted.base, branch))
        tree = replace(wanted, base=base, base_branch=known[0].base_branch if known else wanted.base_branch)
        add = ("worktree", "add", str(path), branch)
    _write_metadata(tree, known[1] if known else time.time())
    try:
        await checked(repo, *add, timeout_s=CHECKOUT_TIMEOUT_S)
    except GitError:
        if known is None:
            metadata_file(path).unlink(missing_ok=True)
        raise
    return tree


async def fork_worktree(parent: Worktree, ticket_id: str, root: Path) -> Worktree:
    """The worktree of fork `ticket_id` (run/fork.py) of the parent's run: on its own branch from
    the parent's branch head, holding the parent's worktree as it is now, its uncommitted changes
    and new files (not ignored ones) left uncommitted there too. The parent's worktree, index and
    branch are not touched (the copy is read through our own index, as a diff is: its HEAD and git
    folder have no say, and no filter runs writing the copy). Made once: a retry of the fork goes on
    in it."""
    path = _resolved_root(root) / ref_safe(parent.run_id) / ref_safe(ticket_id)
    branch = branch_name(parent.run_id, ticket_id)
    workdir = path / parent.workdir.relative_to(parent.path)
    wanted = replace(parent, path=path, workdir=workdir, branch=branch, ticket_id=ticket_id)
    async with _repository_locks.held(parent.repo):
        with contextlib.suppress(OSError, ValueError):
            known, _ = read_metadata(metadata_file(path))
            if known.repo == parent.repo and path.is_dir():
                return known
        if path.exists():
            raise GitError(f"{path} exists but lfg has no record of it; move it away, then fork again")
        async with _snapshot(parent, links=True) as env:
            files = line(await checked(parent.path, "write-tree", env=env))
            nested = await _embedded_repositories(parent, env)
        _check_copyable(parent, nested)
        head = await branch_head(parent)
        try:
            private_folder(path.parent)
            _write_metadata(wanted, time.time())
        except OSError as exc:
            raise GitError(f"cannot make the worktree {path}: {inert(str(exc))}") from None
        quiet = await no_filters(await common_dir(parent.repo))  # the parent's files through no filter
        try:
            add = ("worktree", "add", "-b", branch, str(path), head)
            await checked(parent.repo, *add, env=quiet, timeout_s=CHECKOUT_TIMEOUT_S)
        except GitError:
            metadata_file(path).unlink(missing_ok=True)
            raise
        await checked(path, "read-tree", "-u", "--reset", files, env=quiet, timeout_s=CHECKOUT_TIMEOUT_S)
        # The index back to HEAD: the copied changes stay uncommitted.
        await checked(path, "reset", "--quiet", env=quiet)
        try:
            _copy_repositories(parent.path, path, nested)
        except (OSError, shutil.Error) as exc:
            await _unmake(wanted)
            raise GitError(f"the fork was not made: {inert(str(exc))}") from None
        with contextlib.suppress(OSError):
            workdir.mkdir(parents=True, exist_ok=True)
    return wanted


def _check_copyable(parent: Worktree, nested: list[str]) -> None:
    """A fork copies the parent's embedded repositories whole (their own `.git` folder with them):
    refuse one whose `.git` is a file (a submodule's pointer to a git dir elsewhere, which the copy
    would share with the parent) before anything is made."""
    for folder in nested:
        own = parent.path / folder / ".git"
        if own.is_symlink() or not own.is_dir():
            raise GitError(
                f"the fork was not made: {inert(folder)} in {parent.path} is a git repository whose .git "
                "is a file or link to a git folder elsewhere, which a copy would share with the parent; "
                "move it out of the worktree (or make it an ordinary folder), then fork again"
            )


def _copy_repositories(source: Path, target: Path, nested: list[str]) -> None:
    """Copy each embedded repository (its files and its `.git`) from the parent's worktree into the
    fork's: git's tree has only a commit of it, which would check out as an empty folder. Symlinks are
    copied as links, never followed; a FIFO, socket or device is refused without being opened."""

    def copy_file(src: str, dst: str) -> None:
        if not stat.S_ISREG(os.lstat(src).st_mode):
            raise OSError(f"{src} is not a regular file (a FIFO, socket or device): lfg does not copy it")
        shutil.copy2(src, dst)

    for folder in nested:
        shutil.copytree(
            source / folder, target / folder, symlinks=True, copy_function=copy_file, dirs_exist_ok=True
        )


async def _unmake(tree: Worktree) -> None:
    """Take back a fork's worktree that could not be completed: the folder, git's record, its
    branch, lfg's record."""
    shutil.rmtree(tree.path, ignore_errors=True)
    with contextlib.suppress(GitError):
        await forget(tree.repo, tree.path)
        await git(tree.repo, "branch", "-D", tree.branch)
    metadata_file(tree.path).unlink(missing_ok=True)


async def branch_head(tree: Worktree) -> str:
    """The commit the ticket's work stands on: the tip of the branch lfg made for it, as the
    repository has it (`refs/heads/<branch>`), else its base when the branch is gone. Never the
    worktree's HEAD, which the agent may point at any branch."""
    found = await git(tree.repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{tree.branch}^{{commit}}")
    return line(found.out) if found.code == 0 else tree.base


async def _drop_stale_links(tree: Worktree, env: Mapping[str, str], start: str) -> None:
    """Forget gitlinks our index kept for a folder that is no longer a repository (its `.git` was
    removed, so its files are plain files now): git would keep the link and never add the files.
    A submodule the branch itself has stays."""
    staged = await checked(tree.path, "ls-files", "--stage", "-z", env=env)
    links = [entry.partition("\t")[2] for entry in _nul_paths(staged) if entry.startswith("160000 ")]
    gone = [path for path in links if not _own_git(tree, path)]
    if not gone:
        return
    kept = await checked(tree.path, "ls-tree", "-z", "--name-only", start, "--", *gone, env=env)
    stale = [path for path in gone if path not in set(_nul_paths(kept))]
    if stale:
        await checked(tree.path, "update-index", "--force-remove", "--", *stale, env=env)


@contextlib.asynccontextmanager
async def _snapshot(tree: Worktree, links: bool = False) -> AsyncIterator[dict[str, str]]:
    """An environment whose GIT_INDEX_FILE holds every file of the worktree as it is now: tracked,
    changed and untracked (not ignored), on top of the branch lfg made (`branch_head`), read as
    worktrees/confined.py says (the worktree's own git folder, index and filters have no say). Each
    call works on a copy of our kept index and puts it back after, so concurrent diffs (the pane,
    `lfg worktrees list`) never wait for each other's lock. `links`: gitlinks of folders that are no
    longer repositories are dropped first (what review, landing and forking read)."""
    if not tree.path.is_dir():
        raise GitError(f"the worktree {tree.path} no longer exists")
    kept = index_file(tree.path)
    scratch = kept.with_name(f"{kept.name}.{secrets.token_hex(4)}")
    env = await confined_env(tree.repo, tree.path, scratch)
    try:
        start = await branch_head(tree)
        try:
            shutil.copyfile(kept, scratch)
        except FileNotFoundError:
            await checked(tree.path, "read-tree", start, env=env)
        except OSError as exc:  # a full disk: no diff now, as when git fails, not lfg's own failure
            raise GitError(f"lfg could not copy the worktree's index to {scratch}: {exc.strerror}") from None
        if links:
            await _drop_stale_links(tree, env, start)
        # --ignore-errors: a file we may not read is left out rather than failing every diff.
        await git(tree.path, "add", "--all", "--ignore-errors", env=env)
        yield env
        with contextlib.suppress(OSError):  # kept as it was: the next diff reads the tree again
            os.replace(scratch, kept)
    finally:
        scratch.unlink(missing_ok=True)


def _diff_args(tree: Worktree, *options: str) -> tuple[str, ...]:
    """Fixed prefixes (a person's `diff.noprefix` or `diff.mnemonicPrefix` would change the names the
    review reads) and no renames: each file's `diff --git` line names it twice (worktrees/patch.py)."""
    return (
        *("diff", "--cached", "--no-ext-diff", "--no-textconv", "--no-renames"),
        *("--src-prefix=a/", "--dst-prefix=b/", *options, tree.base, "--"),
    )


_UNQUOTED = ("core.quotePath=false",)
"""Names with non-ASCII letters as they are, not as octal escapes."""


async def diff_stat(tree: Worktree) -> DiffStat:
    """Lines added and removed and files changed in the worktree since `base`: commits, uncommitted
    changes and new files alike (a binary file counts as a file, with no lines)."""
    async with _snapshot(tree) as env:
        out = await checked(tree.path, *_diff_args(tree, "--shortstat"), env=env)
    counts = {kind: int(number) for number, kind in _SHORTSTAT.findall(out.decode(errors="replace"))}
    return DiffStat(counts.get("insertion", 0), counts.get("deletion", 0), counts.get("file", 0))


@dataclass(frozen=True)
class Reviewed:
    """The worktree's files as review reads them: their tree (what `lfg land` lands), its diff."""

    files: str
    """The tree id of every file review shows."""
    parts: PatchParts


async def _patch(tree: Worktree, max_chars: int, context: int) -> Reviewed:
    """The worktree's diff against `base`, every file listed, each shown whole or marked not shown
    (worktrees/patch.py), and the tree of the files it was taken from."""
    async with _snapshot(tree, links=True) as env:
        found = await binaries(tree.path, ("--cached", tree.base), env)
        parts = PatchParts(min(FILE_BYTES, max_chars), max_chars, found.sizes)
        args = _diff_args(tree, f"-U{context}")
        result = await git(
            tree.path, *args, *literal(found.texts, exclude=True), env=env, config=_UNQUOTED, sink=parts.feed
        )
        if found.texts and result.code == 0:  # text files a .gitattributes calls binary: shown as text
            args = _diff_args(tree, f"-U{context}", "--text")
            result = await git(
                tree.path, *args, *literal(found.texts), env=env, config=_UNQUOTED, sink=parts.feed
            )
        unborn = await _unborn_repositories(tree, env)
        files = line(await checked(tree.path, "write-tree", env=env))
    if result.code != 0:
        raise GitError(f"git diff failed in {tree.path}: {quoted(result.err)}")
    parts.close()
    for path in unborn:
        parts.add_unshown(Unshown(path, embedded_reason(path), embedded=True))
    return Reviewed(files, parts)


def _nul_paths(out: bytes) -> list[str]:
    return [name.decode(errors="surrogateescape") for name in out.split(b"\0") if name]


def _own_git(tree: Worktree, path: str) -> bool:
    """Whether the folder `path` of the worktree has a `.git` of its own (an embedded repository)."""
    return os.path.lexists(tree.path / path / ".git")


async def _unborn_repositories(tree: Worktree, env: Mapping[str, str]) -> list[str]:
    """Embedded repositories git could not add to the snapshot (`git init` with no commit yet): left
    untracked, they would be missing from the diff without a word."""
    out = await checked(tree.path, "ls-files", "--others", "--directory", "--exclude-standard", "-z", env=env)
    return [path.rstrip("/") for path in _nul_paths(out) if path.endswith("/") and _own_git(tree, path)]


async def _embedded_repositories(tree: Worktree, env: Mapping[str, str]) -> list[str]:
    """Every folder of the snapshot `env` holds with a `.git` of its own: gitlinks (an agent's clone,
    or a repository it made and committed in) and repositories with no commit yet."""
    staged = await checked(tree.path, "ls-files", "--stage", "-z", env=env)
    links = [entry.partition("\t")[2] for entry in _nul_paths(staged) if entry.startswith("160000 ")]
    found = [path for path in links if _own_git(tree, path)]
    return found + await _unborn_repositories(tree, env)


async def diff_text(tree: Worktree, max_chars: int = DIFF_TEXT_CHARS, context: int = 3) -> str:
    """The unified diff of the worktree against `base` with `context` lines around each change, raw
    (untrusted: make it inert to show it). Every changed file is in it; one whose diff is too big
    (or past `max_chars` in all) has only its header and a line saying it is not shown and why."""
    return (await _patch(tree, max_chars, context)).parts.text()


async def reviewed(tree: Worktree, max_chars: int = DIFF_TEXT_CHARS, context: int = 3) -> Reviewed:
    """The worktree's files as review reads them: their tree, their diff (`parts.text()`, as
    `diff_text`), and (`parts.unshown()`) the files review lists without showing them (too big, or
    an embedded repository), which `lfg land` refuses unless told to land them unseen."""
    return await _patch(tree, max_chars, context)


async def uncommitted(tree: Worktree) -> bool:
    """Whether the worktree holds work its branch has not (changed, new, or a repository git cannot
    record): what removing it would lose. Read as review reads it, never by git status in it."""
    async with _snapshot(tree, links=True) as env:
        files = line(await checked(tree.path, "write-tree", env=env))
        unborn = await _unborn_repositories(tree, env)
    committed = line(await checked(tree.repo, "rev-parse", f"{await branch_head(tree)}^{{tree}}"))
    return files != committed or bool(unborn)
