"""Issue 73: a steer sent while today's Claude Code (claude-agent-acp 0.101.0) streams a `Write`.

The adapter announces the call (`pending`) as its `tool_use` begins to stream and takes a steer at
priority `now`, which aborts the model message being written: the `Write` never ran ("Claude stopped
this tool call before it ran.") while lfg said the steer went into the running turn. lfg now keeps
the steer while a call the agent announced has not run, and sends it once the call has run: the file
is written, and the model reads the steer after the write's result, in the same turn.
"""

from __future__ import annotations

import json

import pytest

from lfgtui.config.load import Config
from lfgtui.events import (
    ApprovalAsked,
    AttemptEnded,
    Event,
    Holding,
    Outcome,
    Steered,
    ToolCallStarted,
    ToolResult,
)
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.steer_words import CALL
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.real_agents.conftest import AgentWorld, prose
from tests.support.agents import run_through

pytestmark = pytest.mark.timeout(400)

STEER = "Also mention PELICAN."
WRITE = json.dumps({"file_path": "notes.md", "content": prose(160, line=16)})
SCENARIO = f"""
    ttft_ms = 50
    tokens_per_s = 20
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "Write"
    arguments_raw = '{WRITE}'
    [[call]]
    text = "Heard: {{{{ prompt }}}} and done."
    [[call]]
    text = "Heard: {{{{ prompt }}}} and done again."
    """
"""A `Write` whose input streams for several seconds at 20 tok/s, then answers that quote the last
thing the model was told."""


def carries_steer(body: dict[str, object]) -> bool:
    """Whether a model request tells the model the steer as the user (not its own answers quoting it)."""
    messages = body.get("messages")
    turns = messages if isinstance(messages, list) else []
    return STEER in json.dumps([m for m in turns if isinstance(m, dict) and m.get("role") == "user"])


async def test_a_steer_while_claude_code_streams_a_write_is_kept_until_the_write_ran(
    in_world: AgentWorld,
) -> None:
    world = in_world
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('mid-write', SCENARIO)}")
    loaded = load_tickets(world.ticket("claude-code", "Write the notes."), Config(path=None), BUILTIN_TOOLS)
    events: list[Event] = []
    kept_said: list[str] = []
    async with Providers() as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)

        def heard(event: Event) -> None:
            events.append(event)
            if isinstance(event, ToolCallStarted) and not kept_said:  # the Write, as it begins to stream
                kept_said.append(run.steer_kept("t"))  # what the composer and the API say
                assert run.steer("t", STEER, by="ada") is None
            if isinstance(event, ApprovalAsked):
                run.approvals.answer("t", event.call_id, True, "you")

        await run_through(run, heard)

    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED], "one turn"
    assert kept_said == [CALL], "the composer and the API say the steer is kept until the call has run"
    results = [e for e in events if isinstance(e, ToolResult)]
    assert not [r for r in results if "stopped this tool call" in r.output], "the steer dropped the write"
    assert (world.project / "notes.md").exists(), "the write ran"
    holding = [e.message for e in events if isinstance(e, Holding)]
    assert [m for m in holding if m.startswith("steer(s) kept")] == [
        "steer(s) kept until the tool call Claude Agent is writing or running has run, then sent: one it "
        f"takes while it writes a tool call stops that call before it runs: message 1 from ada: {STEER}"
    ]
    asked = [
        r.body
        for r in world.sim.log
        if str(r.body.get("model", "")).startswith("claude-") and "haiku" not in r.body.get("model", "")
    ]
    carrying = [n for n, body in enumerate(asked) if carries_steer(body)]
    assert carrying, "a model call read the steer"
    first = json.dumps(asked[carrying[0]].get("messages"))
    assert "tool_result" in first and "notes.md" in first, "read after the write's result"
    assert [e.text for e in events if isinstance(e, Steered)] == [STEER], "recorded once"
