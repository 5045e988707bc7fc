"""Whether a run's telemetry is exported, and where: `[telemetry]` in config.toml and the standard
`OTEL_*` environment variables, which win over it (as `$LFG_BROKER` wins over `[broker] url`).

A header's value never sits in the config: `[telemetry] headers` names, for each header, the
environment variable that holds its value. Light to import: the config reads this module, and
nothing here loads OpenTelemetry (`telemetry/destination.py` resolves where a run exports to).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PROTOCOLS = ("http/protobuf", "grpc")
DISABLED_ENV = "OTEL_SDK_DISABLED"


def missing_extra() -> str:
    """What an export without OpenTelemetry installed says."""
    from lfgtui.extras import install_hint

    return f"telemetry needs OpenTelemetry, which is not installed: {install_hint('otel')}"


class TelemetryError(Exception):
    """Telemetry cannot be exported: the extra missing, a header's variable unset, a bad protocol."""


@dataclass(frozen=True)
class TelemetrySettings:
    """`[telemetry]` in config.toml."""

    enabled: bool = False
    """Export every `lfg run` (as `--otel` does for one)."""
    endpoint: str | None = None
    """The OTLP receiver's base URL (`/v1/traces` and `/v1/metrics` are added for HTTP)."""
    protocol: str | None = None
    """`http/protobuf` (the default) or `grpc` (needs opentelemetry-exporter-otlp-proto-grpc)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Each header sent with every export, and the environment variable that holds its value."""
    capture_content: bool = False
    """Put prompts, answers and tool arguments and output on the spans (never by default)."""
    service_name: str | None = None
    """The `service.name` of what lfg exports (default `lfg`)."""


def wanted(asked: bool, settings: TelemetrySettings, env: Mapping[str, str]) -> bool:
    """`--otel` or `[telemetry] enabled`, unless `OTEL_SDK_DISABLED=true` turns every SDK off."""
    return (asked or settings.enabled) and env.get(DISABLED_ENV, "").strip().lower() != "true"
