"""The input layer: what the user's files say, checked before anything starts.

- `load`: config.toml (`Config`, `load_config`): providers beyond the built-in ones, run limits, UI,
  history, MCP servers, the broker and telemetry;
- `validation`: checking a TOML file (config.toml, tickets.toml) and reporting every problem at once;
- `mcp`: the MCP servers a coding agent's ticket gives its session;
- `broker`: which broker and how to reach it (`[broker]`, `LFG_BROKER`);
- `telemetry`: whether and where a run's telemetry is exported (`[telemetry]`, `OTEL_*`).

Settings sit here, below the features they configure: none of these modules imports the broker,
telemetry, the engine or the history (`tests/test_imports.py`), so whatever reads the config loads
no feature. Importing the package imports none of them.
"""
