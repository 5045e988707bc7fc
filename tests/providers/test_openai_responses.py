"""The Responses API adapter, through the real openai SDK, against the sim server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.responses import ResponseFunctionToolCall

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
    ProviderError,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from lfgtui.providers.openai_responses import FunctionCalls, OpenAIResponsesProvider
from lfgtui.sim.protocols.openai_responses import OpenAIResponsesEncoder, OpenAIResponsesProtocol
from lfgtui.sim.scenario import Scenario, ScenarioLibrary, SimCall, SimToolCall
from lfgtui.sim.server import SimServer
from lfgtui.sim.wire import BadRequest, SimRequest, SimUsage, count_usage, plan_call
from tests.support.streams import Collected, ask, cached_usage, collect


def responses_provider(url: str) -> OpenAIResponsesProvider:
    return OpenAIResponsesProvider(ProviderConfig(name="sim", kind="openai-responses", base_url=url + "/v1"))


@pytest.fixture
async def provider(sim: SimServer) -> AsyncIterator[OpenAIResponsesProvider]:
    adapter = responses_provider(sim.url)
    yield adapter
    await adapter.aclose()


async def test_the_request_goes_to_v1_responses_as_input_items(
    provider: OpenAIResponsesProvider, sim: SimServer
) -> None:
    out = await collect(provider, ask("hello"))
    assert out.error is None
    assert sim.log[0].path == "/v1/responses"
    assert sim.log[0].body["input"] == [{"role": "user", "content": "hi"}]


async def test_tool_results_go_back_as_function_call_output_and_get_the_next_call(
    provider: OpenAIResponsesProvider, sim: SimServer
) -> None:
    call = ToolCall("call_1", "list_dir", {"path": "."}, '{"path": "."}')
    conversation = ModelCall(
        model="agent-demo:ttft_ms=0,tokens_per_s=5000",
        system="You are a coding agent.",
        messages=(
            UserMessage("What is this project?"),
            AssistantMessage(text="Let me look.", reasoning="Look first.", tool_calls=(call,)),
            ToolResultMessage("call_1", "list_dir", "README.md"),
        ),
        tools=(ToolSpec("list_dir", "List a folder", {"type": "object", "properties": {}}),),
        max_tokens=500,
        temperature=0.2,
    )
    out = await collect(provider, conversation)
    assert out.error is None
    assert [c.name for c in out.of(ToolCallReady)] == ["read_file"]
    assert sim.log[-1].call_index == 1
    sent = sim.log[-1].body
    assert sent["instructions"] == "You are a coding agent."
    assert sent["input"] == [
        {"role": "user", "content": "What is this project?"},
        {"role": "assistant", "content": "Let me look."},
        {"type": "function_call", "call_id": "call_1", "name": "list_dir", "arguments": '{"path": "."}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "README.md"},
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "name": "list_dir",
            "description": "List a folder",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        }
    ]
    assert sent["max_output_tokens"] == 500
    assert sent["temperature"] == 0.2
    assert sent["stream"] is True


async def test_an_assistant_turn_with_only_tool_calls_counts_as_a_round(
    provider: OpenAIResponsesProvider, sim: SimServer
) -> None:
    first = ToolCall("call_a", "list_dir", {"path": "."}, '{"path": "."}')
    second = ToolCall("call_b", "read_file", {"path": "README.md"}, '{"path": "README.md"}')
    conversation = ModelCall(
        model="agent-demo:ttft_ms=0,tokens_per_s=5000",
        messages=(
            UserMessage("What is this project?"),
            AssistantMessage(text="Let me look.", tool_calls=(first,)),
            ToolResultMessage("call_a", "list_dir", "README.md"),
            AssistantMessage(tool_calls=(second,)),
            ToolResultMessage("call_b", "read_file", "# Widget"),
        ),
    )
    out = await collect(provider, conversation)
    assert sim.log[-1].call_index == 2
    assert out.text.startswith("## What this project is")
    assert out.of(CallEnded)[0].stop_reason == "stop"
    assert "tools" not in sim.log[-1].body
    assert "instructions" not in sim.log[-1].body


async def test_cached_input_tokens_are_reported_as_parts_of_the_input(
    provider: OpenAIResponsesProvider, sim: SimServer, scenario_dir: Path
) -> None:
    (usage,), expected = await cached_usage(provider, sim, scenario_dir)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == expected


async def test_the_recorded_usage_shape_reads_no_cache_writes(provider: OpenAIResponsesProvider) -> None:
    """Recorded streams have `cached_tokens` but no `cache_write_tokens`, which the SDK types require."""
    out = await collect(provider, ask("hello"))
    (usage,) = out.of(Usage)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (0, None)


async def test_error_event_carries_the_providers_message(provider: OpenAIResponsesProvider) -> None:
    """The SDK itself raises a bare `openai.APIError` on the `error` event, before `response.failed`."""
    with pytest.raises(ProviderError) as caught:
        async for _ in provider.stream(ask("fault-error-event"), EventFactory("t", 1)):
            pass
    assert type(caught.value.__cause__) is openai.APIError
    assert (caught.value.info.kind, caught.value.info.message) == (ErrorKind.STREAM_ERROR, "Overloaded")
    assert not caught.value.info.retryable


class FailedOnlyEncoder(OpenAIResponsesEncoder):
    """A server that reports a failure with `response.failed` alone, no `error` event first."""

    def error_event(self, message: str) -> list[bytes]:
        return super().error_event(message)[1:]


class FlatErrorEncoder(OpenAIResponsesEncoder):
    """An `error` event with its fields at the top level, as the SDK's `ResponseErrorEvent` types it."""

    def error_event(self, message: str) -> list[bytes]:
        return [self._event("error", code="server_error", message=message, param=None)]


