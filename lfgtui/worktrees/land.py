"""Landing a ticket's change: its worktree's branch brought onto the branch it was made from, then
the worktree archived (`lfg land`; a tournament lands its winner with `land`).

The order, and why each step cannot harm the person's checkout:

1. The worktree's files are read as review reads them (worktrees/tree.py `reviewed`: lfg's own
   index, the worktree's own git folder, index and filters given no say, worktrees/confined.py), and
   that tree, the one review shows, is what lands: when the branch lfg made (`refs/heads/<branch>`,
   never the worktree's HEAD) does not hold it yet, lfg commits it there (`git commit-tree`, no
   hook runs on it: they run on the commit that lands). Nothing the agent staged in the worktree's
   own index lands; what it staged that review does not show (an ignored `.env`) is named as not
   landed.
2. The change is combined with the base branch's tip in a scratch worktree of lfg's own, detached,
   in a temporary folder: `--squash` makes one commit on the base, `--merge` a merge commit (always,
   even when a fast-forward was possible), `--rebase` the branch's commits replayed on the base. A
   conflict names the files and stops; the scratch worktree is removed with its half merge.
3. The base branch moves forward to the result, and only by a fast-forward: when no checkout has it,
   its ref is compare-and-swapped (`git update-ref NEW OLD`); when a checkout has it (the person's
   own), only if no file the landing changes is modified, staged, untracked or ignored there, and
   then by `git merge --ff-only` in that checkout, which keeps every other uncommitted change as it
   is and refuses rather than overwrite one. Nothing is ever stashed (`merge.autoStash` and
   `rebase.autoStash` are off). A checkout in the middle of something that holds the base branch
   (a rebase or bisect of it, whose HEAD is detached; a merge, cherry-pick, revert or `git am` on
   it) refuses the landing, naming the checkout and what it is doing, as git itself would.
   With `pull_request`, nothing moves: the result is pushed as the worktree's branch instead, and
   `gh pr create` opens the pull request when gh is installed and logged in.
4. The worktree is archived: removed (it is clean after step 1), its branch deleted unless
   `keep_branch`; both are kept when the base branch does not have the landed commit after all (a
   hook moved it back).

A tournament's contestant lands its checked snapshot (worktrees/snapshot.py): the commit of its work its
check ran on and its verdict showed. When its worktree no longer holds exactly that (it changed
after the check), step 1 is skipped and that commit is what step 2 combines; the worktree and its
branch are kept, with what changed after, and the landing says so.

When a step before 4 fails, step 1 is undone (the branch back to its old commit), so everything is
as it was. Hooks: the steps that are git commands a person would type (the squash or merge commit,
rebase, push, the base's fast-forward, its update-ref) run the person's hooks as those commands
would, never ones the change wrote (worktrees/hooks.py: hooks kept in the working tree run from a
copy taken from the person's checkout before the landing); lfg's own bookkeeping (the scratch
worktree, status, diffs) runs none, and no filter runs in the scratch worktree. Another ticket's
worktree whose HEAD names the base branch is not a checkout of it: its git folder is the agent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lfgtui.inert import inert
from lfgtui.worktrees.confined import common_dir, no_filters, own_index
from lfgtui.worktrees.git import GitError, checked, git, line, quoted
from lfgtui.worktrees.hooks import persons_hooks
from lfgtui.worktrees.patch import Unshown
from lfgtui.worktrees.snapshot import kept
from lfgtui.worktrees.tree import CHECKOUT_TIMEOUT_S, Worktree, metadata_file, read_metadata, reviewed

GH_TIMEOUT_S = 120.0
"""The most `gh pr create` may take: it talks to the forge."""
PUSH_TIMEOUT_S = 300.0
SUBJECT_CHARS = 72
BODY_CHARS = 4000
_MERGING = ("merge.autoStash=false", "rebase.autoStash=false", "rebase.updateRefs=false", "merge.ff=true")
"""Never a stash the person did not ask for, no other branch moved by a rebase, and a squash that can
combine a base that moved (a `merge.ff = only` would refuse it; `--merge` and the base's update say
`--no-ff` and `--ff-only` themselves)."""


class Strategy(StrEnum):
    SQUASH = "squash"
    MERGE = "merge"
    REBASE = "rebase"


class LandError(GitError):
    """Why the change was not landed; everything was left as it was."""


class LandConflict(LandError):
    """The base branch moved and the change conflicts with it in `files`."""

    def __init__(self, message: str, files: tuple[str, ...]) -> None:
        super().__init__(message)
        self.files = files


@dataclass(frozen=True)
class LandOptions:
    message: str
    """The message of the commit of what the agent left uncommitted, and of the squash or merge."""
    strategy: Strategy = Strategy.SQUASH
    pull_request: bool = False
    keep_branch: bool = False
    onto: str | None = None
    """The base branch, when not the one the worktree was made from."""
    include_unreviewed: bool = False
    """Land files review listed without showing them (too big to show): the person reviewed them
    some other way. An embedded git repository is never landed."""
    tree: str | None = None
    """The tree id (or a prefix of it) review showed: landing refuses when the worktree's files
    are another tree now."""


@dataclass(frozen=True)
class Landed:
    """What was landed where (one row of the history's `landings`)."""

    repo: str
    branch: str
    base_branch: str
    strategy: str
    base_before: str
    landed_commit: str
    """The base branch's new commit; with a pull request, the pushed branch's."""
    remote: str | None = None
    pull_request: str | None = None
    """The pull request's address as gh gave it; None when none was opened."""
    landed_at: float = 0.0
    committed: bool = False
    """What the agent left uncommitted was committed first."""
    reviewed: str = ""
    """Which tree was landed (the one review shows), and what the agent staged that was not, in a
    sentence."""
    finish: str | None = None
    """The command that opens the pull request, when lfg could not; `why` says why it could not."""
    why: str | None = None
    archived: str = ""
    """What archiving the worktree did, in a sentence."""
    hooks: str = ""
    """Which hooks ran, when not the usual ones (worktrees/hooks.py), in a sentence."""

    def summary(self, ticket_id: str) -> str:
        """What landing `ticket_id` did, in one sentence for a notice: where it landed, or where it
        was pushed and its pull request (or the command that opens it), the hooks when they were not
        the usual ones, then the archiving."""
        commit = f"{self.landed_commit[:12]} ({self.strategy})"
        archived = "; ".join(part for part in (self.reviewed, self.hooks, self.archived) if part)
        if self.remote is None:
            return f"Landed {ticket_id} onto {self.base_branch}: {commit}; {archived}"
        pushed = f"Pushed {ticket_id} to {self.remote} as {self.branch}: {commit}"
        if self.pull_request:
            return f"{pushed}; pull request {self.pull_request}; {archived}"
        return f"{pushed}; no pull request opened: {self.why}; open it with: {self.finish}; {archived}"


def ticket_message(run_id: str, ticket_id: str, title: str, prompt: str) -> str:
    """A commit message made from the ticket: its title (else its prompt's first line) as the
    subject, the prompt as the body, and where it came from."""
    lines = [text.strip() for text in prompt.splitlines() if text.strip()]
    subject = " ".join(title.split()) or (lines[0] if lines else "") or f"ticket {ticket_id}"
    if len(subject) > SUBJECT_CHARS:
        subject = subject[: SUBJECT_CHARS - 1] + "\u2026"
    body = prompt.strip()
    if len(body) > BODY_CHARS:
        body = body[: BODY_CHARS - 1] + "\u2026"
    source = f"Landed by lfg from ticket {ticket_id} of run {run_id}."
    return "\n\n".join(part for part in (subject, body if body != subject else "", source) if part)


async def land(tree: Worktree, options: LandOptions) -> Landed:
    """Land the change of the worktree `tree` (see the module docstring). Raises LandError, with
    everything left as it was, when it cannot; archiving's failure is said in `archived`."""
    from lfgtui.worktrees.cleanup import remove_worktree

    base_branch = options.onto or tree.base_branch
    if base_branch is None:
        raise LandError(
            f"lfg does not know which branch the worktree {tree.path} was made from "
            "(it was made on a detached HEAD, or by an older lfg): say it with --onto BRANCH"
        )
    if not tree.path.is_dir():
        raise LandError(f"the worktree {tree.path} no longer exists")
    review = await reviewed(tree)
    if options.tree is not None and not review.files.startswith(options.tree):
        raise LandError(
            f"the worktree {tree.path} no longer holds what review showed (tree {options.tree}): it holds "
            f"tree {review.files[:12]} now; review it again (lfg review {tree.run_id} {tree.ticket_id}); "
            "nothing was changed"
        )
    _reviewable(tree, review.parts.unshown(), options.include_unreviewed)
    before = await _branch_commit(tree.repo, base_branch)
    tip = await _own_branch(tree)
    snapshot = await kept(tree, review.files)
    not_landed = await _staged_unshown(tree, review.files)
    quiet = await no_filters(await common_dir(tree.repo))
    async with persons_hooks(tree.repo) as hooks:
        committed = None
        if snapshot is None:
            committed = await _commit_leftovers(tree, tip, review.files, options)
        try:
            head = snapshot or committed or tip
            if int(line(await checked(tree.repo, "rev-list", "--count", f"{before}..{head}", "--"))) == 0:
                raise LandError(f"nothing to land: {base_branch} already has every change of {tree.branch}")
            written = await hooks.changed_by(tree.repo, before, head)
            result = await _combine(tree.repo, before, head, options, hooks.config, quiet)
            remote = pull_request = finish = why = None
            if options.pull_request:
                remote = await _remote(tree.repo, base_branch)
                await _push(tree.repo, remote, result, tree.branch, hooks.config)
            else:
                await _move_base(tree.repo, base_branch, before, result, hooks.config)
        except BaseException:
            if committed is not None:
                await _undo_commit(tree, tip, committed)
            raise
    said = hooks.said
    if written:
        shown = ", ".join(inert(name) for name in written[:10])
        said += f"; the change's own {shown}{' and more' if len(written) > 10 else ''} did not run"
    if options.pull_request:
        subject, _, body = options.message.partition("\n\n")
        pull_request, finish, why = await _open_pull_request(
            tree.repo, base_branch, tree.branch, subject, body
        )
    if snapshot is not None:
        archived = (
            f"landed its checked snapshot {snapshot[:12]}, not what changed in {tree.path} after its check: "
            f"kept the worktree and its branch {tree.branch} with those changes"
        )
    elif options.pull_request or await _has(tree.repo, base_branch, result):
        removal = await remove_worktree(tree, force=False, landed=True, keep_branch=options.keep_branch)
        archived = removal.message
    else:
        archived = (
            f"kept {tree.path} and its branch {tree.branch}: {base_branch} no longer has the landed "
            f"commit {result[:12]} (something moved it back after the landing; git reflog {base_branch} "
            "shows what), so the work stays until it is sorted out and landed again"
        )
    return Landed(
        repo=str(tree.repo),
        branch=tree.branch,
        base_branch=base_branch,
        strategy=options.strategy.value,
        base_before=before,
        landed_commit=result,
        remote=remote,
        pull_request=pull_request,
        landed_at=time.time(),
        committed=committed is not None,
        reviewed=_reviewed_said(tree, review.files, not_landed),
        finish=finish,
        why=why,
        archived=archived,
        hooks=said,
    )


def _reviewable(tree: Worktree, unshown: list[Unshown], include_unreviewed: bool) -> None:
    """Refuse to land what review could not show (worktrees/patch.py): a file too big to show, unless
    `include_unreviewed`; an embedded git repository, always (git would land a gitlink to a commit
    that exists only in the worktree, and none of its files)."""
    embedded = [u for u in unshown if u.embedded]
    if embedded:
        names = ", ".join(inert(u.path) for u in embedded[:10])
        first = inert(embedded[0].path)
        raise LandError(
            f"{names} in {tree.path} is an embedded git repository (a folder with its own "
            ".git): git would land only a link to a commit that exists in that folder alone, not its "
            f"files. Remove {first}/.git there to land its files as plain files (review shows them "
            "then), or remove the folder; nothing was changed"
        )
    if unshown and not include_unreviewed:
        shown = "; ".join(f"{inert(u.path)} ({u.reason})" for u in unshown[:10])
        more = f" and {len(unshown) - 10} more" if len(unshown) > 10 else ""
        raise LandError(
            f"review could not show {len(unshown)} file(s): {shown}{more}. Read them "
            f"yourself in {tree.path}, then land with "
            f"lfg land {tree.run_id} {tree.ticket_id} --include-unreviewed; nothing was changed"
        )


async def _own_branch(tree: Worktree) -> str:
    """The tip of the branch lfg made for the ticket, which must still start from the commit review
    compares with (an agent outside a sandbox may have reset it elsewhere)."""
    found = await git(tree.repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{tree.branch}^{{commit}}")
    if found.code != 0:
        raise LandError(f"the branch {tree.branch} lfg made for the ticket is gone from {tree.repo}")
    tip = line(found.out)
    if (await git(tree.repo, "merge-base", "--is-ancestor", tree.base, tip)).code != 0:
        raise LandError(
            f"the branch {tree.branch} no longer starts from {tree.base[:12]}, the commit review "
            "compares the worktree with (it was reset elsewhere): lfg lands only what review shows; "
            "nothing was changed"
        )
    return tip


async def _staged_unshown(tree: Worktree, files: str) -> list[str]:
    """The files the worktree's own index holds that the tree review shows has not (an ignored
    `.env` the agent staged, a file staged then deleted): never landed, and named."""
    shared = await common_dir(tree.repo)
    index = own_index(tree.path, shared)
    if index is None:
        return []
    env = {"GIT_DIR": str(shared), "GIT_WORK_TREE": str(tree.path), "GIT_INDEX_FILE": str(index)}
    staged = await git(tree.path, "ls-files", "-z", env=env)
    if staged.code != 0:
        return []
    shown = await checked(tree.repo, "ls-tree", "-r", "-z", "--name-only", files)
    names = (out.decode(errors="surrogateescape").split("\0") for out in (staged.out, shown))
    return sorted(set(next(names)) - set(next(names)) - {""})


def _reviewed_said(tree: Worktree, files: str, not_landed: list[str]) -> str:
    """Which tree landed, and what the agent staged that did not, in a sentence."""
    said = f"landed the files review shows (tree {files[:12]} against {tree.base[:12]})"
    if not not_landed:
        return said
    shown = ", ".join(inert(name) for name in not_landed[:10])
    more = f" and {len(not_landed) - 10} more" if len(not_landed) > 10 else ""
    return (
        f"{said}; not landed: {shown}{more}, staged in the worktree's own index but not shown by "
        "review (ignored, or no longer there)"
    )


async def _has(repo: Path, branch: str, commit: str) -> bool:
    """Whether `commit` is reachable from `branch`: only then are the worktree and branch archived."""
    found = await git(repo, "merge-base", "--is-ancestor", commit, f"refs/heads/{branch}")
    return found.code == 0


async def _branch_commit(repo: Path, branch: str) -> str:
    found = await git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}")
    if found.code != 0:
        raise LandError(f"the base branch {branch} does not exist in {repo}")
    return line(found.out)


async def _commit_leftovers(tree: Worktree, tip: str, files: str, options: LandOptions) -> str | None:
    """Commit the tree review shows, `files`, on the ticket's branch when its tip `tip` does not hold
    it yet; the new commit (None: nothing to commit)."""
    if line(await checked(tree.repo, "rev-parse", f"{tip}^{{tree}}")) == files:
        return None
    made = await git(tree.repo, "commit-tree", files, "-p", tip, "-m", options.message)
    if made.code != 0:
        raise LandError(f"git commit-tree refused what the agent left in {tree.path}: {quoted(made.err)}")
    commit = line(made.out)
    moved = await git(tree.repo, "update-ref", f"refs/heads/{tree.branch}", commit, tip)
    if moved.code != 0:
        raise LandError(f"{tree.branch} moved while landing: land again ({quoted(moved.err)})")
    return commit


async def _undo_commit(tree: Worktree, tip: str, commit: str) -> None:
    """Take back the commit of the agent's leftovers: the branch to its old commit."""
    moved = await git(tree.repo, "update-ref", f"refs/heads/{tree.branch}", tip, commit)
    if moved.code != 0:
        raise LandError(
            f"the commit of what the agent left in {tree.path} could not be taken back "
            f"(git update-ref refs/heads/{tree.branch} {tip[:12]} does it): {quoted(moved.err)}"
        )


async def _conflicts(place: Path, quiet: dict[str, str]) -> tuple[str, ...]:
    out = await checked(place, "diff", "--name-only", "-z", "--diff-filter=U", env=quiet)
    return tuple(sorted({name.decode(errors="replace") for name in out.split(b"\0") if name}))


async def _combine(
    repo: Path, before: str, head: str, options: LandOptions, hooks: tuple[str, ...], quiet: dict[str, str]
) -> str:
    """The commit the base branch would move to: `head` combined with `before` by the strategy, made
    in a scratch worktree that is removed after, whatever happened in it; with `quiet`, no filter
    runs there (the change's `.gitattributes` would choose them)."""
    with tempfile.TemporaryDirectory(prefix="lfg-land-") as scratch:
        place = Path(scratch) / "land"
        start = head if options.strategy is Strategy.REBASE else before
        add = ("worktree", "add", "--detach", str(place), start)
        await checked(repo, *add, env=quiet, timeout_s=CHECKOUT_TIMEOUT_S)
        try:
            return await _combined_in(place, before, head, options, hooks, quiet)
        finally:
            removed = await git(repo, "worktree", "remove", "--force", str(place))
            if removed.code != 0:
                with contextlib.suppress(GitError):
                    await git(repo, "worktree", "prune")


async def _combined_in(
    place: Path, before: str, head: str, options: LandOptions, hooks: tuple[str, ...], quiet: dict[str, str]
) -> str:
    strategy = options.strategy
    if strategy is Strategy.SQUASH:
        args: tuple[str, ...] = ("merge", "--squash", head)
    elif strategy is Strategy.MERGE:
        args = ("merge", "--no-ff", "-m", options.message, head)
    else:
        args = ("rebase", before)
    done = await git(
        place, *args, env=quiet, config=(*_MERGING, *hooks), hooks=True, timeout_s=CHECKOUT_TIMEOUT_S
    )
    if done.code != 0:
        files = await _conflicts(place, quiet)
        if files:
            raise LandConflict(
                f"the change conflicts with the base branch in {len(files)} file(s): "
                + ", ".join(inert(name) for name in files),
                files,
            )
        raise LandError(f"git {args[0]} refused to land the change: {quoted(done.err or done.out)}")
    if strategy is Strategy.SQUASH:
        if (await git(place, "diff", "--cached", "--quiet", env=quiet)).code == 0:
            raise LandError("nothing to land: the base branch already has every change of the branch")
        commit = ("commit", "--quiet", "-m", options.message)
        made = await git(place, *commit, env=quiet, config=hooks, hooks=True)
        if made.code != 0:
            raise LandError(f"git commit refused the squashed change: {quoted(made.err or made.out)}")
    return line(await checked(place, "rev-parse", "--verify", "HEAD^{commit}"))


@dataclass(frozen=True)
class _Checkout:
    """One checkout of the repository (its own, or a worktree of it), as git keeps it in its git dir."""

    path: Path
    git_dir: Path

    def _read(self, name: str) -> str:
        """The first line of a file of the git dir; "" when it is missing or unreadable."""
        try:
            return (self.git_dir / name).read_text(errors="replace").partition("\n")[0].strip()
        except OSError:
            return ""

    def branch(self) -> str | None:
        """The branch its HEAD is on; None when detached."""
        head = self._read("HEAD")
        return head.removeprefix("ref: refs/heads/") if head.startswith("ref: refs/heads/") else None

    def doing(self, branch: str) -> tuple[str, str] | None:
        """What this checkout is in the middle of that holds `branch`, as git's own refusal would
        count it (rebasing or bisecting it, whatever HEAD says; merging, cherry-picking, reverting or
        applying patches on it), and the commands that finish it; None when nothing."""
        rebase = "git rebase --continue, or --abort"
        for state in ("rebase-merge", "rebase-apply"):
            if self._read(f"{state}/head-name") == f"refs/heads/{branch}":
                return f"a rebase of {branch}", rebase
        if f"refs/heads/{branch}" in self._update_refs():
            return f"a rebase that will update {branch}", rebase
        if self._read("BISECT_START") == branch:
            return f"a bisect started on {branch}", "git bisect reset"
        if self.branch() != branch:
            return None
        for name, what, finish in (
            ("MERGE_HEAD", "a merge", "git merge --continue, or --abort"),
            ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --continue, or --abort"),
            ("REVERT_HEAD", "a revert", "git revert --continue, or --abort"),
            ("sequencer/todo", "a cherry-pick or revert", "git cherry-pick --continue, or --abort"),
            ("rebase-apply/applying", "git am", "git am --continue, or --abort"),
        ):
            if (self.git_dir / name).exists():
                return f"{what} on {branch}", finish
        return None

    def _update_refs(self) -> set[str]:
        """The branches a rebase with --update-refs will move when it ends."""
        try:
            text = (self.git_dir / "rebase-merge" / "update-refs").read_text(errors="replace")
        except OSError:
            return set()
        return set(text.splitlines()[0::3])


async def _checkouts(repo: Path) -> list[_Checkout]:
    """Every checkout of the repository, found where git itself keeps them: the main one, then each
    worktree's git dir (`<common>/worktrees/<id>`) whatever its folder's state, but tickets'."""
    common = Path(line(await checked(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")))
    listed = await checked(repo, "worktree", "list", "--porcelain", "-z")
    main, *fields = listed.decode(errors="surrogateescape").split("\0\0")[0].split("\0")
    found = [] if "bare" in fields else [_Checkout(Path(main.removeprefix("worktree ")), common)]
    try:
        linked = sorted((common / "worktrees").iterdir())
    except OSError:
        linked = []
    for git_dir in linked:
        try:
            gitfile = Path((git_dir / "gitdir").read_text(errors="surrogateescape").strip())
        except OSError:
            gitfile = git_dir / ".git"
        if not _tickets(gitfile.parent):
            found.append(_Checkout(gitfile.parent, git_dir))
    return found


def _tickets(path: Path) -> bool:
    """Whether `path` is a ticket's worktree lfg made (its record lies beside it): its git folder is
    the agent's to write, so what its HEAD names is no checkout of the person's."""
    try:
        read_metadata(metadata_file(path))
    except (OSError, ValueError):
        return False
    return True


async def _checkout_of(repo: Path, branch: str) -> Path | None:
    """The checkout that has `branch` checked out; raises LandError when a checkout is in the middle
    of something that holds it (a rebase or bisect of it leaves HEAD detached, so `git worktree list`
    does not show it there, yet git refuses to move it; so does lfg)."""
    checkout: Path | None = None
    for found in await _checkouts(repo):
        doing = found.doing(branch)
        if doing is not None:
            what, finish = doing
            raise LandError(
                f"{branch} is in use in {found.path}: it is in the middle of {what}; finish it there "
                f"({finish}), then land again; nothing was changed"
            )
        if found.branch() == branch and checkout is None:
            checkout = found.path
    return checkout


def _status_paths(out: bytes) -> set[str]:
    """Every path `git status --porcelain -z` names (both of a rename)."""
    paths: set[str] = set()
    fields = iter(out.decode(errors="surrogateescape").split("\0"))
    for entry in fields:
        if len(entry) < 4:
            continue
        paths.add(entry[3:])
        if "R" in entry[:2] or "C" in entry[:2]:
            paths.add(next(fields, ""))
    return paths


async def _in_the_way(checkout: Path, before: str, result: str) -> list[str]:
    """The files the landing changes that the checkout has uncommitted work in: modified, staged,
    untracked, or ignored and about to be written over."""
    changed = await checked(checkout, "diff", "--name-only", "-z", "--no-renames", before, result, "--")
    added = await checked(
        checkout, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=A", before, result, "--"
    )
    status = await checked(checkout, "status", "--porcelain", "-z", "--untracked-files=normal")
    dirty = _status_paths(status)
    folders = tuple(path for path in dirty if path.endswith("/"))
    new = {name.decode(errors="surrogateescape") for name in added.split(b"\0") if name}
    names = (raw.decode(errors="surrogateescape") for raw in changed.split(b"\0") if raw)
    return [
        name
        for name in names
        if name in dirty or name.startswith(folders) or (name in new and _on_disk(checkout / name))
    ]


def _on_disk(path: Path) -> bool:
    """A file (or link, or folder) is there, untracked or ignored, that a new file would replace."""
    return os.path.lexists(path)


async def _move_base(repo: Path, branch: str, before: str, result: str, hooks: tuple[str, ...]) -> None:
    """Move `branch` from `before` to `result` (a descendant of it) without touching uncommitted work."""
    checkout = await _checkout_of(repo, branch)
    if checkout is None:
        moved = await git(
            repo, "update-ref", f"refs/heads/{branch}", result, before, config=hooks, hooks=True
        )
        if moved.code != 0:
            raise LandError(f"{branch} moved while landing: land again ({quoted(moved.err)})")
        return
    in_the_way = await _in_the_way(checkout, before, result)
    if in_the_way:
        shown = ", ".join(inert(name) for name in in_the_way[:10])
        more = f" and {len(in_the_way) - 10} more" if len(in_the_way) > 10 else ""
        raise LandError(
            f"{branch} is checked out in {checkout} with uncommitted work in files the landing changes "
            f"({shown}{more}): commit or move them there, then land again; nothing was changed"
        )
    moved = await git(
        checkout,
        *("merge", "--ff-only", "--quiet", result),
        config=(*_MERGING, *hooks),
        hooks=True,
        timeout_s=CHECKOUT_TIMEOUT_S,
    )
    if moved.code != 0:
        raise LandError(
            f"git merge --ff-only refused to move {branch} in {checkout}: {quoted(moved.err or moved.out)}"
        )


async def _remote(repo: Path, base_branch: str) -> str:
    """The remote to push to: the base branch's, else the only one, else `origin`."""
    configured = await git(repo, "config", "--get", f"branch.{base_branch}.remote")
    if configured.code == 0 and line(configured.out) not in ("", "."):
        return line(configured.out)
    remotes = line(await checked(repo, "remote")).split()
    if len(remotes) == 1:
        return remotes[0]
    if "origin" in remotes:
        return "origin"
    raise LandError(f"{repo} has no remote to push to (git remote add origin URL)")


async def _push(repo: Path, remote: str, result: str, branch: str, hooks: tuple[str, ...]) -> None:
    refspec = f"{result}:refs/heads/{branch}"
    pushed = await git(
        repo, "push", "--quiet", remote, refspec, config=hooks, hooks=True, timeout_s=PUSH_TIMEOUT_S
    )
    if pushed.code != 0:
        raise LandError(f"git push to {remote} failed: {quoted(pushed.err or pushed.out)}")


async def _open_pull_request(
    repo: Path, base_branch: str, branch: str, title: str, body: str
) -> tuple[str | None, str | None, str | None]:
    """The pull request's address; or None, the command that opens it, and why lfg did not (gh is
    missing, not logged in, or failed)."""
    import shlex

    args = ["pr", "create", "--base", base_branch, "--head", branch, "--title", title, "--body", body]
    finish = shlex.join(["gh", *args[:6], "--fill"])
    if shutil.which("gh") is None:
        return None, finish, "gh (the GitHub CLI) is not installed"
    status, _, _ = await _gh(repo, "auth", "status")
    if status != 0:
        return None, finish, "gh is not logged in (gh auth login)"
    code, out, err = await _gh(repo, *args)
    if code != 0:
        return None, finish, f"gh pr create failed: {quoted(err) or f'exit {code}'}"
    words = out.decode(errors="replace").split()
    return (inert(words[-1]) if words else None), None, None


async def _gh(repo: Path, *args: str) -> tuple[int, bytes, bytes]:
    """Run gh in the repository: its exit code, stdout and stderr; 1 when it does not finish in time."""
    process = await asyncio.create_subprocess_exec(
        "gh",
        *args,
        cwd=repo,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "GH_PROMPT_DISABLED": "1", "NO_COLOR": "1"},
    )
    try:
        async with asyncio.timeout(GH_TIMEOUT_S):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        return 1, b"", b"gh did not finish in time"
    return process.returncode or 0, out, err
