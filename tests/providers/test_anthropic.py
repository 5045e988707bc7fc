"""The Messages adapter, through the real anthropic SDK, against the sim server."""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import RawContentBlockDeltaEvent, RawContentBlockStartEvent, RawMessageDeltaEvent
from anthropic.types import Usage as AnthropicUsage

from lfgtui.cost.metrics import Metrics
from lfgtui.cost.tokens import tokens_in
from lfgtui.events import (
    CallEnded,
    ErrorKind,
    EventFactory,
    ReasoningDelta,
    RequestSent,
    TextDelta,
    Usage,
)
from lfgtui.providers.anthropic import AnthropicProvider, MessageReader, prompt_tokens
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
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.errors import classify
from lfgtui.providers.usage import UsageCheck
from lfgtui.sim.model_map import ModelMap
from lfgtui.sim.protocols.anthropic import AnthropicEncoder, AnthropicProtocol
from lfgtui.sim.reasoning_rules import thinking_signature
from lfgtui.sim.scenario import Scenario, ScenarioLibrary, SimCall, SimToolCall
from lfgtui.sim.server import SimServer
from lfgtui.sim.wire import BadRequest, SimRequest, SimUsage, count_usage, plan_call
from lfgtui.turns import ANTHROPIC, ProviderTurn
from tests.support.streams import CannedServer, Collected, ask, cached_usage, collect


def config(url: str, **fields: Any) -> ProviderConfig:
    return ProviderConfig(name="sim", kind="anthropic", base_url=url, **fields)


@pytest.fixture
async def provider(sim: SimServer) -> AsyncIterator[AnthropicProvider]:
    adapter = AnthropicProvider(config(sim.url))
    yield adapter
    await adapter.aclose()


async def cause_of_failure(adapter: AnthropicProvider, call: ModelCall) -> BaseException | None:
    """The SDK's own exception behind a `ProviderError`, to pin down what the SDK raises."""
    try:
        async for _ in adapter.stream(call, EventFactory("t1", 1)):
            pass
    except ProviderError as exc:
        return exc.__cause__
    return None


async def test_usage_starts_at_message_start_and_the_request_has_the_required_fields(
    provider: AnthropicProvider, sim: SimServer
) -> None:
    out = await collect(provider, ask("hello"))
    assert out.error is None
    first, last = out.of(Usage)
    assert out.events[0] is first
    assert first.input_tokens and first.input_tokens > 0
    assert first.output_tokens is None  # message_start's count is of the tokens before any text
    assert last.input_tokens == first.input_tokens
    sent = sim.log[0]
    assert sent.path == "/v1/messages"
    assert sent.body["max_tokens"] == 8192
    assert sent.body["stream"] is True
    assert sent.body["messages"] == [{"role": "user", "content": "hi"}]
    assert "system" not in sent.body and "tools" not in sent.body


async def test_the_built_in_default_model_is_not_one_the_sdk_says_is_near_its_end() -> None:
    """A ticket on the built-in `anthropic` provider that names no model asks for its `default_model`.
    The official SDK warns when a model nears its end of life (claude-sonnet-4-5's was 2026-11-30),
    after which every such ticket would fail: the SDK bump that adds the warning fails this first."""
    model = BUILTIN["anthropic"].default_model
    async with SimServer(ScenarioLibrary(extra_dirs=()), models=ModelMap((), unknown="hello")) as sim:
        adapter = AnthropicProvider(config(sim.url))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = await collect(adapter, ask(model))
        finally:
            await adapter.aclose()
    assert out.error is None and out.text
    assert [str(w.message) for w in caught if model in str(w.message)] == []


async def test_cache_reads_and_writes_are_reported_as_parts_of_the_prompt(
    provider: AnthropicProvider, sim: SimServer, scenario_dir: Path
) -> None:
    """Anthropic counts them apart from `input_tokens`; ours is the whole prompt."""
    usages, expected = await cached_usage(provider, sim, scenario_dir)
    assert [(u.input_tokens, u.cache_read_tokens, u.cache_write_tokens) for u in usages] == [expected] * 2


