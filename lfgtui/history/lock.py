"""The lock that tells a live run from a crashed one.

A run proves it is alive by holding an exclusive `flock` on its own lock file beside the database;
the kernel drops the lock when the process dies, even on SIGKILL, so a second `lfg` running at the
same time never mistakes a live run for a crashed one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from lfgtui.folders import private_folder


class RunLock:
    """An exclusive flock on `<db>.locks/<run id>`, held for as long as the run's process lives."""

    def __init__(self, db: Path, run_id: str) -> None:
        self.path = self.path_for(db, run_id)
        private_folder(self.path.parent)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    @staticmethod
    def path_for(db: Path, run_id: str) -> Path:
        return db.with_name(db.name + ".locks") / run_id

    @classmethod
    def alive(cls, db: Path, run_id: str) -> bool:
        """True while the process of that run holds its lock."""
        try:
            fd = os.open(cls.path_for(db, run_id), os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
