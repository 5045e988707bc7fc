"""The run's metrics as Prometheus reads them: `GET /metrics` on `lfg run --serve` and `lfg serve`,
behind the served API's token (the `lfgtui[prometheus]` extra: prometheus-client alone).

The same metrics as the OpenTelemetry meters (meters.py), under Prometheus's names: histograms of
TTFT and tok/s per attempt and of tokens and duration per request, counters of tokens, cost,
attempts and 429 pauses, by provider, model and outcome, recorded by `metered.py` when a request or
an attempt ends (never per token), in a registry of their own (never the process's global one).
The gauges (tickets running, queued, waiting for a person; each provider's quota as its rate-limit
headers last said, and the seconds until it resets; each coding agent provider's context as its
sessions reported it) are read when Prometheus scrapes. The names,
descriptions and buckets are `instruments.py`'s, which OpenTelemetry's are built from too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

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
from lfgtui.telemetry.metered import Counted, Labels

try:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.core import GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as exc:  # the base install: `lfgtui[prometheus]` brings it
    from lfgtui.extras import install_hint

    raise ImportError(install_hint("prometheus")) from exc

if TYPE_CHECKING:
    from lfgtui.cost.metrics import AgentUsage, Metrics, RequestMetrics
    from lfgtui.events import QuotaSeen

CONTENT_TYPE = CONTENT_TYPE_LATEST
BY_ATTEMPT = ("provider", "model", "outcome")
BY_REQUEST = ("provider", "model")


class PrometheusMeters:
    """The instruments `metered.py` records into, and the text a scrape reads (`render`)."""

    def __init__(
        self,
        tally: Counted,
        quotas: Mapping[str, QuotaSeen],
        agents: Mapping[str, AgentUsage],
        clock: Callable[[], float],
    ) -> None:
        self.registry = registry = CollectorRegistry()

        def histogram(instrument: Instrument, labels: tuple[str, ...]) -> Histogram:
            return Histogram(
                instrument.prometheus,
                instrument.description,
                labels,
                registry=registry,
                buckets=instrument.buckets,
            )

        def counter(instrument: Instrument, labels: tuple[str, ...]) -> Counter:
            return Counter(instrument.prometheus, instrument.description, labels, registry=registry)

        self.ttft = histogram(TTFT, BY_ATTEMPT)
        self.rate = histogram(RATE, BY_ATTEMPT)
        self.token_usage = histogram(TOKEN_USAGE, (*BY_REQUEST, "token_type"))
        self.duration = histogram(DURATION, BY_REQUEST)
        self.tokens = counter(TOKENS, (*BY_ATTEMPT, "token_type"))
        self.cost = counter(COST, BY_ATTEMPT)
        self.attempts = counter(ATTEMPTS, BY_ATTEMPT)
        self.pauses = counter(PAUSES, BY_REQUEST)
        registry.register(_Gauges(tally, quotas, agents, clock))

    def render(self) -> bytes:
        """The metrics in Prometheus's text format, as of now."""
        return generate_latest(self.registry)

    def request_ended(self, labels: Labels, request: RequestMetrics, ended: float) -> None:
        by = (labels.provider, labels.model)
        self.duration.labels(*by).observe(max(0.0, ended - request.request_sent))
        if request.input_tokens is not None:
            self.token_usage.labels(*by, "input").observe(request.input_tokens)
        if request.chunks or request.reported_tokens is not None:
            self.token_usage.labels(*by, "output").observe(request.output_tokens)

    def attempt_ended(self, labels: Labels | None, outcome: str, metrics: Metrics | None) -> None:
        by = ("", "", outcome) if labels is None else (labels.provider, labels.model, outcome)
        self.attempts.labels(*by).inc()
        if metrics is None:
            return
        if metrics.ttft_s is not None:
            self.ttft.labels(*by).observe(metrics.ttft_s)
        if metrics.tokens_per_s is not None:
            self.rate.labels(*by).observe(metrics.tokens_per_s)
        if metrics.input_tokens:
            self.tokens.labels(*by, "input").inc(metrics.input_tokens)
        if metrics.output_tokens:
            self.tokens.labels(*by, "output").inc(metrics.output_tokens)
        if metrics.cost_usd:
            self.cost.labels(*by).inc(metrics.cost_usd)

    def rate_limited(self, labels: Labels) -> None:
        self.pauses.labels(labels.provider, labels.model).inc()


class _Gauges(Collector):
    """What is true at the scrape: the tickets' states, the providers' quotas and the coding agents'
    contexts."""

    def __init__(
        self,
        tally: Counted,
        quotas: Mapping[str, QuotaSeen],
        agents: Mapping[str, AgentUsage],
        clock: Callable[[], float],
    ) -> None:
        self.tally = tally
        self.quotas = quotas
        self.agents = agents
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        for instrument, count in TICKETS:
            yield GaugeMetricFamily(instrument.prometheus, instrument.description, value=count(self.tally))
        now = self.clock()
        for instrument, field in QUOTAS:
            gauge = GaugeMetricFamily(
                instrument.prometheus, instrument.description, labels=("provider", "quota")
            )
            for provider, kind, value in quota_values(self.quotas, field, now):
                gauge.add_metric([provider, kind], value)
            yield gauge
        for instrument, read in CONTEXTS:
            gauge = GaugeMetricFamily(instrument.prometheus, instrument.description, labels=("provider",))
            for provider, value in context_values(self.agents, read):
                gauge.add_metric([provider], value)
            yield gauge
