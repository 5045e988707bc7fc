"""A sim that caches as the real APIs do (`prompt_caching = 1`): a ticket's follow-up with the same
model, system prompt and tools reads its prefix from the cache; one whose tools changed misses, and
the pane's gauges and NDJSON say so, from lfg's own requests."""

from __future__ import annotations

import io
import json

from lfgtui.commands.headless import JsonLines
from lfgtui.cost.metrics import MetricsBook
from lfgtui.events import AttemptEnded, AttemptStarted, EventFactory, Outcome
from lfgtui.providers.base import ModelCall, ToolSpec, UserMessage
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.run.tool_loop import AttemptTask, run_tool_loop
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from lfgtui.tools.base import ToolContext
from lfgtui.tools.toolbox import Toolbox
from lfgtui.ui.widgets.gauges import gauge_text
from tests.support.reasoning import OFFERED, READS, Flavour, provider

CHAT = Flavour("chat", "gpt-5.2", OpenAIChatProvider, "openai", "/v1")
SYSTEM = "You are a careful reviewer. " * 40


async def _never_asked(_: object) -> None:
    return None


async def test_a_follow_up_that_changes_its_tools_misses_the_cache_and_says_why(tmp_path: object) -> None:
    rules = (ModelRule("*", "hello:ttft_ms=0,tokens_per_s=0,prompt_caching=1"),)
    book = MetricsBook()
    async with SimServer(ScenarioLibrary(extra_dirs=()), models=ModelMap(rules)) as sim:
        for number, tools in enumerate(
            (OFFERED, OFFERED, (ToolSpec("grep", "Search.", {"type": "object"}),)), 1
        ):
            ev = EventFactory("review", number)
            book(ev(AttemptStarted, provider="chat", model=CHAT.model))
            call = ModelCall(model=CHAT.model, system=SYSTEM, messages=(UserMessage("Review."),), tools=tools)
            toolbox = Toolbox(READS, ToolContext(workdir=tmp_path, env={}), _never_asked)  # type: ignore[arg-type]
            adapter = provider(CHAT, sim)
            try:
                async for event in run_tool_loop(adapter, AttemptTask(call), ev, toolbox):
                    book(event)
            finally:
                await adapter.aclose()
            metrics = book.attempts[("review", number)]
            if number == 2:
                assert metrics.cache_hit_last and metrics.cache_hit_last > 0, "the same prefix is read"
                assert metrics.cache_miss is None
    assert metrics.cache_hit_last == 0
    assert metrics.cache_miss == "tools changed"
    shown = gauge_text(metrics, 0.0, [], 1.0, 140, running=False).plain
    assert "cache 0% (tools changed)" in shown, shown
    lines = io.StringIO()
    JsonLines(lines, book, 0.0)(EventFactory("review", 3)(AttemptEnded, outcome=Outcome.COMPLETED))
    assert json.loads(lines.getvalue().splitlines()[0])["cache_miss"] == "tools changed"
