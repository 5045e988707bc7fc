"""The shell tool: run one command in the workdir with a timeout, keeping the tail of its output.

On Linux the command runs under a small supervisor (`supervisor.py`) that kills every process the
command started, even those that left its process group (`setsid`, `nohup … &`, daemons), when the
shell exits, on timeout, on cancel and if lfg dies. Elsewhere the command starts a process group
of its own (`start_new_session`), which is killed. Output is read as it comes and only the tail is
kept, so a chatty command cannot exhaust memory; the end of a build or test log is where the answer
usually is.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lfgtui.providers.base import ToolSpec
from lfgtui.tools import supervisor
from lfgtui.tools.base import NOTE_ROOM, ToolContext, ToolOutcome
from lfgtui.tools.scripts import stdlib_script
from lfgtui.tools.supervised import SUPERVISED, stop_supervised

READ_CHUNK = 64 * 1024
CONTINUATION_BYTES = bytes(range(0x80, 0xC0))
"""The bytes that go on a UTF-8 character: output cut at one starts mid-character."""


class Tail:
    """The last `keep` bytes of a stream and a count of the bytes before them (an ACP terminal's
    output is kept the same way)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        excess = len(self.data) - self.keep
        if excess > 0:
            del self.data[:excess]
            self.dropped += excess

    def text(self) -> tuple[str, int]:
        """The kept output as text, starting at a whole character, and the bytes dropped before it."""
        data, dropped = self.since(0)
        return data.decode("utf-8", errors="replace"), dropped

    @property
    def total(self) -> int:
        """Every byte the stream has brought, kept or dropped."""
        return self.dropped + len(self.data)

    def since(self, at: int) -> tuple[bytes, int]:
        """The kept output after the stream's byte `at`, and how many bytes after `at` were dropped
        (then it starts at a whole character: the rest of one split in two is dropped too)."""
        if at >= self.dropped:
            return bytes(self.data[at - self.dropped :]), 0
        data = bytes(self.data)
        kept = data.lstrip(CONTINUATION_BYTES)
        return kept, self.dropped - at + len(data) - len(kept)

    def render(self, status: str) -> str:
        """The kept output between a note of what was dropped and the `status` line."""
        kept, dropped = self.text()
        head = f"[… {dropped} bytes of earlier output dropped]\n" if dropped else ""
        text = kept or "(no output)"
        separator = "" if text.endswith("\n") else "\n"
        return f"{head}{text}{separator}{status}"


class RunCommand:
    """Run a shell command; the user approves it first."""

    needs_approval = True
    spec = ToolSpec(
        name="run_command",
        description=(
            "Run a shell command (/bin/sh) in the workdir, with no input. Returns its output (stdout and "
            "stderr together; only the end is kept when it is long) and its exit code. It is killed, with "
            "everything it started, when it runs longer than the timeout."
        ),
        parameters={
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command line to run."},
                "timeout_s": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Seconds before the command is killed (default: the ticket's timeout).",
                },
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    )

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        timeout_s: float = arguments.get("timeout_s", ctx.command_timeout_s)
        process = await start_command(arguments["command"], ctx)
        assert process.stdout is not None  # piped above
        tail = Tail(ctx.output_limit - NOTE_ROOM)
        try:
            async with asyncio.timeout(timeout_s):
                while chunk := await process.stdout.read(READ_CHUNK):
                    tail.add(chunk)
                code = await process.wait()
        except TimeoutError:
            await stop_supervised(process)
            status = f"[timed out after {timeout_s:g} s; killed the command and every process it started]"
            return ToolOutcome(tail.render(status), is_error=True)
        except asyncio.CancelledError:
            await stop_supervised(process)
            raise
        if code < 0:
            status = f"[killed by signal {-code}: {signal.strsignal(-code)}]"
            return ToolOutcome(tail.render(status), is_error=True)
        return ToolOutcome(tail.render(f"[exit code {code}]"), is_error=code != 0)


async def start_command(
    command: str, ctx: ToolContext, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start the command (under the supervisor where there is one) in a process group of its own, in
    `cwd` (the workdir unless given; the caller confines it) with `ctx.env` (and `env` over it),
    inside the ticket's sandbox when it has one."""
    environment = {**ctx.env, **(env or {})}
    where = cwd or ctx.workdir
    argv = [supervisor.SHELL, "-c", command]
    if ctx.sandbox is not None:
        argv = ctx.sandbox.wrap(argv, where)
        command = shlex.join(argv)
    common: dict[str, Any] = {
        "cwd": where,
        "stdout": asyncio.subprocess.PIPE,
        "stderr": asyncio.subprocess.STDOUT,
        "start_new_session": True,
    }
    if not SUPERVISED:
        return await asyncio.create_subprocess_exec(
            *argv, env=environment, stdin=asyncio.subprocess.DEVNULL, **common
        )
    process = await asyncio.create_subprocess_exec(
        *stdlib_script(Path(supervisor.__file__)), env={}, stdin=asyncio.subprocess.PIPE, **common
    )
    assert process.stdin is not None  # piped above
    request = {"parent": os.getpid(), "command": command, "env": environment}
    process.stdin.write(json.dumps(request).encode())
    await process.stdin.drain()
    process.stdin.close()
    return process
