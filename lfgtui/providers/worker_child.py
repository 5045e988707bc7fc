"""The provider worker's child: `python -m lfgtui.providers.worker_child`, started by `worker.ProviderWorker`.

It reads `Open` and `Cancel` messages on stdin and streams each call through an `InProcessBackend`
(the ordinary adapters, with a sim server of its own when a config points at `sim:`), sending the
events back on stdout in batches, until stdin closes. See worker.py for why.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import traceback

from lfgtui import event_loop
from lfgtui.events import EventFactory, joined, observed
from lfgtui.providers.base import ProviderError
from lfgtui.providers.registry import InProcessBackend
from lfgtui.providers.worker import Cancel, Crashed, Ended, Failed, Item, Open, frame, read_frame


class Outbox:
    """The child's side of the pipe: the events of one pass of the loop, written as one batch when
    the pass ends. The network layer wakes the flowing streams together (`network._HoldClock`), so a
    batch holds every stream's events of one tick: one pipe write, and one wake-up of the parent,
    per tick rather than per stream, with no timer of its own and no wait added to any event. A
    stream's text pieces that one read brought go as one event (`events.joined`)."""

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport
        self._items: list[tuple[int, Item]] = []

    def put(self, stream: int, item: Item) -> None:
        items = self._items
        if not items:
            asyncio.get_running_loop().call_soon(self.flush)
        elif type(item) is tuple:
            last_stream, last = items[-1]
            if last_stream == stream and type(last) is tuple and (both := joined(last, item)) is not None:
                items[-1] = (stream, both)
                return
        items.append((stream, item))

    def flush(self) -> None:
        if self._items and not self._transport.is_closing():
            self._transport.write(frame(self._items))
        self._items = []


async def _stream_one(backend: InProcessBackend, message: Open, outbox: Outbox) -> None:
    try:
        try:
            adapter = await backend.provider(message.config)
        finally:
            collect_again()
        if message.call is not None:
            async for event in adapter.stream(message.call, EventFactory("", 0, mends=False)):
                outbox.put(message.stream, observed(event))
        outbox.put(message.stream, Ended())
    except ProviderError as exc:
        outbox.put(message.stream, Failed(exc.info))
    except Exception as exc:  # a bug of ours: this call fails, the others go on
        traceback.print_exc()
        outbox.put(message.stream, Crashed(f"{type(exc).__name__}: {exc}"))


async def serve() -> None:
    """Stream what the parent asks for until its stdin closes."""
    loop = asyncio.get_running_loop()
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the pipe
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, out)
    outbox = Outbox(transport)
    tasks: dict[int, asyncio.Task[None]] = {}
    backend = InProcessBackend()
    try:
        while (message := await read_frame(reader)) is not None:
            match message:
                case Open(stream=stream):
                    task = asyncio.create_task(_stream_one(backend, message, outbox))
                    tasks[stream] = task
                    task.add_done_callback(lambda _, stream=stream: tasks.pop(stream, None))
                case Cancel(stream=stream) if stream in tasks:
                    tasks[stream].cancel()
        for task in list(tasks.values()):
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    finally:
        await backend.aclose()
    outbox.flush()
    transport.close()


def without_aiohttp() -> None:
    """Both SDKs import aiohttp when it is installed (it is, for `lfg serve` and `lfg web`), for a
    transport lfg never asks them for: about 0.1 s of the worker's start, two TLS contexts included,
    spent before its first request. Nothing in the child uses aiohttp (its sim serves on asyncio's
    own streams), so the import fails here at once and each SDK goes on without that transport, as
    it does where aiohttp is not installed."""
    sys.modules.setdefault("aiohttp", None)  # type: ignore[arg-type]  # None: "import fails", per importlib


def collect_again() -> None:
    """Once the first provider is made, what the start made is frozen (cycle collection never scans
    it again) and collection resumes. Until then it is off (see `__main__`): the start is the SDK's
    import, hundreds of classes that live as long as the process, and collections that scanned them
    over and over took a tenth of it."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


if __name__ == "__main__":
    without_aiohttp()
    gc.disable()
    event_loop.run(serve())
