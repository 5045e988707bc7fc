"""`lfg web` as a real process on a pty, and the distribution's Chromium to open it with.

xterm.js draws the terminal on a canvas, so what a tab shows is read from what it received: the
websocket frames of the page, with the terminal's escape codes taken out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from tests.support.lfg import free_port
from tests.support.patience import PATIENCE
from tests.support.terminal import Terminal

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[\]P_^].*?(?:\x07|\x1b\\)|\x1b.")
PRINTED_URL = re.compile(rb"open (http://\S+/\?key=\S+) in a browser")


@dataclass
class LfgWeb:
    """A running `lfg web`: the URL it printed (with its key) and everything it wrote."""

    process: subprocess.Popen[bytes]
    terminal: Terminal
    url: str
    port: int

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key(self) -> str:
        return self.url.partition("?key=")[2]

    def cookie(self) -> dict[str, str]:
        """The header a browser that opened `url` sends with every request."""
        return {"Cookie": f"lfg_web_{self.port}={self.key}"}

    def said(self) -> str:
        return self.terminal.output.decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def lfg_web(args: list[str], env: Mapping[str, str]) -> AsyncIterator[LfgWeb]:
    """`lfg web ARGS` on a free port until the block ends, then Ctrl-C (as a person stops it)."""
    port = free_port()
    terminal = Terminal()
    process = terminal.start(
        [sys.executable, "-m", "lfgtui", "web", *args, "--port", str(port)],
        dict(env),
        stdin=subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(terminal.wait_for, b" in a browser", 60)
        found = PRINTED_URL.search(terminal.output)
        assert found is not None, terminal.output.decode("utf-8", "replace")
        await _listening(port, process)  # it prints the URL just before it listens
        yield LfgWeb(process, terminal, found.group(1).decode(), port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        await asyncio.to_thread(process.wait, 30)
        terminal.hang_up()


async def _listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(round(600 * PATIENCE)):
        assert process.poll() is None, "lfg web ended before it served"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("lfg web never listened")


@dataclass
class Frames:
    """What a page's websockets received, as text."""

    received: list[str] = field(default_factory=list)

    def take(self, frame: str | bytes) -> None:
        self.received.append(frame if isinstance(frame, str) else frame.decode("utf-8", "replace"))

    def shown(self) -> str:
        return ESCAPES.sub("", "".join(self.received))

    async def until_shown(self, *texts: str) -> None:
        for _ in range(round(300 * PATIENCE)):
            if all(text in self.shown() for text in texts):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"never shown: {[t for t in texts if t not in self.shown()]}")
