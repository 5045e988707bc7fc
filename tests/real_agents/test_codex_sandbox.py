"""Issue 72's "root boxes hold" with the real Codex (the pinned codex-acp) against the sim: inside lfg's
bubblewrap box, Codex in its own sandboxing mode (`agent`: workspace-write) runs each command in a
bubblewrap of its own, which must be able to start whether lfg runs as root or as a normal user.
Inside a container box (issue 78) it starts where the box lets it (rootless podman, as a normal
user); where it cannot (docker's seccomp filter, root's podman), the ticket fails at start saying
so in one line, never a "completed" ticket whose every command failed.

Codex refuses to make its sandbox helper (`codex-linux-sandbox`) under the temporary folder, which is
`/tmp` in the box: this test's world lies under `/var/tmp`, not pytest's `/tmp` (`tmp_path`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfgtui.tools.sandbox import unavailable
from tests.real_agents.conftest import AS_EACH_USER, AgentWorld, Run, project_repository

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
def tmp_path(var_tmp_path: Path) -> Path:
    """This module's worlds under `/var/tmp` (Codex's home must not lie under the box's `/tmp`)."""
    return var_tmp_path


@pytest.mark.timeout(300)
@AS_EACH_USER
async def test_a_boxed_codex_runs_its_command_in_its_own_sandbox(world: AgentWorld) -> None:
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    run = await codex_writes(world, "bwrap")
    ran_its_command_in_its_sandbox(world, run)


@pytest.mark.timeout(300)
@AS_EACH_USER
async def test_a_codex_in_a_container_box_sandboxes_its_command_or_is_refused_at_start(
    engine: str, world: AgentWorld
) -> None:
    """Where Codex's sandbox can start in the container its command runs there: rootless podman (the
    container's own user namespace), its store kept outside the home; where not, the ticket fails
    before the agent starts, in one line that says why and what to use (on main: "completed", its
    command failed with bwrap's words): docker (its seccomp filter), root's podman (root's ids
    unmapped), and rootless podman with its store in the home the box shows (its mounts there)."""
    world.use_engine(engine)
    said = refused_at_start(world, await codex_writes(world, engine), engine)
    if world.nobody and engine == "podman":
        store = world.home / ".local" / "share" / "containers" / "storage"
        assert f"it trips on the mounts of podman's own store, {store}, in your home" in said
        world.env["XDG_DATA_HOME"] = str(world.root / "data")  # podman's store, outside the home
        (world.root / "data").mkdir()
        ran_its_command_in_its_sandbox(world, await world.run(world.root / "tickets.toml", "--yes"))


def refused_at_start(world: AgentWorld, run: Run, engine: str) -> str:
    """Assert that the run's ticket failed at start for its agent's own sandbox; the line it said."""
    end = run.ending()
    assert run.code == 1 and end["outcome"] == "failed" and end["error"]["kind"] == "sandbox", run.stderr
    said: str = end["error"]["message"]
    assert said.startswith('codex in mode "agent" runs each command in a sandbox of its own'), said
    assert f'cannot start inside a sandbox = "{engine}" box here' in said and "\n" not in said
    assert 'use sandbox = "bwrap", or mode = "agent-full-access"' in said
    assert not run.calls() and not [r for r in world.sim.log if r.scenario == "work"], "nothing ran"
    return said


async def codex_writes(world: AgentWorld, box: str) -> Run:
    """A `--yes` run of Codex in mode `agent` in a `box` whose model asks its shell to write a file."""
    world.map_models("gpt-*-luna=hello", f"gpt-*={world.scenario('work', WRITE_THEN_DONE)}")
    project_repository(world)
    tickets = world.ticket("codex", "Write the notes.", isolation="worktree", sandbox=box, mode="agent")
    return await world.run(tickets, "--yes")


def ran_its_command_in_its_sandbox(world: AgentWorld, run: Run) -> None:
    assert run.code == 0 and run.ending()["outcome"] == "completed", run.stderr
    results = [c.get("result", {}) for c in run.calls().values()]
    told = json.dumps([r.body.get("input") for r in world.sim.log if r.scenario == "work"])[-1500:]
    assert any("wrote-it" in r.get("output", "") and not r.get("is_error") for r in results), told
    tree = world.root / "trees" / run.run_id / "t"
    assert (tree / "inside.txt").read_text() == "inside\n", "Codex's sandboxed shell wrote in its worktree"
    assert (tree / "inside.txt").stat().st_uid == world.uid, "as the user lfg runs as"
