"""`lfg attach`: follow a run that another lfg serves, as the events it would have made here.

The server is trusted by nobody: its description of the run is read as strictly as an imported
history file (its price card as strictly, see price_card.py), every event is decoded strictly
(codec.py), and events for tickets it did not describe are dropped. A dropped connection comes back
with `Last-Event-ID`; each event is delivered once, in order, whatever the server resends (an
attempt's events are numbered, see `Delivered`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx2

from lfgtui.events import Event
from lfgtui.history.export import InvalidExport, row_from_json
from lfgtui.history.rows import TicketRecord, TicketRow
from lfgtui.prices import PriceBook
from lfgtui.remote.codec import CodecError, UnknownType, decode
from lfgtui.remote.price_card import CardError, read_card
from lfgtui.remote.server import API, HEARTBEAT_S
from lfgtui.resume import ticket_from_row
from lfgtui.tickets import Ticket

RECONNECT_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0)
"""Waits before each reconnect in a row that found no server; after the last, `attach` gives up."""
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""The largest message taken: a batch can hold a whole diff or a long tool output."""


class AttachError(Exception):
    """The run cannot be followed: no server, a refused token, a server that does not speak lfg."""


@dataclass(frozen=True)
class RemoteRun:
    """What the server says the run is; `control` says whether it takes cancel and retry."""

    run_id: str
    tickets: tuple[Ticket, ...]
    control: bool
    prices: PriceBook | None = None
    """The runner's prices, from its card; None when it sent none or one that is not valid."""
    prices_problem: str | None = None
    """What was wrong with the card, to tell the person why costs show `$?`."""


@dataclass
class Delivered:
    """The highest sequence number delivered per attempt: a resent event is not delivered again."""

    seqs: dict[tuple[str, int], int] = field(default_factory=dict)

    def first_time(self, event: Event) -> bool:
        key = (event.ticket, event.attempt)
        if event.seq <= self.seqs.get(key, -1):
            return False
        self.seqs[key] = event.seq
        return True


def _names(ticket: object) -> dict[str, str]:
    """An lfg from before `max_calls` describes a ticket's limit by its old name, `max_turns`."""
    old = isinstance(ticket, dict) and "max_calls" not in ticket and "max_turns" in ticket
    return {"max_calls": "max_turns"} if old else {}


def _describe(data: object) -> RemoteRun:
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
        raise AttachError("the server did not describe a run (is it an lfg server?)")
    items = data.get("tickets")
    if not isinstance(items, list) or not items:
        raise AttachError("the server's run has no tickets")
    try:
        rows = [row_from_json(TicketRow, item, f"tickets[{i}]", _names(item)) for i, item in enumerate(items)]
    except InvalidExport as exc:
        raise AttachError(f"the server's description of the run is not valid: {exc}") from None
    tickets = tuple(ticket_from_row(TicketRecord(row, ())) for row in rows)
    if len({ticket.id for ticket in tickets}) != len(tickets):
        raise AttachError("the server's run has two tickets with one id")
    prices, problem = None, None
    if data.get("prices") is not None:
        try:
            prices = read_card(data["prices"], tickets)
        except CardError as exc:
            problem = f"the server's prices are not valid ({exc}): costs show $?"
    return RemoteRun(data["run_id"], tickets, data.get("control") is True, prices, problem)


class Attachment:
    """A connection to one served run: `describe` it, then `follow` its events until it ends."""

    def __init__(self, url: str, token: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url.rstrip("/")
        self.clock = clock
        self.run: RemoteRun | None = None
        self.offset = 0.0
        """Added to the server's times to put them on `clock`: the server's start, on this clock."""
        self.state = "connecting"
        """What the summary bar says about the connection."""
        self._headers = {"Authorization": f"Bearer {token}"}
        timeout = httpx2.Timeout(10.0, read=3 * HEARTBEAT_S)
        self._client = httpx2.AsyncClient(timeout=timeout, headers=self._headers)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def describe(self) -> RemoteRun:
        try:
            response = await self._client.get(f"{self.url}{API}/run")
        except httpx2.HTTPError as exc:
            raise AttachError(f"cannot reach {self.url}: {exc}") from None
        _check(response)
        try:
            data = response.json()
        except ValueError:
            raise AttachError(f"{self.url} did not answer with JSON (is it an lfg server?)") from None
        self.run = _describe(data)
        return self.run

    async def act(self, action: str, ticket: str, call_id: str | None = None) -> str | None:
        """Ask the server to cancel or retry a ticket, or to approve or deny its call `call_id`;
        returns why it did not, or None."""
        path = f"tickets/{quote(ticket, safe='')}/"
        if call_id is not None:
            path += f"calls/{quote(call_id, safe='')}/"
        try:
            response = await self._client.post(f"{self.url}{API}/{path}{action}")
        except httpx2.HTTPError as exc:
            return f"cannot reach {self.url}: {exc}"
        if response.status_code == 200:
            return None
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        return error if isinstance(error, str) else f"the server answered {response.status_code}"

    async def follow(self, deliver: Callable[[Event], None], said: Callable[[str], None]) -> None:
        """Deliver the run's events until it ends; `said` hears how the connection is doing."""
        assert self.run is not None, "describe() first"
        known = {ticket.id for ticket in self.run.tickets}
        delivered = Delivered()
        last_id, instance, failures = "", "", 0
        while True:
            headers = {"Last-Event-ID": last_id} if last_id else {}
            try:
                async with self._client.sse(
                    f"{self.url}{API}/events", headers=headers, max_event_size=MAX_MESSAGE_BYTES
                ) as source:
                    _check(source.response)
                    async for message in source:
                        data = _json(message.data)
                        if message.event == "hello":
                            failures = 0
                            if data.get("instance") != instance:  # a new server: a new clock
                                instance, self.offset = str(data.get("instance")), self.clock() - _now(data)
                            self._say(said, "live" if not last_id else "reconnected")
                        elif message.event == "events":
                            for event in _events(data, self.offset, said):
                                if event.ticket in known and delivered.first_time(event):
                                    deliver(event)
                            last_id = message.id
                        elif message.event == "end":
                            self._say(said, "ended")
                            return
                lost = "the server closed the stream"
            except httpx2.HTTPError as exc:
                lost = str(exc) or type(exc).__name__
            if failures >= len(RECONNECT_DELAYS_S):
                self._say(said, f"disconnected: {lost}")
                raise AttachError(f"lost {self.url}: {lost} (gave up after {failures} reconnects)")
            delay = RECONNECT_DELAYS_S[failures]
            failures += 1
            self._say(said, f"reconnecting in {delay:g} s ({lost})")
            await asyncio.sleep(delay)

    def _say(self, said: Callable[[str], None], state: str) -> None:
        self.state = state
        said(state)


def _check(response: httpx2.Response) -> None:
    if response.status_code == 401:
        raise AttachError("the server refused the token (401): pass the one it printed, with --token")
    if response.status_code != 200:
        raise AttachError(f"the server answered {response.status_code} (is it an lfg server?)")


def _json(data: str) -> dict[str, object]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        value = None
    return value if isinstance(value, dict) else {}


def _now(data: dict[str, object]) -> float:
    now = data.get("now")
    return float(now) if isinstance(now, int | float) and not isinstance(now, bool) else 0.0


def _events(data: dict[str, object], offset: float, said: Callable[[str], None]) -> list[Event]:
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
