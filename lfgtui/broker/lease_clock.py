"""A worker's lease clock: a thread with an event loop and a broker connection of its own, on which
the worker renews the leases of the entries it holds.

The worker's own loop runs the attempts. Something there that holds it (an SDK's import, a big entry's
parse, a slow callback) holds it for seconds on a busy machine, and a lease renewed on that loop lapsed
meanwhile: another worker took the entry over and ran the ticket again (issue #55). On the clock's loop
nothing but renewals runs, so only the process itself stopping (SIGSTOP, a machine that sleeps) or the
broker going away keeps a lease from being renewed, and the worker's fence (`BrokerWorker._fence`)
stops the attempt then.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from lfgtui.broker.client import CONNECT_TIMEOUT_S, client
from lfgtui.broker.layout import GROUP
from lfgtui.broker.ownership import Ownership

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.config.broker import Broker

T = TypeVar("T")
CLOSE_S = 5.0
"""How long closing the clock's connection and thread may take."""


class LeaseClock:
    """Runs a worker's renewals (`run`) on a loop of their own, in a thread of their own."""

    def __init__(self, broker: Broker, consumer: str) -> None:
        self.broker, self.consumer = broker, consumer
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lease clock", daemon=True)
        self._redis: Redis | None = None
        self._ownership: Ownership | None = None

    async def run(self, work: Callable[[Ownership], Coroutine[Any, Any, T]]) -> T:
        """`work` (given the clock's own `Ownership`) run on the clock's loop, awaited on the caller's;
        cancelling the caller cancels it there. What it calls back on the caller's objects must be
        safe from another thread (or sent with `call_soon_threadsafe`)."""
        if not self._thread.is_alive():
            self._thread.start()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._run(work), self._loop))

    async def _run(self, work: Callable[[Ownership], Coroutine[Any, Any, T]]) -> T:
        if self._ownership is None:
            self._redis = client(self.broker, CONNECT_TIMEOUT_S)
            self._ownership = Ownership(self._redis, GROUP, self.consumer)
        return await work(self._ownership)

    async def aclose(self) -> None:
        """Close the clock's connection and stop its thread (what still runs there is cancelled)."""
        if not self._thread.is_alive():
            self._loop.close()
            return
        closing = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        await asyncio.wait([asyncio.wrap_future(closing)], timeout=CLOSE_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, CLOSE_S)
        if not self._thread.is_alive():
            self._loop.close()

    async def _close(self) -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._redis is not None:
            await self._redis.aclose()
