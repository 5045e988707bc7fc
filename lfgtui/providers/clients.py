"""The official SDK clients, built on one shared `httpx2` stack with our timeouts.

SDK retries are off: a retry must be visible to the user (a status line, a countdown), so the run
layer decides when to retry, not the SDK behind its back.
"""

from __future__ import annotations

import anthropic
import httpx2
import openai

from lfgtui.providers.base import ProviderConfig


def timeouts(config: ProviderConfig) -> httpx2.Timeout:
    """`read` is the idle timeout: the longest gap between two bytes of a stream."""
    return httpx2.Timeout(
        connect=config.connect_timeout_s,
        read=config.idle_timeout_s,
        write=30.0,
        pool=config.connect_timeout_s,
    )


def http_client(config: ProviderConfig) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(timeout=timeouts(config), headers=config.headers, follow_redirects=True)


def openai_client(config: ProviderConfig) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=config.api_key or "not-needed",
        base_url=config.base_url,
        timeout=timeouts(config),
        max_retries=0,
        default_headers=config.headers,
        http_client=http_client(config),
    )


def anthropic_client(config: ProviderConfig) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key=config.api_key or "not-needed",
        base_url=config.base_url,
        timeout=timeouts(config),
        max_retries=0,
        default_headers=config.headers,
        http_client=http_client(config),
    )