def weather_call(answer: AssistantMessage) -> ModelCall:
    """The call after `answer`, which asked for the weather in two cities."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    return ModelCall(
        model="parallel-tools",
        system="You are a weather agent.",
        messages=(
            UserMessage("Weather in Paris and Tokyo?"),
            answer,
            ToolResultMessage("toolu_a", "get_weather", "Paris: 18 C"),
            ToolResultMessage("toolu_b", "get_weather", "error: timeout", is_error=True),
        ),
        tools=(ToolSpec("get_weather", "Current weather", schema),),
        max_tokens=500,
        temperature=0.2,
    )


PARIS = ToolCall("toolu_a", "get_weather", {"city": "Paris"}, '{"city": "Paris"}')
TOKYO = ToolCall("toolu_b", "get_weather", {"city": "Tokyo"}, '{"city": "Tokyo"}')
RESULTS = {
    "role": "user",
    "content": [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": "Paris: 18 C", "is_error": False},
        {"type": "tool_result", "tool_use_id": "toolu_b", "content": "error: timeout", "is_error": True},
    ],
}


def cached_last(message: dict[str, Any]) -> dict[str, Any]:
    """A message whose last block carries the prompt cache's moving breakpoint."""
    *before, last = message["content"]
    return {**message, "content": [*before, {**last, "cache_control": {"type": "ephemeral"}}]}


async def test_an_answer_goes_back_as_the_blocks_it_came_in_and_its_results_as_one_user_message(
    provider: AnthropicProvider, sim: SimServer
) -> None:
    """Its thinking, signed, and its text between its tool calls, in their order: as the model said
    it (turns.py), however lfg shows it."""
    blocks = [
        {"type": "thinking", "thinking": "two cities", "signature": thinking_signature("two cities")},
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Tokyo"}},
    ]
    turn = ProviderTurn(ANTHROPIC, f"{provider.config.name}/parallel-tools", json.dumps(blocks))
    answer = AssistantMessage("Checking both.", "two cities", (PARIS, TOKYO), turn)
    out = await collect(provider, weather_call(answer))
    assert out.error is None
    assert out.text == "Paris is 18 C with light rain; Tokyo is 24 C and clear."
    assert sim.log[-1].call_index == 1
    sent = sim.log[-1].body
    assert sent["system"] == "You are a weather agent."
    assert sent["messages"] == [
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {"role": "assistant", "content": blocks},
        cached_last(RESULTS),
    ]
    assert sent["tools"] == [  # the prompt cache's breakpoints: the tools, and the conversation so far
        {
            "name": "get_weather",
            "description": "Current weather",
            "input_schema": weather_call(answer).tools[0].parameters,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert sent["max_tokens"] == 500
    assert "temperature" not in sent  # API version 2026-10-21 refuses every sampling parameter
    assert sim.log[-1].headers["anthropic-version"] >= "2026-10-21"


async def test_an_answer_of_another_model_goes_back_as_its_text_and_tool_calls(
    provider: AnthropicProvider, sim: SimServer
) -> None:
    """Its thinking is bound to the model that thought it: another gets no signed block it cannot
    read, and no reasoning rebuilt as text."""
    signed = [{"type": "thinking", "thinking": "two cities", "signature": thinking_signature("two cities")}]
    turn = ProviderTurn(ANTHROPIC, "elsewhere/claude-opus-5", json.dumps(signed))
    answer = AssistantMessage("Checking both.", "two cities", (PARIS, TOKYO), turn)
    out = await collect(provider, weather_call(answer))
    assert out.error is None
    assert sim.log[-1].body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking both."},
            {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_b", "name": "get_weather", "input": {"city": "Tokyo"}},
        ],
    }


@pytest.mark.parametrize(
    ("model", "sdk_error"),
    [
        ("fault-401", anthropic.AuthenticationError),
        ("fault-403", anthropic.PermissionDeniedError),
        ("fault-404", anthropic.NotFoundError),
        ("fault-400", anthropic.BadRequestError),
        ("fault-429", anthropic.RateLimitError),
        ("fault-500", anthropic.InternalServerError),
        ("fault-502", anthropic.InternalServerError),
        ("fault-503", anthropic.ServiceUnavailableError),
        ("fault-529", anthropic.OverloadedError),
        ("no-such-scenario", anthropic.NotFoundError),
    ],
)
async def test_what_the_sdk_raises_for_http_errors(
    provider: AnthropicProvider, model: str, sdk_error: type[Exception]
) -> None:
    """The classification itself is in test_fault_matrix.py."""
    assert isinstance(await cause_of_failure(provider, ask(model)), sdk_error)


async def test_what_the_sdk_raises_mid_stream(provider: AnthropicProvider) -> None:
    """Raw `httpx2` errors and status-200 `APIStatusError`s: both reach `classify` unwrapped."""
    dropped = await cause_of_failure(provider, ask("fault-drop"))
    assert isinstance(dropped, httpx2.RemoteProtocolError)
    in_band = await cause_of_failure(provider, ask("fault-error-event"))
    assert type(in_band) is anthropic.APIStatusError
    assert in_band.status_code == 200
    assert in_band.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert isinstance(await cause_of_failure(provider, ask("fault-malformed")), json.JSONDecodeError)


async def test_what_the_sdk_raises_on_a_stall_or_a_refused_connection(sim: SimServer) -> None:
    stalled = AnthropicProvider(config(sim.url, idle_timeout_s=0.5))
    assert isinstance(await cause_of_failure(stalled, ask("fault-stall")), httpx2.ReadTimeout)
    await stalled.aclose()
    refused = AnthropicProvider(config("http://127.0.0.1:9"))
    assert isinstance(await cause_of_failure(refused, ask("hello")), anthropic.APIConnectionError)
    await refused.aclose()


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("api_error", ErrorKind.SERVER),
        ("rate_limit_error", ErrorKind.RATE_LIMITED),
        ("timeout_error", ErrorKind.TIMEOUT),
        ("invalid_request_error", ErrorKind.STREAM_ERROR),
    ],
)
def test_in_band_errors_keep_the_meaning_of_their_type(error_type: str, kind: ErrorKind) -> None:
    response = httpx2.Response(200, request=httpx2.Request("POST", "http://127.0.0.1/v1/messages"))
    body = {"type": "error", "error": {"type": error_type, "message": "Something happened"}}
    info = classify(anthropic.APIStatusError(str(body), response=response, body=body))
    assert (info.kind, info.message, info.status) == (kind, "Something happened", None)
    assert info.retryable is (kind is not ErrorKind.STREAM_ERROR)


