"""Today's reasoning models through each adapter: the reasoning state one call of a tool loop got
comes back, as it came, in the next, whichever API and flavour (the sim refuses what the real APIs
refuse: sim/reasoning_rules.py), live, after the history, and not to another model."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.conversation import conversation_of
from lfgtui.events import (
    CallEnded,
    Outcome,
    ReasoningDelta,
    Status,
    Usage,
)
from lfgtui.providers.anthropic import AnthropicProvider
from lfgtui.providers.base import (
    AssistantMessage,
    ModelCall,
    UserMessage,
)
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.providers.openai_responses import OpenAIResponsesProvider
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from tests.support.reasoning import OFFERED, Flavour, attempt, ended, provider
from tests.support.recording import recorded_and_rebuilt

FLAVOURS = [
    Flavour("anthropic", "claude-sonnet-5-5", AnthropicProvider, "anthropic", ""),
    Flavour("anthropic-opus", "claude-opus-4-7", AnthropicProvider, "anthropic", ""),
    Flavour("openai", "gpt-6-luna", OpenAIResponsesProvider, "openai-responses", "/v1"),
    Flavour("deepseek", "deepseek-v4-pro", OpenAIChatProvider, "openai", "/v1"),
    Flavour("gemini", "gemini-3-pro", OpenAIChatProvider, "openai", "/v1"),
]


@pytest.fixture
async def sim(scenario_dir: Path) -> SimServer:  # type: ignore[misc]
    """The sim answering today's model names with a model that thinks and calls a tool."""
    rules = tuple(ModelRule(f.model, "think-tools") for f in FLAVOURS)
    async with SimServer(ScenarioLibrary(extra_dirs=(scenario_dir,)), models=ModelMap(rules)) as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("Ship on Friday.\n")
    return tmp_path


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: f.name)
async def test_a_tool_loop_sends_each_calls_reasoning_back_as_it_came(
    flavour: Flavour, sim: SimServer, workdir: Path
) -> None:
    ask = ModelCall(model=flavour.model, messages=(UserMessage("What do the notes say?"),), tools=OFFERED)
    events = await attempt(provider(flavour, sim), ask, workdir)
    assert ended(events).outcome is Outcome.COMPLETED, ended(events).error
    assert "Ship on Friday." in "".join(
        getattr(e, "text", "") for e in events if type(e).__name__ == "TextDelta"
    )
    second = sim.log[-1]
    assert second.status == 200 and second.call_index == 1
    assert second.replay is not None and second.replay.expected == 1 and second.replay.whole, second.replay
    turns = [e.turn for e in events if isinstance(e, CallEnded)]
    assert all(turn is not None for turn in turns), "each call's reasoning state is kept"
    if flavour.kind == "anthropic":  # its count holds the whole thinking, which it does not split out
        assert all(u.output_unseen for u in events if isinstance(u, Usage) and u.output_tokens)


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: f.name)
async def test_a_follow_up_after_the_history_sends_the_recorded_reasoning_back(
    flavour: Flavour, sim: SimServer, workdir: Path, tmp_path: Path
) -> None:
    """`continue`, `lfg resume`, fork and review `--send` all send the conversation rebuilt from the
    history: it carries each answer's reasoning state as the live one did."""
    ask = ModelCall(model=flavour.model, messages=(UserMessage("What do the notes say?"),), tools=OFFERED)
    live = await attempt(provider(flavour, sim), ask, workdir)
    rebuilt = recorded_and_rebuilt(tmp_path / "h.sqlite3", tmp_path, live)
    assert conversation_of(rebuilt) == conversation_of(live)
    answers = [m for m in conversation_of(rebuilt) if isinstance(m, AssistantMessage)]
    assert len(answers) == 2 and all(m.turn is not None for m in answers)
    follow_up = ModelCall(
        model=flavour.model, messages=(UserMessage("And read them once more?"),), tools=OFFERED
    )
    again = await attempt(provider(flavour, sim), follow_up, workdir, conversation_of(rebuilt))
    assert ended(again).outcome is Outcome.COMPLETED, ended(again).error
    assert all(r.status == 200 for r in sim.log)
    replays = [r.replay for r in sim.log[2:]]
    assert all(r is not None and r.whole for r in replays), replays
    assert not [e for e in again if isinstance(e, Status)], "nothing was left behind"


async def test_another_model_gets_the_text_and_tool_calls_and_the_attempt_says_its_reasoning_stayed(
    sim: SimServer, workdir: Path
) -> None:
    """A conversation moved to another provider or model (a fallback, a fork to another model): the
    opaque parts are dropped, not rebuilt, and the pane says so."""
    claude, deepseek = FLAVOURS[0], FLAVOURS[3]
    ask = ModelCall(model=claude.model, messages=(UserMessage("What do the notes say?"),), tools=OFFERED)
    first = await attempt(provider(claude, sim), ask, workdir)
    follow_up = ModelCall(model=deepseek.model, messages=(UserMessage("Anything else?"),), tools=OFFERED)
    moved = await attempt(provider(deepseek, sim), follow_up, workdir, conversation_of(first))
    (note,) = [e for e in moved if isinstance(e, Status)]
    assert (
        "reasoning of anthropic/claude-sonnet-5-5 was not carried over to deepseek/deepseek-v4-pro"
        in note.message
    )
    sent = sim.log[2].body["messages"]
    assert not any(
        "reasoning_content" in m or "signature" in str(m) for m in sent if m["role"] == "assistant"
    )


async def test_thinking_the_model_hides_by_default_is_asked_for_and_shown(
    sim: SimServer, workdir: Path
) -> None:
    """Claude 5.5 models omit their thinking unless asked: lfg asks for it summarised, so the pane is
    not silent between tool calls."""
    ask = ModelCall(
        model="claude-sonnet-5-5", messages=(UserMessage("What do the notes say?"),), tools=OFFERED
    )
    events = await attempt(provider(FLAVOURS[0], sim), ask, workdir)
    assert ended(events).outcome is Outcome.COMPLETED
    thought = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert "I should read notes.txt" in thought
    assert sim.log[0].body["thinking"] == {"type": "adaptive", "display": "summarized"}
