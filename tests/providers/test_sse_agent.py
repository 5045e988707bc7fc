"""The generic agent SSE adapter against the sim's `/agent` endpoint and a few hand-written servers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.events import (
    CallEnded,
    ErrorKind,
    EventFactory,
    Status,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
)
from lfgtui.providers.base import (
    AssistantMessage,
    ModelCall,
    ProviderConfig,
    ProviderError,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from lfgtui.providers.sse import AgentSSEProvider, agent_events
from lfgtui.sim.protocols.agent import AgentEncoder, AgentProtocol
from lfgtui.sim.scenario import FaultKind, ScenarioLibrary
from lfgtui.sim.server import SimServer
from lfgtui.sim.wire import BadRequest, Piece, PieceKind, SimRequest, SimUsage, estimate_input_tokens
from tests.support.fleet import until
from tests.support.streams import CannedServer, ask, collect

FAST = (0.01, 0.01, 0.01)


def agent(url: str, **fields: object) -> AgentSSEProvider:
    config = ProviderConfig(name="agent", kind="sse", base_url=url, **fields)  # type: ignore[arg-type]
    return AgentSSEProvider(config, reconnect_delays_s=FAST)


@pytest.fixture
async def provider(sim: SimServer) -> AsyncIterator[AgentSSEProvider]:
    adapter = agent(sim.url + "/agent")
    yield adapter
    await adapter.aclose()


def scenario_text(name: str) -> tuple[str, str]:
    """(reasoning, text) the agent streams for a shipped scenario: its model calls, a paragraph apart."""
    calls = ScenarioLibrary(extra_dirs=()).resolve(name).calls
    return (
        "\n\n".join(c.reasoning for c in calls if c.reasoning),
        "\n\n".join(c.text for c in calls if c.text),
    )


async def test_a_whole_agent_run_streams_as_one_call(provider: AgentSSEProvider, sim: SimServer) -> None:
    out = await collect(provider, ask("agent-demo:tokens_per_s=1000,ttft_ms=20"))
    assert out.error is None
    reasoning, text = scenario_text("agent-demo")
    assert (out.reasoning, out.text) == (reasoning, text)
    assert [s.message for s in out.of(Status)] == ["agent started"]
    ready = out.of(ToolCallReady)
    assert [(c.name, c.arguments, c.error) for c in ready] == [
        ("list_dir", {"path": "."}, None),
        ("read_file", {"path": "README.md"}, None),
    ]
    assert [s.call_id for s in out.of(ToolCallStarted)] == [c.call_id for c in ready]
    results = out.of(ToolResult)
    assert [r.call_id for r in results] == [c.call_id for c in ready]
    assert results[1].output.startswith("# Widget") and not results[1].is_error
    kinds = [type(e).__name__ for e in out.events if not isinstance(e, TextDelta | Status)]
    assert kinds[-2:] == ["Usage", "CallEnded"]
    assert kinds.index("ToolResult") > kinds.index("ToolCallReady")
    usage = out.of(Usage)[-1]
    assert usage.input_tokens and usage.output_tokens and usage.reasoning_tokens
    assert out.of(CallEnded)[0].stop_reason == "stop"
    assert len(sim.log) == 1


async def test_usage_may_say_which_parts_of_the_prompt_were_cached(
    provider: AgentSSEProvider, sim: SimServer
) -> None:
    out = await collect(provider, ask("hello:cache_read_tokens=1200,cache_write_tokens=300"))
    assert out.error is None
    (usage,) = out.of(Usage)
    prompt = estimate_input_tokens(sim.log[0].body) + 1200 + 300
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (prompt, 1200, 300)
    plain = await collect(provider, ask("hello"))
    assert (plain.of(Usage)[0].cache_read_tokens, plain.of(Usage)[0].cache_write_tokens) == (None, None)


async def test_parallel_tool_calls_and_their_results(provider: AgentSSEProvider) -> None:
    out = await collect(provider, ask("parallel-tools"))
    calls = {c.call_id: c.arguments["city"] for c in out.of(ToolCallReady)}
    results = {r.call_id: r.output for r in out.of(ToolResult)}
    assert len(calls) == 2 and calls.keys() == results.keys()
    assert all(results[call_id].startswith(city) for call_id, city in calls.items())
    assert out.text == scenario_text("parallel-tools")[1]


async def test_a_call_with_bad_json_gets_an_error_result_and_the_run_goes_on(
    provider: AgentSSEProvider,
) -> None:
    """How the call itself is reported is in test_fault_matrix.py."""
    out = await collect(provider, ask("bad-tool-json"))
    (call,) = out.of(ToolCallReady)
    (result,) = out.of(ToolResult)
    assert result.call_id == call.call_id
    assert result.is_error
    assert out.text == scenario_text("bad-tool-json")[1]
    assert out.of(CallEnded)[0].stop_reason == "stop"


async def test_the_request_carries_prompt_conversation_and_key(sim: SimServer) -> None:
    adapter = agent(sim.url + "/agent", api_key="sk-agent")
    call = ToolCall("c1", "list_dir", {"path": "."}, '{"path": "."}')
    conversation = ModelCall(
        model="hello",
        system="Be brief.",
        messages=(
            UserMessage("What is here?"),
            AssistantMessage(text="Looking.", tool_calls=(call,)),
            ToolResultMessage("c1", "list_dir", "README.md"),
            UserMessage("And now?"),
        ),
        temperature=0.5,
    )
    out = await collect(adapter, conversation)
    await adapter.aclose()
    assert out.error is None
    record = sim.log[0]
    assert record.headers["accept"] == "text/event-stream"
    assert record.headers["authorization"] == "Bearer sk-agent"
    assert "last-event-id" not in record.headers
    assert record.body == {
        "model": "hello",
        "prompt": "And now?",
        "system": "Be brief.",
        "temperature": 0.5,
        "messages": [
            {"role": "user", "content": "What is here?"},
            {
                "role": "assistant",
                "content": "Looking.",
                "tool_calls": [{"id": "c1", "name": "list_dir", "arguments": {"path": "."}}],
            },
            {
                "role": "tool",
                "tool_call_id": "c1",
                "name": "list_dir",
                "content": "README.md",
                "is_error": False,
            },
            {"role": "user", "content": "And now?"},
        ],
    }


async def test_a_dropped_stream_resumes_after_the_last_event_seen(
    provider: AgentSSEProvider, sim: SimServer
) -> None:
    out = await collect(provider, ask("agent-reconnect"))
    assert out.error is None
    reasoning, text = scenario_text("agent-reconnect")
    assert (out.reasoning, out.text) == (reasoning, text)
    assert len(out.of(ToolCallReady)) == len(out.of(ToolResult)) == 1
    assert len(out.of(CallEnded)) == 1
    assert [s.message for s in out.of(Status)] == ["agent started", "connection lost; reconnecting (1/3)"]
    first, second = sim.log
    assert first.fault is FaultKind.DROP and "last-event-id" not in first.headers
    # status 1, 14 reasoning tokens, 6 text tokens, the call, its result, 6 answer tokens: id 29
    assert second.headers["last-event-id"] == "29"
    assert second.fault is None and second.ended_at is not None


async def test_a_drop_at_the_same_place_every_time_gives_up_keeping_the_text(
    provider: AgentSSEProvider, sim: SimServer
) -> None:
    out = await collect(provider, ask("fault-drop"))
    assert out.error is not None
    assert out.error.kind is ErrorKind.CONNECTION
    assert "gave up after 3 reconnects" in out.error.message
    assert out.text == "This answer will be cut off part of"
    assert [s.message for s in out.of(Status)][1:] == [
        f"connection lost; reconnecting ({n}/3)" for n in (1, 2, 3)
    ]
    assert len(sim.log) == 4
    assert [r.headers.get("last-event-id") for r in sim.log] == [None, "9", "9", "9"]
    assert not out.of(CallEnded)


async def test_cancelling_closes_the_connection(provider: AgentSSEProvider, sim: SimServer) -> None:
    stream = provider.stream(ask("long-answer:repeat=50"), EventFactory("t", 1))
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()
    record = sim.log[0]
    await until(lambda: record.disconnected_at is not None, 10)
    assert record.disconnected_at is not None and record.ended_at is None


def test_config_without_a_url_is_refused() -> None:
    with pytest.raises(ValueError, match="needs base_url"):
        AgentSSEProvider(ProviderConfig(name="mine", kind="sse"))


# A hand-written agent (the `canned` server): the tests control every byte.


def frames(*events: dict[str, object], first_id: int | None = 1) -> bytes:
    out = b""
    for offset, data in enumerate(events):
        head = f"id: {first_id + offset}\n" if first_id is not None else ""
        out += f"{head}data: {json.dumps(data)}\n\n".encode()
    return out


async def test_unknown_event_types_and_fields_are_ignored(canned: CannedServer) -> None:
    canned.bodies = [
        b": a comment\n\n"
        + frames(
            {"type": "plan", "steps": ["look", "answer"]},
            {"type": "token", "text": "ok", "confidence": 0.9},
            {"type": "done", "stop_reason": "end_turn"},
        )
    ]
    out = await collect(agent(canned.url + "/run"), ask("any"))
    assert out.error is None
    assert out.text == "ok"
    assert [type(e) for e in out.events] == [TextDelta, CallEnded]
    assert out.of(CallEnded)[0].stop_reason == "end_turn"


async def test_the_example_stream_in_the_docs_is_understood(canned: CannedServer) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "agent-protocol.md").read_text(encoding="utf-8")
    example = doc.split("```text\n")[1].split("```")[0]
    canned.bodies = [example.encode() + b"\n"]  # the blank line that ends the last event
    out = await collect(agent(canned.url + "/run"), ask("any"))
    assert out.error is None
    assert out.text == "Let me look.\n\nThis project renders widgets."
    assert [type(e).__name__ for e in out.events] == [
        "Status",
        "ReasoningDelta",
        "TextDelta",
        "ToolCallStarted",
        "ToolCallReady",
        "ToolResult",
        "TextDelta",
        "Usage",
        "CallEnded",
    ]


async def test_a_server_that_replays_from_the_start_is_not_shown_twice(canned: CannedServer) -> None:
    tokens = [{"type": "token", "text": t} for t in ("one ", "two ", "three")]
    canned.bodies = [frames(*tokens[:2]), frames(*tokens, {"type": "done"})]
    out = await collect(agent(canned.url + "/run"), ask("any"))
    assert out.error is None
    assert out.text == "one two three"
    assert canned.headers[1]["last-event-id"] == "2"


async def test_a_drop_without_event_ids_cannot_resume(canned: CannedServer) -> None:
    canned.bodies = [frames({"type": "token", "text": "partial"}, first_id=None)]
    out = await collect(agent(canned.url + "/run"), ask("any"))
    assert out.error is not None
    assert out.error.kind is ErrorKind.CONNECTION
    assert out.text == "partial"
    assert len(canned.headers) == 1 and not out.of(Status)


async def test_a_success_that_is_not_an_event_stream_is_malformed(canned: CannedServer) -> None:
    canned.content_type = "application/json"
    canned.bodies = [b'{"answer": "not streamed"}']
    out = await collect(agent(canned.url + "/run"), ask("any"))
    assert out.error is not None
    assert out.error.kind is ErrorKind.MALFORMED
    assert "application/json" in out.error.message


@pytest.mark.parametrize(
    "data",
    [
        {"type": "token"},
        {"type": "token", "text": 3},
        {"type": "tool_call", "name": "x"},
        {"text": "no type"},
        ["not", "an", "object"],
    ],
)
def test_events_of_the_wrong_shape_are_malformed(data: object) -> None:
    with pytest.raises(ProviderError) as caught:
        agent_events(data, EventFactory("t", 1))
    assert caught.value.info.kind is ErrorKind.MALFORMED


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("output_tokens", "many", 'output_tokens = "many": not a number'),
        ("cache_read_tokens", 2.5, "cache_read_tokens = 2.5: not a whole number"),
        ("cache_write_tokens", True, "cache_write_tokens = true: not a number"),
        ("output_tokens", -3, "output_tokens = -3: negative"),
        ("reasoning_tokens", 2**70, "reasoning_tokens = 1180591620717411303424: more than"),
    ],
)
def test_a_usage_count_of_the_wrong_shape_is_ignored_saying_so(name: str, value: object, said: str) -> None:
    """The call goes on: the field is left to lfg's estimate and a status names it."""
    status, usage = agent_events({"type": "usage", "input_tokens": 9, name: value}, EventFactory("t", 1))
    assert isinstance(status, Status) and said in status.message
    assert isinstance(usage, Usage) and usage.input_tokens == 9
    assert getattr(usage, name) is None


