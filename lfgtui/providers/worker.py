"""Provider streams in a child process, so that parsing them does not compete with drawing them.

Reading a stream through an SDK (HTTP, SSE, JSON, the SDK's models) costs about 0.28 ms of CPU per
chunk, measured: 16 streams at 200 tokens/s take 0.9 of a core before anything is drawn. In one
process the parsing and the drawing share one core and fall behind together; here the parsing gets
the second core. `Providers(backend=ProviderWorker())` (the TUI's) hands every model call to one
child, `python -m lfgtui.providers.worker_child`: the call goes down its stdin, the events come back
on its stdout in pickled batches, one per pass of the child's loop. The child stamps each event with the
system-wide monotonic clock when it arrives, so time to first token and screen lag still count from
the network.

The parent reads the pipe in a protocol callback (`ChildPipes`), not a reader task: each read's frames
are decoded at once (`Frames`) and each stream is handed one list of everything the read brought
for it (`Inbox`), so a stream's consumer wakes once per read, not once per frame.

This module is the pipe's messages and the parent's side; worker_child.py is the child's, where the
ordinary adapters run unchanged in an `InProcessBackend`. A `ProviderError` comes back as its
`ErrorInfo`; a bug in the child, or the child dying, fails just the calls it was streaming, and the
next call starts a new child.
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
import struct
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from lfgtui.providers.base import ModelCall, ProviderConfig, ProviderError

if TYPE_CHECKING:  # imported where used: `lfg run` starts the child before it needs the events
    from lfgtui.events import ErrorInfo, Event, EventFactory, Observed

HEADER = struct.Struct("!I")
STOP_WAIT_S = 5.0
STDERR_LIMIT = 1 << 16
"""The buffer of the child's stderr stream (asyncio's default)."""


@dataclass(frozen=True, slots=True)
class Open:
    """Parent → child: start streaming `call` to the provider `config` describes; with no call,
    only make its adapter (import its SDK, start the sim), so that is not timed as the first token."""

    stream: int
    config: ProviderConfig
    call: ModelCall | None


@dataclass(frozen=True, slots=True)
class Cancel:
    """Parent → child: the parent stopped reading this stream; close its connection."""

    stream: int


@dataclass(frozen=True, slots=True)
class Ended:
    """Child → parent: the stream finished normally."""


@dataclass(frozen=True, slots=True)
class Failed:
    """Child → parent: the provider failed, classified."""

    info: ErrorInfo


@dataclass(frozen=True, slots=True)
class Crashed:
    """Child → parent (or the parent itself, when the child dies): a bug, not a provider failure."""

    message: str


Item: TypeAlias = "Observed | Ended | Failed | Crashed"


class ProviderWorkerError(RuntimeError):
    """The worker process failed a call for a reason of lfg's own, not the provider's."""


def frame(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message, or None at the end of the pipe."""
    try:
        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        return pickle.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


class Frames:
    """Splits the bytes of the pipe into the messages `frame` made: every complete one a read brought,
    at once, without a coroutine per frame; a frame split between reads waits for its rest."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._needed = HEADER.size
        """How many bytes `_pending` must hold before it can give a message."""

    def feed(self, data: bytes) -> Iterator[Any]:
        """The messages completed by `data`, in order. Raises what unpickling raises on a broken frame,
        after the messages before it."""
        pending = self._pending
        if pending:
            pending += data
            if len(pending) < self._needed:
                return
            data = bytes(pending)
            pending.clear()
        start, end, head = 0, len(data), HEADER.size
        while end - start >= head:
            (size,) = HEADER.unpack_from(data, start)
            stop = start + head + size
            if stop > end:
                self._needed = stop - start
                break
            message = pickle.loads(data[start + head : stop])
            start = stop
            yield message
        else:
            self._needed = head
        if start < end:
            pending += data[start:]


class Inbox:
    """One stream's items as the parent reads them, taken by its consumer as one list of everything
    that came since it last took: reads that arrive before it runs wake it once, not once each."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Item] = []
        self._waiter: asyncio.Future[None] | None = None

    def put(self, items: list[Item]) -> None:
        """Hand on `items` (the inbox keeps the list)."""
        if self._items:
            self._items += items
        else:
            self._items = items
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self) -> list[Item]:
        """Everything put since the last take, in order; waits while there is nothing."""
        while not self._items:
            self._waiter = waiter = asyncio.get_running_loop().create_future()
            await waiter
        items, self._items = self._items, []
        return items