class IncompleteEncoder(OpenAIResponsesEncoder):
    """The output token limit was hit: `response.incomplete` instead of `response.completed`."""

    def finish(self, usage: SimUsage) -> list[bytes]:
        response = self._response("incomplete", usage)
        response["incomplete_details"] = {"reason": "max_output_tokens"}
        return [*self._close(), self._event("response.incomplete", response=response)]


class UnfinishedEncoder(OpenAIResponsesEncoder):
    """A stream that closes cleanly without ever saying the response is done."""

    def finish(self, usage: SimUsage) -> list[bytes]:
        return self._close()


class VariantProtocol(OpenAIResponsesProtocol):
    def __init__(self, encoder: type[OpenAIResponsesEncoder]) -> None:
        self.encoder_class = encoder

    def encoder(self, scenario: Scenario, request: SimRequest) -> OpenAIResponsesEncoder:
        return self.encoder_class(request)


async def stream_from_variant(
    encoder: type[OpenAIResponsesEncoder], scenario_dir: Path, model: str
) -> Collected:
    """Stream `model` from a sim whose Responses encoder behaves like `encoder`."""
    library = ScenarioLibrary(extra_dirs=(scenario_dir,))
    async with SimServer(library, protocols=[VariantProtocol(encoder)]) as server:
        adapter = responses_provider(server.url)
        out = await collect(adapter, ask(model))
        await adapter.aclose()
    return out


@pytest.mark.parametrize("encoder", [FailedOnlyEncoder, FlatErrorEncoder])
async def test_failure_events_the_sdk_passes_through_are_stream_errors(
    encoder: type[OpenAIResponsesEncoder], scenario_dir: Path
) -> None:
    out = await stream_from_variant(encoder, scenario_dir, "fault-error-event")
    assert out.error is not None
    assert (out.error.kind, out.error.message) == (ErrorKind.STREAM_ERROR, "Overloaded")
    assert out.text == "Half of this answer arrives before"


async def test_incomplete_response_stops_for_max_tokens(scenario_dir: Path) -> None:
    out = await stream_from_variant(IncompleteEncoder, scenario_dir, "hello")
    assert out.error is None
    assert out.of(CallEnded)[0].stop_reason == "max_tokens"
    assert out.of(Usage)[0].output_tokens == len(out.of(TextDelta))


