"""Folders lfg creates for itself (its history, its agents' logs, the sim's sessions), and the files
of its own that no sandbox may show."""

from __future__ import annotations

import contextlib
from pathlib import Path


def private_folder(folder: Path) -> None:
    """Create `folder` and each missing parent readable only by us (0700): `mkdir(parents=True)`
    would give the parents the umask's mode instead. A folder that exists is left as it is."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another lfg made it since the check: it is its mode
            each.mkdir(mode=0o700)
            each.chmod(0o700)


_KEPT_FROM_SANDBOXES: set[Path] = set()


def keep_from_sandboxes(path: Path) -> None:
    """Note a file of lfg's own that a sandboxed agent must not read (the history this lfg has open,
    wherever `--db` put it: every prompt and answer of every run): each sandbox started after hides
    it and its SQLite `-wal` and `-shm`."""
    _KEPT_FROM_SANDBOXES.add(path.resolve())


def kept_from_sandboxes() -> tuple[Path, ...]:
    """The files `keep_from_sandboxes` noted, with their `-wal` and `-shm`: those that exist now
    (a sandbox can only hide what is there)."""
    files = (
        path.with_name(path.name + suffix)
        for path in sorted(_KEPT_FROM_SANDBOXES)
        for suffix in ("", "-wal", "-shm")
    )
    return tuple(file for file in files if file.exists())
