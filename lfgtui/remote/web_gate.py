"""Who may use `lfg web`: the person who has the URL it printed, from its own page, under its own name.

textual-serve has no login: any page open in the person's browser could open its websocket, type
`y` into an approval and read the screen, and a DNS-rebinding name could reach it as if it were
the page. So every request (the page, its scripts, the websocket) must carry a cookie holding a
secret made for this `lfg web` start; the URL printed at start carries it once (`/?key=…`) and
trades it for the cookie. The Host must be one this server answers to (a rebinding name is not),
and an `Origin`, which browsers send with every websocket and cross-site request, must be this
server's own: cookies do not tell ports apart, so another page on 127.0.0.1 would carry the cookie.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from lfgtui.inert import inert

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WEBSOCKET_PATH = "/ws"
"""textual-serve's websocket route: the one a page elsewhere must never open."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether `host` is reached only from this machine: localhost or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """0.0.0.0 or ::, which a browser cannot be sent to (nor a Host checked against)."""
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_unspecified
    except ValueError:
        return False


def _same(given: str, secret: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret.encode())


@dataclass(frozen=True)
class Gate:
    """aiohttp middleware that lets in only requests carrying this start's key, to this server."""

    key: str
    host: str
    """The host the browser is sent to (`--host`), as it goes in a URL (IPv6 in brackets)."""
    port: int

    @classmethod
    def for_address(cls, key: str, host: str, port: int) -> Gate:
        bare = host.removeprefix("[").removesuffix("]")
        return cls(key, f"[{bare}]" if ":" in bare else host, port)

    @property
    def origin(self) -> str:
        """The page's origin: where its websocket must come from."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """What the person opens: the page, with the key that lets their browser in."""
        return f"{self.origin}/?key={self.key}"

    @property
    def cookie(self) -> str:
        """The cookie's name: one per port, as cookies do not tell ports apart."""
        return f"lfg_web_{self.port}"

    def _hosts(self) -> set[str]:
        return {f"{name}:{self.port}" for name in (*LOOPBACK_NAMES, self.host)}

    @web.middleware
    async def check(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer 403 with the reason, unless the request comes with the key, to this server, from
        its own page."""
        host = request.headers.get("Host", "")
        if host not in self._hosts():
            return _refuse(f"this server answers to {self.origin}, not to the host name {host!r}")
        origin = request.headers.get("Origin")
        websocket = request.path == WEBSOCKET_PATH
        if host != f"{self.host}:{self.port}":  # localhost for 127.0.0.1: the cookie is the origin's
            if websocket or request.method != "GET":
                return _refuse(f"open {self.origin} instead of {host}")
            raise web.HTTPTemporaryRedirect(f"{self.origin}{request.path_qs}")
        if origin is not None and origin != self.origin:
            return _refuse(f"a page from {origin} may not use {self.origin}")
        if websocket and origin is None:
            return _refuse("the websocket is opened by lfg web's own page only")
        key = request.query.get("key")
        if key is not None:
            if not _same(key, self.key):
                return _refuse("this key is not the one lfg web printed at its start")
            return self._welcome(request)
        if not _same(request.cookies.get(self.cookie, ""), self.key):
            return _refuse(
                f"open the address lfg web printed at its start ({self.origin}/?key=…): "
                "its key lets this browser in"
            )
        return await handler(request)

    def _welcome(self, request: web.Request) -> web.Response:
        """The key for a cookie, then the page without the key in its address.

        The browser goes on from a page of this origin rather than a redirect: after a link
        followed from another site, a redirect would not carry a SameSite=Strict cookie.
        """
        query = urlencode([(name, value) for name, value in request.query.items() if name != "key"])
        clean = request.path + (f"?{query}" if query else "")
        script_string = json.dumps(clean).replace("<", "\\u003c")  # no `</script>` in it
        page = (
            "<!DOCTYPE html><title>lfg</title>"
            f"<script>location.replace({script_string})</script>"
            f'<a href="{html.escape(clean)}">Open lfg</a>'
        )
        response = web.Response(text=page, content_type="text/html")
        response.set_cookie(self.cookie, self.key, httponly=True, samesite="Strict", path="/")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


def _refuse(reason: str) -> web.Response:
    return web.Response(status=403, text=f"lfg web: {inert(reason)}\n")