class _NoStopEncoder(AnthropicEncoder):
    def finish(self, usage: SimUsage) -> list[bytes]:
        return super().finish(usage)[:-1]


class _NoStopProtocol(AnthropicProtocol):
    """Ends the HTTP response cleanly but without message_stop, as a misbehaving proxy might."""

    def encoder(self, scenario: Scenario, request: SimRequest) -> AnthropicEncoder:
        return _NoStopEncoder(request)


async def test_a_stream_without_message_stop_is_a_connection_error(scenario_dir: Path) -> None:
    library = ScenarioLibrary(extra_dirs=(scenario_dir,))
    async with SimServer(library, protocols=[_NoStopProtocol()]) as server:
        adapter = AnthropicProvider(config(server.url))
        out = await collect(adapter, ask("hello"))
        await adapter.aclose()
    assert out.error is not None
    assert (out.error.kind, out.error.message) == (
        ErrorKind.CONNECTION,
        "the stream ended before the model finished",
    )
    assert out.text.startswith("Hello!")
    assert not out.of(CallEnded)


# Streams without usage, as Anthropic-compatible proxies and Anthropic's own documentation send them:
# DOCS_THINKING_EVENTS is the documented extended-thinking streaming example (see
# ../shared/sse-reference/anthropic-thinking-docs.sse), with no `usage` in message_start nor message_delta.

DOCS_REASONING = [
    "I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n"
    "1071 = 2 \N{MULTIPLICATION SIGN} 462 + 147",
    "\n462 = 3 \N{MULTIPLICATION SIGN} 147 + 21",
    "\n147 = 7 \N{MULTIPLICATION SIGN} 21 + 0",
    "\nThe remainder is 0, so GCD(1071, 462) = 21.",
]
DOCS_TEXT = "The greatest common divisor of 1071 and 462 is **21**."
DOCS_SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."

DOCS_THINKING_EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_01...",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-opus-5-5",
            "stop_reason": None,
            "stop_sequence": None,
        },
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    *(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": chunk}}
        for chunk in DOCS_REASONING
    ),
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": DOCS_SIGNATURE},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": DOCS_TEXT}},
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}},
    {"type": "message_stop"},
]


