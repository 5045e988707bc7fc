"""Stop reasons through the tool loop, each wire format's real SDK reading the sim's real shapes: a
refusal, a content filter, a full context window and the output token limit end the attempt early,
failed with a kind of their own and what arrived kept; a paused turn is sent back and goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfgtui.events import (
    AttemptEnded,
    CallEnded,
    ErrorKind,
    Event,
    EventFactory,
    Outcome,
    RequestSent,
    TextDelta,
    ToolCallReady,
    ToolResult,
)
from lfgtui.run.retry import RetryPolicy
from lfgtui.run.tool_loop import AttemptTask, run_tool_loop
from lfgtui.sim.server import SimServer
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tools.base import ToolContext
from lfgtui.tools.toolbox import Toolbox
from tests.support.adapters import ADAPTERS, Adapter
from tests.support.run import Sleeps
from tests.support.streams import ask, write_scenario

MODEL_APIS = {adapter.name: adapter for adapter in ADAPTERS if not adapter.runs_tools}
REFUSAL = "I can't help with that request."


async def attempt(
    adapter: Adapter, sim: SimServer, task: AttemptTask, toolbox: Toolbox | None = None
) -> list[Event]:
    provider = adapter.make(sim.url)
    try:
        stream = run_tool_loop(
            provider, task, EventFactory("t", 1), toolbox, RetryPolicy(max_retries=0), Sleeps()
        )
        return [event async for event in stream]
    finally:
        await provider.aclose()


def stopping(scenario_dir: Path, stop_reason: str, text: str = "The answer begins, and then") -> str:
    toml = (
        f'ttft_ms = 0\ntokens_per_s = 0\n[[call]]\ntext = {json.dumps(text)}\nstop_reason = "{stop_reason}"\n'
    )
    return write_scenario(scenario_dir, stop_reason.replace("_", "-"), toml)


def ended(events: list[Event]) -> AttemptEnded:
    last = events[-1]
    assert isinstance(last, AttemptEnded)
    return last


def text(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("wire", ["anthropic", "chat", "responses"])
async def test_a_refusal_is_its_own_ending_showing_what_the_model_said(
    wire: str, sim: SimServer, scenario_dir: Path
) -> None:
    events = await attempt(
        MODEL_APIS[wire], sim, AttemptTask(ask(stopping(scenario_dir, "refusal", REFUSAL)))
    )
    end = ended(events)
    assert end.outcome is Outcome.FAILED and end.error is not None
    assert end.error.kind is ErrorKind.REFUSED
    assert "refused" in end.error.message
    assert text(events) == REFUSAL, "the refusal's words are the answer shown"
    assert [e.stop_reason for e in events if isinstance(e, CallEnded)] == ["refusal"]


@pytest.mark.parametrize(
    ("wire", "stop_reason", "kind"),
    [
        ("chat", "content_filter", ErrorKind.CONTENT_FILTER),
        ("responses", "content_filter", ErrorKind.CONTENT_FILTER),
        ("anthropic", "content_filter", ErrorKind.REFUSED),  # the Messages API's classifiers end `refusal`
        ("anthropic", "model_context_window_exceeded", ErrorKind.CONTEXT_WINDOW),
        ("chat", "model_context_window_exceeded", ErrorKind.MAX_TOKENS),  # `length`: the wire cannot tell
        ("responses", "model_context_window_exceeded", ErrorKind.MAX_TOKENS),
    ],
)
async def test_a_filter_or_a_full_context_window_ends_the_attempt_keeping_what_arrived(
    wire: str, stop_reason: str, kind: ErrorKind, sim: SimServer, scenario_dir: Path
) -> None:
    events = await attempt(MODEL_APIS[wire], sim, AttemptTask(ask(stopping(scenario_dir, stop_reason))))
    end = ended(events)
    assert (end.outcome, end.error and end.error.kind) == (Outcome.FAILED, kind)
    assert text(events) == "The answer begins, and then"


@pytest.mark.parametrize("wire", ["anthropic", "chat", "responses"])
@pytest.mark.parametrize("max_tokens", [None, 40])
async def test_an_answer_cut_at_max_tokens_is_no_completion_and_says_how_to_get_it_whole(
    wire: str, max_tokens: int | None, sim: SimServer, scenario_dir: Path
) -> None:
    call = ask(stopping(scenario_dir, "max_tokens"), max_tokens=max_tokens)
    events = await attempt(MODEL_APIS[wire], sim, AttemptTask(call))
    end = ended(events)
    assert (end.outcome, end.error and end.error.kind) == (Outcome.FAILED, ErrorKind.MAX_TOKENS)
    assert end.error is not None
    assert "what arrived is kept" in end.error.message
    assert end.error.message.endswith("max_tokens, up to the model's output limit")
    assert ("max_tokens (40 tokens)" in end.error.message) is (max_tokens == 40)
    assert text(events) == "The answer begins, and then"


async def never_asked(call: ToolCallReady) -> str | None:
    raise AssertionError(f"{call.name} needs no approval")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path.resolve()


async def test_a_tool_call_cut_at_max_tokens_is_not_run(
    sim: SimServer, scenario_dir: Path, workdir: Path
) -> None:
    toml = (
        'ttft_ms = 0\ntokens_per_s = 0\n[[call]]\nstop_reason = "max_tokens"\n'
        '[[call.tool_call]]\nname = "read_file"\narguments_raw = \'{"path": "READ\'\n'
        '[[call]]\ntext = "never asked"\n'
    )
    toolbox = Toolbox(BUILTIN_TOOLS, ToolContext(workdir=workdir, env={}), never_asked)
    task = AttemptTask(ask(write_scenario(scenario_dir, "cut-call", toml)))
    events = await attempt(MODEL_APIS["anthropic"], sim, task, toolbox)
    assert ended(events).error is not None and ended(events).error.kind is ErrorKind.MAX_TOKENS
    assert not [e for e in events if isinstance(e, ToolResult)]
    assert len(sim.log) == 1


PAUSED = (
    'ttft_ms = 0\ntokens_per_s = 0\n[[call]]\ntext = "Let me search for that. "\nstop_reason = "pause_turn"\n'
    '[[call]]\ntext = "Found it: {{ prompt }}."\n'
)


async def test_a_paused_turn_is_sent_back_and_goes_on_to_complete(sim: SimServer, scenario_dir: Path) -> None:
    model = write_scenario(scenario_dir, "paused", PAUSED)
    events = await attempt(MODEL_APIS["anthropic"], sim, AttemptTask(ask(model, "the widget")))
    assert ended(events).outcome is Outcome.COMPLETED
    assert [e.stop_reason for e in events if isinstance(e, CallEnded)] == ["pause_turn", "stop"]
    assert [e.call for e in events if isinstance(e, RequestSent)] == [0, 1]
    assert text(events) == "Let me search for that. Found it: the widget."
    resent = sim.log[1].body["messages"]
    assert resent == [
        {"role": "user", "content": "the widget"},
        {"role": "assistant", "content": [{"type": "text", "text": "Let me search for that. "}]},
    ], "the paused turn goes back as it came, last, for the model to go on"


async def test_a_paused_turn_counts_against_max_calls(sim: SimServer, scenario_dir: Path) -> None:
    model = write_scenario(scenario_dir, "paused", PAUSED)
    events = await attempt(MODEL_APIS["anthropic"], sim, AttemptTask(ask(model), max_calls=1))
    end = ended(events)
    assert (end.outcome, end.error and end.error.kind) == (Outcome.FAILED, ErrorKind.MAX_CALLS)
    assert end.error is not None and "paused (pause_turn)" in end.error.message
    assert len(sim.log) == 1
