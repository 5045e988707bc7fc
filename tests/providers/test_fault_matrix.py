"""What every adapter must do the same way, checked against each of them through the sim server.

The sim speaks each wire format from one set of scenarios, so one test per behaviour runs for all four
adapters. The few ways they legitimately differ are in `ADAPTERS`; what only one adapter does (the
request it sends, its SDK's exceptions, the agent's reconnects) is tested in that adapter's own file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.events import (
    CallEnded,
    ErrorKind,
    Event,
    ReasoningDelta,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    Usage,
)
from lfgtui.providers.base import Provider
from lfgtui.sim.server import SimServer
from tests.support.adapters import ADAPTERS, Adapter
from tests.support.streams import ask, collect, write_scenario

every_adapter = pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
model_apis = pytest.mark.parametrize(
    "adapter", [a for a in ADAPTERS if not a.runs_tools], ids=lambda a: a.name
)


@pytest.fixture
async def provider(adapter: Adapter, sim: SimServer) -> AsyncIterator[Provider]:
    made = adapter.make(sim.url)
    yield made
    await made.aclose()


def event_types(events: list[Event]) -> list[type[Event]]:
    return [type(e) for e in events]


@every_adapter
async def test_text_and_usage(adapter: Adapter, provider: Provider, sim: SimServer) -> None:
    out = await collect(provider, ask("hello"))
    assert out.error is None
    assert out.text == "Hello! I am the **lfg simulator**, answering offline over a real HTTP stream."
    usages = out.of(Usage)
    assert len(usages) == 1 + adapter.opening.count(Usage)
    usage = usages[-1]
    assert usage.output_tokens == len(out.of(TextDelta))
    assert usage.input_tokens and usage.input_tokens > 0
    assert usage.reasoning_tokens == (0 if adapter.counts_reasoning else None)
    assert out.of(CallEnded)[0].stop_reason == "stop"
    assert isinstance(out.events[-1], CallEnded)
    assert len(sim.log) == 1


@every_adapter
async def test_reasoning_comes_before_the_answer_and_counts_as_output(
    adapter: Adapter, provider: Provider
) -> None:
    out = await collect(provider, ask("reasoning"))
    assert out.error is None
    assert out.reasoning.startswith("The user asks for the greatest common divisor")
    assert out.reasoning.endswith("So the answer is 21.")
    assert out.text == "The greatest common divisor of 1071 and 462 is **21**."
    kinds = [type(e) for e in out.events if isinstance(e, ReasoningDelta | TextDelta)]
    assert kinds == sorted(kinds, key=lambda k: k is TextDelta)  # all reasoning comes before the answer
    usage = out.of(Usage)[-1]
    assert usage.output_tokens == len(kinds)
    assert usage.reasoning_tokens == (len(out.of(ReasoningDelta)) if adapter.counts_reasoning else None)


@model_apis
async def test_parallel_tool_calls_are_rebuilt_and_never_leak_as_text(
    adapter: Adapter, provider: Provider
) -> None:
    out = await collect(provider, ask("parallel-tools"))
    ready = out.of(ToolCallReady)
    assert [(c.call_id, c.name, c.arguments, c.error) for c in ready] == [
        (adapter.call_id(0), "get_weather", {"city": "Paris", "units": "celsius"}, None),
        (adapter.call_id(1), "get_weather", {"city": "Tokyo", "units": "celsius"}, None),
    ]
    assert [s.call_id for s in out.of(ToolCallStarted)] == [c.call_id for c in ready]
    for call in ready:
        fragments = [d.fragment for d in out.of(ToolCallArgsDelta) if d.call_id == call.call_id]
        assert all(fragments)
        assert "".join(fragments) == call.raw_arguments
    assert out.text == "I'll check both cities at once."
    assert "{" not in out.text
    assert out.reasoning == ""
    assert out.of(CallEnded)[0].stop_reason == "tool_calls"


@every_adapter
async def test_invalid_tool_json_is_reported_on_the_call(adapter: Adapter, provider: Provider) -> None:
    out = await collect(provider, ask("bad-tool-json"))
    assert out.error is None
    (call,) = out.of(ToolCallReady)
    assert (call.call_id, call.name) == (adapter.call_id(0), "read_file")
    assert call.raw_arguments == '{"path": "README.md"'
    assert call.arguments == {}
    assert call.error and call.error.startswith("tool arguments are not valid JSON")
    assert [s.call_id for s in out.of(ToolCallStarted)] == [call.call_id]
    fragments = "".join(d.fragment for d in out.of(ToolCallArgsDelta))
    assert fragments == ("" if adapter.runs_tools else call.raw_arguments)  # an agent sends whole calls
    if not adapter.runs_tools:  # the agent runs the call and goes on (see test_sse_agent.py)
        assert out.text == ""
        assert out.of(CallEnded)[0].stop_reason == "tool_calls"


HTTP_FAULTS = [
    ("fault-401", ErrorKind.AUTH, 401, "Incorrect API key"),
    ("fault-403", ErrorKind.AUTH, 403, "do not have access"),
    ("fault-404", ErrorKind.NOT_FOUND, 404, "does not exist"),
    ("fault-400", ErrorKind.BAD_REQUEST, 400, "maximum context length"),
    ("fault-500", ErrorKind.SERVER, 500, "server had an error"),
    ("fault-502", ErrorKind.SERVER, 502, "Bad gateway"),
    ("fault-503", ErrorKind.SERVER, 503, "overloaded"),
    ("fault-529", ErrorKind.OVERLOADED, 529, "Overloaded"),
    ("no-such-scenario", ErrorKind.NOT_FOUND, 404, "unknown sim model"),
]


@every_adapter
@pytest.mark.parametrize(("model", "kind", "status", "words"), HTTP_FAULTS)
async def test_http_errors_are_classified_with_the_providers_message(
    provider: Provider, sim: SimServer, model: str, kind: ErrorKind, status: int, words: str
) -> None:
    out = await collect(provider, ask(model))
    assert out.error is not None
    assert (out.error.kind, out.error.status) == (kind, status)
    assert words in out.error.message
    assert "Error code" not in out.error.message  # the provider's words, not an SDK's wrapper
    assert out.events == []
    assert len(sim.log) == 1  # no retries of its own: retrying is the caller's decision


@model_apis
async def test_a_404_for_a_shut_down_model_names_its_shutdown_and_replacement(
    adapter: Adapter, provider: Provider
) -> None:
    """The APIs answer a shut-down model as an unknown one (404 `model_not_found`): lfg adds what its
    table knows, so the person reads why and what to use instead, not an opaque 404 (o1 shut down
    on 2026-10-23, OpenAI naming gpt-5.6-sol)."""
    out = await collect(provider, ask("o1"))
    assert out.error is not None and out.error.status == 404
    own = {"anthropic": "model: o1 ("}.get(
        adapter.name, "The model `o1` does not exist or you do not have access to it. ("
    )
    assert out.error.message.startswith(own), "the API's own words first, then the sim's"
    assert "unknown sim model 'o1'" in out.error.message
    assert "model 'o1' was retired on 2026-10-23: use 'gpt-5.6-sol' instead" in out.error.message
    not_yet = await collect(provider, ask("gpt-4.1-mini"))  # shuts down 2027-01-14: not why it 404s
    assert not_yet.error is not None and not_yet.error.status == 404
    assert "retire" not in not_yet.error.message


@every_adapter
async def test_rate_limit_carries_retry_after(provider: Provider) -> None:
    first = await collect(provider, ask("fault-429"))
    assert first.error is not None
    assert (first.error.kind, first.error.status, first.error.retry_after) == (
        ErrorKind.RATE_LIMITED,
        429,
        1.0,
    )
    assert first.error.retryable
    assert first.events == []
    second = await collect(provider, ask("fault-429"))
    assert second.error is None
    assert second.text == "Worth the wait: this answer came after a rate limit."


MID_STREAM_FAULTS = [
    ("fault-drop", "This answer will be cut off part of"),
    ("fault-error-event", "Half of this answer arrives before"),
    ("fault-malformed", "A few words arrive"),
]


@pytest.mark.parametrize(
    ("adapter", "model", "kept"),
    [
        pytest.param(adapter, model, kept, id=f"{model}-{adapter.name}")
        for adapter in ADAPTERS
        for model, kept in MID_STREAM_FAULTS
        if not (model == "fault-drop" and adapter.resumes)
    ],
)
async def test_mid_stream_failures_keep_the_text_received(
    adapter: Adapter, provider: Provider, sim: SimServer, model: str, kept: str
) -> None:
    out = await collect(provider, ask(model))
    assert out.error is not None
    kind, message = {
        "fault-drop": (ErrorKind.CONNECTION, "connection failed: peer closed connection"),
        "fault-error-event": (adapter.error_event, "Overloaded"),
        "fault-malformed": (ErrorKind.MALFORMED, "the provider sent a chunk that is not valid JSON"),
    }[model]
    assert out.error.kind is kind
    assert out.error.message.startswith(message)
    assert out.error.status is None
    assert out.text == kept
    opening = len(adapter.opening)
    assert event_types(out.events[:opening]) == list(adapter.opening)
    assert set(event_types(out.events[opening:])) == {TextDelta}  # nothing after the text: no usage, no end
    assert len(sim.log) == 1


@every_adapter
async def test_in_band_error_from_a_scenario_file_keeps_its_message(
    adapter: Adapter, provider: Provider, scenario_dir: Path
) -> None:
    model = write_scenario(
        scenario_dir,
        "quota",
        '[[call]]\ntext = "one two three"\n[[fault]]\nkind = "error_event"\nafter_tokens = 1\n'
        'message = "You exceeded your current quota"\n',
    )
    out = await collect(provider, ask(model))
    assert out.error is not None
    assert (out.error.kind, out.error.message) == (adapter.error_event, "You exceeded your current quota")
    assert out.text == "one"


@every_adapter
async def test_stall_hits_the_idle_timeout(adapter: Adapter, sim: SimServer) -> None:
    stalled = adapter.make(sim.url, idle_timeout_s=0.5)
    out = await collect(stalled, ask("fault-stall"))
    await stalled.aclose()
    assert out.error is not None
    assert (out.error.kind, out.error.message) == (
        ErrorKind.TIMEOUT,
        "no data from the provider within the idle timeout",
    )
    assert out.text == "These first words arrive and"
    assert not out.of(CallEnded)
    assert len(sim.log) == 1


@every_adapter
async def test_keepalive_comments_are_ignored(adapter: Adapter, provider: Provider) -> None:
    out = await collect(provider, ask("keepalive"))
    assert out.error is None
    assert out.text == "Heartbeats kept the connection alive while I was thinking."
    assert set(event_types(out.events)) == {*adapter.opening, Usage, TextDelta, CallEnded}


@every_adapter
async def test_connection_refused_is_a_connection_error(adapter: Adapter) -> None:
    refused = adapter.make("http://127.0.0.1:9")
    out = await collect(refused, ask("hello"))
    await refused.aclose()
    assert out.error is not None
    assert out.error.kind is ErrorKind.CONNECTION
    assert out.error.message.startswith("connection failed: ")
    assert out.events == []
