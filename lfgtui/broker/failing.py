"""While an attempt waits queued on the broker, say in its ticket when a live worker that serves its
provider keeps failing (issue #66): a worker whose ACL user may not read work, whose broker
connection fails, whose provider could not be made ready, or that drops the entries it reads, is on
the broker and serves the provider, so the ticket said only that it waited for a worker, for ever.
Each worker says its last error in its presence (broker/presence.py); this reads it as the
coordinator reads the presence anyway (`Dispatch.workers`) and says each worker's new error once.

Once a worker took the attempt, the watch goes on for what only the worker that refused it knows: a
second work entry for the ticket, added beside the coordinator's by another writer of the work stream,
is refused naming the entry the coordinator enqueued (broker/worker.py `_run_refused`); a worker's new
error that names the running attempt's entry is said in its ticket, so the run's record (pane,
NDJSON, history) says it, not only that worker's log and `lfg runs`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lfgtui.broker.presence import WorkerPresence


@dataclass
class FailingWorkers:
    """Watches the workers of one attempt's provider (`watch`, until cancelled)."""

    workers: Callable[[], Awaitable[list[WorkerPresence]]]
    provider: str
    say: Callable[[str], None]
    explain: Callable[[Exception], str | None]
    every_s: float
    """How often the presence is looked at: each worker writes it every third of a lease."""
    running: str | None = None
    """The work entry a worker took the attempt under (None while it waits queued): from then on only
    an error that names it is said."""
    _first: dict[str, float | None] = field(default_factory=dict, init=False)
    """When each worker's error was said on the broker as this attempt first saw the worker: an error
    from before it says nothing of now; a later one is the worker failing while this waits."""
    _told: dict[str, str] = field(default_factory=dict, init=False)

    async def watch(self) -> None:
        """Look now (what each worker said before this attempt was enqueued is not about it), then
        every `every_s`."""
        while True:
            try:
                workers = await self.workers()
            except Exception as exc:
                if self.explain(exc) is None:
                    raise  # else the broker is away: the feed says so
            else:
                for worker in workers:
                    if self.provider in worker.serves:
                        self._look(worker)
            await asyncio.sleep(self.every_s)

    def _look(self, worker: WorkerPresence) -> None:
        first = self._first.setdefault(worker.name, worker.error_at)
        if not worker.error or worker.error_at == first or self._told.get(worker.name) == worker.error:
            return
        if self.running is not None:
            if re.search(rf"\b{re.escape(self.running)}\b", worker.error):  # not 1-1 in 1-10
                self._told[worker.name] = worker.error
                self.say(f"worker {worker.name} said of this attempt's work entry: {worker.error}")
            return
        self._told[worker.name] = worker.error
        self.say(
            f"worker {worker.name}, which serves {self.provider!r}, keeps failing while this waits; "
            f"its last error: {worker.error}"
        )
