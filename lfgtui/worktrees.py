"""A git worktree per ticket: `isolation = "worktree"` gives a ticket its own checkout and branch.

A ticket whose workdir is inside a git repository works in `<root>/<run>/<ticket>`, a `git worktree`
on the new branch `lfg/<run>/<ticket>` made from the repository's HEAD; it works in the same
sub-folder of it that its workdir is of the repository. Worktrees stay after the run (the work is
the point) until `lfg worktrees clean` removes them.

What `list` needs after the run has ended is kept next to each worktree in `<root>/<run>/<ticket>.json`
(repository, branch, base commit, run, ticket, the workdir's sub-path, when it was made). It is
written before git makes the worktree, so a crash in between leaves an entry that `clean` can forget.

Ids become folder and branch names through `ref_safe`: only `a-z 0-9 _ -` pass as they are, `.`
becomes `,`, `@` becomes `=`, an upper-case letter `+` and its lower-case form, and any other
character `+0` and six hex digits; so no name is `..`, ends in `.lock`, or differs from another only
in case (macOS folders and loose refs ignore case), and two ids never share a name.

A ticket that runs again under the same run id (a retry) continues in its worktree; if only its
branch is left (the worktree was cleaned but the branch had commits), a new worktree checks it out.

Everything git prints is untrusted: errors carry git's stderr made inert and bounded; the diff text
is returned raw for the caller to make inert when it shows it. Every git runs with a time limit in
its own process group, killed whole on timeout or cancellation, so a hung git (or a stuck filter)
cannot hang lfg.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from lfgtui.folders import private_folder
from lfgtui.formats import diff_size, plural
from lfgtui.inert import inert

WORKTREES_ENV = "LFG_WORKTREES"
BRANCH_PREFIX = "lfg"
METADATA_VERSION = 1
GIT_TIMEOUT_S = 60.0
"""The most one git command may take; a checkout of a large repository gets `CHECKOUT_TIMEOUT_S`."""
CHECKOUT_TIMEOUT_S = 300.0
KILL_WAIT_S = 5.0
OUTPUT_LIMIT = 1024 * 1024
"""The most bytes of stdout read from one git command (the diff text has its own bound)."""
ERROR_LIMIT = 64 * 1024
MESSAGE_CHARS = 400
"""The most characters of git's stderr quoted in an error."""
DIFF_TEXT_CHARS = 500_000
LIST_CONCURRENCY = 8

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_STAND_INS = {".": ",", "@": "="}
"""`.` makes `..` and `.lock`; a worktree folder named `@` breaks `git worktree add` (git 2.39)."""
_REPOSITORY_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_GRAFT_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_NAMESPACE",
)
"""Variables that point git at another repository (what `git rev-parse --local-env-vars` lists): set
when lfg is started from a git hook or alias, they would make `git -C` ignore the folder we give."""
_PLUMBING = (
    "--no-pager",
    *("-c", "core.hooksPath=/dev/null"),
    *("-c", "core.fsmonitor=false"),
    *("-c", "color.ui=false"),
    *("-c", "advice.detachedHead=false"),
    *("-c", "advice.addEmbeddedRepo=false"),
)
"""Our own plumbing runs no hook (a checkout would run post-checkout) and starts no fsmonitor daemon."""
_SHORTSTAT = re.compile(r"(\d+) (file|insertion|deletion)")


class WorktreeError(Exception):
    """Why a worktree could not be made, read or removed: one sentence a user can act on."""


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


@dataclass(frozen=True)
class DiffStat:
    added: int
    removed: int
    files: int

    def label(self) -> str:
        """`+12 \u22123, 2 files` (a minus sign), for a pane header or a table."""
        return diff_size(self.added, self.removed, self.files)


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


@dataclass(frozen=True)
class _Output:
    code: int
    out: bytes
    err: bytes
    truncated: bool


def worktrees_root(env: Mapping[str, str] = os.environ) -> Path:
    """Where worktrees are made: `$LFG_WORKTREES`, else the user data folder's `worktrees`."""
    override = env.get(WORKTREES_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("lfgtui")) / "worktrees"


def ref_safe(name: str) -> str:
    """`name` as a folder name and a ref name component (see the module docstring); injective."""
    if not name:
        raise WorktreeError("an empty run or ticket id cannot name a worktree")
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


def _metadata_file(path: Path) -> Path:
    return path.with_name(f"{path.name}.json")


def _index_file(path: Path) -> Path:
    """Our own index of the worktree, kept between diffs so that unchanged files are not hashed again."""
    return path.with_name(f"{path.name}.index")


