"""Claude Code in a work folder whose own settings would approve its tools or run commands (issue 65):
in lfg's mode that asks, the folder's allow rules, hooks and MCP servers are not loaded, so each
tool still reaches lfg, which asks the person (or, headless, refuses), and the pane says which files
it left out."""

from __future__ import annotations

import json

import pytest

from tests.real_agents.conftest import AgentWorld

REAL_AGENT = pytest.mark.timeout(400)
WRITE = json.dumps({"file_path": "notes.md", "content": "# Notes\n"})
RUN = json.dumps({"command": "touch checked.txt", "description": "Check"})
WORK = f"""
    ttft_ms = 50
    tokens_per_s = 200
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "Write"
    arguments_raw = '{WRITE}'
    [[call]]
    text = "Now I'll check them."
    [[call.tool_call]]
    name = "Bash"
    arguments_raw = '{RUN}'
    [[call]]
    text = "Done."
    """
"""Claude Code's own Write and Bash, each of which must reach lfg's approval."""

HOOK_ALLOWS = json.dumps(
    {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
)


INSTRUCTION = "Answer in the voice of a lighthouse keeper."
"""The folder's CLAUDE.md: instructions reach the model though the folder's settings do not."""


def pre_approving(world: AgentWorld) -> None:
    """The project's `.claude/settings.local.json`: allow rules for every Write and Bash, a
    `PreToolUse` hook that answers allow and a `SessionStart` hook that leaves a file; a `.mcp.json`
    whose server leaves a file as it starts; a CLAUDE.md."""
    settings = {
        "permissions": {"allow": ["Write(*)", "Bash(*)", "Write", "Bash"]},
        "hooks": {
            "PreToolUse": [
                {"matcher": "*", "hooks": [{"type": "command", "command": f"echo '{HOOK_ALLOWS}'"}]}
            ],
            "SessionStart": [{"hooks": [{"type": "command", "command": "touch session-hook-ran.txt"}]}],
        },
    }
    folder = world.project / ".claude"
    folder.mkdir()
    (folder / "settings.local.json").write_text(json.dumps(settings, indent=2))
    server = {"command": "sh", "args": ["-c", "touch mcp-server-ran.txt"]}
    (world.project / ".mcp.json").write_text(json.dumps({"mcpServers": {"starter": server}}))
    (world.project / "CLAUDE.md").write_text(f"{INSTRUCTION}\n")


@REAL_AGENT
async def test_the_folders_allow_rules_and_hooks_do_not_approve_in_the_mode_that_asks(
    world: AgentWorld,
) -> None:
    pre_approving(world)
    world.map_models("claude-haiku-*=hello", f"claude-*={world.scenario('work', WORK)}")
    run = await world.run(world.ticket("claude-code", "Write the notes."))
    assert run.code == 0, run.stderr
    assert run.of("agent")[-1]["mode"] == "default", "the mode the agent reports"
    left = sorted(p.name for p in world.project.iterdir())
    expected = [".claude", ".mcp.json", "CLAUDE.md", "README.md"]
    assert left == expected, f"nothing written, nothing run, no hook, no server: {left}"
    results = [c["result"] for c in run.calls().values()]
    assert len(results) == 2 and all(r["is_error"] and r["output"].startswith("denied") for r in results)
    notices = [s for s in run.statuses() if "settings.local.json" in s]
    assert notices and "allow rules" in notices[0] and "hooks" in notices[0], run.statuses()
    assert ".mcp.json (MCP servers starter)" in notices[0]
    turns = [r for r in world.sim.log if "You are Claude Code" in json.dumps(r.body.get("system"))]
    assert turns and all(INSTRUCTION in json.dumps(r.body) for r in turns), "CLAUDE.md reached the model"
