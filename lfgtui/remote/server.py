"""`lfg run --serve` and `lfg serve`: a run's events over HTTP, for `lfg attach` and other watchers.

aiohttp serves (textual-serve, which `lfg web` uses, is built on it too). Every request must carry
the run's bearer token, compared in constant time; a request without it learns nothing but 401.
`GET /v1/run` describes the run (its tickets and price card), `GET /v1/events` streams it (see
hub.py and docs/watching.md), and with `--control` `POST /v1/requests` carries a person's request
(lfgtui/run/requests.py: cancel, cancel one sub-agent, retry, approve or deny a call, answer a
question, follow up, steer or queue, edit or take back a held message, add a ticket (answered with its
id), start a tournament's synthesis once its verdict is decided), each
recorded with who asked; the older routes (`POST /v1/tickets/{id}/cancel|retry|follow-up`,
`…/calls/{call}/approve|deny`, `…/elicitations/{id}/accept|decline|cancel`,
`/v1/tournaments/{id}/synthesize`) are read into the same typed requests. `GET /v1/inbox` is what
needs the person now, for the inbox page at `/inbox` (inbox.py: the one response given without the
token, since it holds nothing of the run). `GET /metrics` is the run's metrics for Prometheus
(telemetry/prometheus.py), with the same token; `MetricsServer` serves only that, for a broker worker.

Nothing a peer sends may cost the run it serves: connections are capped and must show the token
within `AUTH_TIMEOUT_S` (`Gate`), so a flood of them never takes the descriptors the run's own
connections need; a watcher dropped for being slow is cut off at once, its unsent bytes discarded;
a malformed request gets its 400 and at most one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import ipaddress
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from lfgtui.inert import inert
from lfgtui.remote.description import run_description
from lfgtui.remote.hub import EventHub
from lfgtui.remote.inbox import PAGE_PATH, Inbox, page
from lfgtui.remote.tokens import ServeError
from lfgtui.remote.wire import API, HEARTBEAT_S, WATCHER_HEADER
from lfgtui.run.approvals import Reply
from lfgtui.run.requests import (
    Added,
    AddTicket,
    Answer,
    Approve,
    Cancel,
    EditHeld,
    FollowUp,
    Lead,
    Pending,
    Queue,
    Request,
    RequestError,
    Retry,
    Steer,
    Synthesize,
    Told,
)
from lfgtui.run.requests import decode as decode_request
from lfgtui.run.steer_words import Composing, composing, taken_as
from lfgtui.run.steering import MAX_MESSAGE_CHARS
from lfgtui.tickets.ticket import Ticket

if TYPE_CHECKING:
    from lfgtui.contest import Verdict
    from lfgtui.cost.prices import PriceBook
    from lfgtui.events import HeldMessage, SteerOffer
    from lfgtui.run import Run

WRITE_TIMEOUT_S = 10.0
"""A watcher that cannot take a message for this long is dropped (it reconnects and catches up)."""
MAX_BEHIND_BYTES = 8 * 1024 * 1024
"""A watcher that falls this far behind the run while connected is dropped, for the same reason."""
SEND_BUFFER_BYTES = 256 * 1024
"""The kernel's send buffer for each watcher: without a bound, a watcher that stopped reading would
have megabytes queued for it before a write ever waited (and the drop above could start)."""
WRITE_AT_ONCE_BYTES = 64 * 1024
"""What is written to a watcher catching up at once (more only when one message is larger): what a
watcher that stops reading can hold in this process beyond its kernel buffer, until it is dropped."""
MAX_CONNECTIONS = 256
"""Connections served at once, watchers included. Past it a connection is answered 503 and closed:
a flood of connections never takes the file descriptors (1,024 by default) the run needs. A process
that may open fewer files serves fewer (`Caps.for_descriptors`)."""
MAX_UNAUTHENTICATED = 32
"""Connections at once that have not yet made a request with the token; past it, 503 too."""
BACKLOG = 16
"""Connections the kernel queues until they are accepted. asyncio accepts up to this many in one go,
each holding a descriptor until it is answered, so it bounds a flood's burst too."""
AUTH_TIMEOUT_S = 10.0
"""A connection that has made no request with the token this long after it opened is closed."""
MAX_WATCHER_NAME = 100
"""Characters of a watcher's name kept in what the run records."""
MAX_BODY_BYTES = MAX_MESSAGE_CHARS * 12 + 4096
"""The most a request may send: a steer, queued message or follow-up as long as the run takes one
(`MAX_MESSAGE_CHARS`), whatever its characters (JSON writes one outside the BMP as 12 bytes), with
room for the rest; a longer message gets the run's own words for why, a larger body a 413 in words."""
PUBLIC = "public"
"""The name of the one route served without the token: the inbox page, which holds nothing of the run."""
LEAD_ROUTES = ("run", "events", "requests")
"""The routes a lead's token is served (`RunServer.lead_token`): it describes and follows the run and
asks what a lead may ask; the inbox, the metrics and the older request routes are the person's."""
LEAD = web.RequestKey("lfg.lead", str)
"""Where a request asked with a lead's token keeps the lead's id."""
UNIX_URL = "http://lfg"
"""The URL of a run served on a Unix socket (`start_unix`): the host is a name, the socket the address."""
_BUSY_WORDS = json.dumps(
    {
        "error": "lfg is serving as many connections as it takes at once (watchers and requests, or "
        "connections that have not shown the token yet): try again in 2 seconds"
    }
).encode()
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_BUSY_WORDS)}\r\nConnection: close\r\n\r\n".encode()
    + _BUSY_WORDS
)
"""What a connection there is no room for is answered, in words, before its request is read."""