def _git_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _REPOSITORY_ENV}
    env.update(
        GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", PAGER="cat", LC_ALL="C", GIT_OPTIONAL_LOCKS="0", **extra
    )
    return env


def _quoted(stderr: bytes) -> str:
    """git's stderr as one bounded, inert line."""
    text = inert(" ".join(stderr.decode(errors="replace").split()))
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "\u2026"


async def _read(
    stream: asyncio.StreamReader, limit: int, at_limit: Callable[[], None] | None
) -> tuple[bytes, bool]:
    """Up to `limit` bytes of `stream`, and whether there was more. Past the limit, reading stops
    after calling `at_limit` (which kills the writer), or without it goes on dropping the rest, so
    the writer never blocks on a full pipe."""
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(64 * 1024):
        room = limit - len(kept)
        kept += chunk[:room]
        if len(chunk) > room:
            truncated = True
            if at_limit is not None:
                at_limit()
                break
    return bytes(kept), truncated


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    config: tuple[str, ...] = (),
    timeout_s: float | None = None,
    limit: int = OUTPUT_LIMIT,
) -> _Output:
    """Run `git -C cwd [-c config]… args` bounded in time and output; a stdout longer than `limit` is
    cut and git killed. Raises WorktreeError when git is missing or does not finish in time."""
    timeout_s = GIT_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        process = await asyncio.create_subprocess_exec(
            "git",
            "-C",
            str(cwd),
            *_PLUMBING,
            *(option for setting in config for option in ("-c", setting)),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_git_env(env or {}),
            start_new_session=True,
        )
    except FileNotFoundError:
        raise WorktreeError(
            'git is not installed (or not on PATH); isolation = "worktree" needs it'
        ) from None
    except OSError as exc:
        raise WorktreeError(f"could not run git: {inert(str(exc))}") from None
    assert process.stdout is not None and process.stderr is not None  # piped above
    try:
        async with asyncio.timeout(timeout_s):
            (out, truncated), (err, _) = await asyncio.gather(
                _read(process.stdout, limit, lambda: _kill_group(process)),
                _read(process.stderr, ERROR_LIMIT, None),
            )
            code = await process.wait()
    except TimeoutError:
        raise WorktreeError(
            f"git {args[0]} did not finish within {timeout_s:g} s in {cwd} (a stuck filter or lock?)"
        ) from None
    finally:
        if process.returncode is None:
            _kill_group(process)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), KILL_WAIT_S)
    return _Output(code, out, err, truncated)


async def _checked(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    config: tuple[str, ...] = (),
    timeout_s: float | None = None,
) -> bytes:
    """`_git` whose failure is a WorktreeError quoting git."""
    result = await _git(cwd, *args, env=env, config=config, timeout_s=timeout_s)
    if result.code != 0 and not result.truncated:
        raise WorktreeError(f"git {args[0]} failed in {cwd}: {_quoted(result.err) or f'exit {result.code}'}")
    return result.out


def _line(out: bytes) -> str:
    return out.decode(errors="replace").rstrip("\n")


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
        raise WorktreeError(f"{folder} is not a folder")


async def _repository_of(workdir: Path) -> tuple[Path, str, str]:
    """The top folder of the checkout `workdir` is in, the workdir's sub-path in it, and its HEAD."""
    _require_folder(workdir)
    top = await _git(workdir, "rev-parse", "--show-toplevel")
    if top.code != 0:
        if b"not a git repository" in top.err:
            raise WorktreeError(
                f"{workdir} is not inside a git repository; "
                'isolation = "worktree" needs one (git init, or drop isolation)'
            )
        raise WorktreeError(f"git rev-parse failed in {workdir}: {_quoted(top.err)}")
    repo = Path(_line(top.out))
    prefix = _line(await _checked(workdir, "rev-parse", "--show-prefix"))
    head = await _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if head.code != 0:
        raise WorktreeError(
            f"the repository {repo} has no commits yet; commit once so the worktree has a HEAD to start from"
        )
    return repo, prefix, _line(head.out)


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
    }
    target = _metadata_file(tree.path)
    scratch = target.with_name(f"{target.name}.{secrets.token_hex(4)}")
    scratch.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(scratch, target)


