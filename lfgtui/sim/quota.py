"""The sim's account quota: a scenario's `ratelimit_requests` and `ratelimit_tokens` a window of
`ratelimit_window_ms`, counted over every request the sim answers with that scenario, and told as the
provider would tell it: OpenAI's `x-ratelimit-*` headers (a reset as a duration, `1.5s`, `20ms`) on
the OpenAI APIs, Anthropic's `anthropic-ratelimit-*` (a reset as an RFC 3339 time) on its API. A
request past the quota is answered 429 with the headers and a Retry-After, as the providers do.
A scenario's `ratelimit_spent` starts each window spent; its `gateway` sends every such header as a
LiteLLM proxy relays it, under `llm_provider-` (`relayed`). The quota is the scenario's, and a scenario
is a model: a 429 of one model says nothing of another's, as OpenAI's and Anthropic's are per model.
A window past reason (`ratelimit_window_ms = 1e18`) is told as such: `16666666666666m40s`, a
Retry-After of 10^15 s, or Anthropic's reset in the year 9999.

The sim's own reading of the providers' documented headers, sharing no code with lfg's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lfgtui.sim.scenario import Scenario

OPENAI = "openai"
ANTHROPIC = "anthropic"


@dataclass
class Window:
    """One scenario's current window: when it began and what it has taken."""

    started: float
    requests: int = 0
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class Taken:
    """A request counted against its scenario's quota: whether it fits, and the headers to send."""

    allowed: bool
    headers: dict[str, str]
    retry_after_s: float


@dataclass
class Quotas:
    """Every scenario's window, over the sim's life."""

    windows: dict[str, Window] = field(default_factory=dict)

    def take(self, scenario: Scenario, tokens: int, dialect: str, now: float) -> Taken | None:
        """Count a request of `tokens` (prompt and answer) against `scenario`'s quota at monotonic
        `now`, in the headers of `dialect`; None when the scenario has no quota or the API no dialect."""
        requests_limit, tokens_limit = scenario.ratelimit_requests, scenario.ratelimit_tokens
        if not (requests_limit or tokens_limit) or dialect not in (OPENAI, ANTHROPIC):
            return None
        window_s = scenario.ratelimit_window_ms / 1000
        window = self.windows.get(scenario.name)
        if window is None or now >= window.started + window_s:
            window = self.windows[scenario.name] = Window(now)
            if scenario.ratelimit_spent:
                window.requests, window.tokens = requests_limit, tokens_limit
        over_requests = bool(requests_limit) and window.requests >= requests_limit
        over_tokens = bool(tokens_limit) and window.tokens >= tokens_limit
        allowed = not (over_requests or over_tokens)
        if allowed:
            window.requests += 1
            window.tokens += tokens
        reset_s = round(window.started + window_s - now, 6)  # no float dust: 60 s, not 60.0000000001
        headers: dict[str, str] = {}
        for kind, limit, used in (
            ("requests", requests_limit, window.requests),
            ("tokens", tokens_limit, window.tokens),
        ):
            if limit:
                left = max(0, limit - used)
                headers |= _headers(dialect, kind, limit, left, reset_s)
        return Taken(allowed, headers, reset_s)


GATEWAY_PREFIX = "llm_provider-"
"""LiteLLM's documented prefix for the upstream provider's response headers it passes on."""


def relayed(scenario: Scenario, headers: dict[str, str]) -> dict[str, str]:
    """`headers` as the scenario's provider sends them: itself, or behind a gateway, each prefixed."""
    return {GATEWAY_PREFIX + name: value for name, value in headers.items()} if scenario.gateway else headers


def _headers(dialect: str, kind: str, limit: int, left: int, reset_s: float) -> dict[str, str]:
    if dialect == OPENAI:
        return {
            f"x-ratelimit-limit-{kind}": str(limit),
            f"x-ratelimit-remaining-{kind}": str(left),
            f"x-ratelimit-reset-{kind}": _duration(reset_s),
        }
    return {
        f"anthropic-ratelimit-{kind}-limit": str(limit),
        f"anthropic-ratelimit-{kind}-remaining": str(left),
        f"anthropic-ratelimit-{kind}-reset": _rfc3339(reset_s),
    }


def _duration(seconds: float) -> str:
    """OpenAI's way: `20ms`, `1.5s`, `6m0s` (rounded up, so the reset is never said to come early)."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    if seconds < 60:
        return f"{math.ceil(seconds * 1000) / 1000:g}s"
    whole = math.ceil(seconds)
    return f"{whole // 60}m{whole % 60}s"


LAST_SECOND = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
"""The last time RFC 3339 can write: a window reaching past it (`ratelimit_window_ms = 1e18`, an absurd
reset as a broken server sends one) is said to reset then, in the year 9999."""


def _rfc3339(seconds: float) -> str:
    """Anthropic's way: the time it resets, in whole seconds (rounded up) of UTC."""
    when = min(math.ceil(time.time() + seconds), LAST_SECOND)
    return datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
