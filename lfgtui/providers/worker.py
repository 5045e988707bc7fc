"""Provider streams in a child process, so that parsing them does not compete with drawing them.

Reading a stream through an SDK (HTTP, SSE, JSON, the SDK's models) costs about 0.28 ms of CPU per
chunk, measured: 16 streams at 200 tokens/s take 0.9 of a core before anything is drawn. In one
process the parsing and the drawing share one core and fall behind together; here the parsing gets
the second core. `Providers(backend=ProviderWorker())` (the TUI's) hands every model call to a
child, `python -m lfgtui.providers.worker_child`, one for each SDK (see `ProviderWorker`): the call
goes down its stdin, the events come back on its stdout in pickled batches, one per pass of the
child's loop. The child stamps each event with the
system-wide monotonic clock when it arrives, so time to first token and screen lag still count from
the network.

The parent reads the pipe in a protocol callback (`ChildPipes`), not a reader task: each read's frames
are decoded at once (`Frames`) and each stream is handed one list of everything the read brought
for it (`Inbox`), so a stream's consumer wakes once per read, not once per frame.

One child reads at most about 10,000-13,000 tokens a second, whatever the machine: a run that
streams more at once spreads its streams over several children of one SDK (`processes`), each on
a core of its own, a new stream going to the child with the fewest open (`ProviderWorker.plan`).

This module is the pipe's messages and the parent's side; worker_child.py is the child's, where the
ordinary adapters run unchanged in an `InProcessBackend`. A `ProviderError` comes back as its
`ErrorInfo`; a bug in the child, or the child dying, fails just the calls it was streaming, and the
next call starts a new child.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import pickle
import struct
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from lfgtui.providers.base import ModelCall, ProviderConfig, ProviderError
from lfgtui.providers.kinds import kind_of

if TYPE_CHECKING:  # imported where used: `lfg run` starts the child before it needs the events
    from lfgtui.events import ErrorInfo, Event, EventFactory, Observed

HEADER = struct.Struct("!I")
STREAMS_PER_PROCESS = 16
"""How many streams the run may have open at once for each child of an SDK it starts: 16 streams
at 200 tokens a second took 0.32 of a child's core (the ceiling is about 60 such streams), so a
child this full still reads each stream as it comes."""
MAX_PROCESSES = 8
"""The most children of one SDK lfg starts by itself (`provider_processes` in config.toml sets it)."""
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


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system says), else all of them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_processes() -> int:
    """How many children an SDK may have: the cores this process may use, less one for the UI and
    less those the machine's load (its one-minute average) already keeps busy; at least one, at most
    `MAX_PROCESSES`. On two cores that is one, as before."""
    busy = int(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(MAX_PROCESSES, usable_cores() - 1 - busy))


def sdk_of(config: ProviderConfig) -> str:
    """Which child reads a provider's streams: the one for the SDK its kind speaks through (lfg's own
    HTTP client, httpx2, for a kind without one)."""
    return kind_of(config).sdk or "httpx2"


class Child:
    """One worker process: its stdin, and the tasks that read its stdout (`ChildPipes`) and stderr."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr: deque[str] = deque(maxlen=20)
        """Its last lines on stderr, said with its end."""
        self.tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def start(cls, deliver: Callable[[list[Any]], None], ended: Callable[[Child, str], None]) -> Child:
        """A new child, its events handed to `deliver` as they are read and its end to `ended` with why."""
        loop = asyncio.get_running_loop()
        transport, pipes = await loop.subprocess_exec(
            lambda: ChildPipes(deliver, loop),
            sys.executable,
            "-m",
            "lfgtui.providers.worker_child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        child = cls(asyncio.subprocess.Process(transport, pipes, loop))
        child.tasks = [
            asyncio.create_task(child._read(pipes.ended, ended), name="provider worker reader"),
            asyncio.create_task(child._read_stderr(), name="provider worker stderr"),
        ]
        return child

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def send(self, message: Open | Cancel) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        if not stdin.is_closing():
            stdin.write(frame(message))

    async def _read(self, ended: asyncio.Future[None], on_end: Callable[[Child, str], None]) -> None:
        """Wait for the end of its stdout (its events are delivered as they come); then say why it ended."""
        process = self.process
        try:
            await ended
            code = await process.wait()
            reason = f"the provider worker process exited (code {code})"
        except Exception as exc:  # an unreadable message: nothing after it can be trusted
            if process.returncode is None:
                process.kill()
            reason = f"the provider worker sent an unreadable message ({type(exc).__name__}: {exc})"
        if self.stderr:
            reason += ": " + " | ".join(self.stderr)
        on_end(self, reason)

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            if text := line.decode(errors="replace").strip():
                self.stderr.append(text)

    async def aclose(self, at_once: bool) -> None:
        """Close its stdin (it cancels its streams and exits); kill it if it hangs, or at once."""
        process = self.process
        if process.returncode is None:
            assert process.stdin is not None
            if at_once:
                process.kill()
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), STOP_WAIT_S)
            except TimeoutError:
                process.kill()
                await process.wait()
        for task in self.tasks:
            await asyncio.gather(task, return_exceptions=True)


