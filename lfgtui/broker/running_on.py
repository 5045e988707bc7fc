"""Which worker ran an attempt of a coordinated run, as the history keeps it.

A worker says where it runs an attempt in the attempt's first status (`running on worker NAME
(HOST)`), which the coordinator records with the worker's other events. The commands that act on a
ticket's worktree or agent session from the history (`lfg land`, `lfg fork`, `lfg review --send`)
read it back from there to know that the worktree and the session are on that worker, not here:
one sentence, written and read in this module only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SAID = "running on worker "


@dataclass(frozen=True)
class RanOn:
    """A worker as it named itself and its machine when it took an attempt."""

    name: str
    host: str

    def __str__(self) -> str:
        return f"worker {self.name} (on {self.host})"


def running_on(name: str, host: str) -> str:
    """What a worker says in an attempt it takes."""
    return f"{SAID}{name} ({host})"


def ran_on(statuses: Iterable[str]) -> RanOn | None:
    """The worker the latest of `statuses` (an attempt's status lines, in order) names, if any.

    The worker's sentence ends its status (a retry's reason may come before it, after `; `)."""
    found = None
    for text in statuses:
        _, said, where = text.rpartition(SAID)
        name, opened, host = where.rpartition(" (")
        if said and opened and name and host.endswith(")"):
            found = RanOn(name, host[:-1])
    return found
