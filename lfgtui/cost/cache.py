"""Why a request missed the provider's prompt cache, from what lfg itself sent: a cache keys on the
prompt's prefix (the model, the system prompt, the tools, then the conversation) and forgets it
after a while unused, so a request after one whose model, system prompt or tools differ, or after
a long idle, reads nothing from it. lfg knows its own requests, so it can say which."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Protocol

LIFETIME_S = 300.0
"""How long a provider keeps a cached prefix unused: Anthropic's default cache lives five minutes
(refreshed by each hit), OpenAI's five to ten; past this a miss is put down to the idle."""
PARTS = ("model", "system prompt", "tools")
"""What `CachePrefix` digests, in its order: each one's change is a miss's cause."""


class CacheCounts(Protocol):
    """A request's usage as the cache's hit rate reads it: a request's metrics, or its history row."""

    @property
    def input_tokens(self) -> int | None: ...

    @property
    def cache_read_tokens(self) -> int | None: ...

    @property
    def cache_write_tokens(self) -> int | None: ...


def whole_prompt(input_tokens: int, cache_read_tokens: int, cache_write_tokens: int) -> tuple[int, int, int]:
    """(whole prompt, cache reads, cache writes), none negative and the prompt never less than its
    cached parts: provider counts are untrusted, so a price is better too high than an error, and a
    hit rate is never past 100%."""
    read, write = max(0, cache_read_tokens), max(0, cache_write_tokens)
    return max(input_tokens, read + write), read, write


def said_cache(request: CacheCounts) -> bool:
    """Whether the request's usage said what the prompt cache read of a prompt it counted: a request
    with no usage, a prompt of 0 tokens or no cache figure says nothing (never a 0% hit)."""
    return bool(request.input_tokens) and request.cache_read_tokens is not None


def hit_rate(requests: Iterable[CacheCounts]) -> float | None:
    """The share of the requests' prompts read from the provider's prompt cache: cache reads over the
    whole prompts (`input_tokens`, which hold the cache's reads and writes: Anthropic's
    `input_tokens + cache_creation_input_tokens + cache_read_input_tokens`), of the requests whose
    usage said (`said_cache`), each prompt counted as its price counts it (`whole_prompt`); None when
    none did. One definition for a request, an attempt, a run and a recorded attempt."""
    said = [
        whole_prompt(r.input_tokens or 0, r.cache_read_tokens or 0, r.cache_write_tokens or 0)
        for r in requests
        if said_cache(r)
    ]
    prompts = sum(prompt for prompt, _, _ in said)
    return sum(read for _, read, _ in said) / prompts if prompts else None


def digest(text: str) -> str:
    """A short digest of a part of the prefix: equal parts give equal digests."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def miss_cause(before: tuple[str, ...], now: tuple[str, ...], idle_s: float) -> str | None:
    """Why a request with prefix digests `now` read nothing from the cache after one with `before`
    that ended `idle_s` earlier; None when lfg cannot tell (the provider evicted it early, or the
    prefix is shorter than the cache's minimum)."""
    changed = [part for part, was, is_ in zip(PARTS, before, now, strict=False) if was != is_]
    if changed:
        return " and ".join(changed) + " changed"
    if idle_s > LIFETIME_S:
        return f"{idle_s / 60:.0f} min since the previous call: past the cache's lifetime"
    return None
