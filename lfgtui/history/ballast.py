"""Room kept beside the history file for the run it records, should the disk fill.

The history usually shares its disk with the worktrees (both in lfg's data folder): a ticket that
fills that disk (run/disk_guard.py stops it within a look, but a fast writer fills the disk first)
would leave the rest of the run unrecorded. So while a run records, lfg keeps `BALLAST_MB` aside in
a file of its own beside the history file (`history.sqlite3.reserve-PID-N`, removed as the run's
recording closes; one whose process is gone is removed by the next run to set one aside). While the
disk is all but full, the writer holds its batches; after `ROOM_WAIT_S` (time for the guard to have
stopped the ticket filling the disk, which would take the room as soon as it is freed) it removes
that file and writes, and the run goes on being recorded in the room it freed.
"""

from __future__ import annotations

import errno
import glob
import itertools
import os
import sqlite3
import time
from pathlib import Path

BALLAST_MB = 16
RESERVE = ".reserve-"
FLOOR_MB = 1
"""Less free than this on the history's disk, and a batch is held rather than written."""
ROOM_WAIT_S = 3.0
MIB = 1 << 20
_ROOMS = itertools.count(1)


def full(exc: BaseException) -> bool:
    """Whether `exc` says the disk is full."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class Room:
    """The room one run's recording keeps beside the history file, and whether the writer holds its
    next batch for want of it (see the module)."""

    def __init__(self, history: Path) -> None:
        self.history = history
        self.path = history.with_name(f"{history.name}{RESERVE}{os.getpid()}-{next(_ROOMS)}")
        self._short_since: float | None = None
        self.freed = False

    def set_aside(self) -> None:
        """Allocate `BALLAST_MB` (where the disk lacks it, none), after removing what a gone lfg left."""
        for left in self.history.parent.glob(f"{glob.escape(self.history.name)}{RESERVE}*"):
            pid = left.name.removeprefix(f"{self.history.name}{RESERVE}").split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                left.unlink(missing_ok=True)
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        try:
            os.posix_fallocate(descriptor, 0, BALLAST_MB * MIB)
        except OSError:
            self.path.unlink(missing_ok=True)  # no room for it: a part of it would hold what the disk lacks
        finally:
            os.close(descriptor)

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
        """Free the room for this run's writes, once: whether it was freed now."""
        if self.freed or not self.put_away():
            return False
        self.freed = True
        return True

    def put_away(self) -> bool:
        """Remove the room's file (the recording closes): whether there was one."""
        try:
            self.path.unlink()
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's
    return True
