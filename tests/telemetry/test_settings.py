"""`[telemetry]` in config.toml and the `OTEL_*` variables: what is read, what wins, and the problems a
person is told of (with the file and line) before a run starts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lfgtui.config.load import load_config
from lfgtui.config.telemetry import TelemetryError, TelemetrySettings, wanted
from lfgtui.config.validation import ValidationError
from lfgtui.telemetry.destination import resolve


def config_of(tmp_path: Path, toml: str) -> TelemetrySettings:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    return load_config(path, env={}).telemetry


def test_the_config_is_read_and_is_off_by_default(tmp_path: Path) -> None:
    assert config_of(tmp_path, "") == TelemetrySettings() and not wanted(False, TelemetrySettings(), {})
    settings = config_of(
        tmp_path,
        '[telemetry]\nenabled = true\nendpoint = "https://otel.example:4318"\nprotocol = "grpc"\n'
        'headers = { "x-honeycomb-team" = "HONEYCOMB_KEY" }\ncapture_content = true\nservice_name = "ci"\n',
    )
    assert settings == TelemetrySettings(
        enabled=True,
        endpoint="https://otel.example:4318",
        protocol="grpc",
        headers={"x-honeycomb-team": "HONEYCOMB_KEY"},
        capture_content=True,
        service_name="ci",
    )
    assert wanted(False, settings, {}) and wanted(True, TelemetrySettings(), {})
    assert not wanted(True, settings, {"OTEL_SDK_DISABLED": "true"})


def test_bad_fields_are_named_with_their_line_and_a_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        config_of(
            tmp_path,
            '[telemetry]\nenabled = "yes"\nprotocol = "http/json"\nendpoint = "localhost:4318"\n'
            'headers = { "authorization" = "Bearer abc" }\ntoken = "abc"\n',
        )
    text = str(raised.value)
    assert ":2: [telemetry]: enabled must be true or false" in text
    assert ":3: [telemetry]: protocol must be one of http/protobuf, grpc" in text
    assert ":4: [telemetry]: endpoint must be an http:// or https:// URL" in text
    assert ":5: [telemetry]: headers must be a table of header names to the environment variables" in text
    assert ":6: [telemetry]: 'token' is not allowed" in text


def test_the_environment_wins_over_the_config_and_a_base_endpoint_gets_each_signals_path() -> None:
    settings = TelemetrySettings(endpoint="http://collector:4318/", service_name="from-config")
    mine = resolve(settings, {})
    assert mine.endpoints == {
        "traces": "http://collector:4318/v1/traces",
        "metrics": "http://collector:4318/v1/metrics",
    }
    assert (mine.protocol, mine.where, mine.service_name) == (
        "http/protobuf",
        "http://collector:4318/",
        "from-config",
    )
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://other:4318/v1/traces", "OTEL_SERVICE_NAME": "env"}
    theirs = resolve(settings, env)
    assert theirs.endpoints == {"traces": None, "metrics": None}  # the exporters read the variables
    assert (theirs.where, theirs.service_name) == ("http://other:4318/v1/traces", "env")
    assert resolve(TelemetrySettings(), {}).where == "http://localhost:4318"
    grpc = resolve(
        TelemetrySettings(endpoint="http://collector:4317"), {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    )
    assert grpc.endpoints["traces"] == "http://collector:4317" and grpc.protocol == "grpc"


def test_headers_come_from_the_variables_the_config_names() -> None:
    settings = TelemetrySettings(headers={"x-team": "TEAM_KEY"})
    assert resolve(settings, {"TEAM_KEY": "s3cret"}).headers == {"x-team": "s3cret"}
    assert "s3cret" not in repr(resolve(settings, {"TEAM_KEY": "s3cret"}))
    with pytest.raises(TelemetryError, match=r"x-team's value is to come from \$TEAM_KEY, which is not set"):
        resolve(settings, {})


def test_a_protocol_lfg_does_not_speak_is_refused_saying_who_asked() -> None:
    with pytest.raises(TelemetryError, match=r"\$OTEL_EXPORTER_OTLP_PROTOCOL is 'http/json'"):
        resolve(TelemetrySettings(), {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


@pytest.mark.skipif(
    importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None,
    reason="the gRPC exporter is installed here",
)
def test_grpc_without_its_exporter_says_what_to_install() -> None:
    from lfgtui.telemetry.export import Pipeline

    with pytest.raises(TelemetryError, match=r"pip install opentelemetry-exporter-otlp-proto-grpc"):
        Pipeline(resolve(TelemetrySettings(protocol="grpc"), {}), lambda what: None)
