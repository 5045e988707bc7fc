"""`lfg attach`: follow a run that another lfg serves, as the events it would have made here.

The server is trusted by nobody: its description of the run is read as strictly as an imported
history file (its price card as strictly, see price_card.py), every event is decoded strictly
(codec.py), and events for tickets it did not describe are dropped. A dropped connection comes back
with `Last-Event-ID`; each event is delivered once, in order, whatever the server resends (an
attempt's events are numbered, see `Delivered`), and nothing of an attempt after its end. What the
server sends is bounded (`MAX_RUN_BYTES`, `MAX_MESSAGE_BYTES`) and nothing in it can end `attach`
with a traceback: an id, a clock or an event that is not valid is skipped. A tournament's news (a
contestant's `check`, a `verdict`) is delivered, each once, as the fact of the run it was on the
server (contest.py `CheckRan`, `VerdictDecided`), among the events; a ticket the run takes on while
it runs (a `ticket` message: a fork, a synthesis) is followed from then on, and told to `added`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2

from lfgtui.contest import CheckRan, VerdictDecided
from lfgtui.events import Event
from lfgtui.remote.codec import CodecError, decode_check, decode_verdict, finite
from lfgtui.remote.description import DescriptionError, RemoteRun, read_description, read_ticket
from lfgtui.remote.following import RECONNECTS, AttachError, Delivered, events_of, now_in, watcher_name
from lfgtui.remote.wire import API, HEARTBEAT_S, WATCHER_HEADER
from lfgtui.run import RetryPolicy
from lfgtui.run.requests import Added, AddTicket, Request, encode

if TYPE_CHECKING:
    from lfgtui.cost.metrics import Metrics
    from lfgtui.tickets.ticket import Ticket

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""The largest message taken: a batch can hold a whole diff or a long tool output."""
MAX_RUN_BYTES = 16 * 1024 * 1024
"""The largest description of a run (`GET /v1/run`) taken: 10,000 tickets of 1,500 characters."""
MAX_EVENT_ID = 100
"""The longest `id` kept to resume from; a longer one, or one that is not printable ASCII (it goes
back in a header), is not kept: the next connection resumes from the id before it."""


