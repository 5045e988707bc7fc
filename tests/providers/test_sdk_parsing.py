"""The SDK clients' pydantic-core path (`sdk_parsing.ValidatingClient`) against the SDKs' own: every
event the sim streams, for each protocol, becomes the same model as the SDK's lenient builder makes;
an event of a type the SDK does not know still takes the SDK's path."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from anthropic._models import construct_type as anthropic_construct
from anthropic.types import RawMessageStreamEvent
from openai._models import construct_type as openai_construct
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent, ResponseTextDeltaEvent, ResponseTextDoneEvent

from lfgtui.providers import sdk_parsing
from lfgtui.providers.anthropic import anthropic_client
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.openai_chat import openai_client
from lfgtui.providers.sdk_parsing import _parser
from lfgtui.sim.server import SimServer

MODELS = ("hello", "reasoning", "parallel-tools")
PROTOCOLS = {
    "chat": ("/v1/chat/completions", ChatCompletionChunk, openai_construct),
    "responses": ("/v1/responses", ResponseStreamEvent, openai_construct),
    "anthropic": ("/v1/messages", RawMessageStreamEvent, anthropic_construct),
}


def body(protocol: str, model: str) -> dict[str, Any]:
    if protocol == "responses":
        return {"model": model, "input": "go", "stream": True}
    return {
        "model": model,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "go"}],
        "stream": True,
    }


async def streamed(url: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON of every SSE `data:` line of a streamed answer, as the server sent it."""
    async with httpx2.AsyncClient() as http:
        answer = await http.post(url, json=request)
    events = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: {")]
    assert events, answer.text
    return events


def client(protocol: str, url: str) -> Any:
    config = ProviderConfig(name="x", kind="anthropic" if protocol == "anthropic" else "openai", base_url=url)
    return anthropic_client(config) if protocol == "anthropic" else openai_client(config)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
async def test_every_streamed_event_validates_to_the_model_the_sdk_would_build(
    sim: SimServer, protocol: str
) -> None:
    path, cast_to, construct = PROTOCOLS[protocol]
    sdk = client(protocol, sim.url + ("" if protocol == "anthropic" else "/v1"))
    parser = _parser(cast_to)
    assert parser is not None
    kinds: set[str] = set()
    for model in MODELS:
        for data in await streamed(sim.url + path, body(protocol, model)):
            fast = sdk._process_response_data(data=data, cast_to=cast_to, response=None)
            lenient = construct(type_=cast_to, value=data)
            assert type(fast) is type(lenient)
            assert fast.model_dump() == lenient.model_dump(), data
            kinds.add(data.get("type", "chunk"))
    assert protocol == "chat" or len(kinds) > 5, kinds  # chunks of Chat Completions have no type
    unknown = {"type": "some.future_event", "sequence_number": 1}
    assert sdk._process_response_data(data=unknown, cast_to=cast_to, response=None) == construct(
        type_=cast_to, value=unknown
    )
    await sdk.close()


def test_a_variant_that_fails_validation_is_built_by_the_sdk_from_then_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused: set[Any] = set()
    monkeypatch.setattr(sdk_parsing, "_refused", refused)  # what other tests' streams refused is theirs
    sdk = openai_client(ProviderConfig(name="x", kind="openai", base_url="http://127.0.0.1:9/v1"))
    delta = {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "m", "output_index": 0}
    delta |= {"content_index": 0, "delta": "Hi"}  # without `logprobs`, as the API sends it
    built = sdk._process_response_data(data=delta, cast_to=ResponseStreamEvent, response=None)
    assert built == openai_construct(type_=ResponseStreamEvent, value=delta)
    assert refused == {ResponseTextDeltaEvent}
    done = {"type": "response.output_text.done", "sequence_number": 2, "item_id": "m", "output_index": 0}
    done |= {"content_index": 0, "text": "Hi", "logprobs": []}
    assert sdk._process_response_data(data=done, cast_to=ResponseStreamEvent, response=None) == (
        ResponseTextDoneEvent.model_validate(done)
    )
    assert refused == {ResponseTextDeltaEvent}, "other variants are still validated"
    assert _parser(ResponseStreamEvent | dict) is None and _parser(ChatCompletionChunk) is ChatCompletionChunk
