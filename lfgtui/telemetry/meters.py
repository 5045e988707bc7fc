"""The run's metrics through OpenTelemetry, recorded when a request or an attempt ends (read from the
run's metrics book), never per token; the gauges are read by the SDK's reader when it collects.

Each request: `gen_ai.client.token.usage` and `gen_ai.client.operation.duration` (the GenAI
conventions' client metrics). Each attempt: `lfg.ttft` and `lfg.tokens_per_s` (histograms),
`lfg.tokens` and `lfg.cost` (counters), `lfg.attempts`, all by provider, model and outcome.
The tickets' states: `lfg.tickets.running`, `lfg.tickets.queued` (waiting for their provider's
limits) and `lfg.tickets.waiting` (for a person's approval).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from opentelemetry.metrics import CallbackOptions, Observation

from lfgtui.telemetry.names import OPERATION, TOKEN_TYPE

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

    from lfgtui.cost.metrics import Metrics, RequestMetrics

Attributes = Mapping[str, str | int]
TTFT_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
RATE_BUCKETS = (5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
TOKEN_BUCKETS = tuple(float(4**n) for n in range(14))
"""The GenAI conventions' advice for `gen_ai.client.token.usage`: 1, 4, 16 ... 67,108,864."""
DURATION_BUCKETS_S = tuple(0.01 * 2**n for n in range(14))
"""Their advice for `gen_ai.client.operation.duration`: 0.01, 0.02 ... 81.92 s."""


@dataclass
class Tally:
    """How many tickets are running, queued for their provider's limits, or waiting for a person."""

    running: set[tuple[str, int]] = field(default_factory=set)
    queued: set[tuple[str, int]] = field(default_factory=set)
    waiting: dict[tuple[str, int], int] = field(default_factory=dict)
    """Per attempt, the approvals it waits for."""


class Meters:
    """The instruments, and what each boundary records."""

    def __init__(self, meter: Meter, tally: Tally) -> None:
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

    def request_ended(self, attributes: Attributes, request: RequestMetrics, ended: float) -> None:
        chat = {**attributes, OPERATION: "chat"}
        self.duration.record(max(0.0, ended - request.request_sent), chat)
        if request.input_tokens is not None:
            self.token_usage.record(request.input_tokens, {**chat, TOKEN_TYPE: "input"})
        if request.chunks or request.reported_tokens is not None:
            self.token_usage.record(request.output_tokens, {**chat, TOKEN_TYPE: "output"})

    def attempt_ended(self, attributes: Attributes, metrics: Metrics | None) -> None:
        self.attempts.add(1, attributes)
        if metrics is None:
            return
        if metrics.ttft_s is not None:
            self.ttft.record(metrics.ttft_s, attributes)
        if metrics.tokens_per_s is not None:
            self.rate.record(metrics.tokens_per_s, attributes)
        if metrics.input_tokens:
            self.tokens.add(metrics.input_tokens, {**attributes, TOKEN_TYPE: "input"})
        if metrics.output_tokens:
            self.tokens.add(metrics.output_tokens, {**attributes, TOKEN_TYPE: "output"})
        if metrics.cost_usd:
            self.cost.add(metrics.cost_usd, attributes)


def _observed(count: Callable[[], int]) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count())]

    return observe
