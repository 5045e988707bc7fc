"""The prompt cache's hit rate, as each wire reports its reads (Anthropic's `cache_read_input_tokens`
and `cache_creation_input_tokens` apart from `input_tokens`; Chat Completions'
`prompt_tokens_details.cached_tokens` and Responses' `input_tokens_details.cached_tokens` within the
prompt's count): cache reads over the whole prompt, per request and per ticket, in the pane's gauges
and NDJSON's `attempt_ended`."""

from __future__ import annotations

import io
import json

import pytest

from lfgtui.commands.headless import JsonLines
from lfgtui.cost.metrics import Metrics, MetricsBook
from lfgtui.events import AttemptEnded, EventFactory, Outcome, RequestSent
from lfgtui.providers.anthropic import AnthropicProvider
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.providers.openai_responses import OpenAIResponsesProvider
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.gauges import gauge_text
from tests.support.reasoning import Flavour, provider
from tests.support.streams import ask, collect

READ, WRITE = 3000, 200
WIRES = [
    Flavour("anthropic", "claude-sonnet-5-5", AnthropicProvider, "anthropic", ""),
    Flavour("responses", "gpt-6-luna", OpenAIResponsesProvider, "openai-responses", "/v1"),
    Flavour("chat", "deepseek-v4-pro", OpenAIChatProvider, "openai", "/v1"),
]


@pytest.fixture
async def sim() -> SimServer:  # type: ignore[misc]
    cached = f"hello:ttft_ms=0,tokens_per_s=0,cache_read_tokens={READ},cache_write_tokens={WRITE}"
    async with SimServer(
        ScenarioLibrary(extra_dirs=()), models=ModelMap((ModelRule("*", cached),))
    ) as server:
        yield server


@pytest.mark.parametrize("flavour", WIRES, ids=lambda f: f.name)
async def test_each_wire_shows_the_share_of_its_prompt_the_cache_read(
    flavour: Flavour, sim: SimServer
) -> None:
    out = await collect(provider(flavour, sim), ask(flavour.model))
    assert out.error is None, out.error
    usage = sim.log[-1].usage
    assert usage is not None
    whole = usage.input_tokens + READ + WRITE
    ev = EventFactory("t1", 1, clock=lambda: out.events[0].t)  # as `collect` names the attempt
    book = MetricsBook()
    for event in [ev(RequestSent, call=0), *out.events]:
        book(event)
    metrics = book.attempts[("t1", 1)]
    assert isinstance(metrics, Metrics)
    assert metrics.cache_hit == pytest.approx(READ / whole)
    assert metrics.cache_hit_last == metrics.cache_hit
    shown = gauge_text(metrics, 0.0, [], 1.0, 120, running=False).plain
    assert f"cache {READ / whole:.0%}" in shown, shown
    lines = io.StringIO()
    JsonLines(lines, book, 0.0)(ev(AttemptEnded, outcome=Outcome.COMPLETED))
    ended = json.loads(lines.getvalue().splitlines()[0])
    assert ended["cache_hit"] == pytest.approx(READ / whole, abs=1e-4)
