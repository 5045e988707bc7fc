"""Issue 36's loop with the real Claude Code agent (the pinned npm one) against the sim, headless:
it writes a file in its own git worktree (`lfg run --json`), review comments on two of its lines go
to it as one follow-up that it answers in the same session (`lfg review --send`), and its change is
squashed onto the base beside the person's own uncommitted edit (`lfg land`). Each step waits for
the step before to end, never for a time."""

from __future__ import annotations

import json

import pytest

from lfgtui.events import SessionOpened
from tests.real_agents.conftest import AgentWorld, git, no_agent_left, project_repository
from tests.support.recording import load_recorded

NOTES = "# Notes\n\nWritten by the agent.\n"
WRITES_THEN_ANSWERS = f"""
    ttft_ms = 50
    tokens_per_s = 200
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "Write"
    arguments_raw = '{json.dumps({"file_path": "notes.md", "content": NOTES})}'
    [[call]]
    text = "Done: the notes are in notes.md."
    [[call]]
    text = "Thanks: I will say what the notes are for and who wrote them."
    """
"""Claude Code's own `Write`; the third call answers the review's follow-up."""


@pytest.mark.timeout(400)  # three lfg processes, each starting Claude Code: tens of seconds when loaded
async def test_claude_code_answers_review_comments_and_its_change_is_landed(world: AgentWorld) -> None:
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('work', WRITES_THEN_ANSWERS)}")
    base = project_repository(world)
    tickets = world.ticket("claude-code", "Write the notes.", isolation="worktree", title="Write the notes")
    run = await world.run(tickets, "--yes")
    assert run.code == 0 and run.ending()["outcome"] == "completed", run.stderr
    tree = world.root / "trees" / run.run_id / "t"
    assert (tree / "notes.md").read_text() == NOTES
    assert not (world.project / "notes.md").exists(), "the agent worked in its own worktree"

    asked_before = len(world.sim.log)
    comments = ["notes.md:1: Say what these notes are for", "notes.md:3: Name who wrote them"]
    review = ["review", run.run_id, "t", "--send", "--yes", "--json", "--db", str(world.db)]
    done = await world.lfg(*review, *(arg for text in comments for arg in ("--comment", text)))
    assert done.returncode == 0, done.stderr
    sent = json.loads(done.stdout)
    assert (sent["sent"]["attempt"], sent["sent"]["outcome"]) == (2, "completed"), sent["sent"]
    assert "say what the notes are for" in sent["sent"]["answer"]
    follow_up = json.dumps([r.body for r in world.sim.log[asked_before:] if r.scenario != "hello"])
    for said in ("notes.md:1", "Say what these notes are for", "notes.md:3", "Name who wrote them"):
        assert said in follow_up, f"the agent sent the model the review: {said}"
    first, second = load_recorded(world.db, run.run_id).tickets[0].attempts
    [opened] = [e for e in second.events if isinstance(e, SessionOpened)]
    assert (opened.session_id, opened.loaded) == (first.agent_session, True), "in the same session"

    (world.project / "README.md").write_text("# Widget\nthe person's own edit\n")
    done = await world.lfg("land", run.run_id, "t", "--squash", "--db", str(world.db))
    assert done.returncode == 0, done.stderr
    assert git(world, "rev-list", "--count", f"{base}..main") == "1", "the base moved by one commit"
    assert git(world, "log", "-1", "--format=%s", "main") == "Write the notes"
    assert (world.project / "notes.md").read_text() == NOTES
    assert (world.project / "README.md").read_text() == "# Widget\nthe person's own edit\n", "untouched"
    assert git(world, "status", "--porcelain") == "M README.md"
    assert not tree.exists(), "landed, then archived"
    assert await no_agent_left(world, "claude-agent-acp")
