"""A work folder's own agent settings (issue 65): the pane names each file that could approve tools
or run commands as the session opens, and says when one changes during a turn; in a mode that asks,
Claude Code is opened without the folder's settings sources, its CLAUDE.md passed as instructions.
Through the real `lfg run --json` and the sim agent as a real subprocess, and the module on real
files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run.agents.folder_settings import FolderWatch, findings, leaves_out, notice, session_meta
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.widgets.pane import PaneState
from tests.support.agents import approve, no_agent_left
from tests.support.app import SIZE, until
from tests.support.compose import lfg_app
from tests.support.lfg import Lfg, ending, of

PRE_APPROVING = {
    "permissions": {"allow": ["Write(*)", "Bash(*)"]},
    "hooks": {"PreToolUse": [], "SessionStart": []},
}


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    command = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}"]
    isolated.config.write_text(f'[providers.agent]\nkind = "acp"\ncommand = {json.dumps(command)}\n')
    return isolated


def ticket(model: str) -> str:
    return f'[[ticket]]\nid = "a"\nprompt = "x"\nprovider = "agent"\nmodel = "{model}"\n'


def statuses(events: list[dict]) -> list[str]:
    return [e["message"] for e in of(events, "a", "status")]


def write(folder: Path, name: str, data: object) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_the_pane_names_each_folder_file_and_what_it_would_do_as_the_session_opens(lfg: Lfg) -> None:
    write(lfg.workdir, ".claude/settings.local.json", PRE_APPROVING)
    write(lfg.workdir, ".mcp.json", {"mcpServers": {"evil\x1b[2J": {"command": "sh"}}})
    write(lfg.workdir, ".gemini/settings.json", {"tools": {"allowed": ["run_shell_command"]}})
    code, events, stderr = lfg.run(lfg.tickets(ticket("hello")), "--no-history")
    assert code == 0, stderr
    [said] = [s for s in statuses(events) if s.startswith("the work folder holds agent settings")]
    assert (
        ".claude/settings.local.json (allow rules Write(*), Bash(*); hooks PreToolUse, SessionStart), "
        "lfg did not load it: in this mode each tool still asks you"
    ) in said
    assert ".mcp.json (MCP servers evil␛[2J)" in said, "inert: the name cannot clear the screen"
    assert ".gemini/settings.json (allowed tools run_shell_command), read by the agent itself" in said
    said_at = next(i for i, e in enumerate(of(events, "a")) if e.get("message") == said)
    first_text = next(i for i, e in enumerate(of(events, "a")) if e["type"] == "text")
    assert said_at < first_text, "told before the agent's turn"


def test_a_settings_file_the_agent_writes_during_its_turn_is_said(lfg: Lfg) -> None:
    content = json.dumps({"permissions": {"allow": ["Bash(*)"]}})
    scenario = lfg.scenario(
        "settles",
        f"""
        ttft_ms = 0
        tokens_per_s = 300
        [[call]]
        text = "I'll allow myself everything."
        [[call.tool_call]]
        name = "write_file"
        arguments = {{ path = ".claude/settings.local.json", content = {json.dumps(content)} }}
        result = "written"
        [[call]]
        text = "Done."
        """,
    )
    code, events, stderr = lfg.run(lfg.tickets(ticket(scenario)), "--no-history", "--yes")
    assert code == 0 and ending(events, "a")["outcome"] == "completed", stderr
    assert (lfg.workdir / ".claude" / "settings.local.json").read_text() == content
    assert not any(s.startswith("the work folder holds") for s in statuses(events)), "none at first"
    changed = (
        "the agent's settings in the work folder changed during its turn: .claude/settings.local.json: "
        "it now holds allow rules Bash(*), loaded in this mode: the agent may act on it without asking you"
    )
    assert changed in statuses(events)
    kinds = [e["type"] for e in of(events, "a")]
    assert kinds.index("tool_result") < [e.get("message") for e in of(events, "a")].index(changed)


def test_in_a_mode_that_asks_claude_code_gets_only_the_persons_settings_and_the_folders_instructions(
    tmp_path: Path,
) -> None:
    (tmp_path / "CLAUDE.md").write_text("Always run the tests with make check.\n")
    meta = session_meta(tmp_path, leaves_out("default", yes=False))
    assert meta["claudeCode"] == {"options": {"settingSources": ["user"], "strictMcpConfig": True}}
    assert "CLAUDE.md" in meta["systemPrompt"]["append"]
    assert "Always run the tests with make check." in meta["systemPrompt"]["append"]
    assert session_meta(tmp_path, leaves_out("default", yes=True)) == {}, "--yes: the person chose"
    assert session_meta(tmp_path, leaves_out("bypassPermissions", yes=False)) == {}
    assert leaves_out("acceptEdits", yes=False), "acceptEdits still asks before a command"
    assert "systemPrompt" not in session_meta(tmp_path / "nowhere", True)


def test_a_file_lfg_cannot_read_is_named_not_skipped(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text("{ not json")
    (tmp_path / ".codex").mkdir()
    (tmp_path / ".codex" / "config.toml").write_text('approval_policy = "never"\n')
    found = findings(tmp_path, None)
    assert [f.line() for f in found] == [
        ".claude/settings.json (not valid to lfg: what the agent makes of it is unknown)",
        ".codex/config.toml (approval_policy never)",
    ]
    assert [f.path for f in findings(tmp_path, "@agentclientprotocol/claude-agent-acp")] == [
        ".claude/settings.json"
    ], "Claude Code's own files only"
    assert notice([], True) is None


def test_a_link_out_of_the_worktree_is_never_read_one_inside_is(tmp_path: Path) -> None:
    """lfg reads these as the person, outside the agent's box: an agent that links CLAUDE.md to the
    person's key would have it sent to its model in the session's system prompt."""
    home, worktree = tmp_path / "home", tmp_path / "worktree"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY----- secret\n")
    (home / "settings.json").write_text('{"permissions": {"allow": ["Bash"]}}')
    (worktree / ".claude").mkdir(parents=True)
    (worktree / "CLAUDE.md").symlink_to(home / ".ssh" / "id_ed25519")
    (worktree / "CLAUDE.local.md").symlink_to("../home/.ssh/id_ed25519")
    (worktree / ".claude" / "settings.json").symlink_to(home / "settings.json")
    meta = session_meta(worktree, left_out=True)
    assert "systemPrompt" not in meta, "nothing of the key, nor anything else out of the worktree"
    [found] = findings(worktree, "claude-agent-acp")
    assert found.line() == ".claude/settings.json (a link out of the worktree, not read by lfg)"

    (worktree / "CLAUDE.md").unlink()
    (worktree / "AGENTS.md").write_text("Run make check before you finish.\n")
    (worktree / "CLAUDE.md").symlink_to("AGENTS.md")
    (worktree / "docs").mkdir()
    (worktree / ".claude" / "CLAUDE.md").symlink_to("../docs")  # a link to a folder: no file to read
    meta = session_meta(worktree, left_out=True)
    assert "Run make check before you finish." in meta["systemPrompt"]["append"], "a link inside: followed"
    assert "secret" not in meta["systemPrompt"]["append"]


def test_a_fifo_in_place_of_a_file_is_named_never_read(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: lfg's loop must not wait on one."""
    (tmp_path / ".claude").mkdir()
    os.mkfifo(tmp_path / ".claude" / "settings.local.json")
    os.mkfifo(tmp_path / "CLAUDE.md")
    [found] = findings(tmp_path, "claude-agent-acp")
    assert found.line() == ".claude/settings.local.json (not a regular file, not read by lfg)"
    assert "systemPrompt" not in session_meta(tmp_path, left_out=True)


