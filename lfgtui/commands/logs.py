"""lfg's own log: where libraries' log records go during a run, inert, never onto the terminal.

Libraries on the run path log through the root logger (Zed's ACP SDK calls `logging.exception`
with whatever method name an agent sent). With no handler, Python writes such records raw to
stderr: an agent could set the terminal's title or clear the screen of a headless run, or draw
over the TUI. `library_logs` gives the root logger, for a run, one handler instead, writing each
record inert to a private file in lfg's log folder, rotated so that it never grows past a few MiB.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

import platformdirs

from lfgtui.folders import private_folder
from lfgtui.inert import inert

LOG_BYTES = 4 * 1024 * 1024
"""The log is rotated at this size, keeping one older file: at most twice this on disk."""
LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def lfg_log_path() -> Path:
    return Path(platformdirs.user_log_dir("lfgtui")) / "lfg.log"


class InertFormatter(logging.Formatter):
    """A record as one inert text, its message, arguments and traceback alike: what a library quotes
    of an agent's or a server's words can never drive the terminal of whoever reads the log."""

    def format(self, record: logging.LogRecord) -> str:
        return inert(super().format(record))


class DroppedLogs(logging.NullHandler):
    """Where records go when lfg's log folder cannot be made: nowhere, rather than the terminal."""


class PrivateLogHandler(RotatingFileHandler):
    """A rotating log file readable only by us, created when the first record comes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, maxBytes=LOG_BYTES, backupCount=1, encoding="utf-8", delay=True)
        self.setFormatter(InertFormatter(LOG_FORMAT))

    def _open(self) -> TextIO:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace")

    def handleError(self, record: logging.LogRecord) -> None:
        """A record that cannot be written (a full disk) is dropped: logging would print it, its
        arguments raw, to stderr."""

    def close(self) -> None:
        """Closed, even when what is still buffered cannot be written: the run is over, not failed."""
        with contextlib.suppress(OSError):
            super().close()


@contextlib.contextmanager
def library_logs() -> Iterator[Path | None]:
    """While in it, every log record of this process goes to lfg's log (its path is given), or
    nowhere when the log folder cannot be made: never to the terminal, as Python's last resort would
    write it. Left, the root logger is as it was."""
    root = logging.getLogger()
    log = lfg_log_path()
    path: Path | None = log
    try:
        private_folder(log.parent)
        handler: logging.Handler = PrivateLogHandler(log)
    except OSError:
        handler, path = DroppedLogs(), None
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
