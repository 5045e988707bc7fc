"""Commands a coding agent runs in lfg's terminals (`terminal/*`), through the real `lfg run --json`:
the sim agent (`--terminals`) creates a terminal, embeds it in its tool call, waits for it, reads its
output and releases it, as Codex does; lfg runs the command as it runs `run_command`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.commands.test_run import Lfg, ending, of

SIM_AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}", "--terminals"]


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    """`lfg` in its own folders, with the sim agent running its commands in lfg's terminals."""
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    isolated.config.write_text(f'[providers.term]\nkind = "acp"\ncommand = {json.dumps(SIM_AGENT)}\n')
    return isolated


def runs(lfg: Lfg, arguments: str, extra: str = "") -> Path:
    """Tickets whose agent runs one command (`arguments` a TOML inline table's inside)."""
    lfg.scenario(
        "one-command",
        f"""
        ttft_ms = 0
        tokens_per_s = 0
        [[call]]
        text = "Running it."
        [[call.tool_call]]
        name = "run_command"
        arguments = {{ {arguments} }}
        [[call]]
        text = "Done."
        """,
    )
    return lfg.tickets(
        f'[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "term"\nmodel = "one-command"\n{extra}\n'
    )


def test_the_commands_output_is_the_tool_calls_result(lfg: Lfg) -> None:
    tickets = runs(lfg, 'command = "echo hello from the terminal; pwd"')
    code, events, stderr = lfg.run(tickets, "--no-history", "--yes")
    assert code == 0, stderr
    [result] = of(events, "t", "tool_result")
    assert result["output"] == f"hello from the terminal\n{lfg.workdir}\n[exit code 0]"
    assert not result["is_error"]
    assert ending(events, "t")["outcome"] == "completed"


def test_without_yes_a_headless_run_refuses_the_command_as_it_refuses_run_command(lfg: Lfg) -> None:
    tickets = runs(lfg, 'command = "touch ran"')
    code, events, stderr = lfg.run(tickets, "--no-history")
    assert code == 0, stderr
    assert not (lfg.workdir / "ran").exists()
    [result] = of(events, "t", "tool_result")
    assert result["is_error"]
    assert "run_command needs approval and nobody can approve it in a headless run" in result["output"]
    notes = [e["message"] for e in of(events, "t", "status")]
    assert any(n.startswith("refused the agent's command touch ran: run_command needs") for n in notes)


def test_auto_approve_run_command_lets_the_agents_command_run(lfg: Lfg) -> None:
    tickets = runs(lfg, 'command = "touch ran"', 'auto_approve = ["run_command"]')
    code, events, stderr = lfg.run(tickets, "--no-history")
    assert code == 0, stderr
    assert (lfg.workdir / "ran").exists()
    assert not of(events, "t", "tool_result")[0]["is_error"]


def test_a_command_the_agent_kills_shows_its_output_and_that_it_was_killed(lfg: Lfg) -> None:
    tickets = runs(lfg, 'command = "echo started; sleep 30; echo never", timeout_s = 1')
    code, events, stderr = lfg.run(tickets, "--no-history", "--yes")
    assert code == 0, stderr
    [result] = of(events, "t", "tool_result")
    assert result["is_error"]
    assert result["output"] == "started\n[killed: by the agent; the command and every process it started]"


def test_a_long_output_keeps_its_tail_within_the_cap(lfg: Lfg) -> None:
    tickets = runs(lfg, 'command = "seq 1 100000; echo the end"')
    code, events, stderr = lfg.run(tickets, "--no-history", "--yes")
    assert code == 0, stderr
    [result] = of(events, "t", "tool_result")
    output = result["output"]
    assert output.startswith("[… ") and "bytes of earlier output dropped]" in output.splitlines()[0]
    assert output.endswith("100000\nthe end\n[exit code 0]")
    assert len(output.encode()) <= 64 * 1024


def test_a_command_gets_no_secrets_only_the_allowlist_and_env_passthrough(lfg: Lfg) -> None:
    lfg.env |= {"OPENAI_API_KEY": "sk-not-for-commands", "DB_TOKEN": "hunter2", "SHARED_NAME": "passed"}
    tickets = runs(lfg, 'command = "env"', 'env_passthrough = ["SHARED_NAME"]')
    code, events, stderr = lfg.run(tickets, "--no-history", "--yes")
    assert code == 0, stderr
    [result] = of(events, "t", "tool_result")
    output = result["output"]
    assert "sk-not-for-commands" not in output and "hunter2" not in output
    assert "SHARED_NAME=passed" in output and f"PWD={lfg.workdir}" in output