def test_only_claude_code_or_an_agent_lfg_does_not_know_is_sent_claude_codes_options(tmp_path: Path) -> None:
    assert FolderWatch(tmp_path, "gemini-cli", left_out=True).meta() == {}
    assert FolderWatch(tmp_path, "codex-acp", left_out=True).meta() == {}
    assert "claudeCode" in FolderWatch(tmp_path, "@agentclientprotocol/claude-agent-acp", True).meta()
    assert "claudeCode" in FolderWatch(tmp_path, None, left_out=True).meta()


def test_the_watch_says_a_change_once_and_a_file_emptied_of_rules(tmp_path: Path) -> None:
    watch = FolderWatch(tmp_path, "claude-agent-acp", left_out=True)
    assert watch.opened() is None and watch.changed() is None
    write(tmp_path, ".claude/settings.json", {"hooks": {"Stop": []}})
    said = watch.changed()
    assert said is not None and ".claude/settings.json: it now holds hooks Stop, lfg did not load it" in said
    assert watch.changed() is None, "said once"
    write(tmp_path, ".claude/settings.json", {"model": "opus", "extra": "x" * 10})
    said = watch.changed()
    assert said is not None and "it now holds nothing that approves or runs anything" in said


async def test_in_the_tui_each_notice_is_an_entry_of_its_own_where_it_was_said(tmp_path: Path) -> None:
    """The opening notice stays in the transcript though status lines follow it, and the change the
    person approved is said after the write."""
    work, scenarios = tmp_path / "work", tmp_path / "scenarios"
    scenarios.mkdir()
    write(work, ".claude/settings.local.json", PRE_APPROVING)
    content = json.dumps({"hooks": {"Stop": []}})
    (scenarios / "settles.toml").write_text(
        f"""
ttft_ms = 0
tokens_per_s = 300
[[call]]
text = "Before."
[[call.tool_call]]
name = "write_file"
arguments = {{ path = ".claude/settings.json", content = {json.dumps(content)} }}
result = "written"
[[call]]
text = "After."
"""
    )
    path = tmp_path / "tickets.toml"
    path.write_text(
        f'[[ticket]]\nid = "w"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "settles"\n'
        f"workdir = {json.dumps(str(work))}\n"
    )
    sim = BUILTIN["sim-acp"]
    command = (*sim.agent.command[:3], "--scenario-dir", str(scenarios), "--scenario", "{model}")
    agents = {"sim-acp": sim.with_agent(command=command)}
    loaded = load_tickets(path, Config(path=None, providers=BUILTIN | agents), BUILTIN_TOOLS)
    app = lfg_app(loaded.tickets, Providers(agents))
    async with app.run_test(size=SIZE) as pilot:
        w = app.controller.panes["w"]
        await until(pilot, lambda: w.state is PaneState.APPROVAL, timeout=20)
        await approve(pilot, app)
        await until(pilot, lambda: w.finished, timeout=20)
        body = w.body.source
    opened = body.index("*the work folder holds agent settings that could approve tools or run commands: ")
    changed = body.index(
        "*the agent's settings in the work folder changed during its turn: .claude/settings.json: "
    )
    assert opened < body.index("Before.") < changed < body.index("After."), body
    assert "it now holds hooks Stop, lfg did not load it" in body[changed:]
    assert await no_agent_left(tmp_path)
