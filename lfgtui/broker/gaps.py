"""What a watcher of a run on the broker did not get, said where its events go (NDJSON `gap`
records, a line in the affected ticket's pane), not only on stderr or the summary bar.

Two things lose a watcher's events: the broker trimmed the run's stream (`[broker] max_len`) before
the watcher read those entries, which the publisher's entry numbers jumping or the stream's own
count show (`_Numbers`, `_Trims` in watch.py; which tickets they held is unknown), and a publisher
dropped events while the broker was away, which its gap entry says per attempt. Once a stream was
trimmed, each attempt's next event read whose seq jumps past the last one delivered says which of
that attempt's events went: an attempt's events are numbered from 0, one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from lfgtui.formats import plural

if TYPE_CHECKING:
    from lfgtui.events import Event
    from lfgtui.remote.following import Delivered

TRIMMED = "trimmed"
DROPPED = "dropped"


@dataclass(frozen=True)
class Lost:
    """Events a watcher will never get: of one attempt (`ticket`, `attempt`, the seqs from
    `first_seq` to `last_seq`, `events` of them), or, for trimmed entries of unknown tickets, of the
    run (`entries` of the stream, `before_first_read` when this watcher had read none of its
    publisher's entries yet). `t` is on the watcher's clock, as its events' times are."""

    why: Literal["trimmed", "dropped"]
    t: float
    ticket: str | None = None
    attempt: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    events: int | None = None
    entries: int | None = None
    before_first_read: bool = False

    def fields(self) -> dict[str, object]:
        """The NDJSON `gap` record's own fields (README's "NDJSON events")."""
        return {
            "why": self.why,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "events": self.events,
            "entries": self.entries,
            "before_first_read": self.before_first_read,
        }

    def text(self, reader: str = "this watcher") -> str:
        """What an affected ticket's pane says (of the attempt; the ticket's id is the pane's), or the
        coordinator's history (`reader`: "this coordinator")."""
        which = f"{self.first_seq} to {self.last_seq}" if self.first_seq != self.last_seq else self.first_seq
        return (
            f"lost {plural(self.events or 0, 'event')} of attempt {self.attempt} (seq {which}): "
            f"{self.cause(reader)}; what shows here is not whole"
        )

    def cause(self, reader: str = "this watcher") -> str:
        """Why `reader` never got them."""
        if self.why == TRIMMED:
            return (
                f"the broker trimmed or lost them before {reader} read them ([broker] max_len, or a broker "
                "that restarted without persistence, was flushed or failed over)"
            )
        return "its publisher dropped them while the broker was away"


@dataclass
class Gaps:
    """One watcher's losses, each told once to `report` before the events that follow it."""

    report: Callable[[Lost], None]
    trimmed: bool = False
    """Entries were trimmed: from now on an attempt's seq that jumps is a loss."""
    told: dict[tuple[str, int], int] = field(default_factory=dict)
    """The last seq of each attempt told lost already (by a gap entry): not told again."""

    def entries(self, count: int, t: float, first: bool) -> None:
        """`count` entries of a publisher were trimmed (`first`: before any of its entries was read)."""
        self.trimmed = True
        self.report(Lost(TRIMMED, t, entries=count, before_first_read=first))

    def dropped(self, data: dict[str, object], t: float, known: Collection[str]) -> None:
        """A publisher's gap entry (layout.ENTRY_GAP), read strictly: each attempt of a known ticket
        with whole numbers is told."""
        items = data.get("lost")
        for item in items if isinstance(items, list) else ():
            ticket = item.get("ticket") if isinstance(item, dict) else None
            if not isinstance(ticket, str) or ticket not in known:
                continue
            numbers = [item.get(name) for name in ("attempt", "first_seq", "last_seq", "events")]
            if any(type(number) is not int for number in numbers):
                continue
            attempt, first, last, count = numbers
            self.told[ticket, attempt] = max(last, self.told.get((ticket, attempt), -1))
            self.report(Lost(DROPPED, t, ticket, attempt, first, last, count))

    def deliver(self, event: Event, delivered: Delivered, deliver: Callable[[Event], None]) -> None:
        """`deliver` the event unless it was delivered already; once entries were trimmed, first tell
        what its attempt lost before it."""
        if not self.trimmed:  # per token: nothing more than the dedupe
            if delivered.first_time(event):
                deliver(event)
            return
        key = (event.ticket, event.attempt)
        after = max(delivered.seqs.get(key, -1), self.told.get(key, -1))
        if not delivered.first_time(event):
            return
        if event.seq > after + 1:
            first, last = after + 1, event.seq - 1
            self.report(Lost(TRIMMED, event.t, event.ticket, event.attempt, first, last, last - first + 1))
        deliver(event)
