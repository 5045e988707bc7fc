"""Today's claude-agent-acp and codex-acp steered mid-turn through lfg (`_session/steering`,
session/steering.py), against the sim: the turn is held open by the agent's permission request
(Claude Code's `Write`, Codex's `apply_patch` in read-only mode); the steer is sent while it waits
(to Claude Code: kept until the request is answered, then sent), the request answered once lfg has
said what became of the steer; the agent takes it into the same
turn, and a later model call of its carries the person's words. A message queued while the turn waits
is sent as the agent's next prompt once that turn has ended, and the agent answers it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.events import (
    ApprovalAsked,
    AttemptEnded,
    Event,
    Holding,
    Outcome,
    PromptSent,
    Steered,
    TextDelta,
)
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.real_agents.conftest import AgentWorld
from tests.support.agents import run_through

pytestmark = pytest.mark.timeout(400)

STEER = "Also mention PELICAN in your last words."
NEXT = "Now say GANNET."
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

HEARD = """
    [[call]]
    text = "Heard: {{ prompt }}"
    """
"""After an agent's first call, every call quotes the last thing it was told: the answer to a queued
message quotes it."""


def then_heard(scenario: str) -> str:
    """`scenario`'s first call, then `HEARD`."""
    opening, first, _ = scenario.split("[[call]]", 2)
    return f"{opening}[[call]]{first}{HEARD}"


async def steered_at_its_question(
    world: AgentWorld, tickets: Path, steer: bool = True, queue: bool = False
) -> tuple[Run, list[Event]]:
    """The ticket steered (and/or sent a queued message) while its first permission request waits;
    each request answered yes once the run has said what became of the steer (or held the message)."""
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
                    assert not steer or run.steer("t", STEER, by="ada") is None
                    assert not queue or run.queue("t", NEXT, by="ada") is None
                waiting.append(event.call_id)
            settled = settled or (  # sent, or kept until the request is answered (Claude Code)
                isinstance(event, Holding)
                and ("steer from ada" in event.message or "steer(s) kept" in event.message or not steer)
                and not event.message.startswith("steer from ada, for ")
            )
            while settled and waiting:
                run.approvals.answer("t", waiting.pop(), True, "you")

        await run_through(run, heard)
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
    """The agent took the steer into its running turn: said sent when handed over, a user turn of the
    same attempt where its next model message began (Claude Code) or once the turn ended, one
    prompt, and a model call of its (named `models`...) after the first carrying the words, before
    lfg recorded it read."""
    holding = [e.message for e in events if isinstance(e, Holding)]
    assert holding[0].startswith("steer from ada, for "), "the agent advertises _meta.steering.supported"
    assert any(m.startswith("steer from ada sent to ") for m in holding), holding
    assert any("read the steer(s) (message 1)" in m for m in holding), "at its message (Claude) or turn's end"
    assert [(e.text, e.by) for e in events if isinstance(e, Steered)] == [(STEER, "ada")]
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED], "one turn"
    assert [e.text for e in events if isinstance(e, PromptSent)] == ["Write the notes."], "no second prompt"
    asked = [json.dumps(r.body) for r in world.sim.log if str(r.body.get("model", "")).startswith(models)]
    first = next(n for n, body in enumerate(asked) if STEER in body)
    assert first > 0, "the first model call had no steer: it came mid-turn"
    assert (world.project / "notes.md").read_text().startswith("# Notes\n")


async def test_claude_code_is_sent_a_message_queued_mid_turn_as_its_next_prompt(in_world: AgentWorld) -> None:
    world = in_world
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('queued', then_heard(SCENARIO))}")
    tickets = world.ticket("claude-code", "Write the notes.")
    run, events = await steered_at_its_question(world, tickets, steer=False, queue=True)
    sent_next(world, run, events, "claude-")


async def test_codex_is_sent_a_message_queued_mid_turn_as_its_next_prompt(in_world: AgentWorld) -> None:
    world = in_world
    world.map_models("gpt-*-luna=hello", f"gpt-*={world.scenario('patched', then_heard(PATCH))}")
    tickets = world.ticket("codex", "Write the notes.", mode="read-only")
    run, events = await steered_at_its_question(world, tickets, steer=False, queue=True)
    sent_next(world, run, events, "gpt-")


async def test_claude_code_takes_a_steer_into_its_turn_and_a_queued_message_after_it(
    in_world: AgentWorld,
) -> None:
    """Both at once: the steer goes into the running turn, the queued message is the next prompt (lfg
    holds it: it never hands Claude Code a second prompt to queue, claude-agent-acp #1039)."""
    world = in_world
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('both', then_heard(SCENARIO))}")
    tickets = world.ticket("claude-code", "Write the notes.")
    run, events = await steered_at_its_question(world, tickets, queue=True)
    assert [(e.text, e.by, e.attempt) for e in events if isinstance(e, Steered)] == [(STEER, "ada", 1)]
    sent_next(world, run, events, "claude-")


def sent_next(world: AgentWorld, run: Run, events: list[Event], models: str) -> None:
    """The queued message went as the agent's next prompt once its first turn had ended, the agent
    sent it to its model (named `models`...), and its answer to it arrived."""
    prompts = [(e.attempt, e.text, e.continues) for e in events if isinstance(e, PromptSent)]
    assert prompts == [(1, "Write the notes.", None), (2, NEXT, 1)]
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED] * 2
    assert run.states["t"].outcome is Outcome.COMPLETED and not run.states["t"].inbox.held
    ended = next(n for n, e in enumerate(events) if isinstance(e, AttemptEnded))
    second_prompt = next(n for n, e in enumerate(events) if isinstance(e, PromptSent) and e.attempt == 2)
    assert ended < second_prompt, "sent once the first turn had ended"
    first = "".join(e.text for e in events if isinstance(e, TextDelta) and e.attempt == 1)
    second = "".join(e.text for e in events if isinstance(e, TextDelta) and e.attempt == 2)
    assert NEXT not in first
    assert "Heard: " in second and NEXT in second, "the agent's answer to it quotes it"
    asked = [json.dumps(r.body) for r in world.sim.log if str(r.body.get("model", "")).startswith(models)]
    assert any(NEXT in body for body in asked), "the agent sent it to its model"
    assert (world.project / "notes.md").read_text().startswith("# Notes\n")
