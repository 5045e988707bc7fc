"""The run's metrics as Prometheus reads them: `GET /metrics` on `lfg run --serve` and `lfg serve`,
behind the served API's token (the `lfgtui[prometheus]` extra: prometheus-client alone).

The same metrics as the OpenTelemetry meters (meters.py), under Prometheus's names: histograms of
TTFT and tok/s per attempt and of tokens and duration per request, counters of tokens, cost,
attempts and 429 pauses, by provider, model and outcome, recorded by `metered.py` when a request or
an attempt ends (never per token), in a registry of their own (never the process's global one).
The gauges (tickets running, queued, waiting for a person; each provider's quota as its rate-limit
headers last said, and the seconds until it resets) are read when Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from lfgtui.telemetry.metered import (
    DURATION_BUCKETS_S,
    RATE_BUCKETS,
    TOKEN_BUCKETS,
    TTFT_BUCKETS_S,
    Labels,
    Tally,
)

try:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.core import GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as exc:  # the base install: `lfgtui[prometheus]` brings it
    raise ImportError("pip install 'lfgtui[prometheus]'") from exc

if TYPE_CHECKING:
    from lfgtui.cost.metrics import Metrics, RequestMetrics
    from lfgtui.events import QuotaSeen

CONTENT_TYPE = CONTENT_TYPE_LATEST
BY_ATTEMPT = ("provider", "model", "outcome")
BY_REQUEST = ("provider", "model")
QUOTAS = ("requests", "tokens")


class PrometheusMeters:
    """The instruments `metered.py` records into, and the text a scrape reads (`render`)."""

    def __init__(self, tally: Tally, quotas: Mapping[str, QuotaSeen], clock: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.ttft = Histogram(
            "lfg_ttft_seconds", "An attempt's time to its first token", BY_ATTEMPT,
            registry=registry, buckets=TTFT_BUCKETS_S,
        )  # fmt: skip
        self.rate = Histogram(
            "lfg_tokens_per_second", "An attempt's output rate while it streamed", BY_ATTEMPT,
            registry=registry, buckets=RATE_BUCKETS,
        )  # fmt: skip
        self.token_usage = Histogram(
            "gen_ai_client_token_usage", "Tokens of each request, input and output",
            (*BY_REQUEST, "token_type"), registry=registry, buckets=TOKEN_BUCKETS,
        )  # fmt: skip
        self.duration = Histogram(
            "gen_ai_client_operation_duration_seconds", "Each request, sent to answered", BY_REQUEST,
            registry=registry, buckets=DURATION_BUCKETS_S,
        )  # fmt: skip
        self.tokens = Counter(
            "lfg_tokens", "Tokens of ended attempts", (*BY_ATTEMPT, "token_type"), registry=registry
        )
        self.cost = Counter("lfg_cost_usd", "What ended attempts cost", BY_ATTEMPT, registry=registry)
        self.attempts = Counter("lfg_attempts", "Attempts ended", BY_ATTEMPT, registry=registry)
        self.pauses = Counter(
            "lfg_rate_limit_pauses", "429s that paused a provider's requests", BY_REQUEST, registry=registry
        )
        registry.register(_Gauges(tally, quotas, clock))

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
    """What is true at the scrape: the tickets' states and the providers' quotas."""

    def __init__(self, tally: Tally, quotas: Mapping[str, QuotaSeen], clock: Callable[[], float]) -> None:
        self.tally = tally
        self.quotas = quotas
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        tally = self.tally
        for name, text, count in (
            ("lfg_tickets_running", "Tickets running", len(tally.running)),
            ("lfg_tickets_queued", "Tickets waiting for their provider's limits", len(tally.queued)),
            ("lfg_tickets_waiting", "Tickets waiting for a person's approval", len(tally.waiting)),
        ):
            yield GaugeMetricFamily(name, text, value=count)
        by = ("provider", "quota")
        remaining = GaugeMetricFamily("lfg_quota_remaining", "What a provider said is left", labels=by)
        limit = GaugeMetricFamily("lfg_quota_limit", "A provider's allowance per window", labels=by)
        reset = GaugeMetricFamily("lfg_quota_reset_seconds", "Seconds until it is whole again", labels=by)
        now = self.clock()
        for provider, seen in list(self.quotas.items()):
            for quota in QUOTAS:
                which = [provider, quota]
                if (left := getattr(seen, f"{quota}_remaining")) is not None:
                    remaining.add_metric(which, left)
                if (whole := getattr(seen, f"{quota}_limit")) is not None:
                    limit.add_metric(which, whole)
                if (after := getattr(seen, f"{quota}_reset_s")) is not None:
                    reset.add_metric(which, max(0.0, seen.t + after - now))
        yield from (remaining, limit, reset)