async def test_stream_that_ends_without_completion_is_a_connection_error(scenario_dir: Path) -> None:
    out = await stream_from_variant(UnfinishedEncoder, scenario_dir, "hello")
    assert out.error is not None
    assert out.error.kind is ErrorKind.CONNECTION
    assert out.error.message == "the stream ended before the model finished"
    assert out.text.startswith("Hello!")


def function_call(arguments: str, call_id: str = "call_1") -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        type="function_call", id="fc_1", call_id=call_id, name="read_file", arguments=arguments
    )


def test_arguments_only_in_the_done_item_still_arrive_as_a_fragment() -> None:
    calls = FunctionCalls(EventFactory("t", 1))
    events = calls.added(0, function_call(""))
    events += calls.delta(0, '{"path": ')
    events += calls.done(0, function_call('{"path": "a"}'))
    events += calls.done(0, function_call('{"path": "a"}'))
    events += calls.finish()
    assert [e.fragment for e in events if isinstance(e, ToolCallArgsDelta)] == ['{"path": ', '"a"}']
    (ready,) = [e for e in events if isinstance(e, ToolCallReady)]
    assert (ready.call_id, ready.arguments, ready.raw_arguments) == ("call_1", {"path": "a"}, '{"path": "a"}')


def test_a_call_that_never_streamed_is_started_and_finished_at_done() -> None:
    calls = FunctionCalls(EventFactory("t", 1))
    events = calls.done(3, function_call('{"q": 1}', call_id="call_x"))
    assert [type(e) for e in events] == [ToolCallStarted, ToolCallArgsDelta, ToolCallReady]
    assert calls.finish() == []


def test_calls_still_open_at_the_end_are_made_ready_in_order() -> None:
    calls = FunctionCalls(EventFactory("t", 1))
    calls.added(1, function_call("", call_id="call_b"))
    calls.added(0, function_call('{"x"', call_id="call_a"))
    ready = calls.finish()
    assert [r.call_id for r in ready] == ["call_a", "call_b"]
    assert isinstance(ready[0], ToolCallReady) and ready[0].error


@pytest.mark.parametrize(
    ("items", "call"),
    [
        ("hi", 0),
        ([{"role": "user", "content": "hi"}], 0),
        (
            [
                {"role": "user", "content": "hi"},
                {"type": "message", "role": "assistant", "content": "Let me look."},
                {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "b", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "a", "output": "x"},
                {"type": "function_call_output", "call_id": "b", "output": "y"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "z"},
                {"role": "assistant", "content": "Done."},
                {"role": "user", "content": "Thanks; again?"},
            ],
            3,
        ),
    ],
)
def test_call_index_counts_the_calls_answered_in_the_input(items: Any, call: int) -> None:
    request = OpenAIResponsesProtocol().parse_request({"model": "m", "input": items, "stream": True}, {})
    assert request.call_index == call
    assert request.input_tokens > 0


