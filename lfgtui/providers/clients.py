"""One HTTP stack for every adapter: `httpx2` clients with our timeouts.

The SDK clients built on it (see `openai_client`, `anthropic_client`) have their own retries off:
a retry must be visible to the user (a status line, a countdown), so the run layer decides when to
retry, not the SDK behind its back. Its connections are made by `network.AsyncioBackend`, the
running loop's own sockets (see there why); connections through a proxy keep httpx2's own.
"""

from __future__ import annotations

import platform

import httpx2

from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.network import AsyncioBackend


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
    made = httpx2.AsyncHTTPTransport()
    made._pool._network_backend = AsyncioBackend()  # httpx2 takes no backend; see test_private_names
    return made


def http_client(config: ProviderConfig) -> httpx2.AsyncClient:
    """The client an adapter sends through. Made once per provider, before its first request: the
    SDKs describe the platform in each request's headers, and finding it out the first time runs
    `uname -p` in a thread (`platform.platform()`, which keeps what it found); asked here, that wait
    is out of the first request, and so of its time to first token."""
    platform.platform()
    return httpx2.AsyncClient(
        timeout=timeouts(config), headers=config.headers, follow_redirects=True, transport=transport()
    )
