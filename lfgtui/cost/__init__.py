"""What a run costs, measured from its events alone:

- `prices`: what a model call costs in USD (a provider's own `prices`, else genai-prices, loaded once
  before the UI and never fetched), `PriceBook`, and `format_usd`;
- `metrics`: TTFT, tokens, tok/s and cost, computed once per event (`Metrics`, the run's `MetricsBook`);
- `tokens`: `estimate_tokens`, lfg's own count until a provider reports usage.

Importing the package imports none of them: `format_usd` does not bring the events along.
"""
