"""Why a request missed the provider's prompt cache, from what lfg itself sent: a cache keys on the
prompt's prefix (the model, the system prompt, the tools, then the conversation) and forgets it
after a while unused, so a request after one whose model, system prompt or tools differ, or after
a long idle, reads nothing from it. lfg knows its own requests, so it can say which."""

from __future__ import annotations

import hashlib

LIFETIME_S = 300.0
"""How long a provider keeps a cached prefix unused: Anthropic's default cache lives five minutes
(refreshed by each hit), OpenAI's five to ten; past this a miss is put down to the idle."""
PARTS = ("model", "system prompt", "tools")
"""What `CachePrefix` digests, in its order: each one's change is a miss's cause."""


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
