"""The model map: real agents ask for their own model names, and the sim answers them with scenarios."""

from __future__ import annotations

import anthropic
import pytest

from lfgtui.sim.model_map import ModelMap, ModelRule, parse_rule
from lfgtui.sim.scenario import ScenarioError, ScenarioLibrary
from lfgtui.sim.server import SimServer

USER = [{"role": "user", "content": "hi"}]
HELLO = "Hello! I am the **lfg simulator**, answering offline over a real HTTP stream."


async def answer(client: anthropic.AsyncAnthropic, model: str) -> str:
    message = await client.messages.create(model=model, max_tokens=64, messages=USER)
    return "".join(block.text for block in message.content if block.type == "text")


async def test_agents_model_names_are_answered_by_the_scenarios_they_map_to() -> None:
    """The first matching rule wins; a scenario's own name is that scenario; the rest go to `unknown`.
    The answer names the model the request asked for, as the real API would."""
    models = ModelMap(
        (ModelRule("claude-haiku-*", "hello"), ModelRule("claude-*", "reasoning:ttft_ms=0")), unknown="hello"
    )
    async with SimServer(ScenarioLibrary(extra_dirs=()), models=models) as sim:
        client = anthropic.AsyncAnthropic(api_key="x", base_url=sim.url, max_retries=0)
        async with client:
            main = await client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=USER)
            side = await answer(client, "claude-haiku-4-5-20251001")
            own = await answer(client, "long-answer:repeat=1,ttft_ms=0,tokens_per_s=0")
            other = await answer(client, "gpt-5-codex")
    assert main.model == "claude-sonnet-4-5"
    assert [block.type for block in main.content] == ["thinking", "text"]
    assert side == other == HELLO
    assert own.startswith("#")
    assert [(r.model, r.scenario) for r in sim.log] == [
        ("claude-sonnet-4-5", "reasoning:ttft_ms=0"),
        ("claude-haiku-4-5-20251001", "hello"),
        ("long-answer:repeat=1,ttft_ms=0,tokens_per_s=0", "long-answer:repeat=1,ttft_ms=0,tokens_per_s=0"),
        ("gpt-5-codex", "hello"),
    ]


async def test_without_a_default_an_unknown_model_is_a_404_in_the_providers_shape() -> None:
    async with SimServer(ScenarioLibrary(extra_dirs=()), models=ModelMap()) as sim:
        client = anthropic.AsyncAnthropic(api_key="x", base_url=sim.url, max_retries=0)
        async with client:
            with pytest.raises(anthropic.NotFoundError, match="unknown sim model 'claude-opus-4'"):
                await answer(client, "claude-opus-4")


@pytest.mark.parametrize("text", ["claude-*", "=hello", "claude-*=", ""])
def test_a_rule_needs_a_pattern_and_a_scenario(text: str) -> None:
    with pytest.raises(ScenarioError, match="PATTERN=SCENARIO"):
        parse_rule(text)