class Attachment:
    """A connection to one served run: `describe` it, then `follow` its events until it ends."""

    def __init__(
        self,
        url: str,
        token: str,
        clock: Callable[[], float] = time.monotonic,
        reconnects: RetryPolicy = RECONNECTS,
        unix_socket: Path | None = None,
    ) -> None:
        """`unix_socket`: reach the server on this Unix socket (a lead's: remote/server.py
        `start_unix`), `url` naming only the paths."""
        self.url = url.rstrip("/")
        self.clock = clock
        self.reconnects = reconnects
        self.run: RemoteRun | None = None
        self.offset = 0.0
        """Added to the server's times to put them on `clock`: the server's start, on this clock."""
        self.state = "connecting"
        """What the summary bar says about the connection."""
        self.read_only = "This run is served read-only: its server was not started with --control."
        self.metrics: Mapping[tuple[str, int], Metrics] = {}
        """The watcher's own metrics of each attempt (its book's, from the events it was delivered): what
        a verdict's contestants are measured by, as the runner measured them from the same events."""
        self.added: Callable[[Ticket], None] | None = None
        """Who is told of a ticket the run took on while it runs (its pane); None: nobody."""
        self.leads: dict[str, str] = {}
        """The lead that added each ticket a lead added, as the description and each `ticket`
        message say: what the attached TUI asks about when the person stops that lead."""
        self.caught_up = asyncio.Event()
        """Set once every message the server's log held when this watcher connected (its hello's
        `log`) has been delivered: what was delivered is then the run as it was at that moment. A
        server that does not say its log's size sets it at once."""
        self._headers = {"Authorization": f"Bearer {token}", WATCHER_HEADER: watcher_name()}
        timeout = httpx2.Timeout(10.0, read=3 * HEARTBEAT_S)
        transport = None if unix_socket is None else httpx2.AsyncHTTPTransport(uds=str(unix_socket))
        self._client = httpx2.AsyncClient(timeout=timeout, headers=self._headers, transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def describe(self, said: Callable[[str], None] | None = None) -> RemoteRun:
        """What the run is. A server that is busy (a 503: others hold every connection it takes
        before the token), a proxy's 502 or a 429 is asked again with the reconnects' backoff, each
        wait told to `said`; a server that cannot be reached at all is not (a wrong URL fails at once)."""
        retries = 0
        while True:
            try:
                async with self._client.stream("GET", f"{self.url}{API}/run") as response:
                    busy = _unavailable(response)
                    if busy is None:
                        _check(response)
                        body = await _run_body(self.url, response)
                        break
            except httpx2.HTTPError as exc:
                raise AttachError(f"cannot reach {self.url}: {exc}") from None
            if retries == self.reconnects.max_retries:
                raise AttachError(f"{self.url}: {busy} (gave up after {retries} retries)")
            retries += 1
            delay = self.reconnects.delay(retries, None)
            if said is not None:
                said(f"{busy}: asking again in {delay:.1f} s")
            await asyncio.sleep(delay)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise AttachError(f"{self.url} did not answer with JSON (is it an lfg server?)") from None
        try:
            self.run = read_description(data)
        except DescriptionError as exc:
            raise AttachError(str(exc)) from None
        self.leads.update(self.run.leads)
        return self.run

    async def ask(self, request: Request) -> str | None:
        """Ask the server to do what the person asked (`POST /v1/requests`, the request as JSON):
        cancel or retry a ticket, approve or deny a call, answer a question, start a synthesis;
        returns why it did not, or None."""
        return (await self._post(f"{self.url}{API}/requests", encode(request)))[0]

    async def add(self, request: AddTicket) -> Added:
        """Ask the run to add a ticket (`add-ticket`): the id the run gave it and who it says added
        it, or `AttachError` saying why not."""
        refused, answer = await self._post(f"{self.url}{API}/requests", encode(request))
        ticket, by = answer.get("ticket"), answer.get("added_by")
        if refused is None and isinstance(ticket, str):
            return Added(ticket, by if isinstance(by, str) else None)
        raise AttachError(refused or f"{self.url} added the ticket without saying its id")

    async def _post(self, url: str, body: dict[str, Any] | None = None) -> tuple[str | None, dict[str, Any]]:
        """Why the server did not do it (None: it did; a request asked and not answered yet, 202, says
        so in its `pending` words), and its answer's JSON object."""
        try:
            response = await self._client.post(url, json=body)
        except httpx2.HTTPError as exc:
            return f"cannot reach {self.url}: {exc}", {}
        try:
            answer = response.json()
        except (ValueError, RecursionError):
            answer = None
        answer = answer if isinstance(answer, dict) else {}
        if response.status_code == 200:
            return None, answer
        error = answer.get("pending") if response.status_code == 202 else answer.get("error")
        return error if isinstance(error, str) else f"the server answered {response.status_code}", answer

    async def follow(self, deliver: Callable[[Event], None], said: Callable[[str], None]) -> None:
        """Deliver the run's events until it ends; `said` hears how the connection is doing."""
        assert self.run is not None, "describe() first"
        known = {ticket.id for ticket in self.run.tickets}
        delivered = Delivered()
        told: set[str] = set()
        facts = itertools.count()
        last_id, instance, failures, behind = "", "", 0, 0
        while True:
            headers = {"Last-Event-ID": last_id} if last_id else {}
            opened, resumed_from = self.clock(), last_id
            try:
                async with self._client.sse(
                    f"{self.url}{API}/events", headers=headers, max_event_size=MAX_MESSAGE_BYTES
                ) as source:
                    lost = _unavailable(source.response)
                    if lost is None:
                        _check(source.response)
                        async for message in source:
                            data = _json(message.data)
                            if message.event == "hello":
                                if data.get("instance") != instance:  # a new server: a new clock
                                    instance, self.offset = (
                                        str(data.get("instance")),
                                        self.clock() - now_in(data),
                                    )
                                log = data.get("log")
                                behind = log if isinstance(log, int) and not isinstance(log, bool) else 0
                                self._say(said, "live" if not last_id else "reconnected")
                            elif message.event == "events":
                                for event in events_of(data, self.offset, said):
                                    if event.ticket in known and delivered.first_time(event):
                                        deliver(event)
                                if _resumable(message.id):
                                    last_id = message.id
                            elif message.event == "ticket":
                                self._add(data, known, said)
                            elif message.event in ("check", "verdict") and message.data not in told:
                                told.add(message.data)  # a stream started over sends it again
                                fact = self._fact(message.event, data, known, said, next(facts))
                                if fact is not None:
                                    deliver(fact)
                            elif message.event == "end":
                                self.caught_up.set()
                                self._say(said, "ended")
                                return
                            if _number(message.id or last_id) >= behind:
                                self.caught_up.set()
                        lost = "the server closed the stream"
            except httpx2.HTTPError as exc:
                lost = str(exc) or type(exc).__name__
            if last_id != resumed_from or self.clock() - opened >= HEARTBEAT_S:
                failures = 0  # that connection was worth it: the next one starts the waits over
            if failures >= self.reconnects.max_retries:
                self._say(said, f"disconnected: {lost}")
                raise AttachError(f"lost {self.url}: {lost} (gave up after {failures} reconnects)")
            failures += 1
            delay = self.reconnects.delay(failures, None)
            self._say(said, f"reconnecting in {delay:.1f} s ({lost})")
            await asyncio.sleep(delay)

    def _add(self, data: dict[str, object], known: set[str], said: Callable[[str], None]) -> None:
        """A `ticket` message: the ticket is followed from now on (once: a stream started over sends it
        again), and told to `added`; one that is not valid is skipped, and said."""
        try:
            ticket = read_ticket(data.get("ticket"), "ticket")
        except DescriptionError as exc:
            said(f"skipped a ticket that is not valid: {exc}")
            return
        if ticket.id in known:
            return
        known.add(ticket.id)
        if isinstance(lead := data.get("lead"), str) and lead in known:
            self.leads[ticket.id] = lead
        if self.added is not None:
            self.added(ticket)

    def _fact(
        self, kind: str, data: dict[str, object], known: set[str], said: Callable[[str], None], seq: int
    ) -> CheckRan | VerdictDecided | None:
        """A `check` or `verdict` message as the fact it was on the server, decoded strictly and
        numbered `seq` among those this watcher got; None (and said) for one that is not valid, None
        for one about a ticket the run did not describe."""
        try:
            if kind == "check":
                ticket, attempt, result, t = decode_check(data, self.offset)
                if ticket not in known:
                    return None
                return CheckRan(ticket=ticket, attempt=attempt, seq=seq, t=t, result=result)
            verdict = decode_verdict(data.get("verdict"), self.metrics)
            t = finite(data.get("t")) + self.offset
        except CodecError as exc:
            said(f"skipped a {kind} that is not valid: {exc}")
            return None
        if not all(c.ticket in known for c in verdict.contestants):
            return None
        return VerdictDecided(ticket=verdict.tournament, attempt=0, seq=seq, t=t, verdict=verdict)

    def _say(self, said: Callable[[str], None], state: str) -> None:
        self.state = state
        said(state)


def _unavailable(response: httpx2.Response) -> str | None:
    """Why a stream's answer is worth trying again later (a proxy's 502, a busy server's 503, a 429),
    or None."""
    if response.status_code >= 500 or response.status_code == 429:
        return f"the server answered {response.status_code}"
    return None


def _number(event_id: str) -> int:
    """How many messages of its server's log came up to the one `event_id` names (`INSTANCE.N`), 0
    for an id that is not one."""
    number = event_id.rpartition(".")[2]
    return int(number) if number.isascii() and number.isdigit() and len(number) <= 18 else 0


def _resumable(event_id: str) -> bool:
    return len(event_id) <= MAX_EVENT_ID and event_id.isascii() and event_id.isprintable()


async def _run_body(url: str, response: httpx2.Response) -> bytes:
    """The description's bytes, refused past `MAX_RUN_BYTES` as they come."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_RUN_BYTES:
            raise AttachError(f"{url} described a run in more than {MAX_RUN_BYTES:,} bytes")
    return bytes(body)


def _check(response: httpx2.Response) -> None:
    if response.status_code == 401:
        raise AttachError(
            "the server refused the token (401): use the one it printed at start, or its --token-file's"
        )
    if response.status_code != 200:
        raise AttachError(f"the server answered {response.status_code} (is it an lfg server?)")


def _json(data: str) -> dict[str, object]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        value = None
    return value if isinstance(value, dict) else {}