@pytest.mark.parametrize(
    "body",
    [
        {"input": "hi", "stream": True},
        {"model": "m", "stream": True},
        {"model": "m", "input": {"role": "user"}, "stream": True},
        {"model": "m", "input": "hi", "stream": "true"},
    ],
)
def test_requests_the_api_would_refuse(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        OpenAIResponsesProtocol().parse_request(body, {})


# Key sets of real recorded events (../shared/sse-reference/openai-responses-*.sse), written out by hand.
RECORDED_EVENT_KEYS = {
    "response.created": {"type", "sequence_number", "response"},
    "response.in_progress": {"type", "sequence_number", "response"},
    "response.output_item.added": {"type", "sequence_number", "output_index", "item"},
    "response.reasoning_summary_part.added": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "summary_index",
        "part",
    },
    "response.reasoning_summary_text.delta": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "summary_index",
        "delta",
        "obfuscation",
    },
    "response.reasoning_summary_text.done": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "summary_index",
        "text",
    },
    "response.reasoning_summary_part.done": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "summary_index",
        "part",
    },
    "response.content_part.added": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "content_index",
        "part",
    },
    "response.output_text.delta": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "content_index",
        "delta",
    },
    "response.output_text.done": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "content_index",
        "text",
    },
    "response.content_part.done": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "content_index",
        "part",
    },
    "response.output_item.done": {"type", "sequence_number", "output_index", "item"},
    "response.function_call_arguments.delta": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "delta",
        "obfuscation",
    },
    "response.function_call_arguments.done": {
        "type",
        "sequence_number",
        "item_id",
        "output_index",
        "arguments",
    },
    "response.completed": {"type", "sequence_number", "response"},
    "error": {"type", "sequence_number", "error"},
    "response.failed": {"type", "sequence_number", "response"},
}
RECORDED_RESPONSE_KEYS = {
    "id",
    "object",
    "created_at",
    "status",
    "background",
    "error",
    "incomplete_details",
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "model",
    "output",
    "parallel_tool_calls",
    "previous_response_id",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning",
    "safety_identifier",
    "service_tier",
    "store",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "usage",
    "user",
    "metadata",
}
RECORDED_ITEM_KEYS = {
    "reasoning": {"id", "type", "encrypted_content", "summary"},
    "message": {"id", "type", "status", "content", "role"},
    "function_call": {"id", "type", "status", "arguments", "call_id", "name"},
}
RECORDED_PART_KEYS = {"summary_text": {"type", "text"}, "output_text": {"type", "annotations", "text"}}
RECORDED_USAGE_KEYS = {
    "input_tokens": None,
    "input_tokens_details": {"cached_tokens"},
    "output_tokens": None,
    "output_tokens_details": {"reasoning_tokens"},
    "total_tokens": None,
}


def decode(frame: bytes) -> tuple[str, dict[str, Any]]:
    """(the `event:` name, the JSON data) of one SSE frame."""
    head, data = frame.decode().removesuffix("\n\n").split("\n")
    return head.removeprefix("event: "), json.loads(data.removeprefix("data: "))


def test_sim_events_have_the_recorded_shape() -> None:
    answer = SimCall(
        reasoning="Think first.",
        text="Here goes.",
        tool_calls=(SimToolCall("get_weather", '{"city": "Paris"}'),),
    )
    request = SimRequest(model="m", input_tokens=10)
    pieces = plan_call(answer)
    encoder = OpenAIResponsesEncoder(request)
    frames = encoder.open() + [f for p in pieces for f in encoder.piece(p)]
    frames += encoder.finish(count_usage(pieces, request))
    frames += OpenAIResponsesEncoder(request).error_event("boom")
    events = [decode(frame) for frame in frames]

    seen = set()
    for name, data in events:
        assert name == data["type"]
        assert set(data) == RECORDED_EVENT_KEYS[name], name
        seen.add(name)
        if "response" in data:
            assert set(data["response"]) == RECORDED_RESPONSE_KEYS
        if "item" in data:
            assert set(data["item"]) == RECORDED_ITEM_KEYS[data["item"]["type"]]
        if "part" in data:
            assert set(data["part"]) == RECORDED_PART_KEYS[data["part"]["type"]]
        if "obfuscation" in data:
            assert (len(data["delta"]) + len(data["obfuscation"])) % 16 == 0
    assert seen == set(RECORDED_EVENT_KEYS)

    main = [data for _, data in events[:-2]]
    assert [d["sequence_number"] for d in main] == list(range(len(main)))
    completed = main[-1]["response"]
    assert completed["status"] == "completed"
    assert [item["type"] for item in completed["output"]] == ["reasoning", "message", "function_call"]
    assert completed["output"][1]["content"][0]["text"] == "Here goes."
    assert completed["output"][2]["arguments"] == '{"city": "Paris"}'
    usage = completed["usage"]
    assert {key: set(value) if isinstance(value, dict) else None for key, value in usage.items()} == (
        RECORDED_USAGE_KEYS
    )
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] == 10 + 7
    assert usage["output_tokens_details"]["reasoning_tokens"] == 2
    error, failed = (data for _, data in events[-2:])
    assert error["error"]["message"] == failed["response"]["error"]["message"] == "boom"
    assert failed["response"]["status"] == "failed"
