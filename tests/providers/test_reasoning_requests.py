"""The reasoning settings (`effort`, `thinking`, `show_thinking`) in each wire's own terms, as the
official SDKs send them to the sim: a ticket's over its provider's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lfgtui.providers.anthropic import AnthropicProvider
from lfgtui.providers.base import ModelCall, Provider, ProviderConfig, Reasoning, ToolSpec, UserMessage
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.providers.openai_responses import OpenAIResponsesProvider
from lfgtui.sim.model_map import ModelMap
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from tests.support.streams import collect

Wire = tuple[type, str]
ANTHROPIC: Wire = (AnthropicProvider, "anthropic")
RESPONSES: Wire = (OpenAIResponsesProvider, "openai-responses")
CHAT: Wire = (OpenAIChatProvider, "openai")
NOTHING = Reasoning()
READ = ToolSpec("read_file", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}})


@pytest.fixture
async def sim(scenario_dir: Path) -> AsyncIterator[SimServer]:
    """The sim answering any model name with a plain answer."""
    async with SimServer(
        ScenarioLibrary(extra_dirs=(scenario_dir,)), models=ModelMap(unknown="hello")
    ) as server:
        yield server


async def sent(
    sim: SimServer, wire: Wire, model: str, own: Reasoning, provider: Reasoning = NOTHING, tools: bool = False
) -> dict[str, Any]:
    """The body the SDK sent for one call of a ticket with `own` settings on a provider with `provider`'s."""
    adapter, kind = wire
    path = "" if kind == "anthropic" else "/v1"
    config = ProviderConfig(name="p", kind=kind, base_url=sim.url + path, reasoning=provider)
    client: Provider = adapter(config)
    call = ModelCall(
        model=model, messages=(UserMessage("hi"),), tools=(READ,) if tools else (), reasoning=own
    )
    try:
        out = await collect(client, call)
    finally:
        await client.aclose()
    assert out.error is None, out.error
    return sim.log[-1].body


async def test_anthropic_takes_effort_as_output_config_and_thinking_as_its_display(sim: SimServer) -> None:
    body = await sent(sim, ANTHROPIC, "claude-sonnet-5-5", Reasoning(effort="high"))
    assert body["output_config"] == {"effort": "high"}
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    hidden = Reasoning(show_thinking=False)
    body = await sent(sim, ANTHROPIC, "claude-sonnet-5-5", Reasoning(effort="low"), hidden)
    assert body["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert body["output_config"] == {"effort": "low"}, "the ticket's own effort wins over its provider's"
    body = await sent(sim, ANTHROPIC, "claude-sonnet-4-6", Reasoning(thinking="off"))
    assert body["thinking"] == {"type": "disabled"}
    body = await sent(sim, ANTHROPIC, "claude-sonnet-5-5", Reasoning(thinking="off"))
    assert body["thinking"] == {"type": "between_tools"}, "the 5.5 family refuses disabled"
    body = await sent(sim, ANTHROPIC, "claude-sonnet-4-6", Reasoning())
    assert "thinking" not in body and "output_config" not in body, "an older model keeps its own default"
    assert "cache_control" not in str(body), "one call and no tools: nothing to read back from a cache"
    body = await sent(sim, ANTHROPIC, "claude-sonnet-4-6", Reasoning(), tools=True)
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][-1]["content"] == [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
    ], "a tool loop's calls each read the prompt the one before wrote"


async def test_responses_takes_effort_and_asks_for_a_summary_unless_told_not_to(sim: SimServer) -> None:
    body = await sent(sim, RESPONSES, "gpt-6-luna", Reasoning(effort="high"))
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"] and body["store"] is False
    quiet = Reasoning(show_thinking=False)
    body = await sent(sim, RESPONSES, "gpt-6-luna", Reasoning(), quiet)
    assert body["reasoning"] == {}
    body = await sent(sim, RESPONSES, "gpt-6-luna", Reasoning(thinking="off"))
    assert body["reasoning"] == {"effort": "none"} and "include" not in body
    body = await sent(sim, RESPONSES, "gpt-4.1", Reasoning())
    assert "reasoning" not in body and "include" not in body, "a model that does not reason refuses them"
    body = await sent(sim, RESPONSES, "grok-4.7", Reasoning())
    assert body["include"] == ["reasoning.encrypted_content"], "Grok's reasoning goes back too"
    assert "reasoning" not in body, "xAI is asked for no summary it does not make"


async def test_the_calls_of_one_conversation_share_a_prompt_cache_key(sim: SimServer) -> None:
    """OpenAI and xAI route requests with one `prompt_cache_key` to one cache."""
    first = await sent(sim, RESPONSES, "gpt-6-luna", Reasoning())
    again = await sent(sim, RESPONSES, "gpt-6-luna", Reasoning(), tools=True)
    other = await sent(sim, RESPONSES, "gpt-6-sol", Reasoning())
    assert first["prompt_cache_key"] == again["prompt_cache_key"] != other["prompt_cache_key"]
    assert first["prompt_cache_key"].startswith("lfg-") and "hi" not in first["prompt_cache_key"]


async def test_chat_sends_reasoning_effort_and_none_where_gpt_6_takes_tools_only_so(sim: SimServer) -> None:
    body = await sent(sim, CHAT, "deepseek-v4-pro", Reasoning(effort="high"))
    assert body["reasoning_effort"] == "high"
    body = await sent(sim, CHAT, "gpt-6-luna", Reasoning(), tools=True)
    assert body["reasoning_effort"] == "none"
    body = await sent(sim, CHAT, "gpt-6-luna", Reasoning())
    assert "reasoning_effort" not in body, "without tools the model's own default stands"
    body = await sent(sim, CHAT, "llama3.2", Reasoning(), tools=True)
    assert "reasoning_effort" not in body


@pytest.mark.parametrize("tools", [False, True])
async def test_deepseek_thinks_by_default_with_tools_and_turns_thinking_off_with_its_own_switch(
    sim: SimServer, tools: bool
) -> None:
    """DeepSeek's thinking-mode guide (read 2026-11-27): thinking is on by default, with tools too;
    `thinking: {"type": "disabled"}` turns it off, which no effort does. No OpenAI rule applies."""
    body = await sent(sim, CHAT, "deepseek-v4-pro", Reasoning(), tools=tools)
    assert "reasoning_effort" not in body and "thinking" not in body
    body = await sent(sim, CHAT, "deepseek-flash", Reasoning(thinking="off"), tools=tools)
    assert body["thinking"] == {"type": "disabled"} and "reasoning_effort" not in body
    body = await sent(sim, CHAT, "deepseek-v4-flash", Reasoning(effort="xhigh"), tools=tools)
    assert body["reasoning_effort"] == "xhigh" and "thinking" not in body
