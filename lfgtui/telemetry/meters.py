"""The run's metrics through OpenTelemetry: the instruments `metered.py` records into when a request
or an attempt ends (read from the run's metrics book), never per token; the gauges are read by the
SDK's reader when it collects.

Each request: `gen_ai.client.token.usage` and `gen_ai.client.operation.duration` (the GenAI
conventions' client metrics). Each attempt: `lfg.ttft` and `lfg.tokens_per_s` (histograms),
`lfg.tokens` and `lfg.cost` (counters), `lfg.attempts`, all by provider, model and outcome;
`lfg.rate_limit.pauses`, the 429s that paused a provider. The tickets' states:
`lfg.tickets.running`, `lfg.tickets.queued` (waiting for their provider's limits) and
`lfg.tickets.waiting` (for a person's approval); each provider's quota as its headers last said
(`lfg.quota.remaining`, `lfg.quota.limit`, and `lfg.quota.reset`, the seconds until it is whole
again, by `lfg.quota`: requests or tokens); each coding agent provider's context as its sessions
reported it (`lfg.context.used`, the fullest running one's, and `lfg.context.size`). Their names,
units, descriptions and buckets are `instruments.py`'s, which Prometheus's are built from too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from opentelemetry.metrics import CallbackOptions, Observation

from lfgtui.telemetry.instruments import (
    ATTEMPTS,
    CONTEXTS,
    COST,
    DURATION,
    PAUSES,
    QUOTAS,
    RATE,
    TICKETS,
    TOKEN_USAGE,
    TOKENS,
    TTFT,
    Instrument,
    context_values,
    quota_values,
)
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
    from opentelemetry.metrics import Counter, Histogram, Meter

    from lfgtui.cost.metrics import AgentUsage, Metrics, RequestMetrics
    from lfgtui.events import ContextUsed, QuotaSeen
    from lfgtui.telemetry.metered import Counted, Labels

Attributes = Mapping[str, str | int]


def attributes(labels: Labels) -> dict[str, str]:
    """An attempt's labels as the GenAI conventions' attributes, with lfg's name for the provider."""
    return {PROVIDER: labels.genai_provider, LFG_PROVIDER: labels.provider, REQUEST_MODEL: labels.model}


class Meters:
    """The instruments, and what each boundary records."""

    def __init__(
        self,
        meter: Meter,
        tally: Counted,
        quotas: Mapping[str, QuotaSeen],
        agents: Mapping[str, AgentUsage],
        clock: Callable[[], float],
    ) -> None:
        def histogram(instrument: Instrument) -> Histogram:
            return meter.create_histogram(
                instrument.name,
                unit=instrument.unit,
                description=instrument.description,
                explicit_bucket_boundaries_advisory=instrument.buckets,
            )

        def counter(instrument: Instrument) -> Counter:
            return meter.create_counter(
                instrument.name, unit=instrument.unit, description=instrument.description
            )

        self.token_usage = histogram(TOKEN_USAGE)
        self.duration = histogram(DURATION)
        self.ttft = histogram(TTFT)
        self.rate = histogram(RATE)
        self.tokens = counter(TOKENS)
        self.cost = counter(COST)
        self.attempts = counter(ATTEMPTS)
        self.pauses = counter(PAUSES)
        for instrument, count in TICKETS:
            meter.create_observable_gauge(
                instrument.name,
                callbacks=[_tickets(tally, count)],
                unit=instrument.unit,
                description=instrument.description,
            )
        for instrument, field in QUOTAS:
            meter.create_observable_gauge(
                instrument.name,
                callbacks=[_quota(quotas, field, clock)],
                unit=instrument.unit,
                description=instrument.description,
            )
        for instrument, read in CONTEXTS:
            meter.create_observable_gauge(
                instrument.name,
                callbacks=[_context(agents, read)],
                unit=instrument.unit,
                description=instrument.description,
            )

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


def _tickets(
    tally: Counted, count: Callable[[Counted], int]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count(tally))]

    return observe


def _quota(
    quotas: Mapping[str, QuotaSeen], field: str, clock: Callable[[], float]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """The gauge of each provider's requests and tokens `field` (remaining, limit, reset), as last seen."""

    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(value, {LFG_PROVIDER: provider, QUOTA: kind})
            for provider, kind, value in quota_values(quotas, field, clock())
        ]

    return observe


def _context(
    agents: Mapping[str, AgentUsage], read: Callable[[ContextUsed], int]
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """The gauge of what each coding agent provider's context `read`s, as its sessions reported it."""

    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(value, {LFG_PROVIDER: provider}) for provider, value in context_values(agents, read)
        ]

    return observe