class ProviderWorker:
    """The parent's side, a `registry.Backend`: a child process for each SDK the run's providers
    speak through (`sdk_of`), started on first use and again after it dies, reading the streams of
    the providers it makes; several for an SDK when the run streams more at once than one reads
    well (`plan`).

    Importing an SDK holds its child's loop, Anthropic's for about a second: in one child for all,
    a run's OpenAI tickets waited for it before their first token and their streams stopped while it
    ran. Apart, each SDK's first token waits only for its own import, the imports run on both cores,
    and a child that dies fails only its own streams."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or default_processes()
        """The most children one SDK may have."""
        self.at_once = 1
        """How many streams the run may have open at once (`plan`)."""
        self._children: dict[str, list[Child]] = {}
        """The children, by the SDK whose providers they read."""
        self._spare: Child | None = None
        """A child started before any SDK was asked for (`start`), taken by the first that is."""
        self._remotes: dict[str, RemoteProvider] = {}
        self._inboxes: dict[int, Inbox] = {}
        self._streams: dict[int, Child] = {}
        """The child each open stream runs in."""
        self._ids = itertools.count(1)
        self._starting: asyncio.Lock = asyncio.Lock()

    @property
    def pids(self) -> tuple[int, ...]:
        """The process ids of the children while they run (for monitoring: their CPU, their memory)."""
        return tuple(child.process.pid for child in self._every_child() if child.running)

    def _every_child(self) -> list[Child]:
        """The children of every SDK, and the spare."""
        spare = [self._spare] if self._spare is not None else []
        return [child for children in self._children.values() for child in children] + spare

    def plan(self, at_once: int, processes: int | None = None) -> None:
        """Size the children to the run, before `warm`: it may stream `at_once` calls at once (its
        tickets, up to its `max_concurrency`), and an SDK gets a child for every
        `STREAMS_PER_PROCESS` of them, up to `processes` (else `default_processes`)."""
        self.at_once = max(1, at_once)
        if processes is not None:
            self.processes = max(1, processes)

    def _wanted(self) -> int:
        """How many children each SDK the run uses starts with."""
        return max(1, min(self.processes, math.ceil(self.at_once / STREAMS_PER_PROCESS)))

    async def provider(self, config: ProviderConfig) -> RemoteProvider:
        """The provider for a resolved config, once its child has made its adapter."""
        remote = self._remotes.setdefault(config.name, RemoteProvider(self, config))
        await remote.ready()
        return remote

    async def warm(self, config: ProviderConfig) -> None:
        """Ask this provider's children for its adapter before returning, as many started as the run
        wants (`plan`); the first one's answer is the provider's `ready`."""
        remote = self._remotes.setdefault(config.name, RemoteProvider(self, config))
        first, *others = await self._started(sdk_of(config), self._wanted())
        remote.prepare(lambda: self._send(first, config, None))
        for child in others:  # each imports its SDK on a core of its own; nobody waits for it: its
            self._send(child, config, None)  # inbox goes when the child says the adapter is made

    async def open(self, config: ProviderConfig, call: ModelCall | None) -> tuple[int, Inbox]:
        return self._send(self._least_busy(await self._started(sdk_of(config), 1)), config, call)

    def _least_busy(self, children: list[Child]) -> Child:
        """The child with the fewest open streams (the first of them on a tie)."""
        open_streams = {id(child): 0 for child in children}
        for owner in self._streams.values():
            if id(owner) in open_streams:
                open_streams[id(owner)] += 1
        return min(children, key=lambda child: open_streams[id(child)])

    def _send(self, child: Child, config: ProviderConfig, call: ModelCall | None) -> tuple[int, Inbox]:
        """Open a stream in a running child: its id and the inbox its items arrive in."""
        stream = next(self._ids)
        inbox = Inbox()
        self._inboxes[stream] = inbox
        self._streams[stream] = child
        child.send(Open(stream, config, call))
        return stream, inbox

    def close(self, stream: int) -> None:
        """The parent is done with a stream; if the child is still sending it, stop it there."""
        child = self._streams.pop(stream, None)
        if self._inboxes.pop(stream, None) is not None and child is not None and child.running:
            child.send(Cancel(stream))

    async def start(self) -> None:
        """Start a child now unless one runs, so that its imports overlap the caller's; the first SDK
        asked for takes it."""
        async with self._starting:
            if self._spare is None and not any(child.running for child in self._every_child()):
                self._spare = await Child.start(self._deliver, self._ended)

    async def _started(self, sdk: str, at_least: int) -> list[Child]:
        """The running children of `sdk`, `at_least` of them: a dead one is dropped, and the spare
        taken, or children started now, to make up the number."""
        async with self._starting:
            children = [child for child in self._children.get(sdk, []) if child.running]
            while len(children) < at_least:
                spare, self._spare = self._spare, None
                if spare is not None and spare.running:
                    children.append(spare)
                else:
                    children.append(await Child.start(self._deliver, self._ended))
            self._children[sdk] = children
            return children

    def _deliver(self, batches: list[list[tuple[int, Item]]]) -> None:
        """What one read of a pipe brought: each stream's items, in order, as one list to its inbox."""
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
                self._streams.pop(stream, None)

    def _ended(self, child: Child, reason: str) -> None:
        """A child ended: whatever it was still streaming fails, saying why."""
        for stream in [stream for stream, owner in self._streams.items() if owner is child]:
            del self._streams[stream]
            if (inbox := self._inboxes.pop(stream, None)) is not None:
                inbox.put([Crashed(reason)])

    async def aclose(self, *, at_once: bool = False) -> None:
        """Close every child (see `Child.aclose`): `at_once` when nothing they make is wanted, as when
        the tickets they were started for fail their check (they would first finish their imports)."""
        for remote in self._remotes.values():
            await remote.settle()
        self._remotes.clear()
        children = self._every_child()
        self._children, self._spare = {}, None
        await asyncio.gather(*(child.aclose(at_once) for child in children))


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
