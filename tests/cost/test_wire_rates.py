"""The same rate through every wire lfg speaks, thinking shown in full, summarised or not at all:
the gauge reads the visible text's rate over the time it streamed, and the thinking as the count
less the visible tokens, however the API shows or splits it (cost/metrics.py).

The truth is the pace lfg received the text at, from the events' own times (#67's definition): the
sim paces its sends, but on a loaded machine the client may read a stretch of them late and in one
burst, so the sim's send times are not what any gauge could have seen."""

from __future__ import annotations

import pytest

from lfgtui.cost.metrics import Metrics
from lfgtui.events import EventFactory, RequestSent, TextDelta
from lfgtui.providers.anthropic import AnthropicProvider
from lfgtui.providers.base import ModelCall, Reasoning, UserMessage
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.providers.openai_responses import OpenAIResponsesProvider
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary, split_tokens
from lfgtui.sim.server import SimServer
from tests.support.reasoning import Flavour, provider
from tests.support.streams import collect

PACE = "tokens_per_s=400,ttft_ms=0"
SUMMARISED = f"deep-thought:{PACE},thought_tokens=400"
"""Thinking 400 tokens long shown as an 18-chunk summary (or not at all), then 253 tokens of text."""
WIRES = [
    (Flavour("anthropic-summarized", "claude-sonnet-5-5", AnthropicProvider, "anthropic", ""), True),
    (Flavour("anthropic-omitted", "claude-sonnet-5-5", AnthropicProvider, "anthropic", ""), False),
    (Flavour("responses", "gpt-6-luna", OpenAIResponsesProvider, "openai-responses", "/v1"), True),
    (Flavour("deepseek", "deepseek-v4-pro", OpenAIChatProvider, "openai", "/v1"), True),
]


@pytest.fixture
async def sim() -> SimServer:  # type: ignore[misc]
    rules = (
        ModelRule("deepseek-*", f"deep-thought:{PACE},thought_tokens=0"),  # it streams its whole thinking
        ModelRule("*", SUMMARISED),
    )
    async with SimServer(ScenarioLibrary(extra_dirs=()), models=ModelMap(rules)) as server:
        yield server


@pytest.mark.parametrize(("flavour", "shown"), WIRES, ids=lambda w: getattr(w, "name", str(w)))
async def test_every_wire_reads_the_visible_texts_true_rate_and_its_thinking(
    flavour: Flavour, shown: bool, sim: SimServer
) -> None:
    asked = (UserMessage("Which design?"),)
    call = ModelCall(model=flavour.model, messages=asked, reasoning=Reasoning(show_thinking=shown))
    out = await collect(provider(flavour, sim), call)
    assert out.error is None, out.error
    record = sim.log[-1]
    answer = ScenarioLibrary(extra_dirs=()).resolve("deep-thought").call(0).text
    visible = len(split_tokens(answer))
    texts = [e.t for e in out.events if isinstance(e, TextDelta) and e.text]
    true_rate = (visible - 1) / (texts[-1] - texts[0])  # the tokens after the first, as lfg got them
    gauge = Metrics()
    gauge.apply(EventFactory("t", 1, clock=lambda: out.events[0].t)(RequestSent, call=0))
    for event in out.events:
        gauge.apply(event)
    assert record.usage is not None
    thinking = record.usage.reasoning_tokens
    assert gauge.tokens_per_s == pytest.approx(true_rate, rel=0.05), "the visible text's rate"
    assert gauge.thinking_tokens == pytest.approx(thinking, rel=0.15), f"{thinking} tokens of thinking"