def _read_metadata(file: Path) -> tuple[Worktree, float]:
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
    path = file.with_name(file.name.removesuffix(".json"))
    tree = Worktree(
        path=path,
        workdir=path / record["subdir"],
        repo=Path(record["repo"]),
        branch=record["branch"],
        base=record["base"],
        run_id=record["run_id"],
        ticket_id=record["ticket_id"],
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


async def _branch_exists(repo: Path, branch: str) -> bool:
    found = await _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
    return found.code == 0


async def _forget(repo: Path, path: Path) -> None:
    """Unregister the worktree at `path`, whose folder is gone. Only this one: `git worktree prune`
    would also drop the user's own worktrees whose folder is on an unmounted disk."""
    result = await _git(repo, "worktree", "remove", "--force", str(path))
    if result.code != 0 and b"is not a working tree" not in result.err:
        raise WorktreeError(f"git worktree remove failed in {repo}: {_quoted(result.err)}")


async def create_worktree(workdir: Path, run_id: str, ticket_id: str, root: Path) -> Worktree:
    """The worktree ticket `ticket_id` of run `run_id` works in, made if need be (see the module
    docstring for a retry). Several at once are safe: one repository makes one at a time."""
    repo, prefix, head = await _repository_of(workdir)
    path = root / ref_safe(run_id) / ref_safe(ticket_id)
    wanted = Worktree(path, path / prefix, repo, branch_name(run_id, ticket_id), head, run_id, ticket_id)
    async with _repository_locks.held(repo):
        try:
            private_folder(path.parent)
            tree = await _made(wanted)
            tree.workdir.mkdir(
                parents=True, exist_ok=True
            )  # an untracked or ignored folder is not checked out
        except OSError as exc:
            raise WorktreeError(f"cannot make the worktree {path}: {inert(str(exc))}") from None
    return tree


async def _made(wanted: Worktree) -> Worktree:
    """`wanted` as it is found, or made: the worktree itself when it exists; a new one on its branch
    when only the branch is left, based where it was; else a new branch from HEAD."""
    path, repo, branch = wanted.path, wanted.repo, wanted.branch
    known: tuple[Worktree, float] | None = None
    with contextlib.suppress(OSError, ValueError):
        known = _read_metadata(_metadata_file(path))
    if known is not None and known[0].repo != repo:
        raise WorktreeError(
            f"ticket {wanted.ticket_id!r} of run {wanted.run_id} already has a worktree of {known[0].repo}, "
            f"not of {repo}; use another run id, or lfg worktrees clean --run {wanted.run_id}"
        )
    if known is not None and path.is_dir():
        return replace(wanted, base=known[0].base)
    if path.exists():
        raise WorktreeError(f"{path} exists but lfg has no record of it; move it away, then run again")
    await _forget(repo, path)
    tree = wanted
    add = ("worktree", "add", "-b", branch, str(path), wanted.base)
    if await _branch_exists(repo, branch):
        base = known[0].base if known else _line(await _checked(repo, "merge-base", wanted.base, branch))
        tree = replace(wanted, base=base)
        add = ("worktree", "add", str(path), branch)
    _write_metadata(tree, known[1] if known else time.time())
    try:
        await _checked(repo, *add, timeout_s=CHECKOUT_TIMEOUT_S)
    except WorktreeError:
        if known is None:
            _metadata_file(path).unlink(missing_ok=True)
        raise
    return tree


@contextlib.asynccontextmanager
async def _snapshot(tree: Worktree) -> AsyncIterator[dict[str, str]]:
    """An environment whose GIT_INDEX_FILE holds every file of the worktree as it is now: tracked,
    changed and untracked (not ignored). The worktree's own index is never touched. Each call works
    on a copy of our kept index and puts it back after, so concurrent diffs (the pane, `lfg worktrees
    list`) never wait for each other's lock."""
    if not tree.path.is_dir():
        raise WorktreeError(f"the worktree {tree.path} no longer exists")
    kept = _index_file(tree.path)
    scratch = kept.with_name(f"{kept.name}.{secrets.token_hex(4)}")
    env = {"GIT_INDEX_FILE": str(scratch)}
    config = ("core.splitIndex=false",)  # a split index would depend on files in the worktree's git dir
    try:
        try:
            shutil.copyfile(kept, scratch)
        except FileNotFoundError:
            await _checked(tree.path, "read-tree", "HEAD", env=env, config=config)
        # --ignore-errors: a file we may not read is left out rather than failing every diff.
        await _git(tree.path, "add", "--all", "--ignore-errors", env=env, config=config)
        yield env
        os.replace(scratch, kept)
    finally:
        scratch.unlink(missing_ok=True)


def _diff_args(tree: Worktree, *options: str) -> tuple[str, ...]:
    return ("diff", "--cached", "--no-ext-diff", "--no-textconv", "--no-renames", *options, tree.base, "--")


async def diff_stat(tree: Worktree) -> DiffStat:
    """Lines added and removed and files changed in the worktree since `base`: commits, uncommitted
    changes and new files alike (a binary file counts as a file, with no lines)."""
    async with _snapshot(tree) as env:
        out = await _checked(tree.path, *_diff_args(tree, "--shortstat"), env=env)
    counts = {kind: int(number) for number, kind in _SHORTSTAT.findall(out.decode(errors="replace"))}
    return DiffStat(counts.get("insertion", 0), counts.get("deletion", 0), counts.get("file", 0))


async def diff_text(tree: Worktree, max_chars: int = DIFF_TEXT_CHARS) -> str:
    """The unified diff of the worktree against `base`, raw (untrusted: make it inert to show it). A
    longer one is cut at a line end within `max_chars` and ends with a note saying so."""
    async with _snapshot(tree) as env:
        result = await _git(tree.path, *_diff_args(tree), env=env, limit=max_chars)
    if result.code != 0 and not result.truncated:
        raise WorktreeError(f"git diff failed in {tree.path}: {_quoted(result.err)}")
    text = result.out.decode(errors="replace")
    if not result.truncated:
        return text
    return text[: text.rfind("\n") + 1] + f"[the diff is longer: cut at {max_chars} characters]\n"


async def _has_changes(path: Path) -> bool:
    """Uncommitted changes or untracked (not ignored) files: what `git worktree remove` would lose."""
    status = await _git(path, "status", "--porcelain", "--untracked-files=normal", limit=1)
    if status.code != 0 and not status.truncated:
        raise WorktreeError(f"git status failed in {path}: {_quoted(status.err)}")
    return bool(status.out)


async def _ahead(tree: Worktree) -> int | None:
    """Commits on the branch beyond its base; None when the branch is gone."""
    if not await _branch_exists(tree.repo, tree.branch):
        return None
    count = await _checked(tree.repo, "rev-list", "--count", f"{tree.base}..refs/heads/{tree.branch}", "--")
    return int(_line(count))


async def _info(tree: Worktree, created: float) -> WorktreeInfo:
    exists = tree.path.is_dir()
    dirty = ahead = stat = problem = None
    try:
        if not tree.repo.is_dir():
            raise WorktreeError(f"its repository {tree.repo} no longer exists")
        ahead = await _ahead(tree)
        if exists:
            dirty = await _has_changes(tree.path)
            stat = await diff_stat(tree)
        else:
            problem = "its folder was deleted by hand (lfg worktrees clean forgets it)"
    except WorktreeError as exc:
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
                    read.append(_read_metadata(entry))
                except (OSError, ValueError) as exc:
                    problem = f"its metadata file {entry} is damaged ({inert(str(exc))[:MESSAGE_CHARS]})"
                    damaged.append(_damaged(entry.with_suffix(""), problem))
            elif entry.is_dir() and not _metadata_file(entry).exists():
                damaged.append(_damaged(entry, f"its metadata file {_metadata_file(entry)} is missing"))
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
    _metadata_file(path).unlink(missing_ok=True)
    _index_file(path).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()


async def _settle_branch(tree: Worktree) -> str:
    """Delete the branch when it has no commits beyond its base (nothing is lost); what was done."""
    ahead = await _ahead(tree)
    if ahead is None:
        return ""
    if ahead:
        commits = plural(ahead, "commit")
        return (
            f"; kept branch {tree.branch}: it has {commits} beyond {tree.base[:12]} "
            f"(merge it, or delete it with git branch -D {tree.branch})"
        )
    await _checked(tree.repo, "branch", "-D", tree.branch)
    return f" and its branch {tree.branch} (it had no commits)"


async def remove_worktree(target: Worktree | WorktreeInfo, force: bool) -> Removal:
    """Remove a worktree unless it has uncommitted changes or untracked files (`force` discards
    them); then its branch, unless the branch has commits beyond its base (kept, and named, so they
    can be merged); then our files for it. Never raises: a failure is a refusal that says why."""
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
            if not force and await _has_changes(tree.path):
                return Removal(
                    tree.path,
                    False,
                    True,
                    f"kept {tree.path}: it has uncommitted changes or untracked files "
                    "(commit them, or clean with --force to discard them)",
                )
            await _checked(tree.repo, "worktree", "remove", *(["--force"] if force else []), str(tree.path))
            done = f"removed {tree.path}"
        else:
            await _forget(tree.repo, tree.path)
            done = f"forgot {tree.path} (its folder was already deleted)"
    except WorktreeError as exc:
        return Removal(tree.path, False, True, f"kept {tree.path}: {exc}")
    _forget_files(tree.path)
    try:
        done += await _settle_branch(tree)
    except WorktreeError as exc:
        done += f"; kept branch {tree.branch}: {exc}"
    return Removal(tree.path, True, False, done)
