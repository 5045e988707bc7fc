"""A provider's own model list read through its official SDK from the sim, which answers
`GET /v1/models` as each real API does: Anthropic's pages with each model's window and output limit,
OpenAI's ids alone."""

from __future__ import annotations

import httpx2
import pytest

from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.model_list import NoModelList, offered_models
from lfgtui.sim.server import SimServer


async def test_the_anthropic_sdk_lists_the_sims_models_with_their_limits(sim: SimServer) -> None:
    config = ProviderConfig(name="mine", kind="anthropic", base_url=sim.url, api_key="sk-ant-made-up")
    offered = {model.model: model for model in await offered_models(config)}
    assert "agent-demo" in offered and "hello" in offered
    assert (offered["hello"].context_window, offered["hello"].max_output_tokens) == (200_000, 64_000)


@pytest.mark.parametrize("kind", ["openai", "openai-responses"])
async def test_the_openai_sdk_lists_the_sims_model_ids(sim: SimServer, kind: str) -> None:
    config = ProviderConfig(name="mine", kind=kind, base_url=f"{sim.url}/v1", api_key="sk-made-up")
    offered = {model.model: model for model in await offered_models(config)}
    assert "agent-demo" in offered
    assert (offered["agent-demo"].context_window, offered["agent-demo"].max_output_tokens) == (None, None)


async def test_the_sim_answers_each_wire_in_its_own_shape(sim: SimServer) -> None:
    async with httpx2.AsyncClient() as client:
        anthropic = (
            await client.get(f"{sim.url}/v1/models", headers={"anthropic-version": "2023-06-01"})
        ).json()
        openai = (await client.get(f"{sim.url}/v1/models")).json()
    assert anthropic["has_more"] is False and anthropic["first_id"] == anthropic["data"][0]["id"]
    assert {"id", "type", "display_name", "created_at", "max_input_tokens", "max_tokens"} <= anthropic[
        "data"
    ][0].keys()
    assert openai["object"] == "list" and set(openai["data"][0]) == {"id", "object", "created", "owned_by"}


async def test_a_coding_agent_has_no_model_list() -> None:
    with pytest.raises(NoModelList):
        await offered_models(ProviderConfig(name="a", kind="acp"))
