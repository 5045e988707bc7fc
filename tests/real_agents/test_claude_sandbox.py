"""Issue 68 with the real Claude Code agent (the pinned npm one) against the sim, headless: with
`sandbox = "bwrap"` its whole process runs in bubblewrap, so its own `Bash` writes in its worktree
and cannot write outside it, and the ticket completes."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from lfgtui.events import AGENT_STATE_CHANGED
from lfgtui.tools.sandbox import unavailable
from tests.real_agents.conftest import AgentWorld, bash_then_done, project_repository


@pytest.mark.timeout(300)
async def test_a_sandboxed_claude_code_ticket_completes_and_cannot_write_outside(world: AgentWorld) -> None:
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    escape = Path("/var/tmp") / f"lfg-escape-{secrets.token_hex(6)}"
    beside = world.project / "escape.txt"
    command = f"echo inside > inside.txt; echo out > {beside}; echo out > {escape}; echo finished"
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('work', bash_then_done(command))}")
    project_repository(world)
    tickets = world.ticket("claude-code", "Write the notes.", isolation="worktree", sandbox="bwrap")
    try:
        run = await world.run(tickets, "--yes")
    finally:
        escaped = escape.exists()
        escape.unlink(missing_ok=True)
    assert run.code == 0 and run.ending()["outcome"] == "completed", run.stderr
    tree = world.root / "trees" / run.run_id / "t"
    assert (tree / "inside.txt").read_text() == "inside\n", "its Bash wrote in its worktree"
    assert not escaped, "nothing was written on the disk outside"
    assert not beside.exists(), "nor in the person's checkout"
    answer = json.dumps([r.body for r in world.sim.log if r.scenario == "work"])
    assert "Read-only file system" in answer or "No such file or directory" in answer
    said = [s for s in run.statuses() if s.startswith(AGENT_STATE_CHANGED)]
    assert said == [], "Claude Code's own bookkeeping in its state is no change of its settings"
