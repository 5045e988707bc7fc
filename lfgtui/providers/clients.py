"""One HTTP stack for every adapter: `httpx2` clients with our timeouts.

The SDK clients built on it (see `openai_client`, `anthropic_client`) have their own retries off:
a retry must be visible to the user (a status line, a countdown), so the run layer decides when to
retry, not the SDK behind its back. Its connections are made by `network.AsyncioBackend`, the
running loop's own sockets (see there why); connections through a proxy keep httpx2's own.

The pool has no cap on connections (httpx2's default is 100): the scheduler already bounds how
many calls a run streams at once (`max_concurrency`, per run and per provider), and a second cap
below it made ticket 101 of a 101-ticket run wait for a free connection, a wait the SDKs reported
as a timeout, and failed it once that wait passed the connect timeout.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import resource
import ssl
from collections.abc import AsyncIterator

import httpx2

from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.network import AsyncioBackend

LIMITS = httpx2.Limits(max_connections=None, max_keepalive_connections=20, keepalive_expiry=5.0)
"""Every call gets a connection at once; 20 idle ones are kept for the next calls, as httpx2 keeps."""

OPEN_FILES_WANTED = 65536
"""Enough sockets for a run of thousands of streams (each is one), where the system allows it."""


def allow_many_sockets() -> None:
    """Raise this process's soft limit on open files towards its hard limit: many systems start
    processes at 1,024 (macOS at 256), below what a run of a thousand streams opens. Raising the
    soft limit up to the hard one needs no privilege; where even that is refused, the limit stays."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def timeouts(config: ProviderConfig) -> httpx2.Timeout:
    """`read` is the idle timeout: the longest gap between two bytes of a stream."""
    return httpx2.Timeout(
        connect=config.connect_timeout_s,
        read=config.idle_timeout_s,
        write=30.0,
        pool=config.connect_timeout_s,
    )


def transport() -> httpx2.AsyncHTTPTransport:
    """httpx2's transport with its defaults, its connections made by `AsyncioBackend`."""
    made = httpx2.AsyncHTTPTransport(
        limits=LIMITS, verify=trusted(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    )
    made._pool._network_backend = AsyncioBackend()  # httpx2 takes no backend; see test_private_names
    return made


@functools.cache
def trusted(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx2's default TLS settings, made once for every client while the CAs to trust are the same
    (`SSL_CERT_FILE`, `SSL_CERT_DIR`, which httpx2 reads as it makes them): loading the CAs cost 23 ms
    of CPU for each client, every provider of every run (and of every test)."""
    return httpx2.create_ssl_context()


class BodyTooLarge(httpx2.ReadError):
    """An answer longer than its reader takes: the rest is not read."""


class _CappedBody(httpx2.AsyncByteStream):
    def __init__(self, body: httpx2.AsyncByteStream, max_bytes: int) -> None:
        self.body, self.max_bytes = body, max_bytes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self.body:
            seen += len(chunk)
            if seen > self.max_bytes:
                raise BodyTooLarge(f"its answer is longer than {self.max_bytes:,} bytes, more than lfg reads")
            yield chunk

    async def aclose(self) -> None:
        await self.body.aclose()


class CappedTransport(httpx2.AsyncBaseTransport):
    """A transport whose answers' bodies end in `BodyTooLarge` past `max_bytes`: for a document read
    whole (a model list), never a stream."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, max_bytes: int) -> None:
        self.inner, self.max_bytes = inner, max_bytes

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_CappedBody(response.stream, self.max_bytes),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def http_client(config: ProviderConfig, max_body: int | None = None) -> httpx2.AsyncClient:
    """The client an adapter sends through. Made once per provider, before its first request: the
    SDKs describe the platform in each request's headers, and finding it out the first time runs
    `uname -p` in a thread (`platform.platform()`, which keeps what it found); asked here, that wait
    is out of the first request, and so of its time to first token. `limits` is for the transports
    httpx2 makes itself, through a proxy. With `max_body`, no answer is read past that many bytes."""
    platform.platform()
    allow_many_sockets()
    sent: httpx2.AsyncBaseTransport = transport()
    return httpx2.AsyncClient(
        timeout=timeouts(config),
        headers=config.headers,
        follow_redirects=True,
        transport=sent if max_body is None else CappedTransport(sent, max_body),
        limits=LIMITS,
    )
