"""Today's claude-agent-acp and codex-acp steered mid-turn through lfg (`_session/steering`,
session/steering.py), against the sim: the turn is held open by the agent's permission request
(Claude Code's `Write`, Codex's `apply_patch` in read-only mode); the steer is sent while it waits,
the request answered once lfg has said what became of the steer; the agent takes it into the same
turn, and a later model call of its carries the person's words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.events import ApprovalAsked, AttemptEnded, Event, Holding, Outcome, PromptSent, Steered
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.real_agents.conftest import AgentWorld

pytestmark = pytest.mark.timeout(400)

STEER = "Also mention PELICAN in your last words."
WRITE = json.dumps({"file_path": "notes.md", "content": "# Notes\n"})
SCENARIO = f"""
    ttft_ms = 50
    tokens_per_s = 200
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "Write"
    arguments_raw = '{WRITE}'
    [[call]]
    text = "Noted."
    [[call]]
    text = "Done: the notes are written."
    """


PATCH = r"""
    ttft_ms = 50
    tokens_per_s = 400
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "exec"
    input = '''
    const patch = "*** Begin Patch\n*** Add File: notes.md\n+# Notes\n*** End Patch";
    text(JSON.stringify(await tools.apply_patch(patch)));
    '''
    [[call]]
    text = "Noted."
    [[call]]
    text = "Done: the notes are written."
    """
"""Codex adds notes.md with its `apply_patch` (called from `exec`), which it asks about in read-only
mode; then two more calls, for the steer's."""


async def steered_at_its_question(world: AgentWorld, tickets: Path) -> tuple[Run, list[Event]]:
    """The ticket steered while its first permission request waits; each request answered yes once
    the run has said what became of the steer."""
    loaded = load_tickets(tickets, Config(path=None), BUILTIN_TOOLS)
    events: list[Event] = []
    waiting: list[str] = []
    settled = False
    async with Providers() as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)

        def heard(event: Event) -> None:
            nonlocal settled
            events.append(event)
            if isinstance(event, ApprovalAsked):
                if not waiting and not settled:
                    assert run.steer("t", STEER, by="ada") is None
                waiting.append(event.call_id)
            settled = settled or (
                isinstance(event, Holding)
                and "steer from ada" in event.message
                and "next safe point" not in event.message
            )
            while settled and waiting:
                run.approvals.answer("t", waiting.pop(), True, "you")

        run.sinks.append(heard)
        try:
            run.start()
            await run.wait()
        finally:
            await run.close_agents()
    return run, events


async def test_claude_code_takes_a_steer_into_its_running_turn(in_world: AgentWorld) -> None:
    world = in_world
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('steered', SCENARIO)}")
    run, events = await steered_at_its_question(world, world.ticket("claude-code", "Write the notes."))
    took_it(world, events, "claude-")
    assert run.states["t"].outcome is Outcome.COMPLETED


async def test_codex_takes_a_steer_into_its_running_turn(in_world: AgentWorld) -> None:
    world = in_world
    world.map_models("gpt-*-luna=hello", f"gpt-*={world.scenario('patch', PATCH)}")
    tickets = world.ticket("codex", "Write the notes.", mode="read-only")
    run, events = await steered_at_its_question(world, tickets)
    took_it(world, events, "gpt-")
    assert run.states["t"].outcome is Outcome.COMPLETED


def took_it(world: AgentWorld, events: list[Event], models: str) -> None:
    """The agent took the steer into its running turn: a user turn at its place, one prompt, and a
    later model call of its (named `models`...) carrying the words."""
    holding = [e.message for e in events if isinstance(e, Holding)]
    assert "for the next safe point" in holding[0], "claude-agent-acp advertises _meta.steering.supported"
    assert any("went into the agent's running turn" in m for m in holding), holding
    assert [(e.text, e.by) for e in events if isinstance(e, Steered)] == [(STEER, "ada")]
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED], "one turn"
    assert [e.text for e in events if isinstance(e, PromptSent)] == ["Write the notes."], "no second prompt"
    asked = [json.dumps(r.body) for r in world.sim.log if str(r.body.get("model", "")).startswith(models)]
    first = next(n for n, body in enumerate(asked) if STEER in body)
    assert first > 0, "the first model call had no steer: it came mid-turn"
    assert (world.project / "notes.md").read_text().startswith("# Notes\n")
