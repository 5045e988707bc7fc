"""Issue 68 with the real Claude Code agent (the pinned npm one) against the sim, headless: with
`sandbox = "bwrap"` its whole process runs in bubblewrap, so its own `Bash` writes in its worktree
and cannot write outside it, and the ticket completes."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest

from lfgtui.tools.sandbox import unavailable
from tests.real_agents.conftest import AgentWorld, project_repository


def _bash_then_done(command: str) -> str:
    arguments = json.dumps({"command": command, "description": "Write the notes"})
    return f"""
    ttft_ms = 50
    tokens_per_s = 200
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "Bash"
    arguments_raw = '{arguments}'
    [[call]]
    text = "Done."
    """


@pytest.mark.timeout(300)
async def test_a_sandboxed_claude_code_ticket_completes_and_cannot_write_outside(world: AgentWorld) -> None:
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    escape = Path("/var/tmp") / f"lfg-escape-{secrets.token_hex(6)}"
    beside = world.project / "escape.txt"
    command = f"echo inside > inside.txt; echo out > {beside}; echo out > {escape}; echo finished"
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('work', _bash_then_done(command))}")
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


@pytest.mark.timeout(300)
async def test_a_boxed_claude_code_ticket_completes_in_a_container(engine: str, world: AgentWorld) -> None:
    """`sandbox = "docker"` or `"podman"`: Claude Code's whole process runs in a container (its node and
    install bound read-only, its own state writable); its Bash writes in its worktree only."""
    if "DOCKER_HOST" in os.environ:  # the private dockerd's
        world.env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    beside = world.project / "escape.txt"
    command = f"echo inside > inside.txt; echo out > {beside}; echo finished"
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('work', _bash_then_done(command))}")
    project_repository(world)
    tickets = world.ticket("claude-code", "Write the notes.", isolation="worktree", sandbox=engine)
    run = await world.run(tickets, "--yes")
    assert run.code == 0 and run.ending()["outcome"] == "completed", run.stderr
    tree = world.root / "trees" / run.run_id / "t"
    assert (tree / "inside.txt").read_text() == "inside\n", "its Bash wrote in its worktree"
    assert not beside.exists(), "nor in the person's checkout"