class ChildPipes(asyncio.subprocess.SubprocessStreamProtocol):
    """The child's pipes: stdin and stderr as asyncio's streams, stdout decoded as it arrives.

    Each read's messages go to `deliver` at once, in the loop's callback for the read; `ended` is
    done when stdout ends, or fails with what made a message unreadable (nothing after it is read)."""

    def __init__(self, deliver: Callable[[list[Any]], None], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=STDERR_LIMIT, loop=loop)
        self._deliver = deliver
        self._frames = Frames()
        self.ended: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1:
            super().pipe_data_received(fd, data)
            return
        if self.ended.done():  # after an unreadable message
            return
        messages: list[Any] = []
        failure: Exception | None = None
        try:
            messages.extend(self._frames.feed(data))
        except Exception as exc:  # what came before it is handed on; nothing after it is read
            failure = exc
        try:
            if messages:
                self._deliver(messages)
        except Exception as exc:  # a message of the wrong shape is as unreadable
            failure = failure or exc
        if failure is not None:
            self.ended.set_exception(failure)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1 and not self.ended.done():
            if exc is None:
                self.ended.set_result(None)
            else:
                self.ended.set_exception(exc)
        super().pipe_connection_lost(fd, exc)


class ProviderWorker:
    """The parent's side, a `registry.Backend`: one child process, started on first use and again
    after it dies, reading the streams of every provider it makes."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._remotes: dict[str, RemoteProvider] = {}
        self._inboxes: dict[int, Inbox] = {}
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._stderr: deque[str] = deque(maxlen=20)
        self._starting: asyncio.Lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The child's process id while one runs (for monitoring: its CPU, its memory)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def provider(self, config: ProviderConfig) -> RemoteProvider:
        """The provider for a resolved config, once the child has made its adapter."""
        remote = self._remotes.setdefault(config.name, RemoteProvider(self, config))
        await remote.ready()
        return remote

    def warm(self, config: ProviderConfig) -> None:
        """Ask the child for this provider's adapter now, if it runs (else when `provider` is awaited)."""
        remote = self._remotes.setdefault(config.name, RemoteProvider(self, config))
        process = self._process
        if process is not None and process.returncode is None:
            remote.prepare(lambda: self._send(process, config, None))

    async def open(self, config: ProviderConfig, call: ModelCall | None) -> tuple[int, Inbox]:
        return self._send(await self._running(), config, call)

    def _send(
        self, process: asyncio.subprocess.Process, config: ProviderConfig, call: ModelCall | None
    ) -> tuple[int, Inbox]:
        """Open a stream in the running child: its id and the inbox its items arrive in."""
        stream = next(self._ids)
        inbox = Inbox()
        self._inboxes[stream] = inbox
        assert process.stdin is not None
        process.stdin.write(frame(Open(stream, config, call)))
        return stream, inbox

    def close(self, stream: int) -> None:
        """The parent is done with a stream; if the child is still sending it, stop it there."""
        if self._inboxes.pop(stream, None) is None or self._process is None:
            return
        stdin = self._process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.write(frame(Cancel(stream)))

    async def start(self) -> None:
        """Start the child now unless one is running, so that its imports overlap the caller's."""
        await self._running()

    async def _running(self) -> asyncio.subprocess.Process:
        """The child process, started now unless one is running."""
        async with self._starting:
            if self._process is None or self._process.returncode is not None:
                loop = asyncio.get_running_loop()
                transport, pipes = await loop.subprocess_exec(
                    lambda: ChildPipes(self._deliver, loop),
                    sys.executable,
                    "-m",
                    "lfgtui.providers.worker_child",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                self._process = process = asyncio.subprocess.Process(transport, pipes, loop)
                self._stderr.clear()
                self._tasks = [
                    asyncio.create_task(self._read(process, pipes.ended), name="provider worker reader"),
                    asyncio.create_task(self._read_stderr(process), name="provider worker stderr"),
                ]
            return self._process

    def _deliver(self, batches: list[list[tuple[int, Item]]]) -> None:
        """What one read of the pipe brought: each stream's items, in order, as one list to its inbox."""
        grouped: dict[int, list[Item]] = {}
        for batch in batches:
            for stream, item in batch:
                items = grouped.get(stream)
                if items is None:
                    grouped[stream] = [item]
                else:
                    items.append(item)
        inboxes = self._inboxes
        for stream, items in grouped.items():
            inbox = inboxes.get(stream)
            if inbox is None:
                continue
            inbox.put(items)
            if isinstance(items[-1], Ended | Failed | Crashed):  # the stream's last item
                del inboxes[stream]

    async def _read(self, process: asyncio.subprocess.Process, ended: asyncio.Future[None]) -> None:
        """Wait for the end of the child's stdout (its events are delivered as they come, by `ChildPipes`);
        then fail whatever it was still streaming, saying why."""
        try:
            await ended
            code = await process.wait()
            reason = f"the provider worker process exited (code {code})"
        except Exception as exc:  # an unreadable message: nothing after it can be trusted
            if process.returncode is None:
                process.kill()
            reason = f"the provider worker sent an unreadable message ({type(exc).__name__}: {exc})"
        if self._stderr:
            reason += ": " + " | ".join(self._stderr)
        for inbox in self._inboxes.values():
            inbox.put([Crashed(reason)])
        self._inboxes.clear()

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            if text := line.decode(errors="replace").strip():
                self._stderr.append(text)

    async def aclose(self, *, at_once: bool = False) -> None:
        """Close the child's stdin (it cancels its streams and exits); kill it if it hangs, or at
        once (`at_once`: nothing it makes is wanted, as when the tickets it was started for fail their
        check: it would first finish its imports)."""
        for remote in self._remotes.values():
            await remote.settle()
        self._remotes.clear()
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            assert process.stdin is not None
            if at_once:
                process.kill()
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), STOP_WAIT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
        for task in self._tasks:
            await asyncio.gather(task, return_exceptions=True)
        self._tasks = []


