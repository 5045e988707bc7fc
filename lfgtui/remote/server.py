"""`lfg run --serve` and `lfg serve`: a run's events over HTTP, for `lfg attach` and other watchers.

aiohttp serves (textual-serve, which `lfg web` uses, is built on it too). Every request must carry
the run's bearer token, compared in constant time; a request without it learns nothing but 401.
`GET /v1/run` describes the run (its tickets and price card), `GET /v1/events` streams it (see
hub.py and docs/watching.md), and with `--control` `POST /v1/tickets/{id}/cancel|retry` and
`…/calls/{call}/approve|deny` act on it, each recorded with who asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from lfgtui.history.export import row_json
from lfgtui.history.recorder import ticket_row
from lfgtui.remote.hub import EventHub
from lfgtui.remote.price_card import price_card
from lfgtui.tickets import Ticket

if TYPE_CHECKING:
    from lfgtui.prices import PriceBook
    from lfgtui.run import Run

API = "/v1"
HEARTBEAT_S = 15.0
"""A comment this often keeps proxies from closing a quiet stream, and shows a dead watcher."""
WRITE_TIMEOUT_S = 10.0
"""A watcher that cannot take a message for this long is dropped (it reconnects and catches up)."""
MAX_BEHIND_BYTES = 8 * 1024 * 1024
"""A watcher that falls this far behind the run while connected is dropped, for the same reason."""
SEND_BUFFER_BYTES = 256 * 1024
"""The kernel's send buffer for each watcher: without a bound, a watcher that stopped reading would
have megabytes queued for it before a write ever waited (and the drop above could start)."""
WRITE_AT_ONCE = 64
"""Messages written together to a watcher catching up."""


class ServeError(Exception):
    """The server cannot start: a bad address, a port in use, an unreadable token file."""


class Controls(Protocol):
    """What `--control` lets a watcher do; each returns why it could not, or None when done."""

    def cancel(self, ticket_id: str, who: str) -> str | None: ...

    def retry(self, ticket_id: str, who: str) -> str | None: ...

    def answer(self, ticket_id: str, call_id: str, allowed: bool, who: str) -> str | None: ...


@dataclass(frozen=True)
class RunControls:
    """`Controls` over a run in this process; what a watcher asked is said in the ticket's events."""

    run: Run

    def cancel(self, ticket_id: str, who: str) -> str | None:
        if self.run.cancel(ticket_id, why=f"cancel asked by {who} (lfg attach)"):
            return None
        return f"{ticket_id} is not running"

    def retry(self, ticket_id: str, who: str) -> str | None:
        if self.run.retry(ticket_id, why=f"retry asked by {who} (lfg attach)"):
            return None
        return f"{ticket_id} is running or has completed: only a ticket that ended otherwise is retried"

    def answer(self, ticket_id: str, call_id: str, allowed: bool, who: str) -> str | None:
        if self.run.approvals.answer(ticket_id, call_id, allowed, by=f"{who} (lfg attach)"):
            return None
        return f"no call {call_id!r} of {ticket_id} waits for approval (answered already, or it ended)"


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Address:
        """`PORT`, `HOST:PORT` or `[IPv6]:PORT`; the host is 127.0.0.1 unless given."""
        host, _, port = text.rpartition(":")
        host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ServeError(f"--serve {text!r}: expected [HOST:]PORT, with a port from 0 to 65535")
        return cls(host, int(port))


def read_token(token_file: Path | None) -> str:
    """The token in `token_file` (its first line), or a new random one."""
    if token_file is None:
        return secrets.token_urlsafe(32)
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ServeError(f"cannot read the token file {token_file}: {exc}") from exc
    if len(token) < 16 or not token.isprintable() or " " in token:
        raise ServeError(f"the token in {token_file} must be at least 16 printable characters, no spaces")
    return token


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
        heartbeat_s: float = HEARTBEAT_S,
        write_timeout_s: float = WRITE_TIMEOUT_S,
        max_behind_bytes: int = MAX_BEHIND_BYTES,
    ) -> None:
        self.hub = hub
        self.heartbeat_s = heartbeat_s
        self.write_timeout_s = write_timeout_s
        self.max_behind_bytes = max_behind_bytes
        self.run_id = run_id
        self.tickets = {ticket.id: ticket for ticket in tickets}
        self.controls = controls
        self.prices = prices
        self._expected = f"Bearer {token}".encode()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.watchers = 0
        self.dropped = 0
        """Watchers dropped for falling behind (each may have come back since)."""
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self, address: Address) -> str:
        app = web.Application(middlewares=[self._auth], client_max_size=4096)
        app.router.add_get(f"{API}/run", self._run)
        app.router.add_get(f"{API}/events", self._events)
        app.router.add_post(f"{API}/tickets/{{ticket}}/{{action:cancel|retry}}", self._control)
        app.router.add_post(f"{API}/tickets/{{ticket}}/calls/{{call}}/{{action:approve|deny}}", self._control)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, address.host, address.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ServeError(f"cannot serve on {address.host}:{address.port}: {exc.strerror or exc}") from exc
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        return self.url

    async def aclose(self, grace_s: float = 0.0) -> None:
        """Stop serving, after up to `grace_s` for the watchers to take what is left (see `end`)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self._idle.wait()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _auth(self, request: web.Request, handler: web.Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._expected):
            return web.Response(
                status=401, text="a valid bearer token is needed\n", headers={"WWW-Authenticate": "Bearer"}
            )
        return await handler(request)

    async def _run(self, request: web.Request) -> web.Response:
        tickets = [row_json(ticket_row(ticket)) for ticket in self.tickets.values()]
        info = {
            "run_id": self.run_id,
            "tickets": tickets,
            "control": self.controls is not None,
            "prices": price_card(self.prices, self.tickets.values()),
        }
        return web.json_response(info)

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
        try:
            await self._send(response, hub.hello())
            while True:
                if min(hub.behind(index), hub.total - came_at) > self.max_behind_bytes:
                    self.dropped += 1  # it comes back with Last-Event-ID
                    return response
                if index < len(hub.messages):
                    chunk = hub.messages[index : index + WRITE_AT_ONCE]
                    await self._send(response, b"".join(chunk))
                    index += len(chunk)
                    continue
                if hub.ended:
                    return response
                try:
                    async with asyncio.timeout(self.heartbeat_s):
                        await hub.grown()
                except TimeoutError:
                    await self._send(response, b": keep-alive\n\n")
        except TimeoutError:  # it could not take a message in time
            self.dropped += 1
            return response
        except ConnectionError:
            return response
        finally:
            self.watchers -= 1
            if not self.watchers:
                self._idle.set()

    async def _send(self, response: web.StreamResponse, data: bytes) -> None:
        async with asyncio.timeout(self.write_timeout_s):
            await response.write(data)

    async def _control(self, request: web.Request) -> web.Response:
        ticket, action = request.match_info["ticket"], request.match_info["action"]
        if self.controls is None:
            return _problem(403, "this run is served read-only: start it with --control to allow this")
        if ticket not in self.tickets:
            return _problem(404, f"the run has no ticket {ticket!r}")
        who = request.remote or "an unknown address"
        match action:
            case "cancel":
                problem = self.controls.cancel(ticket, who)
            case "retry":
                problem = self.controls.retry(ticket, who)
            case _:
                problem = self.controls.answer(ticket, request.match_info["call"], action == "approve", who)
        if problem is not None:
            return _problem(409, problem)
        return web.json_response({"ok": True})


def _problem(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": message}), content_type="application/json")
