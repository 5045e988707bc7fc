"""Folders lfg creates for itself: its history, its agents' logs, the sim's sessions."""

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
