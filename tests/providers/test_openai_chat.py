"""The Chat Completions adapter, through the real openai SDK, against the sim server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.events import (
    CallEnded,
    ErrorKind,
    EventFactory,
    TextDelta,
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
from lfgtui.providers.openai_chat import OpenAIChatProvider, ToolCallAccumulator, output_tokens
from lfgtui.sim.protocols.openai_chat import OpenAIChatEncoder
from lfgtui.sim.server import SimServer
from lfgtui.sim.wire import Piece, PieceKind, SimRequest
from tests.support import ask, collect, write_scenario


@pytest.fixture
async def provider(sim: SimServer) -> AsyncIterator[OpenAIChatProvider]:
    adapter = OpenAIChatProvider(ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1"))
    yield adapter
    await adapter.aclose()


async def test_text_and_usage(provider: OpenAIChatProvider, sim: SimServer) -> None:
    out = await collect(provider, ask("hello"))
    assert out.error is None
    assert out.text.startswith("Hello! I am the **lfg simulator**")
    usage = out.of(Usage)[-1]
    assert usage.output_tokens == len(out.of(TextDelta))
    assert usage.input_tokens and usage.input_tokens > 0
    assert out.of(CallEnded)[0].stop_reason == "stop"
    assert sim.log[0].body["stream_options"] == {"include_usage": True}


async def test_reasoning_content_becomes_reasoning(provider: OpenAIChatProvider) -> None:
    out = await collect(provider, ask("reasoning"))
    assert out.reasoning.startswith("The user asks for the greatest common divisor")
    assert out.text == "The greatest common divisor of 1071 and 462 is **21**."
    usage = out.of(Usage)[-1]
    assert usage.reasoning_tokens and usage.reasoning_tokens > 0


async def test_parallel_tool_calls_are_rebuilt_and_never_leak_as_text(provider: OpenAIChatProvider) -> None:
    out = await collect(provider, ask("parallel-tools"))
    ready = out.of(ToolCallReady)
    assert [(c.name, c.arguments) for c in ready] == [
        ("get_weather", {"city": "Paris", "units": "celsius"}),
        ("get_weather", {"city": "Tokyo", "units": "celsius"}),
    ]
    assert len({c.call_id for c in ready}) == 2
    assert [s.call_id for s in out.of(ToolCallStarted)] == [c.call_id for c in ready]
    for call in ready:
        fragments = "".join(d.fragment for d in out.of(ToolCallArgsDelta) if d.call_id == call.call_id)
        assert fragments == call.raw_arguments
    assert out.text == "I'll check both cities at once."
    assert "{" not in out.text
    assert out.of(CallEnded)[0].stop_reason == "tool_calls"


async def test_tool_results_go_back_and_get_the_next_turn(
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


async def test_invalid_tool_json_is_reported_on_the_call(provider: OpenAIChatProvider) -> None:
    out = await collect(provider, ask("bad-tool-json"))
    (call,) = out.of(ToolCallReady)
    assert call.raw_arguments == '{"path": "README.md"'
    assert call.arguments == {}
    assert call.error and "not valid JSON" in call.error
    assert out.error is None


@pytest.mark.parametrize(
    ("model", "kind", "status", "words"),
    [
        ("fault-401", ErrorKind.AUTH, 401, "Incorrect API key"),
        ("fault-403", ErrorKind.AUTH, 403, "do not have access"),
        ("fault-404", ErrorKind.NOT_FOUND, 404, "does not exist"),
        ("fault-400", ErrorKind.BAD_REQUEST, 400, "maximum context length"),
        ("fault-500", ErrorKind.SERVER, 500, "server had an error"),
        ("fault-503", ErrorKind.SERVER, 503, "overloaded"),
        ("fault-529", ErrorKind.OVERLOADED, 529, "Overloaded"),
        ("no-such-scenario", ErrorKind.NOT_FOUND, 404, "unknown sim model"),
    ],
)
async def test_http_errors_are_classified_with_the_providers_message(
    provider: OpenAIChatProvider, model: str, kind: ErrorKind, status: int, words: str
) -> None:
    out = await collect(provider, ask(model))
    assert out.error is not None
    assert (out.error.kind, out.error.status) == (kind, status)
    assert words in out.error.message
    assert out.text == ""


async def test_rate_limit_carries_retry_after(provider: OpenAIChatProvider) -> None:
    first = await collect(provider, ask("fault-429"))
    assert first.error is not None
    assert (first.error.kind, first.error.retry_after) == (ErrorKind.RATE_LIMITED, 1.0)
    assert first.error.retryable
    second = await collect(provider, ask("fault-429"))
    assert second.error is None
    assert second.text.startswith("Worth the wait")


@pytest.mark.parametrize(
    ("model", "kind", "kept"),
    [
        ("fault-drop", ErrorKind.CONNECTION, "This answer will be cut off part of"),
        ("fault-error-event", ErrorKind.STREAM_ERROR, "Half of this answer arrives before"),
        ("fault-malformed", ErrorKind.MALFORMED, "A few words arrive"),
    ],
)
async def test_mid_stream_failures_keep_the_text_received(
    provider: OpenAIChatProvider, model: str, kind: ErrorKind, kept: str
) -> None:
    out = await collect(provider, ask(model))
    assert out.error is not None
    assert out.error.kind is kind
    assert out.text == kept
    assert not out.of(CallEnded)


async def test_stall_hits_the_idle_timeout(sim: SimServer) -> None:
    config = ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1", idle_timeout_s=0.5)
    adapter = OpenAIChatProvider(config)
    out = await collect(adapter, ask("fault-stall"))
    await adapter.aclose()
    assert out.error is not None
    assert out.error.kind is ErrorKind.TIMEOUT
    assert out.text == "These first words arrive and"


async def test_keepalive_comments_are_ignored(provider: OpenAIChatProvider) -> None:
    out = await collect(provider, ask("keepalive"))
    assert out.error is None
    assert out.text == "Heartbeats kept the connection alive while I was thinking."


async def test_connection_refused_is_a_connection_error() -> None:
    adapter = OpenAIChatProvider(ProviderConfig(name="x", kind="openai", base_url="http://127.0.0.1:9/v1"))
    out = await collect(adapter, ask("hello"))
    await adapter.aclose()
    assert out.error is not None
    assert out.error.kind is ErrorKind.CONNECTION


async def test_in_band_error_chunk_from_a_scenario_file(
    provider: OpenAIChatProvider, scenario_dir: Path
) -> None:
    model = write_scenario(
        scenario_dir,
        "quota",
        '[[turn]]\ntext = "one two three"\n[[fault]]\nkind = "error_event"\nafter_tokens = 1\n'
        'message = "You exceeded your current quota"\n',
    )
    out = await collect(provider, ask(model))
    assert out.error is not None
    assert out.error.message == "You exceeded your current quota"
    assert out.text == "one"


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

    assert output_tokens(XaiUsage()) == (222, 196)
    assert output_tokens(OpenAIUsage()) == (30, 196)


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
