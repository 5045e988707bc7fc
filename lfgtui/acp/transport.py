"""The agent's stdin and stdout as an ACP message transport, stricter than the SDK's own.

The SDK's stdio transport logs a line that is not JSON and reads on, and takes lines of any length.
An agent whose stdout carries anything but protocol messages (a stray print, a crash dump) is
broken, so here such a line ends the connection and is remembered as `problem`, which the attempt
reports as `malformed`; a line longer than `MAX_LINE_BYTES` does the same instead of filling memory.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lfgtui.inert import inert

MAX_LINE_BYTES = 64 * 1024 * 1024
"""One message may be this big: a tool's diff or output carries whole files."""
SHOWN_GARBAGE = 200


class AgentPipe:
    """`acp.Transport` over a child's pipes: one JSON object a line, each way."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.problem: str | None = None

    async def send(self, message: dict[str, Any]) -> None:
        self._writer.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        await self._writer.drain()

    async def receive(self) -> dict[str, Any] | None:
        """The next message, or None at the end of the stream or at the first line that is not one."""
        while True:
            line = await self._line()
            if line is None:
                return None
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict):
                return message
            shown = inert(line[:SHOWN_GARBAGE].decode(errors="replace")).strip()
            self.problem = f"the agent wrote something that is not an ACP message to its stdout: {shown!r}"
            return None

    async def _line(self) -> bytes | None:
        """One line with its newline (the last may lack it), or None at the end of the stream."""
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                return b"".join([*parts, await self._reader.readuntil(b"\n")])
            except asyncio.IncompleteReadError as exc:
                return b"".join([*parts, exc.partial]) if parts or exc.partial else None
            except asyncio.LimitOverrunError as exc:  # longer than the reader's buffer: take it in parts
                chunk = await self._reader.readexactly(exc.consumed)
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_LINE_BYTES:
                self.problem = f"the agent sent a message longer than {MAX_LINE_BYTES // 2**20} MiB"
                return None

    async def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
