"""The prompt cache's hit rate, as each wire reports its reads (Anthropic's `cache_read_input_tokens`
and `cache_creation_input_tokens` apart from `input_tokens`; Chat Completions'
`prompt_tokens_details.cached_tokens` and Responses' `input_tokens_details.cached_tokens` within the
prompt's count, DeepSeek's own `prompt_cache_hit_tokens` and Kimi's top-level `cached_tokens`, which
Kimi streams in the last chunk's `choices[0].usage`, too): cache reads over the whole prompt, per
request and per ticket, in the pane's gauges and NDJSON's `attempt_ended`."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from lfgtui.commands.headless import JsonLines
from lfgtui.cost.metrics import Metrics, MetricsBook
from lfgtui.cost.prices import PriceBook
from lfgtui.events import AttemptEnded, AttemptStarted, EventFactory, Outcome, RequestSent, Usage
from lfgtui.providers.anthropic import AnthropicProvider
from lfgtui.providers.base import ProviderConfig
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
    Flavour("chat", "grok-4.7", OpenAIChatProvider, "openai", "/v1"),
    Flavour("deepseek", "deepseek-v4-pro", OpenAIChatProvider, "openai", "/v1"),
    Flavour("kimi", "kimi-k3", OpenAIChatProvider, "openai", "/v1"),
]
DEEPSEEK = WIRES[3]


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


ON_DEEPSEEK = PriceBook(
    {"deepseek": ProviderConfig("deepseek", "openai", base_url="https://api.deepseek.com")}
)
"""The prices of DeepSeek's own API (genai-prices': its cache hits cost a tenth or less of a miss)."""


def deepseeks_attempt(out_events: list[object], *, hits_known: bool = True) -> Metrics:
    """The metrics of one DeepSeek call priced at DeepSeek's rates; with `hits_known` off, as lfg
    counted it when it read no cache count (the same usage, its cache reads left out)."""
    ev = EventFactory("t1", 1, clock=lambda: 0.0)
    book = MetricsBook(prices=ON_DEEPSEEK)
    book(ev(AttemptStarted, provider="deepseek", model=DEEPSEEK.model))
    book(ev(RequestSent, call=0))
    for event in out_events:
        if isinstance(event, Usage) and not hits_known:
            event = replace(event, cache_read_tokens=None)
        book(event)  # type: ignore[arg-type]
    return book.attempts[("t1", 1)]


@pytest.mark.parametrize("proxy_says_zero", [False, True], ids=["deepseek", "proxy-cached_tokens-0"])
async def test_deepseeks_own_cache_fields_give_its_hit_rate_and_price_its_hits_at_the_cache_rate(
    sim: SimServer, proxy_says_zero: bool
) -> None:
    """DeepSeek reports its cache as top-level `prompt_cache_hit_tokens` / `prompt_cache_miss_tokens`
    (its context-caching guide, read 2026-11-27); lfg read only `prompt_tokens_details.cached_tokens`,
    so the hit rate was unknown and every hit cost the full input rate (or, where a proxy adds
    `cached_tokens: 0` beside DeepSeek's fields, a false 0 %)."""
    model = DEEPSEEK.model + (":usage_cache_read_tokens=0" if proxy_says_zero else "")
    out = await collect(provider(DEEPSEEK, sim), ask(model))
    assert out.error is None, out.error
    usage = sim.log[-1].usage
    body = sim.log[-1]
    assert usage is not None and body.status == 200
    whole = usage.input_tokens + READ + WRITE
    metrics = deepseeks_attempt(list(out.events))
    assert metrics.cache_hit == pytest.approx(READ / whole)
    unread = deepseeks_attempt(list(out.events), hits_known=False)
    assert unread.cache_hit is None
    assert metrics.cost_usd is not None and unread.cost_usd is not None
    assert metrics.cost_usd < unread.cost_usd * (1 - 0.8 * READ / whole), (metrics.cost_usd, unread.cost_usd)
