"""A run's traces and metrics out through OpenTelemetry (`lfg run --otel`, the `lfgtui[otel]` extra).

Whether and where to export is `config/telemetry.py` (`[telemetry]` and the standard `OTEL_*` variables,
in the input layer); `destination.py` resolves it, `export.py` is the SDK's providers, exporters and
what they failed to deliver, `spans.py` the sink that turns a run's events into GenAI spans (one
`Translation` table) and `meters.py` the metrics it records at the same boundaries. Only `export.py`,
`spans.py` and `meters.py` import OpenTelemetry, and nothing imports them unless telemetry is asked for.
"""
