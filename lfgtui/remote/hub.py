"""A run's events as Server-Sent Events: one log that any number of watchers read at their own pace.

The hub is a sink of the run. Per event it only appends to a list; every `BATCH_S` the pending
events become one SSE message (`id: INSTANCE.N`, `event: events`, the batch as JSON), encoded once
and appended to the log, whatever the number of watchers. Each watcher's connection reads the log
from where it is (`Last-Event-ID` picks the place after a reconnect), so a slow watcher never slows
the run or the others: one too far behind, or that cannot take a message in time, is dropped and
comes back with `Last-Event-ID`. The log is kept whole for the life of the server (about 100 bytes
per streamed token), so nothing a watcher missed is ever lost.

A tournament's news is a fact of the run, not an event of an attempt's stream (contest.py `FACTS`):
each contestant's check result and each verdict is a message of its own (`check`, `verdict`: `HUB`),
after the events pending then, so it follows the attempt it is about. A ticket the run takes on while
it runs (a fork, a synthesis) is a `ticket` message before its events.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lfgtui.contest import CheckRan, Verdict, VerdictDecided
from lfgtui.events import Event, Translation
from lfgtui.remote.codec import encode, encode_check, encode_verdict
from lfgtui.remote.description import ticket_json
from lfgtui.tickets.ticket import Ticket

BATCH_S = 0.05
"""How long events wait to be sent together: watchers see a run at 20 updates a second."""
RECORDED_BATCH = 500
"""Events per message when a whole recorded run is published at once."""
_EVENT_ID = re.compile(r"([0-9a-f]{8})\.([0-9]{1,18})", re.ASCII)
"""An id this hub gives (`id: INSTANCE.N`): anything else a watcher sends back starts it over."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a watcher reads from: the index of the next message in the log."""

    index: int
    resumed: bool


class EventHub:
    """The sink that publishes a run (see the module docstring); `t0` is the run's clock at start."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, t0: float | None = None) -> None:
        """`t0`: when the run started on `clock`; by default now, for a run that starts as it is served."""
        self.clock = clock
        self.t0 = clock() if t0 is None else t0
        self.instance = secrets.token_hex(4)
        """Names this log: an id from another server (or an earlier one) starts a watcher over."""
        self.messages: list[bytes] = []
        self.sent_bytes: list[int] = []
        """Bytes in the log up to and including each message: how far behind a watcher is."""
        self.ended = False
        self.verdicts: dict[str, Verdict] = {}
        """Each tournament's latest verdict (what a watcher's synthesis starts from)."""
        self._pending: list[Event] = []
        self._flush: asyncio.TimerHandle | None = None
        self._grew = asyncio.get_running_loop().create_future()

    def __call__(self, event: Event) -> None:
        if (tell := _FACTS.get(type(event))) is not None:
            tell(self, event)
            return
        self._pending.append(event)
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(BATCH_S, self.publish)

    def publish(self) -> None:
        """Send what is pending now (the batch timer calls this; so does `end`)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._pending:
            batch, self._pending = self._pending, []
            self._append(
                "events", {"now": self.clock() - self.t0, "events": [encode(e, self.t0) for e in batch]}
            )

    def publish_all(self, events: Iterable[Event]) -> None:
        """A recorded run, at once, in messages of `RECORDED_BATCH` events."""
        for event in events:
            self._pending.append(event)
            if len(self._pending) >= RECORDED_BATCH:
                self.publish()
        self.publish()

    def added(self, ticket: Ticket, lead: str | None = None) -> None:
        """A ticket the run took on (a fork, a synthesis, an add-ticket), before its first event: a
        `ticket` message, naming the `lead` that added it when one did."""
        if self.ended:
            return
        self.publish()
        message = {"now": self.clock() - self.t0, "ticket": ticket_json(ticket)}
        self._append("ticket", message | ({"lead": lead} if lead is not None else {}))

    def _checked(self, fact: CheckRan) -> None:
        """A contestant's check has ended: a `check` message."""
        if self.ended:  # the run stopped meanwhile: its watchers are done
            return
        self.publish()
        check = encode_check(fact.ticket, fact.attempt, fact.result, fact.t - self.t0)
        self._append("check", {"now": self.clock() - self.t0, **check})

    def _decided(self, fact: VerdictDecided) -> None:
        """A tournament's verdict: a `verdict` message."""
        verdict = fact.verdict
        self.verdicts[verdict.tournament] = verdict
        if self.ended:  # the run stopped meanwhile: its watchers are done
            return
        self.publish()
        self._append(
            "verdict",
            {"now": self.clock() - self.t0, "t": fact.t - self.t0, "verdict": encode_verdict(verdict)},
        )

    def end(self) -> None:
        """The run is over: what is pending goes out, then `end`, after which watchers are done."""
        if self.ended:
            return
        self.publish()
        self._append("end", {"now": self.clock() - self.t0})
        self.ended = True

    def _append(self, kind: str, payload: dict[str, object]) -> None:
        n = len(self.messages) + 1
        data = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        message = f"id: {self.instance}.{n}\nevent: {kind}\ndata: {data}\n\n".encode()
        self.messages.append(message)
        self.sent_bytes.append((self.sent_bytes[-1] if self.sent_bytes else 0) + len(message))
        grew, self._grew = self._grew, asyncio.get_running_loop().create_future()
        grew.set_result(None)

    def place(self, last_event_id: str | None) -> Place:
        """Where a watcher that last saw `last_event_id` goes on: just after it when it is one of this
        log's ids, else from the start (the watcher drops the events it already has)."""
        known = _EVENT_ID.fullmatch(last_event_id or "")
        if known is not None and known[1] == self.instance and int(known[2]) <= len(self.messages):
            return Place(int(known[2]), resumed=True)
        return Place(0, resumed=False)

    @property
    def total(self) -> int:
        """Bytes in the log."""
        return self.sent_bytes[-1] if self.sent_bytes else 0

    def behind(self, index: int) -> int:
        """Bytes in the log that a watcher about to read message `index` has not had yet."""
        return self.total - (self.sent_bytes[index - 1] if index else 0)

    def up_to(self, index: int, size: int) -> int:
        """Where a write that starts at message `index` ends to be about `size` bytes: at least one
        message, and no more than the ones that fit in `size`."""
        start = self.sent_bytes[index - 1] if index else 0
        return max(index + 1, bisect.bisect_right(self.sent_bytes, start + size, lo=index))

    async def grown(self) -> None:
        """Wait for the next message."""
        await asyncio.shield(self._grew)

    def hello(self) -> bytes:
        """The first message of every connection: how long to wait before reconnecting, the server's
        clock now (a watcher maps the events' times onto its own clock with it), and how many messages
        the log holds now (`log`): a watcher that has taken the one numbered so (`id: INSTANCE.N`) has
        caught up with the run as it was when it connected."""
        said = {"now": self.clock() - self.t0, "instance": self.instance, "log": len(self.messages)}
        return f"retry: 2000\nevent: hello\ndata: {json.dumps(said)}\n\n".encode()


HUB: Translation[Callable[[EventHub, Any], None]] = Translation(
    "remote hub",
    {CheckRan: EventHub._checked, VerdictDecided: EventHub._decided},
    {},
)
"""The message of each fact of the run (contest.py `FACTS`); every other event goes out in an
`events` message, as the codec (codec.py `CODEC`) writes it."""
_FACTS = HUB.handlers
