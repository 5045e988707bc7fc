"""Where and how a run's telemetry goes, resolved before the run starts from `[telemetry]` and the
`OTEL_*` variables (see config/telemetry.py), for the exporters (export.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lfgtui.config.telemetry import PROTOCOLS, TelemetryError, TelemetrySettings

DEFAULT_SERVICE = "lfg"
DEFAULT_ENDPOINT = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}
SIGNAL_PATHS = {"traces": "v1/traces", "metrics": "v1/metrics"}
ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SIGNAL_ENDPOINT_ENV = {
    "traces": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "metrics": "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
}
PROTOCOL_ENV = "OTEL_EXPORTER_OTLP_PROTOCOL"
SERVICE_ENV = "OTEL_SERVICE_NAME"


@dataclass(frozen=True)
class Exporting:
    """Where and how a run's telemetry goes, everything resolved before the run starts."""

    protocol: str
    endpoints: dict[str, str | None]
    """Each signal's full endpoint, or None for the exporter to read it from the `OTEL_*` variables."""
    where: str
    """The receiver as people read it, for what is said about it."""
    headers: dict[str, str] = field(repr=False)
    service_name: str
    capture_content: bool


def resolve(settings: TelemetrySettings, env: Mapping[str, str]) -> Exporting:
    """Where the telemetry goes; raises `TelemetryError` for a protocol lfg does not speak or a
    header whose variable is not set."""
    protocol = (env.get(PROTOCOL_ENV) or settings.protocol or PROTOCOLS[0]).strip()
    if protocol not in PROTOCOLS:
        source = f"${PROTOCOL_ENV}" if env.get(PROTOCOL_ENV) else "[telemetry] protocol"
        raise TelemetryError(f"{source} is {protocol!r}: lfg exports over {' or '.join(PROTOCOLS)}")
    from_env = env.get(ENDPOINT_ENV) or next(
        (env[v] for v in SIGNAL_ENDPOINT_ENV.values() if env.get(v)), None
    )
    base = None if from_env else settings.endpoint
    endpoints = {signal: _endpoint(base, signal, protocol) for signal in SIGNAL_PATHS}
    headers: dict[str, str] = {}
    for name, variable in settings.headers.items():
        value = env.get(variable)
        if not value:
            raise TelemetryError(
                f"[telemetry] headers: {name}'s value is to come from ${variable}, which is not set"
            )
        headers[name] = value
    return Exporting(
        protocol=protocol,
        endpoints=endpoints,
        where=from_env or settings.endpoint or DEFAULT_ENDPOINT[protocol],
        headers=headers,
        service_name=env.get(SERVICE_ENV) or settings.service_name or DEFAULT_SERVICE,
        capture_content=settings.capture_content,
    )


def _endpoint(base: str | None, signal: str, protocol: str) -> str | None:
    """A signal's endpoint from a base URL: OTLP/HTTP posts each signal to its own path, gRPC has one."""
    if base is None:
        return None
    return base if protocol == "grpc" else f"{base.rstrip('/')}/{SIGNAL_PATHS[signal]}"
