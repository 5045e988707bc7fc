"""The run's metrics through OpenTelemetry: the instruments `metered.py` records into when a request
or an attempt ends (read from the run's metrics book), never per token; the gauges are read by the
SDK's reader when it collects.

Each request: `gen_ai.client.token.usage` and `gen_ai.client.operation.duration` (the GenAI
conventions' client metrics). Each attempt: `lfg.ttft` and `lfg.tokens_per_s` (histograms),
`lfg.tokens` and `lfg.cost` (counters), `lfg.attempts`, all by provider, model and outcome;
`lfg.rate_limit.pauses`, the 429s that paused a provider. The tickets' states:
`lfg.tickets.running`, `lfg.tickets.queued` (waiting for their provider's limits) and
`lfg.tickets.waiting` (for a person's approval); each provider's quota as its headers last said
(`lfg.quota.remaining`, `lfg.quota.limit`, by `lfg.quota`: requests or tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from opentelemetry.metrics import CallbackOptions, Observation

from lfgtui.telemetry.metered import DURATION_BUCKETS_S, RATE_BUCKETS, TOKEN_BUCKETS, TTFT_BUCKETS_S
from lfgtui.telemetry.names import (
    LFG_PROVIDER,
    OPERATION,
    OUTCOME,
    PROVIDER,
    QUOTA,
    REQUEST_MODEL,
    TOKEN_TYPE,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

    from lfgtui.cost.metrics import Metrics, RequestMetrics
    from lfgtui.events import QuotaSeen
    from lfgtui.telemetry.metered import Labels, Tally

Attributes = Mapping[str, str | int]


def attributes(labels: Labels) -> dict[str, str]:
    """An attempt's labels as the GenAI conventions' attributes, with lfg's name for the provider."""
    return {PROVIDER: labels.genai_provider, LFG_PROVIDER: labels.provider, REQUEST_MODEL: labels.model}


class Meters:
    """The instruments, and what each boundary records."""

    def __init__(self, meter: Meter, tally: Tally, quotas: Mapping[str, QuotaSeen]) -> None:
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Tokens of each request, input and output",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="Each request, sent to answered",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S,
        )
        self.ttft = meter.create_histogram(
            "lfg.ttft",
            unit="s",
            description="An attempt's time to its first token",
            explicit_bucket_boundaries_advisory=TTFT_BUCKETS_S,
        )
        self.rate = meter.create_histogram(
            "lfg.tokens_per_s",
            unit="{token}/s",
            description="An attempt's output rate while it streamed",
            explicit_bucket_boundaries_advisory=RATE_BUCKETS,
        )
        self.tokens = meter.create_counter(
            "lfg.tokens", unit="{token}", description="Tokens of ended attempts"
        )
        self.cost = meter.create_counter("lfg.cost", unit="USD", description="What ended attempts cost")
        self.attempts = meter.create_counter("lfg.attempts", unit="{attempt}", description="Attempts ended")
        gauges = {
            "lfg.tickets.running": ("Tickets running", lambda: len(tally.running)),
            "lfg.tickets.queued": ("Tickets waiting for their provider's limits", lambda: len(tally.queued)),
            "lfg.tickets.waiting": ("Tickets waiting for a person's approval", lambda: len(tally.waiting)),
        }
        for name, (description, count) in gauges.items():
            meter.create_observable_gauge(
                name, callbacks=[_observed(count)], unit="{ticket}", description=description
            )
        self.pauses = meter.create_counter(
            "lfg.rate_limit.pauses", unit="{pause}", description="429s that paused a provider's requests"
        )
        for name, description, field in (
            ("lfg.quota.remaining", "What a provider's rate-limit headers said is left", "remaining"),
            ("lfg.quota.limit", "A provider's allowance per window, as its rate-limit headers said", "limit"),
        ):
            meter.create_observable_gauge(name, callbacks=[_quota(quotas, field)], description=description)

    def request_ended(self, labels: Labels, request: RequestMetrics, ended: float) -> None:
        chat = {**attributes(labels), OPERATION: "chat"}
        self.duration.record(max(0.0, ended - request.request_sent), chat)
        if request.input_tokens is not None:
            self.token_usage.record(request.input_tokens, {**chat, TOKEN_TYPE: "input"})
        if request.chunks or request.reported_tokens is not None:
            self.token_usage.record(request.output_tokens, {**chat, TOKEN_TYPE: "output"})

    def attempt_ended(self, labels: Labels | None, outcome: str, metrics: Metrics | None) -> None:
        by = {**(attributes(labels) if labels is not None else {}), OUTCOME: outcome}
        self.attempts.add(1, by)
        if metrics is None:
            return
        if metrics.ttft_s is not None:
            self.ttft.record(metrics.ttft_s, by)
        if metrics.tokens_per_s is not None:
            self.rate.record(metrics.tokens_per_s, by)
        if metrics.input_tokens:
            self.tokens.add(metrics.input_tokens, {**by, TOKEN_TYPE: "input"})
        if metrics.output_tokens:
            self.tokens.add(metrics.output_tokens, {**by, TOKEN_TYPE: "output"})
        if metrics.cost_usd:
            self.cost.add(metrics.cost_usd, by)

    def rate_limited(self, labels: Labels) -> None:
        self.pauses.add(1, attributes(labels))


def _observed(count: Callable[[], int]) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count())]

    return observe


def _quota(quotas: Mapping[str, QuotaSeen], field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """The gauge of each provider's requests and tokens `field` (remaining or limit), as last seen."""

    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(value, {LFG_PROVIDER: provider, QUOTA: kind})
            for provider, seen in list(quotas.items())
            for kind in ("requests", "tokens")
            if (value := getattr(seen, f"{kind}_{field}")) is not None
        ]

    return observe
