"""What a worker publishes of an attempt while its lease is in doubt (issue #55: paid twice after a
pause).

A worker paused (SIGSTOP, a suspended VM) past its lease wakes with the provider's stream where it
left it: what the provider sent meanwhile waits in the socket, and reading it on published, after
another worker had taken the ticket over, an attempt the run had already recorded `interrupted`.
The gate holds the attempt's events from the moment its lease has gone unconfirmed for
`FENCE_AFTER` of it by this worker's clock (a process that wakes from a longer pause is past that
at once) until the broker answers: confirmed (nobody took the entry over), they go out in order;
taken over, or not answered in time, they are dropped, the worker stops the attempt (closing the
provider's stream at once) and nothing more of that attempt is published.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lfgtui.events import Event


@dataclass
class Gate:
    """An attempt's sink before its publisher: events pass while the lease is sure, wait while it is
    in doubt, and are dropped once the entry is another worker's (or was left to one)."""

    publish: Callable[[Event], None]
    doubtful: Callable[[], bool]
    """Whether the lease has gone unconfirmed long enough that another worker may hold the entry."""
    forsaken: Callable[[], bool]
    """Whether this worker left the entry (taken over, or fenced): nothing more of it goes out."""
    held: list[Event] = field(default_factory=list)
    dropped: int = 0
    """How many events were never published: held, then the entry was forsaken."""

    def __call__(self, event: Event) -> None:
        self.held.append(event)
        self.release()

    def release(self) -> None:
        """Publish what waits, in order, once the lease is sure again; drop it once forsaken."""
        if self.forsaken():
            self.dropped += len(self.held)
            self.held.clear()
            return
        if self.doubtful():
            return
        held, self.held = self.held, []
        for event in held:
            self.publish(event)
