"""The person's ignored files a new worktree needs: what the repository's `.worktreeinclude` names.

A fresh checkout has no `.env`, no local config and no installed dependencies. `.worktreeinclude`
at the repository's top (gitignore syntax, as Claude Code and others read it) names what to bring:
only files git ignores there are brought (never a tracked file, nor an untracked one git would show
in the diff), matched by git itself (`ls-files --others --ignored --exclude-from`, `check-ignore`).
A file is copied; a folder of up to `COPY_FILES` entries is copied, a larger one (`node_modules`,
`.venv`) is linked to the original, as a copy would take minutes; past `COPY_BYTES` in all, files
are skipped. A link that leads out of the repository is skipped, never followed: named on its own,
or inside a copied folder (which is copied without it; a folder is linked only for its size). What is brought
must stay ignored in the worktree (a link where `.gitignore` names a folder with a trailing `/` is
not ignored, as git sees a link, not a folder): anything git would see is taken back out, so nothing
brought can reach review or `lfg land`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lfgtui.worktrees.git import GitError, checked, git, quoted

INCLUDE_FILE = ".worktreeinclude"
COPY_FILES = 1000
"""A folder with more entries than this is linked, not copied."""
COPY_BYTES = 64 * 1024 * 1024
"""What is copied in all; a file past it is skipped."""


@dataclass
class Included:
    """What was brought into the worktree, each path relative to its top: what the pane and the
    history say."""

    copied: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Each with why, `path (reason)`."""

    def lines(self) -> list[str]:
        """One line each for what was copied, linked and skipped; none when nothing was named."""
        said = [
            ("copied", self.copied),
            ("linked (too large to copy)", self.linked),
            ("skipped", self.skipped),
        ]
        return [f"{INCLUDE_FILE}: {verb} {', '.join(paths)}" for verb, paths in said if paths]


def _nul_paths(out: bytes) -> list[str]:
    return [name.decode(errors="surrogateescape") for name in out.split(b"\0") if name]


async def _named(repo: Path) -> list[str]:
    """The untracked paths of `repo` that `.worktreeinclude` names and its own ignore rules ignore;
    an ignored folder as one entry ending in `/`."""
    if not (repo / INCLUDE_FILE).is_file():
        return []
    listing = ("ls-files", "--others", "--ignored", "--directory", "-z", f"--exclude-from={INCLUDE_FILE}")
    named = _nul_paths(await checked(repo, *listing))
    if not named:
        return []
    paths = b"\0".join(os.fsencode(name) for name in named)
    ignored = await git(repo, "check-ignore", "--stdin", "-z", stdin=paths)  # exit 1: none is ignored
    if ignored.code not in (0, 1):
        raise GitError(f"git check-ignore failed in {repo}: {quoted(ignored.err)}")
    return sorted(_nul_paths(ignored.out))


def _escapes(path: Path, repo: Path) -> bool:
    """Whether `path`, or a link anywhere in it, leads out of `repo`."""
    return not path.resolve().is_relative_to(repo)


def _small_tree(folder: Path) -> tuple[bool, int]:
    """Whether `folder` has at most `COPY_FILES` entries, and its files' bytes (links count as none)."""
    count, size = 0, 0
    for top, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            count += 1
            entry = Path(top) / name
            if count > COPY_FILES:
                return False, size
            if name in files and not entry.is_symlink():
                size += entry.lstat().st_size
    return True, size


def _links_out(repo: Path, found: Included) -> Callable[[str, list[str]], set[str]]:
    """A `copytree` filter that leaves out each link leading out of `repo`, named as skipped: a copied
    folder holds no way out of the repository, whatever the person's folder holds."""

    def left_out(folder: str, names: list[str]) -> set[str]:
        out = {name for name in names if os.path.islink(os.path.join(folder, name))}
        out = {name for name in out if _escapes(Path(folder, name), repo)}
        for name in sorted(out):
            shown = Path(folder, name).relative_to(repo).as_posix()
            found.skipped.append(f"{shown} (a link out of the repository)")
        return out

    return left_out


def _regular_only(src: str, dst: str) -> None:
    """Copy a regular file; refuse a FIFO, socket or device rather than open it."""
    if not os.path.isfile(src) or os.path.islink(src):
        raise OSError(f"{src} is not a regular file")
    shutil.copy2(src, dst)


def _bring(repo: Path, target: Path, name: str, found: Included, budget: list[int]) -> None:
    """Copy, link or skip one named path (see the module docstring)."""
    path = name.rstrip("/")
    source, dest = repo / path, target / path
    if Path(path).is_absolute() or ".." in Path(path).parts or os.path.lexists(dest):
        found.skipped.append(f"{path} (already in the worktree)" if os.path.lexists(dest) else path)
        return
    if _escapes(source, repo) or _escapes(dest.parent, target.resolve()):
        found.skipped.append(f"{path} (a link out of the repository)")
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        os.symlink(os.readlink(source), dest)
        found.copied.append(path)
    elif source.is_dir():
        small, size = _small_tree(source)
        if small and size <= budget[0]:
            shutil.copytree(
                source, dest, symlinks=True, ignore=_links_out(repo, found), copy_function=_regular_only
            )
            budget[0] -= size
            found.copied.append(path + "/")
        else:
            os.symlink(source, dest)
            found.linked.append(path + "/")
    elif source.is_file():
        size = source.stat().st_size
        if size > budget[0]:
            found.skipped.append(f"{path} (past {COPY_BYTES // (1024 * 1024)} MiB copied in all)")
            return
        _regular_only(str(source), str(dest))
        budget[0] -= size
        found.copied.append(path)
    else:
        found.skipped.append(f"{path} (not a regular file)")


async def include_ignored(repo: Path, target: Path) -> Included:
    """Bring into the worktree at `target` the ignored files of `repo` its `.worktreeinclude` names;
    a path already in the worktree is left as it is. The copying runs on a thread: it may take a
    while, and the loop must not wait for it."""
    top = await asyncio.to_thread(repo.resolve)
    found = await asyncio.to_thread(_bring_all, top, target, await _named(top))
    await _keep_out_of_review(target, found)
    return found


def _bring_all(repo: Path, target: Path, names: list[str]) -> Included:
    found = Included()
    budget = [COPY_BYTES]
    for name in names:
        try:
            _bring(repo, target, name, found, budget)
        except (OSError, shutil.Error) as exc:
            found.skipped.append(f"{name.rstrip('/')} ({exc})")
    return found


async def _keep_out_of_review(target: Path, found: Included) -> None:
    """Take back anything brought that git would not ignore in the worktree: it would be in the diff."""
    brought = [path.rstrip("/") for path in (*found.copied, *found.linked)]
    if not brought:
        return
    shown = await checked(target, "ls-files", "--others", "--exclude-standard", "-z", "--", *brought)
    for name in _nul_paths(shown):
        owner = next((path for path in brought if name == path or name.startswith(path + "/")), None)
        if owner is None:
            continue
        await asyncio.to_thread(_remove, target / owner)
        for kept in (found.copied, found.linked):
            for entry in [entry for entry in kept if entry.rstrip("/") == owner]:
                kept.remove(entry)
        found.skipped.append(f"{owner} (git would not ignore it in the worktree)")
        brought.remove(owner)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)