Metrics = Callable[[], tuple[bytes, str]]
"""The run's metrics as a scrape reads them, and their content type."""


def no_prometheus() -> str:
    """What `/metrics` says without prometheus-client."""
    from lfgtui.extras import install_hint

    return f"prometheus-client is not installed ({install_hint('prometheus')})"


class Controls(Protocol):
    """What `--control` lets a watcher do: ask the run what a watcher may ask (the requests of
    lfgtui/run/requests.py that are `served`), answered as the run answers every asker (`Run.ask`:
    None when done, else its `Refusal`; a sub-agent's cancel once its agent, here or on a worker, was
    asked), and start a tournament's synthesis, which is decided above the run (run/decisions.py
    `ABOVE`)."""

    def ask(self, asked: Request, who: str) -> Told | Awaitable[Told]: ...

    def forbidden(self, asked: Request, who: str) -> str | None:
        """Why `who` may not ask this at all (a lead asking what is the person's, or of a ticket it
        did not add: run/decisions.py `forbidden`), or None."""
        ...

    def synthesize(self, verdict: Verdict, who: str) -> str: ...

    def composes(self, ticket: str) -> Composing | None:
        """What a message sent to `ticket` now would be, in words (inbox.py `Composes`)."""
        ...

    def held(self, ticket: str) -> tuple[HeldMessage, ...]:
        """What `ticket` holds here now: how a steer or queued message just asked was taken."""
        ...

    def offer(self, ticket: str) -> SteerOffer | None:
        """What `ticket`'s running turn said it takes (who runs it): what a steer held now becomes."""
        ...

    def kept(self, ticket: str) -> str | None:
        """Why a steer held for `ticket` now is kept until its agent goes on ("": it is not;
        `Run.steer_kept`); None: not known here (its turn runs afar)."""
        ...


