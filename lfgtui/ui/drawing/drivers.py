"""Textual's terminal and browser drivers, made to notice a terminal that went away.

When the terminal disappears (an ssh connection drops, the tmux server is killed, the browser view's
server dies) every write to it fails and every read ends. Textual's own drivers do not expect that:
the terminal driver's output thread dies on the first failed write, so its queue fills and the next
write blocks the event loop for good (no signal is handled, the run's lock is never released), and its
input thread spins on the end of file; the browser driver's app keeps running with no one to see it.

These drivers drop all output once a write has failed, stop reading, and tell the app once, from
whichever thread noticed, with a `TerminalLost` message; the app then ends the run as a hangup would.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from textual.app import App
from textual.driver import Driver
from textual.drivers.web_driver import WebDriver
from textual.message import Message

HANGUP_POLL_S = 0.5
"""How often the watcher thread, waiting for a hangup, looks whether it was told to stop."""


class TerminalLost(Message):
    """The terminal (or the browser view's server) is gone: posted to the app once."""


class _Notice:
    """Tells the app once that the terminal is gone; callable from any thread.

    `first` runs at once in the thread that noticed, before the app hears of it.
    """

    def __init__(self, app: App[Any], first: Callable[[], None]) -> None:
        self._app = app
        self._first = first
        self._said = threading.Event()

    @property
    def said(self) -> bool:
        return self._said.is_set()

    def __call__(self) -> None:
        if self._said.is_set():
            return
        self._said.set()
        self._first()
        with contextlib.suppress(RuntimeError):  # the event loop has closed: the app has ended already
            self._app.post_message(TerminalLost())


class _Output:
    """The terminal as Textual's output thread writes to it: the first failed write is reported,
    and everything after it is dropped instead of raising (which would kill that thread)."""

    def __init__(self, file: IO[str], lost: _Notice) -> None:
        self._file = file
        self._lost = lost

    def write(self, text: str) -> None:
        if self._lost.said:
            return
        try:
            self._file.write(text)
        except (OSError, ValueError):
            self._lost()

    def flush(self) -> None:
        if self._lost.said:
            return
        try:
            self._file.flush()
        except (OSError, ValueError):
            self._lost()

    def fileno(self) -> int:
        return self._file.fileno()


def _watch_for_hangup(fds: tuple[int, ...], lost: _Notice, stop: threading.Event) -> None:
    """Wait, without using any CPU, until one of `fds` reports a hangup or an error.

    A poll with no events asked still reports POLLHUP and POLLERR, which a hung-up terminal (and a
    pipe whose other end closed) reports for good, while its reads return end of file at once.
    """
    poller = select.poll()
    for fd in fds:
        poller.register(fd, 0)
    while not stop.is_set() and not lost.said:
        if poller.poll(HANGUP_POLL_S * 1000):
            lost()
            return


def _terminal_fds(*files: IO[str] | None) -> tuple[int, ...]:
    found = []
    for file in files:
        try:
            fd = file.fileno() if file is not None else -1
        except (OSError, ValueError):
            continue
        if fd >= 0 and os.isatty(fd):
            found.append(fd)
    return tuple(dict.fromkeys(found))


if sys.platform != "win32":
    from textual.drivers.linux_driver import LinuxDriver

    class TerminalDriver(LinuxDriver):
        """Textual's terminal driver that survives its terminal: see the module's docstring."""

        def __init__(self, app: App[Any], **options: Any) -> None:
            super().__init__(app, **options)
            self._lost = _Notice(app, first=self.exit_event.set)  # the input thread stops reading
            self._file = _Output(self._file, self._lost)  # type: ignore[assignment]
            self._stop_watching = threading.Event()

        def start_application_mode(self) -> None:
            fds = _terminal_fds(sys.__stdin__, sys.__stderr__)
            watch = (fds, self._lost, self._stop_watching)
            threading.Thread(target=_watch_for_hangup, args=watch, name="lfg-hangup", daemon=True).start()
            super().start_application_mode()

        def write(self, data: str) -> None:
            if not self._lost.said:  # once the terminal is gone, nothing more is queued for it
                super().write(data)

        def run_input_thread(self) -> None:
            try:
                super().run_input_thread()
            except OSError:  # EIO: the terminal's other side has closed
                self._lost()

        def close(self) -> None:
            self._stop_watching.set()
            super().close()

    DRIVERS: dict[type[Driver], type[Driver]] = {LinuxDriver: TerminalDriver}
else:
    DRIVERS = {}


class BrowserDriver(WebDriver):
    """Textual's driver for the browser view (under textual-serve): when the server's end of the
    pipes closes (the server died, or was killed), the app is told instead of running on unseen."""

    def __init__(self, app: App[Any], **options: Any) -> None:
        super().__init__(app, **options)
        self._lost = _Notice(app, first=self._input_reader.close)
        write: Callable[[bytes], int] = self._write

        def guarded(data: bytes) -> int:
            if not self._lost.said:
                try:
                    return write(data)
                except OSError:
                    self._lost()
            return len(data)

        self._write = guarded

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # the input ended by itself: the server's end closed
            self._lost()


DRIVERS[WebDriver] = BrowserDriver
