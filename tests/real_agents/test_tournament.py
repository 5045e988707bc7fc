"""A tournament of the real coding agents: Claude Code and Codex (pinned in package.json) each write
calc.py in a worktree of their own, the check runs the repository's tests in each, a judge on the sim
ranks them under neutral labels, and landing the winner moves the base branch by its commit.

Claude Code writes an `add` that passes (its `Write`), Codex one that subtracts (its `apply_patch`,
called from `exec`, as its models call its tools); the judge is an OpenAI-compatible provider on the
same sim, so the test reads what the judge was sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.real_agents.conftest import AgentWorld, agent_program
from tests.support.git import commit_all, git, isolate_git
from tests.support.tournament import CHECK, TESTS

pytestmark = pytest.mark.timeout(400)

CONTESTANTS = ("fix@claude-code", "fix@codex")
JUDGE = "fix@judge"
PASSING = "def add(a, b):\n    return a + b\n"
CLAUDE_WRITES = f"""
    ttft_ms = 50
    tokens_per_s = 400
    [[call]]
    text = "I'll write add in calc.py."
    [[call.tool_call]]
    name = "Write"
    arguments_raw = '{json.dumps({"file_path": "calc.py", "content": PASSING})}'
    [[call]]
    text = "Done: add returns the sum."
    """
"""Claude Code writes a passing calc.py, then ends its turn."""
CODEX_WRITES = r"""
    ttft_ms = 50
    tokens_per_s = 400
    [[call]]
    text = "I'll write add in calc.py."
    [[call.tool_call]]
    name = "exec"
    input = '''
    const patch = "*** Begin Patch\n*** Add File: calc.py\n+def add(a, b):\n+    return a - b\n*** End Patch";
    text(JSON.stringify(await tools.apply_patch(patch)));
    '''
    [[call]]
    text = "Done: add is written."
    """
"""Codex writes a calc.py whose add subtracts (one of the two tests fails), then ends its turn."""


def calc_project(world: AgentWorld) -> Path:
    """The world's project folder as a repository whose tests need a calc.py."""
    project = world.project
    (project / "test_calc.py").write_text(TESTS)
    git(project, "init", "-q", "-b", "main")
    git(project, "config", "user.name", "Test")
    git(project, "config", "user.email", "test@example.com")
    commit_all(project, "tests for add")
    return project


async def test_claude_code_and_codex_contest_the_judge_ranks_them_blind_and_the_winner_lands(
    world: AgentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(world.root, monkeypatch)
    for provider in ("claude-code", "codex"):
        agent_program(provider)
    world.map_models(
        "claude-haiku-*=hello",
        f"claude-*={world.scenario('claude-writes', CLAUDE_WRITES)}",
        "gpt-*-luna=hello",
        f"gpt-*={world.scenario('codex-writes', CODEX_WRITES)}",
        "referee=tournament-judge",
    )
    world.config(
        f"""
        [providers.referee]
        kind = "openai"
        base_url = "{world.sim.url}/v1"
        api_key_env = "OPENAI_API_KEY"
        """
    )
    project = calc_project(world)
    base = git(project, "rev-parse", "HEAD")
    tickets = world.tickets(
        f"""
        [[ticket]]
        id = "fix"
        prompt = "Write add(a, b) in calc.py so that the tests pass."
        agents = ["claude-code", "codex"]
        isolation = "worktree"
        workdir = {json.dumps(str(project))}
        check = {json.dumps(CHECK)}
        check_timeout_s = 120
        judge = "referee/referee"
        """
    )
    run = await world.run(tickets, "--yes")
    assert run.code == 0, run.stderr
    for ticket in CONTESTANTS:
        assert run.ending(ticket)["outcome"] == "completed", run.ending(ticket)
    checks = {e["ticket"]: e for e in run.events if e["type"] == "check"}
    assert checks["fix@claude-code"]["passed"] is True, checks
    assert checks["fix@claude-code"]["tests"]["passed"] == 2
    assert checks["fix@codex"]["passed"] is False
    assert (checks["fix@codex"]["tests"]["passed"], checks["fix@codex"]["tests"]["failed"]) == (1, 1)
    (verdict,) = [e for e in run.events if e["type"] == "verdict"]
    assert verdict is run.events[-1], "the verdict comes once both are checked and judged"
    assert (verdict["judge"], verdict["judge_error"]) == (JUDGE, None)
    assert verdict["winner"] == "fix@claude-code"
    assert [placing["ticket"] for placing in verdict["ranking"]] == list(CONTESTANTS)
    assert sorted(verdict["labels"].values()) == sorted(CONTESTANTS)
    best = next(label for label, ticket in verdict["labels"].items() if ticket == "fix@claude-code")
    assert verdict["ranking"][0]["reasons"] == [f"{best}: check passed, 2 tests passed"], "the judge's words"
    rows = {row["ticket"]: row for row in verdict["contestants"]}
    assert rows["fix@claude-code"]["model"].startswith("claude-code/")
    assert rows["fix@codex"]["model"].startswith("codex/")
    for row in rows.values():
        assert row["diff"] == {"added": 2, "removed": 0, "files": ["calc.py"], "count": 1}, row
        assert row["wall_s"] > 0 and row["output_tokens"] > 0 and row["ttft_ms"] is not None, row
    (asked,) = [r for r in world.sim.log if r.model == "referee"]
    seen = json.dumps(asked.body).lower()
    for name in ("claude", "codex", "anthropic", "openai", "fix@", "worktrees", "lfg/"):
        assert name not in seen, f"the judge was told {name!r}"
    assert "return a + b" in seen and "return a - b" in seen, "it saw both diffs"
    assert not (project / "calc.py").exists(), "the agents worked in their worktrees"
    landed = await world.lfg("land", run.run_id, "fix@claude-code", "--db", str(world.db))
    assert landed.returncode == 0, landed.stderr
    assert git(project, "rev-parse", "HEAD~1") == base, "the base moved by one commit"
    assert git(project, "diff", "--name-only", "HEAD~1", "HEAD") == "calc.py"
    assert (project / "calc.py").read_text() == PASSING
