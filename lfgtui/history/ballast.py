"""Room kept beside the history file for the run it records, should the disk fill.

The history usually shares its disk with the worktrees (both in lfg's data folder): a ticket that
fills that disk (run/disk_guard.py stops it within a look, but a fast writer fills the disk first)
would leave the rest of the run unrecorded. So as a run starts recording, lfg sets `BALLAST_MB`
aside in a file of its own beside the history file. While the disk is all but full, the writer holds
its batches; after `ROOM_WAIT_S` (time for the guard to have stopped the ticket filling the disk,
which would take the room as soon as it is freed) it removes that file and writes, and the run goes
on being recorded in the room it freed. The next run sets it aside again where the disk has room.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import time
from pathlib import Path

BALLAST_MB = 16
FLOOR_MB = 1
"""Less free than this on the history's disk, and a batch is held rather than written."""
ROOM_WAIT_S = 3.0
MIB = 1 << 20


def ballast_of(history: Path) -> Path:
    return history.with_name(f"{history.name}.reserve")


def set_aside(history: Path) -> None:
    """Keep `BALLAST_MB` beside `history` (allocated, not just sized); where the disk lacks it, none."""
    path = ballast_of(history)
    with contextlib.suppress(OSError):
        if path.stat().st_blocks * 512 >= BALLAST_MB * MIB:
            return
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.posix_fallocate(descriptor, 0, BALLAST_MB * MIB)
    except OSError:
        path.unlink(missing_ok=True)  # no room for it: a part of it would hold what the disk lacks
    finally:
        os.close(descriptor)


def full(exc: BaseException) -> bool:
    """Whether `exc` says the disk is full."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class Room:
    """Whether the writer holds its next batch for want of room (see the module)."""

    def __init__(self, history: Path) -> None:
        self.history = history
        self._short_since: float | None = None
        self.freed = False

    def short(self) -> bool:
        """Whether to hold the next batch: the disk holding the history has less than `FLOOR_MB`
        free, for less than `ROOM_WAIT_S` yet (then the room kept beside it is freed, and the batch
        written). Asked before a batch, not after it failed: a batch the file refused leaves the
        recorder's rows in memory out of step with it, and is not written again."""
        try:
            found = os.statvfs(self.history.parent)
        except OSError:
            return False
        if found.f_bavail * found.f_frsize >= FLOOR_MB * MIB:
            self._short_since = None
            return False
        now = time.monotonic()
        if self._short_since is None:
            self._short_since = now
        if now - self._short_since < ROOM_WAIT_S:
            return True
        self._short_since = None
        self.free()
        return False

    def free(self) -> bool:
        """Free the room kept beside the file, once: whether it was freed now."""
        if self.freed:
            return False
        try:
            ballast_of(self.history).unlink()
        except OSError:
            return False
        self.freed = True
        return True
