"""The commands an ACP agent runs in lfg's terminals (`terminal/*`), under `run_command`'s rules.

A terminal is a command started as `run_command` starts one: under the supervisor (nothing it starts
outlives it), with the ticket's environment (the allowlist and `env_passthrough`, never a provider's
key), in the workdir or a folder inside it, killed with everything it started after the ticket's
command timeout. Only the tail of its output is kept, within the agent's `outputByteLimit` and the
ticket's output cap. Approval is the caller's (`client.py`). Each terminal's output stays readable
after the agent releases it, for the tool call that shows it; `on_output` hears of each read, so a
call that embeds the terminal can show its output while it runs (an `OutputReader` each).
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import itertools
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lfgtui.cancels import finish
from lfgtui.tools import ToolContext
from lfgtui.tools.base import NOTE_ROOM
from lfgtui.tools.command import READ_CHUNK, Tail, start_command
from lfgtui.tools.supervised import stop_supervised


@dataclass
class Terminal:
    """One command the agent started: its process, the tail of its output, and how it ended."""

    command: str
    process: asyncio.subprocess.Process
    tail: Tail
    timeout_s: float
    read: Callable[[], None] = lambda: None
    """Called after each read of its output."""
    ended: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    killed: str | None = None
    """Why lfg stopped it (the agent's kill, its release, the command timeout), if it did."""

    @property
    def exit_code(self) -> int | None:
        code = self.process.returncode
        return None if code is None or code < 0 or self.killed else code

    @property
    def signal(self) -> str | None:
        code = self.process.returncode
        if code is None:
            return None
        if self.killed:
            return signal.Signals.SIGKILL.name
        return signal.Signals(-code).name if code < 0 else None

    def status(self) -> str:
        """The line after the output, as `run_command` writes it."""
        if self.process.returncode is None:
            return "[still running]"
        if self.killed:
            return f"[killed: {self.killed}; the command and every process it started]"
        if self.signal is not None:
            return f"[killed by signal {-(self.process.returncode or 0)}: {self.signal}]"
        return f"[exit code {self.exit_code}]"

    def shown(self) -> str:
        """Its output and how it ended, as a tool row shows it."""
        return self.tail.render(self.status())

    async def pump(self) -> None:
        """Read the output until the command ends, stopping it past its time limit."""
        assert self.process.stdout is not None  # piped by start_command
        try:
            async with asyncio.timeout(self.timeout_s):
                while chunk := await self.process.stdout.read(READ_CHUNK):
                    self.tail.add(chunk)
                    self.read()
                await self.process.wait()
        except TimeoutError:
            await self.stop(f"timed out after {self.timeout_s:g} s")
        finally:
            if not self.ended.done():
                self.ended.set_result(None)

    async def stop(self, why: str) -> None:
        if self.process.returncode is None:
            self.killed = why
            await stop_supervised(self.process)


@dataclass
class OutputReader:
    """One reader's place in a terminal's output: it takes what came since it last took, as text (a
    character split between two reads comes whole with the second)."""

    at: int = 0
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def take(self, tail: Tail) -> str:
        """The output since the last take; output dropped meanwhile (past the terminal's limit) is
        said, not shown."""
        data, dropped = tail.since(self.at)
        self.at = tail.total
        if not dropped:
            return self.decoder.decode(data)
        self.decoder.reset()
        return f"[… {dropped} bytes of output dropped]\n" + self.decoder.decode(data)


@dataclass
class Terminals:
    """One agent session's terminals by id, released ones too (stopped, their output kept).
    `on_output(terminal_id)` is called after each read of a terminal's output."""

    ctx: ToolContext
    on_output: Callable[[str], None] = lambda _: None
    live: dict[str, Terminal] = field(default_factory=dict)
    released: dict[str, Terminal] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _pumps: set[asyncio.Task[None]] = field(default_factory=set)

    async def create(self, command: str, cwd: Path, env: Mapping[str, str], byte_limit: int | None) -> str:
        """Start `command` (a shell line) in `cwd` (already confined); returns the terminal's id."""
        keep = self.ctx.output_limit - NOTE_ROOM
        if byte_limit is not None:
            keep = min(keep, byte_limit)
        process = await start_command(command, self.ctx, cwd, env)
        terminal_id = f"term-{next(self._ids)}"
        read = functools.partial(self.on_output, terminal_id)
        terminal = self.live[terminal_id] = Terminal(
            command, process, Tail(keep), self.ctx.command_timeout_s, read
        )
        pump = asyncio.create_task(terminal.pump())
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        return terminal_id

    def get(self, terminal_id: str) -> Terminal | None:
        return self.live.get(terminal_id)

    def any(self, terminal_id: str) -> Terminal | None:
        """The terminal, running or released."""
        return self.live.get(terminal_id) or self.released.get(terminal_id)

    async def release(self, terminal_id: str) -> None:
        """Kill it if it still runs and let the agent use it no more, keeping what it showed."""
        terminal = self.live.pop(terminal_id, None)
        if terminal is not None:
            await terminal.stop("released by the agent")
            await terminal.ended
            self.released[terminal_id] = terminal

    def shown(self, terminal_id: str) -> str | None:
        """What a tool call embedding the terminal shows: its output so far and how it ended."""
        terminal = self.any(terminal_id)
        return terminal.shown() if terminal is not None else None

    async def close(self) -> None:
        """Stop every terminal still running (the session ends), all at once; cancelled, this still
        waits for each to be stopped and reaped (each stop is bounded)."""
        releases = (self.release(terminal_id) for terminal_id in list(self.live))
        await finish(asyncio.gather(*releases, return_exceptions=True))