def with_usage(start: dict[str, Any] | None, delta: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The docs example with `usage` put in message_start and message_delta (left out where None)."""
    events = [dict(e) for e in DOCS_THINKING_EVENTS]
    if start is not None:
        events[0]["message"] = {**events[0]["message"], "usage": start}
    if delta is not None:
        events[-2]["usage"] = delta
    return events


async def stream_from(canned: CannedServer, events: list[dict[str, Any]]) -> tuple[Collected, Metrics]:
    """One model call to a server answering with exactly these events, and the metrics of what came out."""
    canned.bodies = [b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)]
    adapter = AnthropicProvider(config(canned.url))
    try:
        out = await collect(adapter, ask("reasoning"))
    finally:
        await adapter.aclose()
    metrics = Metrics()
    metrics.apply(EventFactory("t1", 1)(RequestSent, call=0))
    for event in out.events:
        metrics.apply(event)
    return out, metrics


async def test_a_stream_without_usage_completes_with_estimated_tokens(canned: CannedServer) -> None:
    out, metrics = await stream_from(canned, DOCS_THINKING_EVENTS)
    assert out.error is None
    assert [e.text for e in out.of(ReasoningDelta)] == DOCS_REASONING
    assert [e.text for e in out.of(TextDelta)] == [DOCS_TEXT]
    assert out.of(CallEnded)[0].stop_reason == "stop"
    assert not out.of(Usage)
    assert metrics.tokens_estimated
    assert metrics.output_tokens == tokens_in(sum(len(c) for c in [*DOCS_REASONING, DOCS_TEXT]), None)
    assert metrics.input_tokens is None


@pytest.mark.parametrize("null_usage", [False, True], ids=["absent", "null"])
async def test_usage_only_in_message_start_keeps_the_input_and_estimates_the_output(
    canned: CannedServer, null_usage: bool
) -> None:
    """message_start's `output_tokens` counts the tokens before any content, not the answer's."""
    start = {
        "input_tokens": 50,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 7,
        "output_tokens": 5,
    }
    events = with_usage(start, None)
    if null_usage:
        events[-2]["usage"] = None
    out, metrics = await stream_from(canned, events)
    assert out.error is None
    assert out.reasoning == "".join(DOCS_REASONING)
    assert out.text == DOCS_TEXT
    assert out.of(CallEnded)[0].stop_reason == "stop"
    assert [(u.input_tokens, u.output_tokens) for u in out.of(Usage)] == [(57, None)]
    assert (metrics.input_tokens, metrics.tokens_estimated) == (57, True)
    assert metrics.output_tokens == tokens_in(sum(len(c) for c in [*DOCS_REASONING, DOCS_TEXT]), None)


@pytest.mark.parametrize(
    ("delta", "prompt", "reported"),
    [
        ({"output_tokens": 9}, 57, 9),
        ({"input_tokens": None, "output_tokens": 9, "cache_read_input_tokens": None}, 57, 9),
        ({"input_tokens": 60, "output_tokens": 9, "cache_read_input_tokens": 7}, 67, 9),
        ({"output_tokens": None}, 57, None),
    ],
)
async def test_message_delta_usage_with_only_output_tokens_or_nulls(
    canned: CannedServer, delta: dict[str, Any], prompt: int, reported: int | None
) -> None:
    start = {"input_tokens": 50, "cache_read_input_tokens": 7, "output_tokens": 1}
    out, metrics = await stream_from(canned, with_usage(start, delta))
    assert out.error is None
    assert out.text == DOCS_TEXT
    assert metrics.input_tokens == prompt
    assert metrics.tokens_estimated is (reported is None)
    assert metrics.output_tokens == (reported or metrics.requests[0].estimated_tokens)


@pytest.mark.parametrize(
    ("delta", "prompt"),
    [
        ({"output_tokens": 9}, (77, 7, 20)),
        (
            {
                "input_tokens": 60,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 27,
                "output_tokens": 9,
            },
            (87, 27, 0),
        ),
        ({"input_tokens": None, "cache_read_input_tokens": 99, "output_tokens": 9}, (77, 7, 20)),
    ],
)
async def test_cache_counts_come_with_the_prompt_total_they_are_part_of(
    canned: CannedServer, delta: dict[str, Any], prompt: tuple[int, int, int]
) -> None:
    """message_delta's usage, when it gives the prompt again, gives its cache counts too (cumulative);
    cache counts without the prompt's `input_tokens` are not mixed into message_start's."""
    start = {"input_tokens": 50, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 7}
    out, _ = await stream_from(canned, with_usage(start, delta))
    assert out.error is None
    counts = [(u.input_tokens, u.cache_read_tokens, u.cache_write_tokens) for u in out.of(Usage)]
    assert counts == [(77, 7, 20), prompt]


def test_usage_counts_cache_reads_and_writes_as_input() -> None:
    usage = AnthropicUsage(
        input_tokens=10, cache_creation_input_tokens=5, cache_read_input_tokens=100, output_tokens=1
    )
    assert prompt_tokens(UsageCheck(EventFactory("t", 1)), usage) == (115, 100, 5)


def test_reader_ignores_server_tool_json_and_maps_max_tokens() -> None:
    reader = MessageReader(EventFactory("t", 1))
    events = reader.handle(
        RawContentBlockStartEvent.model_validate(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {},
                },
            }
        )
    )
    events += reader.handle(
        RawContentBlockDeltaEvent.model_validate(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": '{"query": "x"}'},
            }
        )
    )
    assert events == []
    (usage,) = reader.handle(
        RawMessageDeltaEvent.model_validate(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                "usage": {"output_tokens": 7, "input_tokens": 3, "cache_read_input_tokens": 40},
            }
        )
    )
    assert isinstance(usage, Usage)
    assert (usage.input_tokens, usage.output_tokens) == (43, 7)
    assert reader.stop_reason == "max_tokens"


# Keys of the real recorded events (../shared/sse-reference/anthropic-*.sse), written out by hand.
RECORDED_KEYS: dict[str, set[str]] = {
    "message_start": {"type", "message"},
    "message": {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"},
    "message.usage": {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
        "service_tier",
    },
    "content_block_start": {"type", "index", "content_block"},
    "block.text": {"type", "text"},
    "block.thinking": {"type", "thinking", "signature"},
    "block.tool_use": {"type", "id", "name", "caller", "input"},
    "ping": {"type"},
    "content_block_delta": {"type", "index", "delta"},
    "delta.text_delta": {"type", "text"},
    "delta.thinking_delta": {"type", "thinking"},
    "delta.signature_delta": {"type", "signature"},
    "delta.input_json_delta": {"type", "partial_json"},
    "content_block_stop": {"type", "index"},
    "message_delta": {"type", "delta", "usage"},
    "message_delta.delta": {"stop_reason", "stop_sequence"},
    "message_delta.usage": {"output_tokens"},
    "message_stop": {"type"},
    "error": {"type", "error"},
    "error.error": {"type", "message"},
}


def parse_frames(frames: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each frame; every frame must be exactly one `event:` and one `data:` line."""
    parsed = []
    for frame in frames:
        event_line, data_line, *rest = frame.decode().split("\n")
        assert rest == ["", ""]
        parsed.append((event_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))))
    return parsed