@dataclass(frozen=True)
class EngineControls:
    """`Controls` over a run in this process; what a watcher asked is said in the ticket's events."""

    run: Run

    def ask(self, asked: Request, who: str) -> Told | Awaitable[Told]:
        return self.run.ask(asked, who)

    def forbidden(self, asked: Request, who: str) -> str | None:
        """A lead's refusal counts against its pace (run/decisions.py `refused_lead`)."""
        from lfgtui.run.decisions import forbidden, refused_lead

        why = forbidden(self.run, asked, who)
        return None if why is None else refused_lead(self.run, who, why).said

    def synthesize(self, verdict: Verdict, who: str) -> str:
        """Start the tournament's synthesis as `S` does (tournament/synthesis.py); its id."""
        from lfgtui.tournament.synthesis import start_synthesis

        return start_synthesis(self.run, verdict, f"synthesis asked by {who}").id

    def composes(self, ticket: str) -> Composing | None:
        """A coordinated run's turn runs on a worker: what it said it takes is all that is known."""
        state = self.run.states.get(ticket)
        if state is None or not state.running:
            return None
        steerable = None if self.run.runner.far else self.run.steerable(ticket)
        return composing(ticket, steerable, state.inbox.offer, self.kept(ticket))

    def held(self, ticket: str) -> tuple[HeldMessage, ...]:
        state = self.run.states.get(ticket)
        return () if state is None else tuple(state.inbox.held)

    def offer(self, ticket: str) -> SteerOffer | None:
        state = self.run.states.get(ticket)
        return None if state is None else state.inbox.offer

    def kept(self, ticket: str) -> str | None:
        return None if self.run.runner.far else self.run.steer_kept(ticket)


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach it: `localhost` or a loopback address."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name: it may resolve to any interface
            return False

    def refused(self, insecure_bind: bool) -> str | None:
        """Why lfg will not listen here, or None: beyond loopback only with `--insecure-bind`."""
        if self.loopback or insecure_bind:
            return None
        return (
            f"refusing to serve on {self.host}: lfg speaks plain HTTP, so the token and every prompt "
            "and answer would cross the network in clear text. Serve on 127.0.0.1 and reach it "
            "through SSH (ssh -L PORT:127.0.0.1:PORT HOST) or a TLS proxy, or pass --insecure-bind "
            "on a network you trust"
        )

    def busy(self) -> str | None:
        """Why nothing can listen here now (the port is in use, the host is not this machine's), or
        None. Checked before a command starts its run, which a server failing later would leave
        half started and recorded; bound as `create_server` binds (reusable, IPv6 alone)."""
        try:
            found = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            for family, kind, proto, _, where in found:
                with socket.socket(family, kind, proto) as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if family == socket.AF_INET6:
                        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    probe.bind(where)
        except OSError as exc:
            return f"cannot serve on {self.host}:{self.port}: {exc.strerror or exc}"
        return None

    @classmethod
    def parse(cls, text: str, option: str = "--serve") -> Address:
        """`PORT`, `HOST:PORT` or `[IPv6]:PORT` (given as `option`); the host is 127.0.0.1 unless given."""
        host, _, port = text.rpartition(":")
        host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ServeError(f"{option} {text!r}: expected [HOST:]PORT, with a port from 0 to 65535")
        return cls(host, int(port))


