"""A coordinator that stands down (broker/fence.py `stand_down`) gives a TUI's terminal back: it ends
with `os._exit`, so the TUI's own exit never runs, and the person was left in raw mode on the
alternate screen with no echo (issue #74's fence: found by its helper). On a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import termios

import pytest

from lfgtui.broker.fence import STOOD_DOWN
from tests.support.patience import PATIENCE

CHILD = """
import sys, tty
from lfgtui.broker.fence import stand_down
if sys.argv[1] == "raw":
    tty.setraw(0)
    sys.stderr.write("\\x1b[?1049h\\x1b[?25l")  # as the TUI enters its screen
    sys.stderr.flush()
stand_down("another coordinator took this run over")
"""


def _stood_down(mode: str) -> tuple[bytes, list]:
    main, terminal = pty.openpty()
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, mode], stdin=terminal, stdout=terminal, stderr=terminal
        )
        assert child.wait(timeout=60 * PATIENCE) == STOOD_DOWN
        attrs = termios.tcgetattr(terminal)
        os.close(terminal)
        out = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the terminal's last holder closed it
                break
            if not chunk:
                break
            out += chunk
        return out, attrs
    finally:
        os.close(main)


@pytest.mark.parametrize("mode", ["raw", "line"])
def test_standing_down_gives_the_tuis_terminal_back_and_leaves_a_line_terminal_alone(mode: str) -> None:
    out, attrs = _stood_down(mode)
    assert b"lfg: another coordinator took this run over" in out
    assert attrs[3] & termios.ICANON and attrs[3] & termios.ECHO, "line mode and echo, as the shell wants"
    assert (b"\x1b[?1049l\x1b[?25h" in out) == (mode == "raw"), "the TUI's screen left, only where one was"