def encoded_call(answer: SimCall) -> list[tuple[str, dict[str, Any]]]:
    request = SimRequest(model="m", input_tokens=12)
    encoder = AnthropicEncoder(request)
    pieces = plan_call(answer)
    frames = encoder.open() + [frame for piece in pieces for frame in encoder.piece(piece)]
    return parse_frames(frames + encoder.finish(count_usage(pieces, request)))


def test_the_sims_tool_call_ids_are_each_conversations_own() -> None:
    """A coding agent's sub-agent is a conversation of its own: its first call's tool ids are not
    its parent's (Claude Code takes a child's call with its parent's id for the parent's own), and
    each request of one conversation names its calls alike."""
    protocol = AnthropicProtocol()
    answer = SimCall(text="x", tool_calls=(SimToolCall("Read", "{}"),))

    def first_id(*messages: dict[str, Any]) -> str:
        request = protocol.parse_request({"model": "m", "max_tokens": 9, "messages": list(messages)}, {})
        return protocol.encoder(Scenario(name="s", calls=(answer,)), request).message(
            answer, SimUsage(1, 1, 0)
        )["content"][-1]["id"]

    parent = {"role": "user", "content": [{"type": "text", "text": "Use a helper agent."}]}
    child = {"role": "user", "content": "Read notes.txt."}
    assert first_id(parent) != first_id(child)
    assert first_id(parent).startswith("toolu_sim0x0_")
    earlier = [{"role": "assistant", "content": "y"}, {"role": "user", "content": "z"}]
    assert first_id(parent, *earlier).split("_")[-1] == first_id(parent).split("_")[-1]


