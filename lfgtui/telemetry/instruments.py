"""The one table of the run's instruments: each one's names, unit, description and buckets, which
OpenTelemetry's meters (`meters.py`) and Prometheus's (`prometheus.py`) both build from, so the two
cannot say different things. How each records (its attributes or labels) is theirs. Light: it
imports neither OpenTelemetry nor prometheus-client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lfgtui.cost.metrics import AgentUsage
    from lfgtui.events import ContextUsed, QuotaSeen
    from lfgtui.telemetry.metered import Counted


@dataclass(frozen=True, slots=True)
class Instrument:
    """One instrument as both systems name it."""

    name: str
    """OpenTelemetry's name (the GenAI conventions' or lfg's own under `lfg.`)."""
    prometheus: str
    """Prometheus's (prometheus-client adds a counter's `_total`)."""
    unit: str
    """UCUM, as OpenTelemetry takes it; Prometheus's name carries it."""
    description: str
    buckets: tuple[float, ...] = ()
    """A histogram's bucket boundaries."""


TTFT = Instrument(
    "lfg.ttft", "lfg_ttft_seconds", "s", "An attempt's time to its first token",
    (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)  # fmt: skip
RATE = Instrument(
    "lfg.tokens_per_s", "lfg_tokens_per_second", "{token}/s", "An attempt's output rate while it streamed",
    (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0),
)  # fmt: skip
TOKEN_USAGE = Instrument(
    "gen_ai.client.token.usage", "gen_ai_client_token_usage", "{token}",
    "Tokens of each request, input and output", tuple(float(4**n) for n in range(14)),
)  # fmt: skip
"""The GenAI conventions' advice for its buckets: 1, 4, 16 ... 67,108,864."""
DURATION = Instrument(
    "gen_ai.client.operation.duration", "gen_ai_client_operation_duration_seconds", "s",
    "Each request, sent to answered", tuple(0.01 * 2**n for n in range(14)),
)  # fmt: skip
"""Their advice for its buckets: 0.01, 0.02 ... 81.92 s."""

TOKENS = Instrument("lfg.tokens", "lfg_tokens", "{token}", "Tokens of ended attempts")
COST = Instrument("lfg.cost", "lfg_cost_usd", "USD", "What ended attempts cost")
ATTEMPTS = Instrument("lfg.attempts", "lfg_attempts", "{attempt}", "Attempts ended")
PAUSES = Instrument(
    "lfg.rate_limit.pauses", "lfg_rate_limit_pauses", "{pause}", "429s that paused a provider's requests"
)

TICKETS: tuple[tuple[Instrument, Callable[[Counted], int]], ...] = (
    (
        Instrument("lfg.tickets.running", "lfg_tickets_running", "{ticket}", "Tickets running"),
        lambda tally: len(tally.running),
    ),
    (
        Instrument(
            "lfg.tickets.queued",
            "lfg_tickets_queued",
            "{ticket}",
            "Tickets waiting for their provider's limits",
        ),
        lambda tally: len(tally.queued),
    ),
    (
        Instrument(
            "lfg.tickets.waiting",
            "lfg_tickets_waiting",
            "{ticket}",
            "Tickets waiting for a person's approval",
        ),
        lambda tally: len(tally.waiting),
    ),
)
"""The gauges of the tickets' states, each with how it counts them."""

QUOTA_KINDS = ("requests", "tokens")
QUOTAS: tuple[tuple[Instrument, str], ...] = (
    (
        Instrument(
            "lfg.quota.remaining",
            "lfg_quota_remaining",
            "",
            "What a provider's rate-limit headers said is left",
        ),
        "remaining",
    ),
    (
        Instrument(
            "lfg.quota.limit", "lfg_quota_limit", "", "A provider's allowance per window, as its headers said"
        ),
        "limit",
    ),
    (
        Instrument(
            "lfg.quota.reset", "lfg_quota_reset_seconds", "s", "Seconds until a provider's allowance is whole"
        ),
        "reset_s",
    ),
)
"""The gauges of each provider's quotas (by `requests` or `tokens`), each with the `QuotaSeen` field
(after `requests_` or `tokens_`) it reads."""


def quota_values(quotas: Mapping[str, QuotaSeen], field: str, now: float) -> Iterator[tuple[str, str, float]]:
    """(provider, `requests` or `tokens`, value) of each quota's `field` as last seen; a reset is the
    seconds left of it at `now`."""
    for provider, seen in list(quotas.items()):
        for kind in QUOTA_KINDS:
            value = getattr(seen, f"{kind}_{field}")
            if value is not None:
                yield provider, kind, max(0.0, seen.t + value - now) if field == "reset_s" else value


CONTEXTS: tuple[tuple[Instrument, Callable[[ContextUsed], int]], ...] = (
    (
        Instrument(
            "lfg.context.used",
            "lfg_context_used_tokens",
            "{token}",
            "The fullest context a coding agent's running sessions reported (else its last report)",
        ),
        lambda context: context.used,
    ),
    (
        Instrument("lfg.context.size", "lfg_context_size_tokens", "{token}", "The window of that context"),
        lambda context: context.size,
    ),
)
"""The gauges of each coding agent provider's context, as its sessions reported it (`AgentUsage`),
each with what it reads of the report."""


def context_values(
    agents: Mapping[str, AgentUsage], read: Callable[[ContextUsed], int]
) -> Iterator[tuple[str, int]]:
    """(provider, value) of each coding agent provider's context that its sessions reported."""
    for provider, usage in list(agents.items()):
        if usage.context is not None:
            yield provider, read(usage.context)
