"""A real OTLP/HTTP receiver on 127.0.0.1 for the telemetry's tests: it decodes what lfg sends with
the protocol's own protobuf messages (`opentelemetry-proto`), as a Collector does, and keeps the
spans and metric data points. It can be made slow (each answer held back), to test that a run
never waits for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def value(any_value: AnyValue) -> Any:
    """An attribute's value as Python: text, number, bool or a list of them."""
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(item) for item in any_value.array_value.values]
    return getattr(any_value, kind) if kind is not None else None


def attributes(pairs: Iterator[KeyValue] | Any) -> dict[str, Any]:
    return {pair.key: value(pair.value) for pair in pairs}


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    attributes: dict[str, Any]
    status: int
    """0 unset, 1 ok, 2 error (`Status.StatusCode`)."""
    events: tuple[str, ...]
    links: tuple[tuple[str, str, dict[str, Any]], ...]
    """Each link's trace id, span id and attributes."""
    start_ns: int
    end_ns: int
    service: str


@dataclass(frozen=True)
class DataPoint:
    metric: str
    attributes: dict[str, Any]
    value: float
    """A sum's or a gauge's value; a histogram's sum."""
    count: int | None = None
    """A histogram's count."""


@dataclass
class OtlpReceiver:
    """Serves `POST /v1/traces` and `POST /v1/metrics` until closed."""

    delay_s: float = 0.0
    span_list: list[ReceivedSpan] = field(default_factory=list)
    points: list[DataPoint] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    """Each request's headers, names in lower case."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.headers.append({name.lower(): text for name, text in self.headers.items()})
                time.sleep(receiver.delay_s)
                if self.path == "/v1/traces":
                    receiver.take_traces(body)
                    answer = ExportTraceServiceResponse().SerializeToString()
                elif self.path == "/v1/metrics":
                    receiver.take_metrics(body)
                    answer = ExportMetricsServiceResponse().SerializeToString()
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take_traces(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = attributes(resource_spans.resource.attributes).get("service.name", "")
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    received = ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        kind=span.kind,
                        attributes=attributes(span.attributes),
                        status=span.status.code,
                        events=tuple(event.name for event in span.events),
                        links=tuple(
                            (link.trace_id.hex(), link.span_id.hex(), attributes(link.attributes))
                            for link in span.links
                        ),
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        service=service,
                    )
                    with self.lock:
                        self.span_list.append(received)

    def take_metrics(self, body: bytes) -> None:
        request = ExportMetricsServiceRequest.FromString(body)
        for resource_metrics in request.resource_metrics:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    for point in self._points(metric):
                        with self.lock:
                            self.points.append(point)

    @staticmethod
    def _points(metric: Any) -> Iterator[DataPoint]:
        kind = metric.WhichOneof("data")
        if kind == "histogram":
            for point in metric.histogram.data_points:
                yield DataPoint(metric.name, attributes(point.attributes), point.sum, point.count)
        elif kind in ("sum", "gauge"):
            for point in getattr(metric, kind).data_points:
                number = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
                yield DataPoint(metric.name, attributes(point.attributes), number)

    def spans(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.span_list)

    def metrics(self, name: str) -> list[DataPoint]:
        with self.lock:
            return [point for point in self.points if point.metric == name]