def test_sim_frames_have_the_recorded_keys() -> None:
    answer = SimCall(reasoning="think hard", text="answer", tool_calls=(SimToolCall("f", '{"a": 1}'),))
    frames = encoded_call(answer) + parse_frames(
        AnthropicEncoder(SimRequest(model="m")).error_event("Overloaded")
    )
    seen: set[str] = set()

    def check(key: str, value: dict[str, Any]) -> None:
        assert set(value) == RECORDED_KEYS[key], key
        seen.add(key)

    for name, data in frames:
        assert data["type"] == name
        check(name, data)
        match name:
            case "message_start":
                check("message", data["message"])
                check("message.usage", data["message"]["usage"])
            case "content_block_start":
                check(f"block.{data['content_block']['type']}", data["content_block"])
            case "content_block_delta":
                check(f"delta.{data['delta']['type']}", data["delta"])
            case "message_delta":
                check("message_delta.delta", data["delta"])
                check("message_delta.usage", data["usage"])
            case "error":
                check("error.error", data["error"])
    assert seen == set(RECORDED_KEYS)


def test_sim_frames_come_in_the_recorded_order() -> None:
    """As in the recordings: a ping after the first block opens, the signature last in a thinking block."""
    answer = SimCall(reasoning="a b", text="c", tool_calls=(SimToolCall("f", "{}"), SimToolCall("g", "")))
    frames = encoded_call(answer)
    shape = [
        (name, data.get("index"), (data.get("delta") or data.get("content_block") or {}).get("type"))
        for name, data in frames
    ]
    assert shape == [
        ("message_start", None, None),
        ("content_block_start", 0, "thinking"),
        ("ping", None, None),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "signature_delta"),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, "text"),
        ("content_block_delta", 1, "text_delta"),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, "tool_use"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_stop", 2, None),
        ("content_block_start", 3, "tool_use"),
        ("content_block_delta", 3, "input_json_delta"),
        ("content_block_stop", 3, None),
        ("message_delta", None, None),
        ("message_stop", None, None),
    ]
    blocks = [data["content_block"] for name, data in frames if name == "content_block_start"]
    assert [b["id"] for b in blocks if b["type"] == "tool_use"] == ["toolu_sim0x0", "toolu_sim0x1"]
    assert frames[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert frames[-2][1]["usage"] == {"output_tokens": 4}  # a, b, c and the first call's "{}"


def test_sim_malformed_frame_is_named_and_cut_off() -> None:
    encoder = AnthropicEncoder(SimRequest(model="m"))
    event_line, data_line, *_ = encoder.malformed().decode().split("\n")
    assert event_line == "event: content_block_delta"
    with pytest.raises(json.JSONDecodeError):
        json.loads(data_line.removeprefix("data: "))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": True}, "model"),
        ({"model": "hello", "max_tokens": 5, "stream": True}, "messages"),
        ({"model": "hello", "messages": [{"role": "user", "content": "hi"}], "stream": True}, "max_tokens"),
        (
            {"model": "hello", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": 1},
            "stream",
        ),
    ],
)
async def test_sim_refuses_incomplete_requests_like_the_api(
    sim: SimServer, body: dict[str, Any], words: str
) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.post(sim.url + "/v1/messages", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert words in error["error"]["message"]


@pytest.mark.parametrize(("version", "refused"), [("2026-10-21", True), ("2023-06-01", False)])
def test_sim_refuses_sampling_parameters_from_api_version_2026_10_21(version: str, refused: bool) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "max_tokens": 5, "stream": True}
    body["temperature"] = 1.0
    protocol = AnthropicProtocol()
    if refused:
        with pytest.raises(BadRequest, match="temperature: Extra inputs are not permitted"):
            protocol.parse_request(body, {"anthropic-version": version})
    else:
        assert protocol.parse_request(body, {"anthropic-version": version}).model == "m"


def test_sim_counts_assistant_messages_as_the_calls_answered() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r"}]},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "more"},
    ]
    body = {"model": "m", "messages": messages, "max_tokens": 5, "stream": True}
    assert AnthropicProtocol().parse_request(body, {}).call_index == 2


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_sim_error_bodies_use_anthropic_types(status: int, kind: str) -> None:
    assert AnthropicProtocol().error_body(status, "why") == {
        "type": "error",
        "error": {"type": kind, "message": "why"},
    }


async def test_an_unseen_claude_5_model_is_asked_for_its_familys_output_limit_not_8192() -> None:
    """Thinking counts towards `max_tokens`: 8,192 would cut a Claude 5 model's answer short."""
    async with SimServer(ScenarioLibrary(extra_dirs=()), models=ModelMap((), unknown="hello")) as sim:
        adapter = AnthropicProvider(config(sim.url))
        try:
            out = await collect(adapter, ask("claude-opus-5-7"))
        finally:
            await adapter.aclose()
    assert out.error is None
    assert sim.log[0].body["max_tokens"] == 128_000
