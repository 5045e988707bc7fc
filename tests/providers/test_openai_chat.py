"""The Chat Completions adapter, through the real openai SDK, against the sim server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openai._models import construct_type
from openai.types.chat import ChatCompletionChunk

from lfgtui.events import (
    EventFactory,
    ReasoningDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    Usage,
)
from lfgtui.providers.base import (
    AssistantMessage,
    ModelCall,
    ProviderConfig,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from lfgtui.providers.openai_chat import (
    OpenAIChatProvider,
    ToolCallAccumulator,
    chat_usage,
    openai_client,
)
from lfgtui.providers.usage import UsageCheck
from lfgtui.sim.protocols.openai_chat import OpenAIChatEncoder
from lfgtui.sim.server import SimServer
from lfgtui.sim.wire import Piece, PieceKind, SimRequest
from tests.support.streams import CannedServer, Collected, ask, cached_usage, collect


@pytest.fixture
async def provider(sim: SimServer) -> AsyncIterator[OpenAIChatProvider]:
    adapter = OpenAIChatProvider(ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1"))
    yield adapter
    await adapter.aclose()


async def test_tool_results_go_back_and_get_the_next_call(
    provider: OpenAIChatProvider, sim: SimServer
) -> None:
    call = ToolCall("call_1", "list_dir", {"path": "."}, '{"path": "."}')
    conversation = ModelCall(
        model="agent-demo",
        system="You are a coding agent.",
        messages=(
            UserMessage("What is this project?"),
            AssistantMessage(text="Let me look.", tool_calls=(call,)),
            ToolResultMessage("call_1", "list_dir", "README.md"),
        ),
        tools=(ToolSpec("list_dir", "List a folder", {"type": "object", "properties": {}}),),
        max_tokens=500,
        temperature=0.2,
    )
    out = await collect(provider, conversation)
    assert [c.name for c in out.of(ToolCallReady)] == ["read_file"]
    sent = sim.log[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "You are a coding agent."}
    assert sent["messages"][2]["tool_calls"][0]["function"] == {
        "name": "list_dir",
        "arguments": '{"path": "."}',
    }
    assert sent["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "README.md"}
    assert sent["tools"][0]["function"]["name"] == "list_dir"
    assert sent["max_tokens"] == 500
    assert sent["temperature"] == 0.2
    assert sent["stream_options"] == {"include_usage": True}


def test_accumulator_new_id_at_known_index_starts_a_new_call() -> None:
    acc = ToolCallAccumulator(EventFactory("t", 1))
    events = acc.delta(0, "call_a", "read_file", '{"path": "a"}')
    events += acc.delta(0, "call_b", "read_file", None)
    events += acc.delta(0, None, None, '{"path": ')
    events += acc.delta(0, None, None, '"b"}')
    ready = acc.finish()
    assert [(r.call_id, r.arguments) for r in ready] == [("call_a", {"path": "a"}), ("call_b", {"path": "b"})]
    assert [e.call_id for e in events if isinstance(e, ToolCallStarted)] == ["call_a", "call_b"]


def test_accumulator_buffers_arguments_that_arrive_before_the_name() -> None:
    acc = ToolCallAccumulator(EventFactory("t", 1))
    assert acc.delta(1, "call_x", None, '{"q":') == []
    events = acc.delta(1, None, "search", ' "x"}')
    assert isinstance(events[0], ToolCallStarted)
    assert isinstance(events[1], ToolCallArgsDelta) and events[1].fragment == '{"q": "x"}'
    (ready,) = acc.finish()
    assert ready.arguments == {"q": "x"}


def test_xai_reasoning_tokens_outside_completion_tokens_are_counted() -> None:
    class Details:
        reasoning_tokens = 196

    class XaiUsage:
        prompt_tokens, completion_tokens, total_tokens = 291, 26, 513
        completion_tokens_details = Details()

    class OpenAIUsage:
        prompt_tokens, completion_tokens, total_tokens = 14, 30, 44
        completion_tokens_details = Details()

    def counts(usage: object) -> tuple[int | None, int | None]:
        (event,) = chat_usage(UsageCheck(EventFactory("t", 1)), usage)
        assert isinstance(event, Usage)
        return event.output_tokens, event.reasoning_tokens

    assert counts(XaiUsage()) == (222, 196)
    assert counts(OpenAIUsage()) == (30, 196)


@pytest.mark.parametrize(
    ("usage", "read"),
    [
        ({"prompt_tokens": 100, "cached_tokens": 60}, 60),  # Kimi's own
        (
            {
                "prompt_tokens": 100,
                "prompt_tokens_details": {"cached_tokens": 0},
                "prompt_cache_hit_tokens": 60,
            },
            60,
        ),
        ({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 60}, "cached_tokens": 0}, 60),
        ({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 60}}, 60),
        ({"prompt_tokens": 100}, None),
    ],
    ids=["kimi", "deepseek-beside-a-proxys-0", "a-proxys-top-level-0", "openai", "none-said"],
)
def test_a_bare_zero_beside_a_vendors_cache_count_hides_nothing(
    usage: dict[str, object], read: int | None
) -> None:
    """The cache fields come from several vendors (and proxies add their own 0s): the largest count
    said is the read, and none said is unknown, not 0."""
    (event,) = chat_usage(UsageCheck(EventFactory("t", 1)), usage)
    assert isinstance(event, Usage) and event.cache_read_tokens == read


def test_sim_reply_matches_the_recorded_openai_shape() -> None:
    """Every key of a real recorded chunk appears in ours (see ../shared/sse-reference)."""
    recorded = json.loads(
        '{"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"m",'
        '"system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"a"},'
        '"logprobs":null,"finish_reason":null}]}'
    )
    (frame,) = OpenAIChatEncoder(SimRequest(model="m", include_usage=False)).piece(Piece(PieceKind.TEXT, "a"))
    ours = json.loads(frame.decode().removeprefix("data: "))
    assert set(ours) == set(recorded)
    assert set(ours["choices"][0]) == set(recorded["choices"][0])


async def stream_from(canned: CannedServer, chunks: list[dict[str, object]]) -> Collected:
    """One model call to a compatible server that answers with exactly these chunks."""
    canned.bodies = ["".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"]
    adapter = OpenAIChatProvider(ProviderConfig(name="compat", kind="openai", base_url=canned.url + "/v1"))
    try:
        return await collect(adapter, ModelCall(model="m", messages=(UserMessage("hi"),)))
    finally:
        await adapter.aclose()


async def test_chunks_missing_fields_the_sdk_types_require_still_stream(canned: CannedServer) -> None:
    """Chunks that fail validation (no id, created, object or model, as some compatible servers
    send them) take the SDK's lenient path: same text, same tool call."""
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "c1", "function": {"name": "list_dir", "arguments": "{}"}}
                        ]
                    },
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    out = await stream_from(canned, chunks)
    assert out.error is None
    assert out.text == "Hello"
    assert [(c.name, c.arguments) for c in out.of(ToolCallReady)] == [("list_dir", {})]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("complete", [True, False])
