"""The OpenTelemetry SDK for one run: a tracer and a meter whose spans and metrics go out over OTLP,
and what failed to get there.

Nothing here waits on the receiver in the run's event loop: ended spans join the
`BatchSpanProcessor`'s bounded queue (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048 by default: past it a span is
dropped) and its own thread sends them; the metrics are collected and sent by the periodic reader's
thread (`OTEL_METRIC_EXPORT_INTERVAL`). The providers are lfg's own, never the process's global
ones, and are shut down by `Pipeline.shutdown`, in a thread of its own that the run waits for at
most `FLUSH_S`. A span is counted as delivered only once the receiver took it, so whatever was
dropped (a full queue, a receiver down or too slow, the flush cut short) is `spans_ended - spans_sent`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lfgtui import __version__
from lfgtui.config.telemetry import TelemetryError, missing_extra
from lfgtui.telemetry.destination import Exporting

try:
    from opentelemetry.context import Context
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        MetricsData,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
except ImportError as exc:  # the base install: `lfgtui[otel]` brings these
    raise TelemetryError(missing_extra()) from exc

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Tracer

FLUSH_S = 5.0
"""How long the end of a run waits for what is queued to reach the receiver."""
GRPC_MISSING = (
    "protocol grpc needs the OTLP gRPC exporter, which is not installed: "
    "pip install opentelemetry-exporter-otlp-proto-grpc (or use http/protobuf)"
)


class _Delivered(SpanExporter):
    """The OTLP exporter, counting the spans the receiver took and telling of those it did not."""

    def __init__(self, inner: SpanExporter, pipeline: Pipeline) -> None:
        self.inner = inner
        self.pipeline = pipeline

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.pipeline.spans_sent += len(spans)
        else:
            self.pipeline.on_failure(f"{len(spans)} spans")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


class _DeliveredMetrics(MetricExporter):
    """The OTLP metric exporter, counting the exports the receiver did not take. Its temporality is
    the base class's: cumulative, OTLP's default and what Prometheus reads."""

    def __init__(self, inner: MetricExporter, pipeline: Pipeline) -> None:
        super().__init__()
        self.inner = inner
        self.pipeline = pipeline

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        result = self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result is not MetricExportResult.SUCCESS:
            self.pipeline.metric_exports_failed += 1
            self.pipeline.on_failure("the metrics")
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class _Ended(SpanProcessor):
    """Counts the spans that ended and are to be exported (those the sampler kept)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self.pipeline.spans_ended += 1


@dataclass
class Pipeline:
    """One run's tracer and meter, their exporters, and what the receiver took. The counts are
    written by the SDK's threads and read by the run at its end."""

    exporting: Exporting
    on_failure: Callable[[str], None]
    """Told, from an exporter's thread, what a failed export held ("12 spans", "the metrics")."""
    spans_ended: int = 0
    spans_sent: int = 0
    metric_exports_failed: int = 0

    def __post_init__(self) -> None:
        resource = Resource.create({SERVICE_NAME: self.exporting.service_name, SERVICE_VERSION: __version__})
        spans, metrics = _exporters(self.exporting)
        self.processor = BatchSpanProcessor(_Delivered(spans, self))
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(_Ended(self))
        self.tracer_provider.add_span_processor(self.processor)
        self.reader = PeriodicExportingMetricReader(_DeliveredMetrics(metrics, self))
        self.meter_provider = MeterProvider([self.reader], resource=resource, shutdown_on_exit=False)

    @property
    def tracer(self) -> Tracer:
        return self.tracer_provider.get_tracer("lfgtui", __version__)

    @property
    def meter(self) -> Meter:
        return self.meter_provider.get_meter("lfgtui", __version__)

    @property
    def spans_dropped(self) -> int:
        return max(0, self.spans_ended - self.spans_sent)

    async def shutdown(self, timeout_s: float = FLUSH_S) -> bool:
        """Send what is queued and the last metrics, waiting at most `timeout_s`; whether it finished.
        The SDK's shutdown blocks, so it runs in a daemon thread the process need not wait for."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def flush() -> None:
            try:
                self.tracer_provider.shutdown()
                self.meter_provider.shutdown(timeout_millis=timeout_s * 1000)
            finally:
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

        threading.Thread(target=flush, name="lfg telemetry flush", daemon=True).start()
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout_s)
        except TimeoutError:
            return False
        return True


def _exporters(exporting: Exporting) -> tuple[SpanExporter, MetricExporter]:
    """The OTLP exporters for the protocol: HTTP/protobuf, or gRPC when its exporter is installed."""
    endpoints, headers = exporting.endpoints, exporting.headers or None
    if exporting.protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise TelemetryError(GRPC_MISSING) from None
        grpc_headers = None if headers is None else tuple(headers.items())
        return (
            OTLPSpanExporter(endpoint=endpoints["traces"], headers=grpc_headers),
            OTLPMetricExporter(endpoint=endpoints["metrics"], headers=grpc_headers),
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return (
        OTLPSpanExporter(endpoint=endpoints["traces"], headers=headers),
        OTLPMetricExporter(endpoint=endpoints["metrics"], headers=headers),
    )
