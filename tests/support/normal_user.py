"""A whole program (lfg, git, the agents it starts) run as a normal user from tests that run as root
(CI does): `nobody` (tests/support/box.py's `NOBODY`), owning the folders it works in.

What it runs must be reachable to it, and lfg's interpreter often is not (a pyenv Python under
`/root`, which only root may enter; pytest's own tmp folders are root's only too). So the program
starts in a mount namespace of its own (bubblewrap run as root, no other namespace) where each
folder on the way that nobody may not pass is an empty folder it may, holding only what it needs
bound back: lfg's interpreter, its checkout and virtualenv, and the caller's folders. Nothing else
of the machine changes; nobody keeps no capability (`setpriv` drops them with root's uid), and
bubblewrap leaves it no-new-privileges set, as lfg's box sets anyway.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from tests.support.box import NOBODY

UID = GID = 65534
"""`nobody`'s, as `NOBODY` sets them."""
CLONE = Path(__file__).resolve().parents[2]


def lfgs_own() -> tuple[Path, ...]:
    """What running lfg from this interpreter needs: the Python it is (where its links lead), its
    virtualenv and this checkout (an editable install)."""
    python = Path(os.path.realpath(sys.executable))
    return tuple(Path(p) for p in (python.parent, sys.base_prefix, sys.prefix, CLONE))


def passable(folder: Path) -> bool:
    """Whether nobody may pass through `folder` (search it), by its owner, group and mode."""
    found = folder.stat()
    mode = found.st_mode
    if found.st_uid == UID:
        return bool(mode & stat.S_IXUSR)
    return bool(mode & (stat.S_IXGRP if found.st_gid == GID else stat.S_IXOTH))


def blocking(path: Path) -> Path | None:
    """The outermost folder on the way to `path` that nobody may not pass, if any."""
    return next((folder for folder in reversed(path.parents) if not passable(folder)), None)


def as_nobody(argv: Sequence[str], reach: Iterable[Path] = ()) -> list[str]:
    """`argv` run as nobody, `reach` (and lfg's own) reachable to it where they are."""
    needed = {Path(os.path.realpath(path)) for path in (*lfgs_own(), *reach)}
    mounts: list[str] = []
    covered: dict[Path, list[Path]] = {}
    for path in sorted(p for p in needed if not any(p != q and p.is_relative_to(q) for q in needed)):
        if (blocked := blocking(path)) is not None:
            covered.setdefault(blocked, []).append(path)
    for blocked, paths in sorted(covered.items(), key=lambda item: len(item[0].parts)):
        mounts += ["--perms", "0755", "--tmpfs", str(blocked)]
        for path in paths:
            between = [
                folder for folder in path.parents if folder.is_relative_to(blocked) and folder != blocked
            ]
            for folder in reversed(between):  # bubblewrap would make them root's only
                mounts += ["--perms", "0755", "--dir", str(folder)]
            mounts += ["--dev-bind", str(path), str(path)]
    return ["bwrap", "--dev-bind", "/", "/", *mounts, "--", *NOBODY, "--", *argv]


def owned_by_nobody(folder: Path) -> None:
    """`folder` and everything in it nobody's (links themselves, never where they lead)."""
    os.chown(folder, UID, GID, follow_symlinks=False)
    for parent, folders, files in os.walk(folder):
        for name in (*folders, *files):
            os.chown(os.path.join(parent, name), UID, GID, follow_symlinks=False)
