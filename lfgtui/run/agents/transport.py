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

It takes the agent's `$/cancel_request` notifications itself (`cancels`: the SDK knows none), and
tells the SDK's handler of each request which one it is (`cancel_requests.AGENT_REQUEST`); it keeps
which of lfg's requests the agent has not answered, so that lfg can cancel them when it gives up on
the agent (`give_up`).

It adds to `initialize` the client capabilities the SDK's schema lacks and lfg handles
(`stable_updates.advertised`). It also keeps the raw result of the requests that open a session
(`KEPT_RESULTS`): the SDK reads them into models of the current schema, which leave out what it no
longer has (the older `models` of a session, which Gemini CLI still sends).

And it hands each `session/update` notification straight to the session's client (`updates`),
in order, as it is read: nearly every message an agent sends is one, and the SDK would make each a
task of its own, with a telemetry span and a router on the way. Everything else goes to the SDK.
The agent's stdout is read as a protocol: the lines of each read are parsed in the read's callback,
so an update costs no wake-up of a task that reads lines, nor of the SDK's loop that takes messages.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, BinaryIO, cast

from lfgtui.inert import inert
from lfgtui.run.agents.cancel_requests import AGENT_REQUEST, CANCEL_REQUEST, NOT_CANCELLED, cancel_request
from lfgtui.run.agents.stable_updates import advertised

MAX_LINE_BYTES = 64 * 1024 * 1024
"""One message may be this big: a tool's diff or output carries whole files."""
MAX_CONTAINERS = 100_000
"""One message may hold this many JSON objects and arrays: a plan, a tool call's input and output,
a diff's lines are far fewer; each costs about a hundred bytes once parsed and validated."""
SHOWN_GARBAGE = 200
KEPT_RESULTS = frozenset({"session/new", "session/load", "session/resume"})
SESSION_UPDATE = "session/update"
HELD_MESSAGES = 64
"""Messages for the SDK read ahead of it before the pipe is left unread until it catches up."""
HOLD_S = 0.020
"""How long a flowing pipe is left unread after a read, so that its next lines come in one read
and every agent's pipe held meanwhile is read on the same wake-up of the loop (`HoldClock`). An
agent streaming 50 tokens a second writes a line each 20 ms: ticks 8 ms apart found most pipes
empty, and those reads and wake-ups were a third of lfg's CPU per update on the way to its event
(`bench/acp_path.py`: 0.63 of the CPU per chunk at 8 agents, 0.72 at 16). A line waits at most
this long, well within the 50 ms between frames."""
HOLD_BELOW = 16 * 1024
"""Only a read smaller than this is held: a bigger one is of a long message (a file's diff) that
the agent writes as fast as the pipe takes it."""
FLOWING_S = 0.05
"""A read this soon after the one before is of a flowing pipe: the next is held (`HOLD_S`). The
first read after a silence (an answer's first token) never waits, and a held pipe that has had
nothing to read for this long wakes the loop itself again."""
READ_BYTES = 64 * 1024
"""What a held pipe's tick reads at most: below the size malloc maps afresh for each read."""
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


class HoldClock:
    """One timer for every held pipe of a loop: each tick reads them all, on one wake-up.

    Agents stream a line per token, each pipe's a few tens of milliseconds apart: a pipe that woke
    the loop for each line, or was let go after each hold to wake it for the next, cost a wake-up
    per update: at 8 agents streaming 50 tokens a second, half of what lfg spent on an update between
    the pipe and its event (`bench/acp_path.py`). A held pipe instead stays out of the loop's
    selector while it flows and is read on the clock's ticks, every pipe on the same one, each line
    at most `HOLD_S` after it came."""

    def __init__(self) -> None:
        self.held: list[AgentPipe] = []
        self.timer: asyncio.TimerHandle | None = None

    def hold(self, pipe: AgentPipe) -> None:
        self.held.append(pipe)
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(HOLD_S, self.release)

    def release(self) -> None:
        held, self.held, self.timer = self.held, [], None
        for pipe in held:
            pipe.released()


CLOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HoldClock] = weakref.WeakKeyDictionary()


