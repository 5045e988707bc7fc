"""Coding-agent tickets through `lfg run`: beside API tickets, in NDJSON and the history, and refused
clearly when the agent is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from lfgtui.events import AgentStarted, PlanStep, PlanUpdated, SessionOpened, ToolCallReady
from lfgtui.history.recorded import recorded_run
from lfgtui.history.store import Selection, Store
from lfgtui.run.seeds import earlier_of_each
from tests.support import warm_lfg
from tests.support.agents import LATE
from tests.support.lfg import Lfg, ending, of, text
from tests.support.patience import PATIENCE

AGENT_AND_API = """
[[ticket]]
id = "agent"
prompt = "What is this project?"
provider = "sim-acp"
model = "agent-demo:ttft_ms=0,tokens_per_s=0"

[[ticket]]
id = "api"
prompt = "hi"
provider = "sim"
model = "hello"
"""


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    """`lfg` in its own folders, agent logs included."""
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    return isolated


def recorded_agent_run(lfg: Lfg, db: Path) -> list[dict[str, Any]]:
    """The NDJSON events of AGENT_AND_API, run and recorded into `db`."""
    code, events, stderr = lfg.run(lfg.tickets(AGENT_AND_API), "--db", str(db))
    assert code == 0, stderr
    return events


def test_an_agent_ticket_runs_beside_an_api_ticket_and_is_recorded(lfg: Lfg, tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    events = recorded_agent_run(lfg, db)
    assert ending(events, "agent")["outcome"] == ending(events, "api")["outcome"] == "completed"
    plans = of(events, "agent", "plan")
    assert plans[0]["steps"][0] == {"content": "list_dir .", "status": "in_progress", "priority": "medium"}
    calls = of(events, "agent", "tool_call")
    assert [c["name"] for c in calls] == ["list_dir .", "read_file README.md"]
    results = of(events, "agent", "tool_result")
    assert results[1]["output"] == "# Widget\nA tiny service that renders widgets."
    assert ending(events, "agent")["ttft_ms"] is not None
    searched = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "history", "search", "Widget", "--db", str(db), "--json"],
        env=lfg.env,
        timeout=60 * PATIENCE,
    )
    hits = json.loads(searched.stdout)
    assert any(hit["ticket"] == "agent" for hit in hits), searched.stdout


def test_headless_yes_allows_once_and_without_it_the_agent_is_refused(lfg: Lfg) -> None:
    writer = 'model = "writer:ttft_ms=0,tokens_per_s=0"'
    tickets = lfg.tickets(f'[[ticket]]\nid = "w"\nprompt = "write"\nprovider = "sim-acp"\n{writer}\n')
    code, events, _ = lfg.run(tickets, "--no-history")
    assert code == 0 and not (lfg.workdir / "notes").exists()
    assert all(r["is_error"] for r in of(events, "w", "tool_result"))
    code, events, _ = lfg.run(tickets, "--no-history", "--yes")
    assert code == 0
    assert (lfg.workdir / "notes" / "summary.md").read_text().startswith("# Summary")
    assert "Done: the notes are in" in text(events, "w")


def test_an_agent_that_is_not_installed_is_refused_naming_what_to_install(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.env["PATH"] = str(tmp_path / "empty")
    tickets = lfg.tickets('[[ticket]]\nid = "c"\nprompt = "fix it"\nprovider = "claude-code"\n')
    done = subprocess.run(
        lfg.args(tickets, "--json"), env=lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE
    )
    assert done.returncode == 2 and done.stdout == ""
    assert (
        "tickets.toml:4: ticket 'c': provider 'claude-code' runs the coding agent 'claude-agent-acp'"
        in done.stderr
    )
    assert "install it: npm install -g @agentclientprotocol/claude-agent-acp" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_agent_gets_the_allowlist_and_its_own_variables_only(lfg: Lfg) -> None:
    lfg.env |= {"MY_AGENT_KEY": "k", "STRIPE_KEY": "secret"}
    script = 'env > agent-env.txt; exec "$0" -m lfgtui.sim.acp_agent --scenario hello'
    lfg.config.write_text(
        "[providers.wrapped]\n"
        'kind = "acp"\n'
        f"command = {json.dumps(['sh', '-c', script, sys.executable])}\n"
        'env = ["MY_AGENT_KEY"]\n'
        'default_model = "hello"\n'
    )
    code, _, stderr = lfg.run(lfg.tickets('[[ticket]]\nid = "e"\nprompt = "hi"\nprovider = "wrapped"\n'))
    assert code == 0, stderr
    seen = dict(
        line.split("=", 1) for line in (lfg.workdir / "agent-env.txt").read_text().splitlines() if "=" in line
    )
    assert seen["MY_AGENT_KEY"] == "k" and "STRIPE_KEY" not in seen
    assert seen["PWD"] == str(lfg.workdir.resolve())


def test_an_acp_provider_without_a_command_is_a_config_error(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.config.write_text('[providers.broken]\nkind = "acp"\n')
    tickets = lfg.tickets('[[ticket]]\nid = "b"\nprompt = "hi"\nprovider = "sim"\n')
    done = subprocess.run(
        lfg.args(tickets, "--json"), env=lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE
    )
    assert done.returncode == 2
    assert "[providers.broken]: an acp provider needs command, the agent's command line" in done.stderr


def test_lfg_ask_points_an_agent_to_lfg_run(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    done = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "ask", "hi", "--provider", "sim-acp"],
        env=lfg.env,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 2
    assert "'sim-acp' is a coding agent: run it as a ticket with lfg run" in done.stderr


def test_a_recorded_agent_ticket_gives_a_resumed_run_its_session_to_load(lfg: Lfg, tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    events = recorded_agent_run(lfg, db)
    [opened] = [
        e["message"] for e in of(events, "agent", "status") if e["message"].startswith("agent session ")
    ]
    with Store.open(db) as store:
        [run] = store.list_runs(1)
        recorded = recorded_run(store.load(Selection(run.id)))
    earlier = earlier_of_each(recorded.tickets)
    assert earlier["agent"].agent_session == opened.removeprefix("agent session ")
    assert earlier["api"].agent_session is None


def test_an_agent_that_crashes_fails_only_its_ticket(lfg: Lfg, tmp_path: Path) -> None:
    crashing = AGENT_AND_API.replace("agent-demo:ttft_ms=0,tokens_per_s=0", "fault-drop:ttft_ms=0")
    code, events, _ = lfg.run(lfg.tickets(crashing), "--db", str(tmp_path / "history.sqlite3"))
    assert code == 1
    assert ending(events, "api")["outcome"] == "completed" and text(events, "api").startswith("Hello!")
    failed = ending(events, "agent")
    assert failed["outcome"] == "failed" and failed["error"]["kind"] == "connection"
    assert failed["error"]["message"].startswith("the agent exited with code 1 before it finished")
    assert text(events, "agent") == "This answer will be cut off part of", "what arrived is kept"


def test_a_recorded_agent_run_rebuilds_its_plan_log_and_session(lfg: Lfg, tmp_path: Path) -> None:
    """A run opened from the history shows the plan section and `L` as the live run did."""
    db = tmp_path / "history.sqlite3"
    events = recorded_agent_run(lfg, db)
    with Store.open(db) as store:
        [run] = store.list_runs(1)
        [agent] = [t for t in recorded_run(store.load(Selection(run.id))).tickets if t.ticket.id == "agent"]
    rebuilt = agent.attempts[-1].events
    plans = [e for e in rebuilt if isinstance(e, PlanUpdated)]
    printed = [p["steps"] for p in of(events, "agent", "plan")]
    assert [[asdict(step) for step in plan.steps] for plan in plans] == printed
    [started] = [e for e in rebuilt if isinstance(e, AgentStarted)]
    assert Path(started.log).is_file() and started.log in started.message
    [opened] = [e for e in rebuilt if isinstance(e, SessionOpened)]
    assert opened.message == f"agent session {opened.session_id}" and not opened.loaded


def test_a_damaged_typed_note_comes_back_as_a_plain_status() -> None:
    from lfgtui.history.notes import read_note

    assert read_note({"plan": [["step", "pending"]]}) is None
    assert read_note({"plan": [["step", 3, "high"]]}) is None
    assert read_note({"plan": "x"}) is None
    assert read_note({"plan": [["a", "completed", "high"]]}) == (
        PlanUpdated,
        {"steps": (PlanStep("a", "completed", "high"),), "markdown": ""},
    ), "a note recorded before plan operations has no Markdown plan"
    assert read_note({"plan": [], "plan_markdown": 3}) == (PlanUpdated, {"steps": (), "markdown": ""})


SUMMARY = "# Summary\n\nWritten by the lfg writer scenario.\n"


def late_writer(lfg: Lfg) -> Path:
    return lfg.tickets(f'[[ticket]]\nid = "w"\nprompt = "write"\nprovider = "sim-acp"\nmodel = "{LATE}"\n')


def test_ndjson_and_the_history_keep_the_call_as_the_agent_finally_described_it(
    lfg: Lfg, tmp_path: Path
) -> None:
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(late_writer(lfg), "--db", str(db), "--yes")
    assert code == 0, stderr
    assert ending(events, "w")["outcome"] == "completed"
    announced = of(events, "w", "tool_call")
    assert [(c["name"], c["arguments"]) for c in announced[:1]] == [("tool", {})], "announced bare"
    final = {u["id"]: u for u in of(events, "w", "tool_call_update")}
    target = str(lfg.workdir / "notes" / "summary.md")
    write, command = final.values()
    assert write["name"] == "write_file notes/summary.md" and write["kind"] == "edit"
    assert write["arguments"] == {"path": "notes/summary.md", "content": SUMMARY}
    assert write["locations"] == [target]
    assert command["name"] == "run_command cat notes/summary.md" and command["kind"] == "execute"
    assert command["arguments"] == {"command": "cat notes/summary.md"}

    with Store.open(db) as store:
        [run] = store.list_runs(1)
        [ticket] = recorded_run(store.load(Selection(run.id))).tickets
    replayed = [e for e in ticket.attempts[-1].events if isinstance(e, ToolCallReady) and e.call_id in final]
    assert [e.name for e in replayed] == [write["name"], command["name"]], "a replay shows the final call"
    assert [e.arguments for e in replayed] == [write["arguments"], command["arguments"]]
    run_id = run.id
    shown = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "history", "show", run_id, "--json", "--db", str(db)],
        env=lfg.env,
        timeout=60 * PATIENCE,
    )
    assert shown.returncode == 0, shown.stderr
    [attempt] = json.loads(shown.stdout)["run"]["tickets"][0]["attempts"]
    agent_calls = [p for p in attempt["parts"] if p["kind"] == "tool_call" and p["call_id"] in final]
    assert [(p["name"], json.loads(p["text"])) for p in agent_calls] == [
        ("write_file notes/summary.md", {"path": "notes/summary.md", "content": SUMMARY}),
        ("run_command cat notes/summary.md", {"command": "cat notes/summary.md"}),
    ]
    assert json.loads(agent_calls[0]["meta"]) == {"kind": "edit", "locations": [target]}
    results = {p["call_id"]: p["name"] for p in attempt["parts"] if p["kind"] == "tool_result"}
    assert results[write["id"]] == "write_file notes/summary.md", "a result is named as its call now reads"
