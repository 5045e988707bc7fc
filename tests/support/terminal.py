"""A pseudo-terminal for running the real app as a subprocess, read as a real terminal reads it.

Its output is drained all the time by a thread: a pty nobody reads fills up and blocks the app's
next write, which looks like a hang (on quitting, the write that restores the terminal).

The thread never blocks in a read: a close of the master while a read of it waits does not hang the
terminal up until that read returns (the kernel keeps the file open for it), so an app that wrote
nothing more after the close never saw the hangup. It waits in a poll it leaves at a `hang_up`.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import threading
import time

from tests.support.patience import PATIENCE

DRAIN_POLL_MS = 50
"""How long the drain waits for output before it looks again whether the terminal is hanging up."""


def _take_as_controlling_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is its standard input."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def sized_by_the_terminal(env: dict[str, str]) -> dict[str, str]:
    """`env` without COLUMNS and LINES, which Textual would take over the pty's size: pytest-xdist
    sets them (80 and 24) in its workers, and a shell may export them."""
    return {name: value for name, value in env.items() if name not in ("COLUMNS", "LINES")}


class Terminal:
    def __init__(self, columns: int = 120, rows: int = 40) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._hanging_up = threading.Event()

    def start(
        self, args: list[str], env: dict[str, str], stdin: int | None = None, controlling: bool = False
    ) -> subprocess.Popen[bytes]:
        """Run `args` writing to this terminal, reading it too unless `stdin` is given.

        With `controlling`, the terminal is the process's controlling terminal, as a shell's is: when
        the terminal hangs up, the kernel sends it SIGHUP. Else it only sees reads end and writes fail.
        """
        process = subprocess.Popen(
            args,
            stdin=self.slave if stdin is None else stdin,
            stdout=self.slave,
            stderr=self.slave,
            env=sized_by_the_terminal(env) | {"TERM": "xterm-256color"},
            start_new_session=not controlling,
            preexec_fn=_take_as_controlling_terminal if controlling else None,
        )
        os.close(self.slave)
        self._reader.start()
        return process

    def _drain(self) -> None:
        poller = select.poll()
        poller.register(self.master, select.POLLIN)
        while not self._hanging_up.is_set():
            if not poller.poll(DRAIN_POLL_MS):
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def wait_for(self, needle: bytes, timeout: float = 30.0, after: int = 0) -> None:
        """Until the app has written `needle`, past byte `after` of its output (bounded: a broken
        feature fails instead of hanging; stretched in a wide run: tests/support/patience.py)."""
        deadline = time.monotonic() + timeout * PATIENCE
        while needle not in self.output[after:]:
            assert time.monotonic() < deadline, f"{needle!r} never showed"
            time.sleep(0.02)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def hang_up(self) -> None:
        """Close the terminal's other side, once the drain has let go of it."""
        self._hanging_up.set()
        self._reader.join()
        os.close(self.master)
