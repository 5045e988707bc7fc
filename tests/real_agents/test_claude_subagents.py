"""Claude Code's sub-agents, the real agent (claude-agent-acp 0.101.0) against the sim, in the TUI: a
child started with its `Agent` tool, in the foreground and in the background, is a row of the
parent's sub-agent tree with its task, its own `Read` call, its text and its tokens; its finish
calls nobody, and the parent's answer is whole.

The parent's model calls are answered by a scenario whose `Agent` call names no `model`, and the
child's by one of its own: Claude Code 2.1.318 (bundled by claude-agent-acp 0.101.0) picks a
sub-agent's model from the tool's `model` input, else the agent definition's, else
`CLAUDE_CODE_SUBAGENT_MODEL` ("the default subagent model when one is configured"), else the
parent's; the test sets that variable to the child's own model name, so the sim tells the two
conversations apart by the model each asks for.
"""

from __future__ import annotations

import json

import pytest

from lfgtui.ui.widgets.pane import PaneState
from tests.real_agents.conftest import AgentWorld
from tests.support.app import SIZE, until

CHILD_MODEL = "kidreader"
NOTES = "color = red\nsize = 3\n"
CHILD_TEXT = "Sub-agent here, reading the file."
CHILD_REPORT = "The colour line says red. SUB-DONE"
TASK = "Read the notes"


def child_scenario() -> str:
    """The sub-agent's own conversation: a line, `Read notes.txt`, its report."""
    read = json.dumps({"file_path": "notes.txt"})
    return f"""
        ttft_ms = 50
        tokens_per_s = 200
        [[call]]
        text = "{CHILD_TEXT}"
        [[call.tool_call]]
        name = "Read"
        arguments_raw = '{read}'
        [[call]]
        text = "{CHILD_REPORT}"
        """


def parent_scenario(background: bool) -> str:
    """The parent's: a line, an `Agent` call delegating the reading (in the background or not), a
    line once its tool result is back; in the background, a last line once Claude Code tells the
    model that the child reported back."""
    agent = json.dumps(
        {
            "description": TASK,
            "prompt": "Read notes.txt and report its colour line.",
            "subagent_type": "general-purpose",
            "run_in_background": background,
        }
    )
    after = (
        "The helper runs in the background. PARENT-WAITING"
        if background
        else "The helper finished. PARENT-DONE"
    )
    last = '[[call]]\ntext = "The background helper reported back. PARENT-AFTER-BG"' if background else ""
    return f"""
        ttft_ms = 50
        tokens_per_s = 120
        [[call]]
        text = "I will hand the reading to a helper agent."
        [[call.tool_call]]
        name = "Agent"
        arguments_raw = '{agent}'
        [[call]]
        text = "{after}"
        {last}
        """


@pytest.mark.timeout(400)
@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
async def test_a_claude_code_sub_agent_is_a_child_in_the_parents_pane(
    in_world: AgentWorld, background: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = in_world
    (world.project / "notes.txt").write_text(NOTES)
    monkeypatch.setenv("CLAUDE_CODE_SUBAGENT_MODEL", CHILD_MODEL)  # passed on by the ticket's env_passthrough
    parent = world.scenario("parent", parent_scenario(background))
    child = world.scenario("child", child_scenario())
    world.map_models("claude-haiku-*=hello", f"{CHILD_MODEL}={child}", f"claude-*={parent}")
    prompt = "Use a helper agent to read the notes."
    app = world.app(world.ticket("claude-code", prompt, env_passthrough=["CLAUDE_CODE_SUBAGENT_MODEL"]))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["t"]
        await until(pilot, lambda: pane.state is PaneState.COMPLETED, timeout=240)
        tree = pane.shown.subagents
        [record] = tree.subagents.children.values()
        assert record.task == TASK and record.state == "done", record
        assert [title for title, _ in record.calls.values()] == ["Read notes.txt"], record.calls
        assert CHILD_REPORT in "".join(record.text), record.text
        assert record.tokens > 0 and pane.metrics.subagent_tokens == record.tokens
        await until(
            pilot, lambda: len(tree.rows) == 1 and TASK in str(next(iter(tree.rows.values())).title), 5
        )
        assert not pane.needs_attention, "a child's finish needs nobody"
        said = "PARENT-WAITING" if background else "PARENT-DONE"
        await until(pilot, lambda: said in pane.body.source, 5)  # whole: no child's call splits it
        answer = pane.body.source
        assert CHILD_TEXT not in answer and CHILD_REPORT not in answer, "the child's words are its own"
        assert not any("notes.txt" in str(row.heading()) for row in pane.tools.rows.values()), (
            "the child's Read is in its row, not the parent's tool log"
        )
    asked = {r.model for r in world.sim.log}
    assert CHILD_MODEL in asked, f"the child asked for its own model: {asked}"


STALLED_CHILD = """
    ttft_ms = 50
    tokens_per_s = 200
    [[call]]
    text = "Sub-agent here, reading the file slowly."
    [[fault]]
    kind = "stall"
    call = 0
    after_tokens = 2
    """
"""A sub-agent whose first model call goes silent, its connection left open: it runs until stopped."""


@pytest.mark.timeout(400)
async def test_shift_x_cancels_a_claude_code_sub_agent_alone_and_the_parent_goes_on(
    in_world: AgentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claude Code offers each child's cancel: `X` on its row sends `session/cancel` with the child's
    session id, Claude Code stops that child's task, reports it idle (cancelled), and the parent's
    turn goes on to its next model call."""
    world = in_world
    (world.project / "notes.txt").write_text(NOTES)
    monkeypatch.setenv("CLAUDE_CODE_SUBAGENT_MODEL", CHILD_MODEL)
    parent = world.scenario("parent", parent_scenario(background=False))
    child = world.scenario("child", STALLED_CHILD)
    world.map_models("claude-haiku-*=hello", f"{CHILD_MODEL}={child}", f"claude-*={parent}")
    prompt = "Use a helper agent to read the notes."
    app = world.app(world.ticket("claude-code", prompt, env_passthrough=["CLAUDE_CODE_SUBAGENT_MODEL"]))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["t"]
        tree = pane.shown.subagents

        def child_asked() -> bool:  # its model call under way (and then silent)
            return any(r.model == CHILD_MODEL for r in world.sim.log)

        await until(pilot, lambda: len(tree.rows) == 1 and child_asked(), timeout=240)
        [row] = tree.rows.values()
        row.collapsed = False
        pane.shown.focus()
        await pilot.press("X")
        await until(pilot, lambda: pane.state is PaneState.COMPLETED, timeout=120)
        [record] = tree.subagents.children.values()
        assert record.state == "failed", record
        kept = app.controller.control.engine.agents
        assert kept is not None
        [said] = kept["t"].view.children.records.values()
        assert said.stop_reason == "cancelled", "Claude Code stopped it: idle, cancelled"
        await until(pilot, lambda: "PARENT-DONE" in pane.body.source, 5)
        assert not pane.needs_attention
