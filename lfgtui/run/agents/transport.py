"""The agent's stdin and stdout as an ACP message transport, stricter than the SDK's own.

The SDK's stdio transport logs a line that is not JSON and reads on, and takes lines of any length.
An agent whose stdout carries anything but protocol messages (a stray print, a crash dump) is
broken, so here such a line ends the connection and is remembered as `problem`, which the attempt
reports as `malformed`. So does what would cost too much to read: a line longer than
`MAX_LINE_BYTES`, or one of more than `MAX_CONTAINERS` objects and arrays (60 MB of `[{},{},…]`
would take gigabytes as Python objects, and seconds of the loop every ticket shares), counted
before it is parsed. And so does JSON that is not a JSON-RPC message the SDK can take (an id that
is a list, an error that is not an object, nesting too deep to parse), which would otherwise
break the SDK's reading and look like a lost connection.

It also keeps the raw result of the requests that open a session (`KEPT_RESULTS`): the SDK reads
them into models of the current schema, which leave out what it no longer has (the older `models`
of a session, which Gemini CLI still sends).

And it hands each `session/update` notification straight to the session's client (`updates`),
in order, as it is read: nearly every message an agent sends is one, and the SDK would make each a
task of its own, with a telemetry span and a router on the way. Everything else goes to the SDK.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

from lfgtui.inert import inert

MAX_LINE_BYTES = 64 * 1024 * 1024
"""One message may be this big: a tool's diff or output carries whole files."""
MAX_CONTAINERS = 100_000
"""One message may hold this many JSON objects and arrays: a plan, a tool call's input and output,
a diff's lines are far fewer; each costs about a hundred bytes once parsed and validated."""
SHOWN_GARBAGE = 200
KEPT_RESULTS = frozenset({"session/new", "session/load"})
SESSION_UPDATE = "session/update"
JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
"""A JSON string, escapes and all: the brackets inside strings are text, not containers."""


def containers(line: bytes) -> int:
    """How many objects and arrays `line` holds, counted without parsing it: brackets outside
    strings. Counting every bracket is quicker and already enough for almost every message."""
    every = line.count(b"{") + line.count(b"[")
    if every <= MAX_CONTAINERS:
        return every
    outside = JSON_STRING.sub(b"", line)
    return outside.count(b"{") + outside.count(b"[")


def _is_id(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float, str)) and not isinstance(value, bool))


def envelope_problem(message: Any) -> str | None:
    """What makes a parsed line something other than a JSON-RPC message, or None."""
    if not isinstance(message, dict):
        return "not a JSON object"
    if "id" in message and not _is_id(message["id"]):
        return "its id is neither a number, a string nor null"
    if "method" in message:
        if not isinstance(message["method"], str):
            return "its method is not a string"
        return None
    if "id" not in message:
        return "neither a request, a notification nor a response"
    if "error" in message and not isinstance(message["error"], dict):
        return "its error is not an object"
    if "result" not in message and "error" not in message:
        return "a response with neither a result nor an error"
    return None


class AgentPipe:
    """`acp.Transport` over a child's pipes: one JSON object a line, each way."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        updates: Callable[[Any], None],
    ) -> None:
        """`updates` takes the params of each `session/update` notification, as they come."""
        self._reader = reader
        self._writer = writer
        self._updates = updates
        self.problem: str | None = None
        self.results: dict[str, dict[str, Any]] = {}
        """The last raw result of each method of `KEPT_RESULTS`."""
        self._kept: dict[Any, str] = {}
        """The ids of those requests still unanswered, and their methods."""

    async def send(self, message: dict[str, Any]) -> None:
        if message.get("method") in KEPT_RESULTS and "id" in message:
            self._kept[message["id"]] = message["method"]
        self._writer.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        await self._writer.drain()

    async def receive(self) -> dict[str, Any] | None:
        """The next message for the SDK, or None at the end of the stream or at the first line that
        is not a message; the session's updates on the way go to `updates`."""
        while True:
            message = await self.message()
            if message is None or message.get("method") != SESSION_UPDATE or "id" in message:
                return message
            self._updates(message.get("params"))

    async def message(self) -> dict[str, Any] | None:
        """The next message, or None at the end of the stream or at the first line that is not one."""
        while True:
            line = await self._line()
            if line is None:
                return None
            if not line.strip():
                continue
            if containers(line) > MAX_CONTAINERS:
                self.problem = f"the agent sent a message of more than {MAX_CONTAINERS:,} objects and arrays"
                return None
            try:
                message = json.loads(line)
            except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
                message = None
                why = "not JSON"
            else:
                why = envelope_problem(message)
            if why is None:
                if self._kept and "method" not in message:
                    self._keep(message)
                return message
            shown = inert(line[:SHOWN_GARBAGE].decode(errors="replace")).strip()
            self.problem = (
                f"the agent wrote something that is not an ACP message to its stdout ({why}): {shown!r}"
            )
            return None

    def _keep(self, response: dict[str, Any]) -> None:
        method = self._kept.pop(response["id"], None)
        if method is not None and isinstance(response.get("result"), dict):
            self.results[method] = response["result"]

    async def _line(self) -> bytes | None:
        """One line with its newline (the last may lack it), or None at the end of the stream and
        when it is longer than `MAX_LINE_BYTES`, its last part included."""
        parts: list[bytes] = []
        size = 0
        while True:
            ended = True
            try:
                chunk = await self._reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                if not (parts or exc.partial):
                    return None
                chunk = exc.partial
            except asyncio.LimitOverrunError as exc:  # longer than the reader's buffer: take it in parts
                chunk, ended = await self._reader.readexactly(exc.consumed), False
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_LINE_BYTES:
                self.problem = f"the agent sent a message longer than {MAX_LINE_BYTES // 2**20} MiB"
                return None
            if ended:
                return b"".join(parts)

    async def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
