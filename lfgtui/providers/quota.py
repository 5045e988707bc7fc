"""A provider's rate-limit headers as a `QuotaSeen`: what its account has left, and when it resets.

Two dialects, read from the response's headers as the official SDK received them (the stream's
`response.headers`, or an error's: a 429 says when the quota resets), never from the stream's body:
- OpenAI's (and the OpenAI-compatible servers that send them): `x-ratelimit-limit-requests`,
  `x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests` (a duration such as `6m0s`, `1s`
  or `20ms`) and the same for `-tokens`;
- Anthropic's: `anthropic-ratelimit-requests-limit`, `-remaining` and `-reset` (an RFC 3339 time),
  and the same for `tokens`, `input-tokens` and `output-tokens`, of which the one with the least
  left (for its limit) is the tokens' quota.
Each is read as the provider sent it or, failing that, as a LiteLLM proxy relays it
(`llm_provider-x-ratelimit-reset-requests`, `base.relayed`). The headers are a server's word: a
value that is not a count or a time is left out, never an error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from lfgtui.events import EventFactory, QuotaSeen
from lfgtui.providers.base import relayed

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
Allowance = tuple[int | None, int | None, float | None]
"""(limit, remaining, seconds until reset)."""


def quota_seen(ev: EventFactory, provider: str, headers: Mapping[str, str]) -> QuotaSeen | None:
    """The quota `headers` (case-insensitive, as httpx2's are) tell of, or None when they tell none."""
    if relayed(headers, "anthropic-ratelimit-requests-limit") or relayed(
        headers, "anthropic-ratelimit-tokens-limit"
    ):
        requests = _allowance(headers, "anthropic-ratelimit-requests-{}", _until_time)
        tokens = _tightest(
            _allowance(headers, f"anthropic-ratelimit-{kind}-{{}}", _until_time)
            for kind in ("tokens", "input-tokens", "output-tokens")
        )
    else:
        requests = _allowance(headers, "x-ratelimit-{}-requests", _duration)
        tokens = _allowance(headers, "x-ratelimit-{}-tokens", _duration)
    if all(value is None for value in (*requests, *tokens)):
        return None
    return ev(
        QuotaSeen,
        provider=provider,
        requests_limit=requests[0],
        requests_remaining=requests[1],
        requests_reset_s=requests[2],
        tokens_limit=tokens[0],
        tokens_remaining=tokens[1],
        tokens_reset_s=tokens[2],
    )


def refused_quota(ev: EventFactory, provider: str, exc: BaseException) -> QuotaSeen | None:
    """The quota an error response's headers tell of (an SDK's status error carries its response):
    a 429's say that none is left and when it resets, even without a Retry-After."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    return None if headers is None else quota_seen(ev, provider, headers)


def _allowance(headers: Mapping[str, str], pattern: str, reset: Callable[[str], float | None]) -> Allowance:
    """One allowance: `pattern` names its headers with `limit`, `remaining` and `reset` in its place."""
    limit, remaining, resets = (
        relayed(headers, pattern.format(part)) for part in ("limit", "remaining", "reset")
    )
    return _count(limit), _count(remaining), None if resets is None else reset(resets.strip())


def _tightest(allowances: Iterable[Allowance]) -> Allowance:
    """Of an account's token allowances, the one with the least left for its limit."""
    known = [a for a in allowances if a[1] is not None]
    return min(known, key=_share_left, default=(None, None, None))


def _share_left(allowance: Allowance) -> float:
    limit, remaining, _ = allowance
    return (remaining or 0) / limit if limit else float(remaining or 0)


def _count(value: str | None) -> int | None:
    """A count a header gives: a whole number, not negative (Azure sends -1 for none)."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def _duration(value: str) -> float | None:
    """Seconds of OpenAI's durations (`6m0s`, `1h2m3.5s`, `20ms`), or of a plain number of seconds."""
    try:
        seconds = float(value)
    except ValueError:
        pieces = _DURATION.findall(value)
        if not pieces or "".join(number + unit for number, unit in pieces) != value:
            return None
        return sum(float(number) * _UNIT_S[unit] for number, unit in pieces)
    return seconds if 0 <= seconds < float("inf") else None


def _until_time(value: str) -> float | None:
    """Seconds from now until an RFC 3339 time (0 when it has passed)."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
