"""Stopping tasks whose cancel may be lost, within a bounded time; finishing what a cancel must not cut
short.

Python 3.11's `asyncio.wait_for`, which redis-py writes each command in, returns normally when a
cancel lands in the loop turn its write completes (cpython#86296): the task goes on as if never
cancelled. A loop a cancel stops checks for that after its commands (`raise_swallowed_cancel`), and
whoever cancels a task waits for it a bounded time (`stop`), so a lost cancel never hangs quitting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Collection
from typing import Any, TypeVar

T = TypeVar("T")

STOP_S = 5.0
"""How long a task cancelled at the end may take to stop before closing goes on without it."""


def raise_swallowed_cancel() -> None:
    """Raise the CancelledError of a cancel this task got that never reached it: Python 3.11's
    `asyncio.wait_for`, which redis-py writes a command in, returns normally when the cancel lands in
    the turn of the loop its write completes (cpython#86296); the request is still counted. A loop
    that a cancel stops calls this after its commands, else it goes on forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError


async def stop(tasks: Collection[asyncio.Task[Any]], within_s: float = STOP_S) -> bool:
    """Cancel `tasks` and wait up to `within_s` for them to end; whether they all did. The wait is
    bounded (a task whose cancel was swallowed may not end), `asyncio.wait` neither raises their
    CancelledError nor swallows ours, and what they raised is dropped (their own code says it)."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return True
    done, pending = await asyncio.wait(tasks, timeout=within_s)
    for task in done:
        if not task.cancelled():
            task.exception()
    return not pending


async def finish(awaitable: Awaitable[T]) -> T:
    """Await `awaitable` to its end even when this task is cancelled meanwhile, then raise that cancel:
    for what must not be left half done, such as reaping a killed process (left to the loop, it
    outlives it). What `awaitable` waits for must be bounded: further cancels do not cut it short."""
    done = asyncio.ensure_future(awaitable)
    cancelled = False
    while not done.done():
        try:
            await asyncio.wait([done])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return done.result()
