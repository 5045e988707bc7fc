"""Issue 72's "root boxes hold" with the real Codex (the pinned codex-acp) against the sim: inside lfg's
bubblewrap box, Codex in its own sandboxing mode (`agent`: workspace-write) runs each command in a
bubblewrap of its own, which must be able to start whether lfg runs as root or as a normal user.

Codex refuses to make its sandbox helper (`codex-linux-sandbox`) under the temporary folder, which is
`/tmp` in the box: this test's world lies under `/var/tmp`, not pytest's `/tmp` (`tmp_path`)."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lfgtui.tools.sandbox import unavailable
from tests.real_agents.conftest import AS_EACH_USER, AgentWorld, project_repository

WRITE_THEN_DONE = r"""
    ttft_ms = 50
    tokens_per_s = 400
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "exec"
    input = '''
    const done = await tools.exec_command({ cmd: "echo inside > inside.txt && echo wrote-it" });
    text(JSON.stringify(done));
    '''
    [[call]]
    text = "Done."
    """
"""A scenario: Codex's shell writes a file in its workspace (which its `agent` mode allows unasked)."""


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """This module's worlds under `/var/tmp` (Codex's home must not lie under the box's `/tmp`)."""
    folder = Path("/var/tmp") / f"lfg-codex-box-{secrets.token_hex(6)}"
    folder.mkdir(mode=0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(300)
@AS_EACH_USER
async def test_a_boxed_codex_runs_its_command_in_its_own_sandbox(world: AgentWorld) -> None:
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    world.map_models("gpt-*-luna=hello", f"gpt-*={world.scenario('work', WRITE_THEN_DONE)}")
    project_repository(world)
    tickets = world.ticket("codex", "Write the notes.", isolation="worktree", sandbox="bwrap", mode="agent")
    run = await world.run(tickets, "--yes")
    assert run.code == 0 and run.ending()["outcome"] == "completed", run.stderr
    results = [c.get("result", {}) for c in run.calls().values()]
    told = json.dumps([r.body.get("input") for r in world.sim.log if r.scenario == "work"])[-1500:]
    assert any("wrote-it" in r.get("output", "") and not r.get("is_error") for r in results), told
    tree = world.root / "trees" / run.run_id / "t"
    assert (tree / "inside.txt").read_text() == "inside\n", "Codex's sandboxed shell wrote in its worktree"
    assert (tree / "inside.txt").stat().st_uid == world.uid, "as the user lfg runs as"
