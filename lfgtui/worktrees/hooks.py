"""The hooks a landing runs: the person's, as they were before the change, never the change's own.

`lfg land` runs the repository's hooks on the git commands a person would type (worktrees/land.py).
Where those hooks come from is pinned once, in the person's checkout, for every one of those commands
(`core.hooksPath` given on the command line, which beats any config):

- hooks outside the working tree (`.git/hooks`, or a `core.hooksPath` elsewhere) are the person's:
  they run from there;
- hooks inside the working tree (`core.hooksPath = .githooks`, husky's `.husky/_`) are tracked files
  the change itself may have written: in the ticket's worktree, the scratch worktree of a rebase and
  the person's checkout after the fast-forward, a relative `core.hooksPath` would find the change's
  version. They run from a private copy of the hooks folder as the person's checkout has it before
  the landing, with the files beside it (husky's `.husky/_/pre-commit` runs `.husky/pre-commit`);
  when that folder is missing there, or is too big to be a hooks folder, no hook runs.

`PinnedHooks.said` tells the person which, and names the hook files the change wrote.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from lfgtui.inert import inert
from lfgtui.worktrees.git import checked, line

MAX_HOOK_FILES = 1000
"""The most files a hooks folder copied for a landing may hold (a hooks folder holds a few)."""
MAX_HOOK_BYTES = 16 * 1024 * 1024
_NONE = "core.hooksPath=/dev/null"


@dataclass(frozen=True)
class PinnedHooks:
    config: tuple[str, ...]
    """The `-c` settings every hooked git command of the landing runs with."""
    folder: str | None
    """The hooks folder inside the working tree, relative to its top (None: outside it)."""
    said: str
    """Which hooks run, in a sentence for the person; empty when they are the usual ones."""

    async def changed_by(self, repo: Path, before: str, head: str) -> list[str]:
        """The hook files (in the folder or beside it) the change from `before` to `head` writes."""
        if self.folder is None:
            return []
        parent = Path(self.folder).parent.as_posix()
        spec = f":(literal){self.folder if parent == '.' else parent}/"
        out = await checked(repo, "diff", "--name-only", "-z", "--no-renames", before, head, "--", spec)
        names = (name.decode(errors="surrogateescape") for name in out.split(b"\0") if name)
        return sorted(
            name
            for name in names
            if name.startswith(f"{self.folder}/") or ("/" not in name.removeprefix(f"{parent}/"))
        )


@contextlib.asynccontextmanager
async def persons_hooks(repo: Path) -> AsyncIterator[PinnedHooks]:
    """The hooks of the person's checkout `repo`, pinned for a landing (see the module docstring);
    a copy, when one is made, is deleted after."""
    where = ("rev-parse", "--path-format=absolute", "--git-path", "hooks")
    hooks = Path(line(await checked(repo, *where, hooks=True)))  # hooks=True: as the person's config says
    common = Path(line(await checked(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")))
    hooks, top, common = (_real(path) for path in (hooks, repo, common))
    if not hooks.is_relative_to(top) or hooks.is_relative_to(common):
        yield PinnedHooks((f"core.hooksPath={hooks}",), None, "")
        return
    folder = hooks.relative_to(top).as_posix()
    if not hooks.is_dir():
        yield PinnedHooks((_NONE,), folder, f"no hooks ran: {folder} is not in {repo}")
        return
    with tempfile.TemporaryDirectory(prefix="lfg-hooks-") as scratch:
        copy = Path(scratch, "tree", folder)
        problem = _copy_hooks(hooks, copy, beside=hooks.parent != top)
        if problem is not None:
            yield PinnedHooks((_NONE,), folder, f"no hooks ran: {problem}")
            return
        said = f"the hooks in {folder} ran as they were in {repo} before the landing"
        yield PinnedHooks((f"core.hooksPath={copy}",), folder, said)


def _real(path: Path) -> Path:
    with contextlib.suppress(OSError, RuntimeError):
        return path.resolve()
    return path


def _copy_hooks(hooks: Path, copy: Path, beside: bool) -> str | None:
    """Copy the hooks folder to `copy`, and with `beside` the plain files next to it (links
    followed: the copy holds what they point at now); what is wrong, if it could not."""
    neighbours = [entry for entry in hooks.parent.iterdir() if entry.is_file()] if beside else []
    files = bytes_ = 0
    for folder, _, names in os.walk(hooks):
        for name in names:
            files += 1
            with contextlib.suppress(OSError):
                bytes_ += os.stat(Path(folder, name)).st_size
    files += len(neighbours)
    if files > MAX_HOOK_FILES or bytes_ > MAX_HOOK_BYTES:
        return f"{hooks} holds {files} files ({bytes_} bytes): too many for a hooks folder"
    try:
        shutil.copytree(hooks, copy, symlinks=False, ignore_dangling_symlinks=True)
        for entry in neighbours:
            shutil.copy2(entry, copy.parent / entry.name)
    except (OSError, shutil.Error) as exc:
        return f"the hooks in {hooks} could not be copied ({inert(str(exc))})"
    return None