def test_tool_call_arguments_may_be_an_object_or_json_text() -> None:
    ev = EventFactory("t", 1)
    as_text = agent_events({"type": "tool_call", "id": "a", "name": "f", "arguments": '{"x": 1}'}, ev)[1]
    as_list = agent_events({"type": "tool_call", "id": "b", "name": "f", "arguments": [1]}, ev)[1]
    missing = agent_events({"type": "tool_call", "id": "c", "name": "f"}, ev)[1]
    assert isinstance(as_text, ToolCallReady) and as_text.arguments == {"x": 1} and as_text.error is None
    assert isinstance(as_list, ToolCallReady) and as_list.error and "got list" in as_list.error
    assert isinstance(missing, ToolCallReady) and (missing.arguments, missing.error) == ({}, None)


def test_an_error_event_is_a_stream_error_with_its_code() -> None:
    with pytest.raises(ProviderError) as caught:
        agent_events({"type": "error", "message": "quota exceeded", "code": "quota"}, EventFactory("t", 1))
    assert caught.value.info.kind is ErrorKind.STREAM_ERROR
    assert caught.value.info.message == "quota exceeded (quota)"


def test_unknown_types_map_to_nothing() -> None:
    assert agent_events({"type": "heartbeat"}, EventFactory("t", 1)) == []


