"""A worker's publishers: one per run it runs attempts of, shared by those attempts.

A publisher per attempt wrote an entry every 50 ms for each streaming ticket; redis spends its one
thread's time per entry, not per event, so the attempts of one run that a worker runs at once share
one publisher, whose batch holds all of them. It opens with the first of them and closes once the
last ended; each attempt, when it ends, waits for the broker to take what it published (its work
entry is held meanwhile), while the others go on publishing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lfgtui.broker.publisher import Publisher


@dataclass
class _Shared:
    publisher: Publisher
    attempts: int = 0
    """The attempts using it: the last one to end closes it."""


class RunPublishers:
    """`open` a run's publisher for an attempt, `release` it when the attempt ended."""

    def __init__(self, make: Callable[[str], Publisher], drain_s: float) -> None:
        """`make`: a (not started) publisher of a run; `drain_s`: how long an ended attempt's events
        may take to reach the broker."""
        self._make = make
        self.drain_s = drain_s
        self._runs: dict[str, _Shared] = {}

    def open(self, run_id: str) -> Publisher:
        """The run's publisher, started if the attempt is the first of the run here now."""
        shared = self._runs.get(run_id)
        if shared is None:
            shared = self._runs[run_id] = _Shared(self._make(run_id))
            shared.publisher.start()
        shared.attempts += 1
        return shared.publisher

    async def release(self, publisher: Publisher, ticket: str, attempt: int) -> bool:
        """The attempt ended (its run gives the publisher nothing more): wait up to `drain_s` for the
        broker to take its events, closing the publisher if no other attempt uses it; whether the
        broker has them all (see `Publisher.took`)."""
        shared = self._runs[publisher.run_id]
        mark = publisher.mark()
        shared.attempts -= 1
        if shared.attempts:
            await publisher.drained(mark, self.drain_s)
        else:
            del self._runs[publisher.run_id]  # an attempt of the run starting meanwhile opens another
            await publisher.aclose(self.drain_s)
        return publisher.took(mark, ticket, attempt)
