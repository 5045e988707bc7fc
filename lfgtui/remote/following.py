"""What following a run needs, whatever carries it: `lfg attach`'s HTTP (attach.py) or the broker
(broker/watch.py, and a coordinator's feed of its workers' events).

The reconnect policy, the error that ends a watch, `Delivered` (each event of an attempt once), the
`Followed` protocol the attached TUI and NDJSON printer take, who this watcher is, and a message's
events decoded strictly. Apart from attach.py so that what follows a run on the broker does not load
the HTTP client (issue #77: a coordinator imported httpx2 for nothing).
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from lfgtui.events import AttemptEnded, Event, Outcome
from lfgtui.remote.codec import CodecError, UnknownType, decode, finite
from lfgtui.run.retry import RetryPolicy

if TYPE_CHECKING:
    from lfgtui.remote.description import RemoteRun
    from lfgtui.run.requests import Request
    from lfgtui.tickets.ticket import Ticket

RECONNECTS = RetryPolicy(max_retries=8, base_delay_s=0.5, max_delay_s=15.0)
"""Waits before each reconnect in a row that brought nothing new (no server, a proxy's 502, a
server that greets and drops): 0.5 s, 1 s, 2 s … up to 15 s, each times 0.5 to 1 so that watchers dropped
together do not come back together; after `max_retries` of them, `attach` gives up."""


class AttachError(Exception):
    """The run cannot be followed: no server, a refused token, a server that does not speak lfg."""


@dataclass
class Delivered:
    """The highest sequence number delivered per attempt: a resent event is not delivered again.

    An attempt that a later one of its ticket superseded takes nothing more but its `interrupted`
    end: a worker paused past its lease may publish its late events (its answer to the end) after
    another worker took the ticket over, and the coordinator, which drops them, records the attempt
    `interrupted` with what arrived before the takeover (issue #55). That end is delivered whatever
    its number: the coordinator numbers it after the events it had, and a watcher may have had more,
    read from a broker that then went back in time and lost them (issue #74: the watcher dropped it as
    one it had, and kept an attempt that never ends). A coordinator's feed, `lfg attach` and the TUI's
    watchers all deliver through this, so all of them agree with the history."""

    seqs: dict[tuple[str, int], int] = field(default_factory=dict)
    ended: set[tuple[str, int]] = field(default_factory=set)
    """Attempts whose `attempt_ended` was delivered: nothing of theirs comes after it."""
    latest: dict[str, int] = field(default_factory=dict)
    """The latest attempt of each ticket delivered: those before it are superseded."""

    def first_time(self, event: Event) -> bool:
        key = (event.ticket, event.attempt)
        if key in self.ended or (event.seq <= self.seqs.get(key, -1) and not interrupted_end(event)):
            return False
        if event.attempt < self.latest.get(event.ticket, event.attempt) and not interrupted_end(event):
            return False
        self.seqs[key] = event.seq
        self.latest[event.ticket] = max(event.attempt, self.latest.get(event.ticket, event.attempt))
        if isinstance(event, AttemptEnded):
            self.ended.add(key)
        return True


def interrupted_end(event: Event) -> bool:
    """Whether the event ends its attempt `interrupted`: what a superseded attempt still takes (the
    coordinator publishes it once a later attempt of the ticket showed up)."""
    return isinstance(event, AttemptEnded) and event.outcome is Outcome.INTERRUPTED


class Followed(Protocol):
    """A run followed from elsewhere, whatever carries it: what the attached TUI and NDJSON need."""

    url: str
    state: str
    offset: float
    run: RemoteRun | None
    read_only: str
    """What the person who asks it to cancel, retry or approve is told when the run does not let its
    watchers (its description's `control` is false): how this kind of run is controlled."""
    added: Callable[[Ticket], None] | None
    """Who is told of a ticket the run took on while it runs (an add-ticket, a fork), before its
    events: the attached TUI's pane of it."""
    leads: dict[str, str]
    """The lead that added each ticket a lead added, as far as it was said."""

    async def describe(self, said: Callable[[str], None] | None = None) -> RemoteRun: ...

    async def follow(self, deliver: Callable[[Event], None], said: Callable[[str], None]) -> None: ...

    async def ask(self, request: Request) -> str | None:
        """Carry a person's request (lfgtui/run/requests.py) to the run; why it was not done, or None."""
        ...

    async def aclose(self) -> None: ...


def watcher_name() -> str:
    """Who this watcher is, for the run to record with what it asks: `user@host`, in ASCII."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment, and no password entry
        user = "?"
    return f"{user}@{socket.gethostname()}".encode("ascii", "backslashreplace").decode()


def now_in(data: dict[str, object]) -> float:
    """The sender's clock in a message (`hello`, a broker's entry); 0 when it is not a finite number."""
    try:
        return finite(data.get("now"))
    except CodecError:
        return 0.0


def events_of(data: dict[str, object], offset: float, said: Callable[[str], None]) -> list[Event]:
    """A message's events, each decoded strictly; one that is not valid is skipped, and said."""
    items = data.get("events")
    events = []
    for item in items if isinstance(items, list) else ():
        try:
            events.append(decode(item, offset))
        except UnknownType:
            continue  # a newer server's event: nothing here would show it
        except CodecError as exc:
            said(f"skipped an event that is not valid: {exc}")
    return events
