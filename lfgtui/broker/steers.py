"""The steers a coordinator carried to the worker running a ticket's attempt, kept while that attempt
runs (issue #74). A worker that took a steer and then died, or was taken over, took it in an attempt
that counts for nothing: the next attempt runs the turn again from its prompt, so the steers go to it
too, once its turn has begun (its `steer_offer`), as a local retry replays the steers its attempt took
(run/steering.py). Before, the steer was lost without a word, and attempt 2 ran the first prompt alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lfgtui.run.attempts import RunFace
    from lfgtui.run.requests import Steer


@dataclass(eq=False)
class Sent:
    """A steer a worker took, or has not answered yet (`Pending`)."""

    steer: Steer
    by: str
    run: RunFace
    settled: bool = False
    """Refused late (queued by the coordinator then), or carried on to the next attempt: an answer
    that comes for it now no longer counts."""


@dataclass
class SteersSent:
    """By ticket: the steers sent to its attempt now, and those carried to its next one."""

    sent: dict[str, list[Sent]] = field(default_factory=dict)
    carrying: dict[str, list[Sent]] = field(default_factory=dict)

    def add(self, sent: Sent) -> None:
        self.sent.setdefault(sent.steer.ticket, []).append(sent)

    def settle(self, sent: Sent) -> None:
        """An answer came that the coordinator acts on itself: the steer is no longer the worker's."""
        sent.settled = True
        if sent in (sent_now := self.sent.get(sent.steer.ticket, [])):
            sent_now.remove(sent)

    def taken_over(self, ticket_id: str) -> None:
        """The ticket's attempt ended without its worker (taken over, its entry lost): what was sent
        to it is carried to the next attempt, and the old attempt's answers no longer count."""
        moved = self.sent.pop(ticket_id, [])
        for sent in moved:
            sent.settled = True
        self.carrying.setdefault(ticket_id, []).extend(Sent(sent.steer, sent.by, sent.run) for sent in moved)

    def turn_began(self, ticket_id: str) -> list[Sent]:
        """The next attempt's turn began: the steers carried to it, to send now."""
        return self.carrying.pop(ticket_id, [])

    def done(self, ticket_id: str) -> list[Sent]:
        """The ticket's attempts are over: the steers carried that no turn began to take (lost)."""
        self.sent.pop(ticket_id, None)
        return self.carrying.pop(ticket_id, [])