class RemoteProvider:
    """A provider whose stream runs in the worker; the parent adopts each event into the attempt."""

    def __init__(self, worker: ProviderWorker, config: ProviderConfig) -> None:
        self.worker = worker
        self.config = config
        self._ready: asyncio.Task[None] | None = None

    async def ready(self) -> None:
        """Wait until the worker has made this provider's adapter (once, however many ask)."""
        await asyncio.shield(self.prepare())

    def prepare(self, open_now: Callable[[], tuple[int, Inbox]] | None = None) -> asyncio.Task[None]:
        """The making of this provider's adapter in the worker, asked for once, however many ask;
        `open_now` opens the stream that asks at once, before the task first runs (`ProviderWorker.warm`)."""
        if self._ready is None:
            opened = open_now() if open_now is not None else None
            name = f"warm provider {self.config.name}"
            self._ready = asyncio.create_task(self._prepare(opened), name=name)
            self._ready.add_done_callback(_seen)
        return self._ready

    async def settle(self) -> None:
        """Stop making this provider, if that is under way (the worker closes)."""
        if (preparing := self._ready) is not None:
            preparing.cancel()
            await asyncio.gather(preparing, return_exceptions=True)

    async def _prepare(self, opened: tuple[int, Inbox] | None) -> None:
        from lfgtui.events import EventFactory

        try:
            async for _event in self._items(None, EventFactory("", 0), opened):
                pass
        except BaseException:
            self._ready = None  # a failure (a dead worker, say) is not remembered: ask again next time
            raise

    def stream(self, call: ModelCall, ev: EventFactory) -> AsyncIterator[Event]:
        return self._items(call, ev)

    async def _items(
        self, call: ModelCall | None, ev: EventFactory, opened: tuple[int, Inbox] | None = None
    ) -> AsyncIterator[Event]:
        stream, inbox = opened if opened is not None else await self.worker.open(self.config, call)
        try:
            while True:
                for item in await inbox.take():
                    match item:
                        case tuple():  # an event (`Observed`), the most of them: no deeper pattern
                            yield ev.adopt(item)
                        case Failed(info=info):
                            raise ProviderError(info)
                        case Crashed(message=message):
                            raise ProviderWorkerError(message)
                        case Ended():
                            return
        finally:
            self.worker.close(stream)

    async def aclose(self) -> None:
        """The worker, shared by every remote provider, is closed by its owner."""


def _seen(task: asyncio.Task[None]) -> None:
    """A provider's making that failed with no one waiting (it was warmed) is not logged as a failure
    never retrieved: whoever asks next asks the worker again, and is told."""
    if not task.cancelled():
        task.exception()
