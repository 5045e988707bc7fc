"""lfg's own estimate of a stream's tokens, before the provider's count arrives, held to the counts
real providers reported for real streams (counted_streams.json: each stream's chunks as it arrived,
where it was recorded, and the output tokens its usage said), so the live tok/s of a model nothing
has calibrated yet reads near the truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lfgtui.cost.metrics import Metrics
from lfgtui.events import EventFactory, ReasoningDelta, RequestSent, TextDelta, Usage

STREAMS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "counted_streams.json").read_text("utf-8")
)
WITHIN = 0.10
"""How far off the estimate may be of the count that arrives."""


@pytest.mark.parametrize("stream", STREAMS, ids=[s["recorded_from"] for s in STREAMS])
def test_an_uncalibrated_estimate_is_within_ten_percent_of_the_count_that_arrives(
    stream: dict[str, Any],
) -> None:
    clock = iter(range(1_000_000))
    ev, m = EventFactory("t", 1, clock=lambda: 100.0 + next(clock) / 20), Metrics()
    m.apply(ev(RequestSent, call=0))  # no tokens_per_char: no count of this model yet
    for kind, text in stream["chunks"]:
        m.apply(ev(TextDelta if kind == "text" else ReasoningDelta, text=text))
    estimate, counted = m.output_tokens, stream["output_tokens"]
    assert m.tokens_estimated
    assert abs(estimate - counted) <= WITHIN * counted, f"estimated {estimate}, counted {counted}"
    m.apply(ev(Usage, input_tokens=10, output_tokens=counted))
    assert m.output_tokens == counted and not m.tokens_estimated