# The sim side of the protocol.


def test_the_encoder_numbers_events_and_skips_those_already_seen() -> None:
    scenario = ScenarioLibrary(extra_dirs=()).resolve("hello")
    pieces = [Piece(PieceKind.TEXT, "a"), Piece(PieceKind.TEXT, "b")]

    def ids(resume_after: int | None) -> list[str]:
        encoder = AgentEncoder(scenario, SimRequest("hello", resume_after=resume_after))
        written = encoder.open() + [f for p in pieces for f in encoder.piece(p)]
        written += encoder.finish(SimUsage(1, 2, 0))
        return [f.decode().split("\n")[0] for f in written]

    assert ids(None) == ["id: 1", "id: 2", "id: 3", "id: 4", "id: 5"]
    assert ids(3) == ["id: 4", "id: 5"]


@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        ({"prompt": "hi"}, {}, "'model'"),
        ({"model": "hello"}, {}, "'prompt'"),
        ({"model": "hello", "prompt": "hi"}, {"last-event-id": "abc"}, "Last-Event-ID"),
    ],
)
def test_the_sim_refuses_bad_requests(body: dict[str, object], headers: dict[str, str], words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        AgentProtocol().parse_request(body, headers)


def test_the_sim_reads_last_event_id() -> None:
    request = AgentProtocol().parse_request({"model": "hello", "prompt": "hi"}, {"last-event-id": " 12 "})
    assert request.resume_after == 12
