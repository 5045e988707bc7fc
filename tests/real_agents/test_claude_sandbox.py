"""Issue 68 with the real Claude Code agent (the pinned npm one) against the sim, headless: with
`sandbox = "bwrap"` its whole process runs in bubblewrap, so its own `Bash` writes in its worktree
and cannot write outside it, nor drive lfg's own served API (issue 78), and the ticket completes,
with lfg run as root and as a normal user."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

import pytest

from lfgtui.events import AGENT_STATE_CHANGED
from lfgtui.tools.sandbox import unavailable
from tests.real_agents.conftest import (
    AGENTS_BIN,
    AS_EACH_USER,
    AgentWorld,
    agent_program,
    bash_then_done,
    git,
    project_repository,
)
from tests.support.lfg import free_port
from tests.support.serving import API_PROBE, TOKEN


@pytest.fixture
def tmp_path(var_tmp_path: Path) -> Path:
    """This module's worlds under `/var/tmp`: a rootless podman's nobody reaches them."""
    return var_tmp_path


@pytest.mark.timeout(300)
@AS_EACH_USER
async def test_a_sandboxed_claude_code_ticket_completes_and_cannot_write_outside(world: AgentWorld) -> None:
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    escape = Path("/var/tmp") / f"lfg-escape-{secrets.token_hex(6)}"
    token = Path("/var/tmp") / f"lfg-token-{secrets.token_hex(6)}"  # outside lfg's folders and /tmp
    token.write_text(TOKEN)
    os.chown(token, world.uid, -1)
    url = f"http://127.0.0.1:{(port := free_port())}"
    beside = world.project / "escape.txt"
    command = f"echo inside > inside.txt; echo out > {beside}; echo out > {escape}; "
    command += f"python3 probe.py {token} {url} t; echo finished"
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('work', bash_then_done(command))}")
    (world.project / "probe.py").write_text(API_PROBE)
    project_repository(world)
    git(world, "add", "probe.py")
    git(world, "commit", "-q", "-m", "probe")
    tickets = world.ticket("claude-code", "Write the notes.", isolation="worktree", sandbox="bwrap")
    served = ("--serve", str(port), "--control", "--token-file", str(token))
    try:
        run = await world.run(tickets, "--yes", *served)
    finally:
        escaped = escape.exists()
        escape.unlink(missing_ok=True)
        token.unlink()
    assert run.code == 0 and run.ending()["outcome"] == "completed", run.stderr
    tree = world.root / "trees" / run.run_id / "t"
    assert (tree / "inside.txt").read_text() == "inside\n", "its Bash wrote in its worktree"
    assert (tree / "inside.txt").stat().st_uid == world.uid, "as the user lfg runs as"
    assert not escaped, "nothing was written on the disk outside"
    assert not beside.exists(), "nor in the person's checkout"
    answer = json.dumps([r.body for r in world.sim.log if r.scenario == "work"])
    assert "Read-only file system" in answer or "No such file or directory" in answer
    assert "token chars 0" in answer and "answered" in answer, "the run's token unreadable in the box"
    assert "answered 200" not in answer and "planted" not in json.dumps(run.events), "no turn queued"
    said = [s for s in run.statuses() if s.startswith(AGENT_STATE_CHANGED)]
    assert said == [], "Claude Code's own bookkeeping in its state is no change of its settings"


@pytest.mark.timeout(300)
async def test_a_sandboxed_claude_code_installed_under_tmp_runs_with_tmpdir_elsewhere(
    world: AgentWorld,
) -> None:
    """Issue 78: with TMPDIR outside /tmp every boxed Claude Code failed at once (`EROFS mkdir
    $TMPDIR/claude-0`), and installed under /tmp (a CI clone's `node_modules`) it could not start
    (`claude-agent-acp: No such file or directory`): the box's TMPDIR is its own /tmp, and the
    agent's install is bound back into it."""
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    agent_program("claude-code")
    clone = world.root / "clone" / "node_modules"  # pytest's folders lie under /tmp
    clone.parent.mkdir()
    clone.symlink_to(AGENTS_BIN.parent, target_is_directory=True)
    tmpdir = Path("/var/tmp") / f"lfg-tmpdir-{secrets.token_hex(6)}"
    tmpdir.mkdir()
    world.env |= {
        "TMPDIR": str(tmpdir),
        "PATH": world.env["PATH"].replace(str(AGENTS_BIN), str(clone / ".bin")),
    }
    world.map_models(
        "claude-haiku-*=hello",
        f"claude-*={world.scenario('work', bash_then_done('echo inside > inside.txt'))}",
    )
    project_repository(world)
    tickets = world.ticket("claude-code", "Write the notes.", isolation="worktree", sandbox="bwrap")
    try:
        run = await world.run(tickets, "--yes")
        left = list(tmpdir.iterdir())
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    assert run.code == 0 and run.ending()["outcome"] == "completed", run.stderr
    tree = world.root / "trees" / run.run_id / "t"
    assert (tree / "inside.txt").read_text() == "inside\n", "its Bash wrote in its worktree"
    assert not left, "it wrote its own temporary files in the box's /tmp, not the person's TMPDIR"


@pytest.mark.timeout(300)
@AS_EACH_USER
async def test_a_boxed_claude_code_ticket_completes_in_a_container(engine: str, world: AgentWorld) -> None:
    """`sandbox = "docker"` or `"podman"`: Claude Code's whole process runs in a container (its node and
    install bound read-only, its own state writable); its Bash writes in its worktree only, and
    what it writes is the user's lfg runs as: root, or nobody (in docker's group; a rootless podman)."""
    world.use_engine(engine)
    beside = world.project / "escape.txt"
    command = f"echo inside > inside.txt; echo out > {beside}; echo finished"
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('work', bash_then_done(command))}")
    project_repository(world)
    tickets = world.ticket("claude-code", "Write the notes.", isolation="worktree", sandbox=engine)
    run = await world.run(tickets, "--yes")
    assert run.code == 0 and run.ending()["outcome"] == "completed", run.stderr
    tree = world.root / "trees" / run.run_id / "t"
    assert (tree / "inside.txt").read_text() == "inside\n", "its Bash wrote in its worktree"
    assert (tree / "inside.txt").stat().st_uid == world.uid, "as the user lfg runs as"
    assert not beside.exists(), "nor in the person's checkout"
