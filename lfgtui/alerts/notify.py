"""`--notify-command`: each moment a run needs the person handed to the user's own command (a Slack
or ntfy hook) as JSON on stdin, bounded in time and never holding the run up.

asyncio is imported where it is used, so that importing this module stays quick.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from lfgtui.alerts.attention import BODY_LIMIT, TITLE_LIMIT, Attention, printable

if TYPE_CHECKING:
    import asyncio


STDERR_KEPT = 4096
"""Bytes of a hook's stderr kept for the warning; the rest is read and thrown away so it never blocks."""


class NotifyCommand:
    """Runs the user's `--notify-command` for each event, like a git hook: `/bin/sh -c COMMAND` with the
    event's JSON on stdin, in a session of its own (no terminal), under lfg's supervisor on Linux
    (`tools/supervised.py`): when the hook ends or is stopped, so is everything it started, even what
    left its session (`setsid`, a daemon).

    At most `parallel` run at once and `backlog` wait; beyond that the oldest waiting event is dropped
    and counted, so a hook that is slow or hangs costs the run nothing. Each run is stopped after
    `timeout` seconds. The run's end ("done") is never the one dropped: when the run ends, hooks
    still running after the grace are stopped to make room for it. Problems go to `warn` as one line
    each, never as an exception."""

    def __init__(
        self,
        command: str,
        *,
        warn: Callable[[str], None],
        timeout: float = 10.0,
        parallel: int = 2,
        backlog: int = 8,
        shell: str = "/bin/sh",
    ) -> None:
        self._command = command
        self._warn = warn
        self._timeout = timeout
        self._parallel = max(parallel, 1)
        self._backlog = max(backlog, 0)
        self._shell = shell
        self._waiting: deque[Attention] = deque()
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False
        self._stopping = False
        self.dropped = 0
        """Events never handed to the command: the oldest waiting on overflow, those still waiting when
        `aclose` ends, and any that came after it."""
        self.stopped = 0
        """Commands still running when `aclose` ran out of time, killed with their children."""

    def __call__(self, attention: Attention) -> None:
        """Queue `attention` for the command and return at once; the command runs on the running loop."""
        if self._closed:
            self.dropped += 1
            return
        self._waiting.append(attention)
        while len(self._waiting) > self._backlog + max(self._parallel - len(self._running), 0):
            oldest = next((a for a in self._waiting if a.kind != "done"), None)
            if oldest is None:
                break
            self._waiting.remove(oldest)
            self.dropped += 1
        self._pump()

    def _pump(self) -> None:
        """Start waiting events while fewer than `parallel` run."""
        import asyncio

        while self._waiting and len(self._running) < self._parallel and not self._stopping:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.dropped += len(self._waiting)
                self._waiting.clear()
                return
            task = loop.create_task(self._run(self._waiting.popleft()))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._pump()

    async def _run(self, attention: Attention) -> None:
        import asyncio
        from asyncio.subprocess import DEVNULL, PIPE

        from lfgtui.tools.supervised import start_supervised, stop_supervised

        of_ticket = f" of {printable(attention.ticket, TITLE_LIMIT)}" if attention.ticket else ""
        what = f"--notify-command ({attention.kind}{of_ticket})"
        try:
            argv = [self._shell, "-c", self._command]
            process = await start_supervised(argv, os.environ, stdin=PIPE, stdout=DEVNULL, stderr=PIPE)
        except OSError as error:
            self._warn(f"{what} could not start: {printable(str(error), BODY_LIMIT)}")
            return
        finished = False
        try:
            async with asyncio.timeout(self._timeout):
                await _feed(process, attention.to_json().encode("ascii"))
                assert process.stderr is not None
                stderr = await _head(process.stderr, STDERR_KEPT)
                code = await process.wait()
            finished = True
        except TimeoutError:
            self._warn(f"{what} still ran after {self._timeout:g} s and was stopped")
            return
        finally:
            if not finished:
                await stop_supervised(process)
        if code != 0:
            how = f"exit status {code}" if code > 0 else f"signal {-code}"
            said = printable(stderr.decode("utf-8", "replace"), BODY_LIMIT)
            self._warn(f"{what} failed ({how}){': ' + said if said else ''}")

    async def aclose(self, grace: float = 2.0) -> None:
        """At the end of a run: give running and waiting events up to `grace` seconds to be handled,
        then stop what still runs (with its children) and drop what still waits, except the run's
        end, which is then handed to the command (within its own `timeout`)."""
        import asyncio

        if self._stopping:
            return
        self._closed = True
        try:
            async with asyncio.timeout(grace):
                while self._running:
                    await asyncio.wait(set(self._running))
                    self._pump()
        except TimeoutError:
            pass
        self._stopping = True
        ends = [attention for attention in self._waiting if attention.kind == "done"]
        self.dropped += len(self._waiting) - len(ends)
        self._waiting.clear()
        running = list(self._running)
        self.stopped += len(running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for attention in ends:
            await self._run(attention)
        if self.dropped or self.stopped:
            self._warn(
                f"--notify-command: {self.dropped} notification(s) dropped (too many at once, or the run "
                f"ended first), {self.stopped} stopped unfinished at the end of the run"
            )


async def _feed(process: asyncio.subprocess.Process, payload: bytes) -> None:
    """Write the event and close stdin; a command that exits without reading it is no error."""
    assert process.stdin is not None
    try:
        process.stdin.write(payload)
        await process.stdin.drain()
        process.stdin.close()
        await process.stdin.wait_closed()
    except (BrokenPipeError, ConnectionResetError):
        pass


async def _head(stream: asyncio.StreamReader, limit: int) -> bytes:
    """The first `limit` bytes of `stream`, read to its end so the writer never blocks on a full pipe."""
    kept = bytearray()
    while chunk := await stream.read(65536):
        kept += chunk[: max(limit - len(kept), 0)]
    return bytes(kept)