@dataclass(frozen=True)
class Caps:
    """How many connections are served at once, and how many of those before the token."""

    connections: int = MAX_CONNECTIONS
    unauthenticated: int = MAX_UNAUTHENTICATED

    @classmethod
    def for_descriptors(cls, limit: int | None) -> Caps:
        """The caps for a process that may open `limit` files (None: no limit known). The server's
        connections, with a few bursts of accepted ones waiting for their 503, take at most half of
        them: the rest stay the run's own (its providers, the history, its tools' pipes), however
        many connections a peer opens."""
        if limit is None:
            return cls()
        share = max(limit // 2 - 3 * BACKLOG, 8)
        return cls(min(MAX_CONNECTIONS, share), min(MAX_UNAUTHENTICATED, max(share // 8, 2)))


def descriptor_limit() -> int | None:
    """How many files this process may open (its soft `RLIMIT_NOFILE`), or None where that is not
    limited or not known (Windows counts no sockets against such a limit)."""
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


class Gate:
    """Makes each connection's protocol, in front of aiohttp's `web.Server`: a connection past
    `caps.connections`, or past `caps.unauthenticated` of those that have not yet shown the token,
    is answered 503 and closed at once; one that has not shown it `auth_timeout_s` after it opened
    is closed then."""

    def __init__(self, server: web.Server, auth_timeout_s: float, caps: Caps) -> None:
        self.server = server
        self.auth_timeout_s = auth_timeout_s
        self.caps = caps
        self.trusted: set[web.RequestHandler] = set()
        """Open connections that made a request with the token (closed ones leave at the next)."""
        self.refused = 0
        """Connections answered 503 for want of room."""
        self._burst: set[web.RequestHandler] = set()
        """Connections let in during this turn of the loop. asyncio accepts a burst of connections
        at once and queues each one's `connection_made`, which puts it in `server.connections`,
        after this call: until then they are counted here, or a burst would pass the caps whole.
        Emptied by a callback queued ahead of those `connection_made`s, and nothing accepts a
        connection between the two."""

    def __call__(self) -> asyncio.Protocol:
        connections = set(self.server.connections) | self._burst
        self.trusted &= connections
        caps = self.caps
        if len(connections) >= caps.connections or len(connections - self.trusted) >= caps.unauthenticated:
            self.refused += 1
            return _Busy()
        handler = self.server()
        loop = asyncio.get_running_loop()
        if not self._burst:
            loop.call_soon(self._burst.clear)
        self._burst.add(handler)
        loop.call_later(self.auth_timeout_s, self._expire, handler)
        return handler

    def _expire(self, handler: web.RequestHandler) -> None:
        if handler not in self.trusted:
            handler.force_close()


class _Busy(asyncio.Protocol):
    """A connection there is no room for: told so, and closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class _OneLine(logging.Filter):
    """aiohttp's reports of failed requests: a malformed request from a peer (aiohttp answers it
    400) is not this server's trouble and is dropped; anything else becomes one inert line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError | ConnectionError):
            return False
        said = record.getMessage() if exc is None else f"{record.getMessage()}: {type(exc).__name__}: {exc}"
        record.msg, record.args = f"lfg: serving: {inert(said)}", None
        record.exc_info, record.exc_text = None, None
        return True


_REQUEST_LOG = logging.getLogger("lfgtui.remote.server.requests")
_REQUEST_LOG.addFilter(_OneLine())
_REQUEST_LOG.propagate = False
_REQUEST_LOG.addHandler(logging.StreamHandler())


class RunServer:
    """Serves one run's hub until closed; `url` is where it listens. `prices` are the run's, for
    its watchers (None: costs are not known to them)."""

    def __init__(
        self,
        hub: EventHub,
        run_id: str,
        tickets: Sequence[Ticket],
        token: str,
        controls: Controls | None = None,
        *,
        prices: PriceBook | None = None,
        metrics: Metrics | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        write_timeout_s: float = WRITE_TIMEOUT_S,
        max_behind_bytes: int = MAX_BEHIND_BYTES,
        auth_timeout_s: float = AUTH_TIMEOUT_S,
        watched: asyncio.Event | None = None,
        leads: Mapping[str, str] | None = None,
    ) -> None:
        self.hub = hub
        self.leads = {} if leads is None else leads
        """The lead that added each ticket a lead added (the run's `parents`): described, and said in
        each added ticket's `ticket` message, so a watcher's `c` on a lead asks what stops with it."""
        self.watched = watched
        """Set when the first watcher connects (`lfg run --start-on-attach` waits for it)."""
        self.heartbeat_s = heartbeat_s
        self.write_timeout_s = write_timeout_s
        self.max_behind_bytes = max_behind_bytes
        self.auth_timeout_s = auth_timeout_s
        self.run_id = run_id
        self.tickets = {ticket.id: ticket for ticket in tickets}
        self.controls = controls
        self.prices = prices
        self.metrics = metrics
        self.inbox = Inbox(tickets, hub.clock, hub.t0)
        """What the inbox shows: a sink of the run, which whoever serves it feeds with its events."""
        self._expected = f"Bearer {token}".encode()
        self._leads: list[tuple[bytes, str]] = []
        """Each lead ticket's own token (as its header), and the lead's id (`lead_token`)."""
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.gate: Gate | None = None
        self.url = ""
        self.watchers = 0
        self.dropped = 0
        """Watchers dropped for falling behind (each may have come back since)."""
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, ticket: Ticket) -> None:
        """A ticket the run took on while it runs (a fork, a synthesis): described from now on, and
        told to the watchers (a `ticket` message) before its first event."""
        self.tickets[ticket.id] = ticket
        self.inbox.tickets[ticket.id] = ticket
        self.hub.added(ticket, self.leads.get(ticket.id))

    def lead_token(self, ticket: str) -> str:
        """A new token for lead ticket `ticket`: with it a request asks as that lead (`Lead`), which
        may describe and follow the run and ask what run/decisions.py `forbidden` lets a lead ask,
        nothing else (`LEAD_ROUTES`)."""
        token = secrets.token_urlsafe(32)
        self._leads.append((f"Bearer {token}".encode(), ticket))
        return token

    def _routes(self, app: web.Application) -> None:
        app.router.add_get(f"{API}/run", self._run, name=LEAD_ROUTES[0])
        app.router.add_get(f"{API}/events", self._events, name=LEAD_ROUTES[1])
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post(f"{API}/requests", self._request, name=LEAD_ROUTES[2])
        app.router.add_post(f"{API}/tickets/{{ticket}}/{{action:cancel|retry}}", self._control)
        app.router.add_post(f"{API}/tickets/{{ticket}}/calls/{{call}}/{{action:approve|deny}}", self._control)
        app.router.add_post(
            f"{API}/tickets/{{ticket}}/elicitations/{{elicitation}}/{{action:accept|decline|cancel}}",
            self._reply,
        )
        app.router.add_post(f"{API}/tickets/{{ticket}}/{{action:follow-up}}", self._control)
        app.router.add_post(f"{API}/tournaments/{{tournament}}/synthesize", self._synthesize)
        app.router.add_get(f"{API}/inbox", self._inbox)
        app.router.add_get(PAGE_PATH, self._page, name=PUBLIC)

    async def start(self, address: Address) -> str:
        gate = await self._setup()
        try:
            loop = asyncio.get_running_loop()
            self._listener = await loop.create_server(gate, address.host, address.port, backlog=BACKLOG)
        except OSError as exc:
            await self.aclose()
            raise ServeError(f"cannot serve on {address.host}:{address.port}: {exc.strerror or exc}") from exc
        host, port = self._listener.sockets[0].getsockname()[:2]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        return self.url

    async def start_unix(self, path: Path) -> str:
        """Serve on a Unix socket at `path` (a lead's: run/leads.py), reached by its path alone, so a
        box without the network reaches it when the socket is bound in; the URL its clients use
        (`UNIX_URL`, any host: the socket is the address)."""
        gate = await self._setup()
        try:
            self._listener = await asyncio.get_running_loop().create_unix_server(
                gate, str(path), backlog=BACKLOG
            )
        except OSError as exc:  # asyncio's own words for a path taken name the path again
            await self.aclose()
            cause = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ServeError(f"cannot serve on the socket {path}: {cause}") from exc
        self.url = UNIX_URL
        return self.url

    async def _setup(self) -> Gate:
        app = web.Application(middlewares=[self._auth], client_max_size=MAX_BODY_BYTES)
        self._routes(app)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5, logger=_REQUEST_LOG
        )
        await self._runner.setup()
        assert self._runner.server is not None
        self.gate = Gate(self._runner.server, self.auth_timeout_s, Caps.for_descriptors(descriptor_limit()))
        return self.gate

    @property
    def connections(self) -> int:
        """Connections open now, watchers and all."""
        return len(self._runner.server.connections) if self._runner and self._runner.server else 0

    async def aclose(self, grace_s: float = 0.0) -> None:
        """Stop serving, after up to `grace_s` for the watchers to take what is left (see `end`)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self._idle.wait()
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _auth(self, request: web.Request, handler: web.Handler) -> web.StreamResponse:
        if request.match_info.route.name == PUBLIC:
            return await handler(request)
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        lead = next(
            (ticket for expected, ticket in self._leads if hmac.compare_digest(given, expected)), None
        )
        if lead is not None:
            if request.match_info.route.name not in LEAD_ROUTES:
                return _problem(
                    403, f"lead {lead}'s token may describe and follow the run and ask requests, no more"
                )
            request[LEAD] = lead
        elif not hmac.compare_digest(given, self._expected):
            refused = web.Response(
                status=401, text="a valid bearer token is needed\n", headers={"WWW-Authenticate": "Bearer"}
            )
            refused.force_close()  # one guess per connection: it cannot stay open by guessing
            return refused
        if self.gate is not None:
            self.gate.trusted.add(request.protocol)
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return _problem(
                413,
                f"a request holds at most {MAX_BODY_BYTES:,} bytes, and a message at most "
                f"{MAX_MESSAGE_CHARS:,} characters",
            )

    async def _run(self, request: web.Request) -> web.Response:
        leads = {child: lead for child, lead in self.leads.items() if child in self.tickets}
        info = run_description(
            self.run_id, self.tickets.values(), self.prices, self.controls is not None, leads
        )
        return web.json_response(info)

    async def _page(self, request: web.Request) -> web.Response:
        body, headers = page()
        return web.Response(body=body, headers=headers)

    async def _inbox(self, request: web.Request) -> web.Response:
        """The inbox now; with `?after=VERSION`, once it has changed since that version (or the run
        ended, or `heartbeat_s` passed): a page that asks again after each answer is told of a
        change at once, however quiet the run was."""
        after = request.query.get("after")
        if after is not None:
            if not (after.isascii() and after.isdigit() and len(after) <= 18):
                return _problem(400, "after: expected the version of an earlier answer")
            await self._inbox_changed(int(after))
        if self.watched is not None:
            self.watched.set()  # a person with the inbox open is watching (`--start-on-attach`)
        composes = self.controls.composes if self.controls is not None else None
        snapshot = self.inbox.snapshot(self.controls is not None, self.hub.ended, composes)
        return web.json_response(snapshot, headers={"Cache-Control": "no-store"})

    async def _inbox_changed(self, after: int) -> None:
        """Wait until the inbox is past version `after`, the run has ended or `heartbeat_s` passed."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.heartbeat_s
        while self.inbox.version <= after and not self.hub.ended and loop.time() < until:
            waits = {asyncio.ensure_future(self.inbox.changed()), asyncio.ensure_future(self.hub.grown())}
            try:
                await asyncio.wait(waits, timeout=until - loop.time(), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.metrics is None:
            return _problem(501, f"no metrics: {no_prometheus()}")
        body, content_type = self.metrics()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        hub = self.hub
        index = hub.place(request.headers.get("Last-Event-ID")).index
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        sock = request.transport.get_extra_info("socket") if request.transport is not None else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        await response.prepare(request)
        came_at = hub.total  # what the log held then is caught up at the watcher's own pace
        self.watchers += 1
        self._idle.clear()
        if self.watched is not None:
            self.watched.set()
        try:
            await self._send(response, hub.hello())
            while True:
                if min(hub.behind(index), hub.total - came_at) > self.max_behind_bytes:
                    return self._drop(request, response)  # it comes back with Last-Event-ID
                if index < len(hub.messages):
                    end = hub.up_to(index, WRITE_AT_ONCE_BYTES)
                    await self._send(response, b"".join(hub.messages[index:end]))
                    index = end
                    continue
                if hub.ended:
                    return response
                try:
                    async with asyncio.timeout(self.heartbeat_s):
                        await hub.grown()
                except TimeoutError:
                    await self._send(response, b": keep-alive\n\n")
        except TimeoutError:  # it could not take a message in time
            return self._drop(request, response)
        except ConnectionError:
            return response
        finally:
            self.watchers -= 1
            if not self.watchers:
                self._idle.set()

    def _drop(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        """Cut a watcher off now: what is queued for it is discarded rather than kept until it reads."""
        self.dropped += 1
        if request.transport is not None:
            request.transport.abort()
        return response

    async def _send(self, response: web.StreamResponse, data: bytes) -> None:
        async with asyncio.timeout(self.write_timeout_s):
            await response.write(data)

    async def _request(self, request: web.Request) -> web.Response:
        """A watcher's request as JSON (lfgtui/run/requests.py `encode`): the one route for every
        request; the routes below are its older spellings, kept for watchers that use them."""
        try:
            asked = decode_request(await request.json())
        except RequestError as exc:
            return _problem(400, str(exc))
        except (ValueError, RecursionError):  # not JSON, or JSON nested past what Python reads
            return _problem(400, 'a request is a JSON object: {"request": KIND, ...}')
        return await self._carry(asked, _who(request))

    async def _control(self, request: web.Request) -> web.Response:
        """`POST /v1/tickets/{id}/cancel|retry|follow-up` and `…/calls/{call}/approve|deny`."""
        ticket, action = request.match_info["ticket"], request.match_info["action"]
        asked: Request
        match action:
            case "cancel":
                asked = Cancel(ticket)
            case "retry":
                asked = Retry(ticket)
            case "follow-up":
                asked = FollowUp(ticket, _text(await request.read()))
            case _:
                asked = Approve(ticket, request.match_info["call"], action == "approve")
        return await self._carry(asked, _who(request))

    async def _synthesize(self, request: web.Request) -> web.Response:
        """`POST /v1/tournaments/{id}/synthesize`: a watcher's `S`."""
        return await self._carry(Synthesize(request.match_info["tournament"]), _who(request))

    async def _reply(self, request: web.Request) -> web.Response:
        """A watcher's answer to an agent's question: `accept` with a JSON body `{"content": {...}}`
        (field name to text, number, boolean or list of texts: ACP's values), `decline`, `cancel`."""
        content = None
        if request.match_info["action"] == "accept":
            try:
                body = await request.json()
            except ValueError:
                if self.controls is not None and request.match_info["ticket"] in self.tickets:
                    return _problem(400, 'accept takes a JSON body: {"content": {...}}')
                body = None
            content = body.get("content") if isinstance(body, dict) else None
        reply = Reply(request.match_info["action"], content)
        asked = Answer(request.match_info["ticket"], request.match_info["elicitation"], reply)
        return await self._carry(asked, _who(request))

    async def _carry(self, asked: Request, who: str) -> web.Response:
        """Check a watcher's request against the run, then ask the run (`Controls.ask`): 403 when the
        run is served read-only, 404 for what the run does not have, 400 for what is not well formed,
        409 for what the run would not do (its `Refusal`'s words)."""
        if self.controls is None:
            return _problem(403, "this run is served read-only: start it with --control to allow this")
        if (why := self.controls.forbidden(asked, who)) is not None:
            return _problem(403, why)
        ticket = getattr(asked, "ticket", None)
        if isinstance(ticket, str) and ticket not in self.tickets:
            return _problem(404, f"the run has no ticket {ticket!r}")
        if isinstance(asked, AddTicket) and asked.ticket is None:
            return _problem(400, "add-ticket: ticket is missing (its fields, as a [[ticket]] table has them)")
        if isinstance(asked, FollowUp) and not (asked.text and asked.text.strip()):
            return _problem(400, "the follow-up is the request's body: UTF-8 text, not empty")
        if isinstance(asked, Steer | Queue | EditHeld) and not (asked.text and asked.text.strip()):
            return _problem(400, f"{asked.kind}: text is missing or blank")
        if isinstance(asked, Answer) and asked.reply.action == "accept" and not _content(asked.reply.content):
            return _problem(400, "content must map field names to text, numbers, booleans or lists of text")
        if isinstance(asked, Synthesize):
            tournament = asked.tournament
            if not any(t.group == tournament and t.check is not None for t in self.tickets.values()):
                return _problem(404, f"the run has no tournament {tournament!r}")
            verdict = self.hub.verdicts.get(tournament)
            if verdict is None:
                return _problem(409, f"{tournament} has no verdict yet: its contestants are not all checked")
            return web.json_response({"ok": True, "ticket": self.controls.synthesize(verdict, who)})
        before = {m.id for m in self.controls.held(ticket)} if isinstance(asked, Steer | Queue) else set()
        told = self.controls.ask(asked, who)
        if inspect.isawaitable(told):  # a sub-agent's cancel: its agent (or worker) answers
            told = await told
        if isinstance(told, Pending):  # asked of a worker that has not answered yet
            return web.json_response({"ok": True, "pending": told.said}, status=202)
        if isinstance(told, Added):  # the ticket it added, by the id lfg gave it when it had none
            return web.json_response({"ok": True, "ticket": told.ticket, "added_by": told.by})
        if told is not None:
            return _problem(409, told.said)
        if isinstance(asked, Steer | Queue):
            return web.json_response(self._taken(asked, who, before))
        return web.json_response({"ok": True})

    def _taken(self, asked: Steer | Queue, who: str, before: set[int]) -> dict[str, Any]:
        """How a steer or queued message was taken (run/steering.py `taken_as`): `as` (`steer` or
        `next_turn`), `held` (its id among the ticket's held messages, as every `held` line and
        `edit-held` name it; none for a steer a worker took) and `said`. The message it holds now
        that it did not before, from `who`, is this one: nothing else ran between the ask and this look (a
        worker's answer aside, after which a steer held here is one the worker would not take)."""
        assert self.controls is not None
        new = [m for m in self.controls.held(asked.ticket) if m.id not in before and m.by == who]
        message = new[-1] if new else None
        offer, kept = self.controls.offer(asked.ticket), self.controls.kept(asked.ticket)
        taken, said = taken_as(asked.ticket, isinstance(asked, Steer), message, offer, kept)
        answer: dict[str, Any] = {"ok": True, "as": taken, "said": said}
        if message is not None:
            answer["held"] = message.id
        return answer


def _content(content: Any) -> bool:
    """Whether `content` is what ACP's accepted form carries: field name to a value of its kinds."""

    def value(item: Any) -> bool:
        if isinstance(item, list):
            return all(isinstance(part, str) for part in item)
        return isinstance(item, str | bool | int | float)

    return isinstance(content, dict) and all(isinstance(k, str) and value(v) for k, v in content.items())


class MetricsServer(RunServer):
    """Only `GET /metrics`, behind the token and the same gate: a broker worker's (`lfg worker
    --metrics`), which serves no one run's events."""

    def __init__(self, token: str, metrics: Metrics) -> None:
        super().__init__(EventHub(), "", (), token, metrics=metrics)

    def _routes(self, app: web.Application) -> None:
        app.router.add_get("/metrics", self._metrics)


def _who(request: web.Request) -> str:
    """The watcher asking, as the run records it: its address, and the name it gives, made inert; a
    lead's token asks as the lead (`Lead`), whatever name it gives."""
    if (lead := request.get(LEAD)) is not None:
        return Lead(lead)
    peer = request.remote or "an unknown address"
    name = request.headers.get(WATCHER_HEADER, "").strip()
    return f"{peer} ({inert(name[:MAX_WATCHER_NAME])})" if name else peer


def _text(body: bytes) -> str | None:
    """A request's body as text, or None when it is not UTF-8 or holds nothing but blanks."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.strip() else None


def _problem(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": message}), content_type="application/json")