def hold_clock() -> HoldClock:
    """The running loop's `HoldClock`."""
    loop = asyncio.get_running_loop()
    clock = CLOCKS.get(loop)
    if clock is None:
        clock = CLOCKS[loop] = HoldClock()
    return clock


class AgentPipe(asyncio.Protocol):
    """`acp.Transport` over a child's pipes: one JSON object a line, each way. Its stdout is read as
    a protocol (`read_from`): each read's lines are parsed in the read's callback, so an update
    reaches the session's inbox without a task of the SDK's woken for it, nor one reading lines.
    While the agent streams, its pipe is held and read on the hold clock's ticks (`HoldClock`)."""

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        updates: Callable[[Any], None],
        cancels: Callable[[Any], None] = lambda _: None,
    ) -> None:
        """`updates` takes the params of each `session/update` notification, as they come; `cancels`
        those of each `$/cancel_request`."""
        self._writer = writer
        self._updates = updates
        self._cancels = cancels
        self._unanswered: dict[Any, str] = {}
        """lfg's requests the agent has not answered yet, by id: their methods."""
        self.problem: str | None = None
        self.results: dict[str, dict[str, Any]] = {}
        """The last raw result of each method of `KEPT_RESULTS`."""
        self._kept: dict[Any, str] = {}
        """The ids of those requests still unanswered, and their methods."""
        self._partial = bytearray()
        """The line being read, up to the read so far."""
        self._messages: deque[dict[str, Any]] = deque()
        """Messages for the SDK not yet taken by `receive`."""
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        """The stream ended, or broke (`problem`): nothing more is read."""
        self._reading: asyncio.ReadTransport | None = None
        self._paused = False
        """Left unread until the SDK catches up, or for good (`_broken`)."""
        self._held = False
        """Left unread until the hold clock releases it."""
        self._last_read = -FLOWING_S
        self._fileno: int | None = None
        """The pipe a held read reads itself (non-blocking, as the transport set it), else None."""

    async def read_from(self, stdout: BinaryIO) -> None:
        """Read the agent's stdout (the pipe's reading end) from now on."""
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: self, stdout)
        fileno = stdout.fileno()
        self._fileno = None if os.get_blocking(fileno) else fileno

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._reading = cast(asyncio.ReadTransport, transport)  # uvloop's are not asyncio's subclasses

    def data_received(self, data: bytes) -> None:
        if self._ended:
            return
        self._read(data)
        if len(data) < HOLD_BELOW:
            self._hold()

    def _read(self, data: bytes) -> None:
        partial = self._partial
        end = data.find(b"\n")
        if end < 0:
            partial += data
            if len(partial) > MAX_LINE_BYTES:
                self._broken(f"the agent sent a message longer than {MAX_LINE_BYTES // 2**20} MiB")
            return
        start = 0
        if partial:  # the line begun in an earlier read ends in this one
            partial += data[: end + 1]
            line, start = bytes(partial), end + 1
            partial.clear()
            self.line(line)
            end = data.find(b"\n", start)
        while end >= 0 and not self._ended:
            self.line(data[start : end + 1])
            start = end + 1
            end = data.find(b"\n", start)
        if not self._ended and start < len(data):
            partial += data[start:]

    def _hold(self) -> None:
        """After a read of a flowing pipe, leave it unread until the hold clock releases it."""
        now = asyncio.get_running_loop().time()
        flowing, self._last_read = now - self._last_read < FLOWING_S, now
        if not flowing or self._ended or self._reading is None:
            return
        self._held = True
        self._reading.pause_reading()
        hold_clock().hold(self)

    def released(self) -> None:
        """The hold clock's tick: read what came meanwhile, now. A pipe with nothing to read stays held
        until it has been silent `FLOWING_S`, then the loop's selector wakes for its next read."""
        self._held = False
        reading = self._reading
        if self._paused or self._ended or reading is None or reading.is_closing():
            return  # the SDK is behind (`receive` resumes it), or there is nothing more to read
        if self._fileno is None:  # a pipe lfg cannot read without blocking: the transport reads it
            reading.resume_reading()
            return
        try:
            data = os.read(self._fileno, READ_BYTES)
        except BlockingIOError:
            if asyncio.get_running_loop().time() - self._last_read < FLOWING_S:
                self._held = True
                hold_clock().hold(self)
                return
        except OSError:  # the transport meets it too, and ends the stream with it
            pass
        else:
            if data:
                self.data_received(data)
                if self._held or self._paused or self._ended:
                    return
        reading.resume_reading()  # silent a while, a big read, the end of the pipe or its failure

    def eof_received(self) -> bool:
        if not self._ended and self._partial:  # the last line may lack its newline
            line = bytes(self._partial)
            self._partial.clear()
            self.line(line)
        self._end()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._reading = None
        self._end()

    def line(self, line: bytes) -> None:
        """One line read: its message goes on (`route`), or the stream ends at it as not one."""
        if len(line) > MAX_LINE_BYTES:
            self._broken(f"the agent sent a message longer than {MAX_LINE_BYTES // 2**20} MiB")
            return
        if not line.strip():
            return
        if containers(line) > MAX_CONTAINERS:
            self._broken(f"the agent sent a message of more than {MAX_CONTAINERS:,} objects and arrays")
            return
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
            message = None
            why = "not JSON"
        else:
            why = envelope_problem(message)
        if why is None:
            self.route(message)
            return
        shown = inert(line[:SHOWN_GARBAGE].decode(errors="replace")).strip()
        self._broken(f"the agent wrote something that is not an ACP message to its stdout ({why}): {shown!r}")

    def route(self, message: dict[str, Any]) -> None:
        """A message read: a `session/update` notification to the session, anything else to the SDK."""
        method = message.get("method")
        if method == SESSION_UPDATE and "id" not in message:
            self._updates(message.get("params"))
            return
        if method == CANCEL_REQUEST and "id" not in message:
            self._cancels(message.get("params"))
            return
        if method is None:
            self._unanswered.pop(message["id"], None)
            if self._kept:
                self._keep(message)
        self._messages.append(message)
        if len(self._messages) >= HELD_MESSAGES and self._reading is not None and not self._paused:
            self._paused = True
            self._reading.pause_reading()
        self._wake()

    def _keep(self, response: dict[str, Any]) -> None:
        method = self._kept.pop(response["id"], None)
        if method is not None and isinstance(response.get("result"), dict):
            self.results[method] = response["result"]

    def _broken(self, problem: str) -> None:
        """The stream ends here: what the agent sends from now on is not read (as nobody would)."""
        self.problem = problem
        self._partial.clear()
        if self._reading is not None and not self._paused:
            self._paused = True
            self._reading.pause_reading()
        self._end()

    def _end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def send(self, message: dict[str, Any]) -> None:
        params = message.get("params")
        if message.get("method") == "initialize" and isinstance(params, dict):
            offered = params.get("clientCapabilities")
            offered = advertised(offered if isinstance(offered, dict) else {})
            message = message | {"params": params | {"clientCapabilities": offered}}
        if message.get("method") in KEPT_RESULTS and "id" in message:
            self._kept[message["id"]] = message["method"]
        if "method" in message and "id" in message:
            self._unanswered[message["id"]] = message["method"]
        self._writer.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
        await self._writer.drain()

    async def receive(self) -> dict[str, Any] | None:
        """The next message for the SDK (the session's updates went to `updates` as they were read),
        or None once the stream ended or broke and every message before that was taken."""
        while not self._messages:
            if self._ended:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message = self._messages.popleft()
        # the SDK's handler task for a request, created next from this task, holds its id
        AGENT_REQUEST.set(message.get("id") if "method" in message else None)
        if self._paused and not self._ended and len(self._messages) < HELD_MESSAGES // 2:
            self._paused = False
            if self._reading is not None and not self._held:
                self._reading.resume_reading()
        return message

    async def give_up(self) -> list[str]:
        """Ask the agent to cancel each of lfg's requests it has not answered (`$/cancel_request`),
        `session/prompt` aside; returns their methods. lfg does not wait for the answers."""
        if self._ended or self._writer.is_closing():
            return []
        given_up = {id_: method for id_, method in self._unanswered.items() if method not in NOT_CANCELLED}
        self._unanswered.clear()
        for request_id in given_up:
            await self.send(cancel_request(request_id))
        return list(given_up.values())

    async def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        if self._reading is not None:
            self._reading.close()
