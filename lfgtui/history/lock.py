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
from typing import ClassVar

from lfgtui.folders import private_folder


class RunLock:
    """An exclusive flock on `<db>.locks/<run id>`, held for as long as the run's process lives."""

    _claimed: ClassVar[dict[Path, RunLock]] = {}
    """The runs this process claimed (`claim`) and has not yet taken, by lock file."""

    def __init__(self, db: Path, run_id: str) -> None:
        self.path = self.path_for(db, run_id)
        private_folder(self.path.parent)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    @classmethod
    def claim(cls, db: Path, run_id: str) -> RunLock:
        """Take the run's lock before reading the run to take it up again (`lfg resume`, `fork`...),
        so that no other lfg takes it up between the read and the recording: checked, then taken,
        two forks started together both passed the check, and the one that lost the lock ran
        unrecorded. `take` in this process gets the claimed lock. Raises `OSError` (`BlockingIOError`)
        while another lfg holds it."""
        path = cls.path_for(db, run_id)
        held = cls._claimed.get(path)
        if held is None:
            held = cls._claimed[path] = cls(db, run_id)
        return held

    @classmethod
    def take(cls, db: Path, run_id: str) -> RunLock:
        """The run's lock for recording it: the one this process claimed, else taken now."""
        held = cls._claimed.pop(cls.path_for(db, run_id), None)
        return held if held is not None else cls(db, run_id)

    @classmethod
    def release_claims(cls) -> None:
        """Let go of the runs this process claimed and did not take (a command that refused after
        reading the run)."""
        while cls._claimed:
            cls._claimed.popitem()[1].release()

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