async def test_compatible_servers_reasoning_fields_stream_as_reasoning(
    canned: CannedServer, field: str, complete: bool
) -> None:
    """DeepSeek/xAI send `reasoning_content`, Ollama/OpenRouter `reasoning`: neither is in the SDK's
    types, on the validated path (complete chunks) or the lenient one (fields missing)."""
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"} if complete else {}
    deltas = [{field: "Let me "}, {field: "think."}, {"content": "Hi"}]
    chunks = [{**head, "choices": [{"index": 0, "delta": delta}]} for delta in deltas]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    out = await stream_from(canned, chunks)
    assert out.error is None
    assert [e.text for e in out.of(ReasoningDelta)] == ["Let me ", "think."]
    assert out.text == "Hi"


def test_complete_chunks_validate_to_the_sdk_model_the_lenient_path_would_build() -> None:
    data = {
        "id": "chatcmpl-x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "a", "reasoning_content": "r"}, "finish_reason": None}],
    }
    client = openai_client(ProviderConfig(name="x", kind="openai", base_url="http://127.0.0.1:9/v1"))
    fast = client._process_response_data(data=data, cast_to=ChatCompletionChunk, response=None)  # type: ignore[arg-type]
    lenient = construct_type(type_=ChatCompletionChunk, value=data)
    assert fast.model_dump() == lenient.model_dump()
    assert fast.choices[0].delta.reasoning_content == "r"  # type: ignore[attr-defined]
    missing = {k: v for k, v in data.items() if k != "created"}
    assert client._process_response_data(
        data=missing, cast_to=ChatCompletionChunk, response=None
    ).model_dump() == (  # type: ignore[arg-type]
        construct_type(type_=ChatCompletionChunk, value=missing).model_dump()
    )


async def test_cached_prompt_tokens_are_reported_as_parts_of_the_prompt(
    provider: OpenAIChatProvider, sim: SimServer, scenario_dir: Path
) -> None:
    (usage,), expected = await cached_usage(provider, sim, scenario_dir)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == expected


async def test_a_prompt_without_cache_details_has_no_cache_counts(provider: OpenAIChatProvider) -> None:
    out = await collect(provider, ask("hello"))
    (usage,) = out.of(Usage)
    assert usage.input_tokens
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (None, None)


# The usage chunk of ../shared/sse-reference/xai-chat-tools.sse (recorded from api.x.ai), and the same
# details as a compatible server might garble them (the lenient path keeps whatever was sent).
XAI_USAGE = {
    "prompt_tokens": 291,
    "completion_tokens": 26,
    "total_tokens": 513,
    "prompt_tokens_details": {"text_tokens": 291, "audio_tokens": 0, "image_tokens": 0, "cached_tokens": 290},
    "completion_tokens_details": {"reasoning_tokens": 196, "audio_tokens": 0},
}


@pytest.mark.parametrize(
    ("details", "cached"),
    [
        (XAI_USAGE["prompt_tokens_details"], (290, None)),
        ({"cached_tokens": "lots", "cache_write_tokens": [1]}, (None, None)),
        ({"cached_tokens": None, "cache_write_tokens": 12}, (None, 12)),
        (None, (None, None)),
    ],
)
@pytest.mark.parametrize("complete", [True, False])
async def test_compatible_servers_cache_details(
    canned: CannedServer, details: object, cached: tuple[int | None, int | None], complete: bool
) -> None:
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"} if complete else {}
    chunks = [
        {**head, "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": {**XAI_USAGE, "prompt_tokens_details": details}},
    ]
    out = await stream_from(canned, chunks)
    assert out.error is None
    (usage,) = out.of(Usage)
    assert usage.input_tokens == 291
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == cached
