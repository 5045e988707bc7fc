"""ACP's updates made stable after the SDK's schema (notices, compaction, sub-agent sessions, plan
operations), through the real `lfg run --json` against the sim agent, which sends each only when lfg
advertised it (as the spec asks): what today's Claude Code sends (claude-agent-acp 0.101.0), in the
shapes of `tests/run/agents/fixtures/stable_updates.jsonl`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lfgtui.alerts.states import Standing, State
from lfgtui.config.load import Config
from lfgtui.cost.metrics import Metrics
from lfgtui.events import AttemptStarted, EventFactory, PlanUpdated, Status, SubagentChanged, TextDelta
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run.agents.stable_updates import Malformed, SubagentUpdate, advertised
from lfgtui.run.agents.updates import AgentView, Unknown, UpdateReader, session_update
from lfgtui.sim.acp_stable import SUBAGENT_TEXT
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.widgets.pane import PaneState, Tally, TicketPane
from tests.support.app import SIZE, keys, until
from tests.support.compose import lfg_app
from tests.support.lfg import Lfg, ending, of, recorded_run, text
from tests.support.patience import PATIENCE

SIM_AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}"]
QUIRKS = {
    "noticing": ["--acp-notice", "MCP server docs is unavailable"],
    "compacting": ["--compaction"],
    "delegating": ["--subagent", "Read the notes", "--cost", "0.5"],
    "delegating-fg": ["--subagent", "Read the notes", "--subagent-foreground", "--cost", "0.5"],
    "delegating-asks": ["--subagent", "Read the notes", "--subagent-asks"],
    "newer": ["--unknown-update", "session_weather_update"],
}
FIXTURES = Path(__file__).parent / "fixtures" / "stable_updates.jsonl"
"""The parent session's updates as claude-agent-acp 0.101.0 sent them (recorded 2026-11-26, session ids
shortened): a sub-agent's, session messages both ways, a compaction; its notice and plan operations
in the published spec's shapes (it sent none in the recordings)."""
PARENT = "The helper runs in the background. PARENT-WAITING for it."
COMPACTED = "the agent compacted its context: the context gauge's drop is the compaction"


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    isolated = Lfg(tmp_path)
    isolated.config.write_text(
        "".join(
            f'[providers.{name}]\nkind = "acp"\ncommand = {json.dumps(SIM_AGENT + flags)}\n\n'
            for name, flags in QUIRKS.items()
        )
    )
    isolated.scenario(
        "parent", f'ttft_ms = 0\ntokens_per_s = 0\nchunk_chars = 6\n[[call]]\ntext = "{PARENT}"\n'
    )
    return isolated


def ticket(ticket_id: str, provider: str) -> str:
    return f'[[ticket]]\nid = "{ticket_id}"\nprompt = "go"\nprovider = "{provider}"\nmodel = "parent"\n\n'


def statuses(events: list[dict[str, Any]], ticket_id: str) -> list[str]:
    return [e["message"] for e in of(events, ticket_id, "status")]


def test_an_acp_notice_is_the_agents_notice_and_a_compaction_a_timeline_status(lfg: Lfg) -> None:
    tickets = ticket("n", "noticing") + ticket("c", "compacting")
    code, events, stderr = lfg.run(lfg.tickets(tickets))
    assert code == 0, stderr
    assert "the agent's notice: MCP server docs is unavailable" in statuses(events, "n")
    said = statuses(events, "c")
    compacted = COMPACTED
    assert "the agent is compacting its context" in said, said
    assert [m for m in said if m.startswith(compacted)] == [f"{compacted} (34 characters of summary kept)"]
    for ticket_id in "nc":
        assert text(events, ticket_id) == PARENT
        assert ending(events, ticket_id)["outcome"] == "completed"


@pytest.mark.parametrize("provider", ["delegating", "delegating-fg"])
def test_a_sub_agent_is_a_child_record_with_its_own_text_tool_calls_and_cost(lfg: Lfg, provider: str) -> None:
    """A sub-agent, in the background amid the parent's answer (after its first 6 characters) or in
    the foreground after it: its text, its tool call and its cost are its own record's (NDJSON's
    `subagent*` lines), never the parent's answer or tool log; it starts and finishes `done`, its
    tokens counted and its cost rolled up into the parent's."""
    code, events, stderr = lfg.run(lfg.tickets(ticket("p", provider)))
    assert code == 0, stderr
    assert text(events, "p") == PARENT
    assert not of(events, "p", "tool_call") and not of(events, "p", "tool_result")
    records = of(events, "p", "subagent")
    assert [r["message"] for r in records] == [
        "sub-agent started: Read the notes",
        "sub-agent Read the notes: $0.0042",
        "sub-agent finished: Read the notes (end_turn)",
    ], records
    child = records[0]["child"]
    assert {r["child"] for r in records} == {child} and child != "" and records[0]["state"] == "running"
    finished = records[-1]
    assert (finished["state"], finished["task"], finished["cost_usd"]) == ("done", "Read the notes", 0.0042)
    assert finished["output_tokens"] == round(len(SUBAGENT_TEXT) / 5), "five characters a token"
    assert all(r["output_tokens_estimated"] for r in records), "lfg's estimate: the agent counts no child's"
    ended = ending(events, "p")
    assert ended["cost_usd"] == pytest.approx(0.5 + 0.0042), "the child's cost is the parent's too"
    assert ended["subagent_tokens"] == finished["output_tokens"] and ended["subagent_tokens_estimated"]
    said = "".join(e["text"] for e in of(events, "p", "subagent_text"))
    assert said == SUBAGENT_TEXT
    calls = of(events, "p", "subagent_tool_call")
    assert [(c["child"], c["call_id"], c["title"], c["state"]) for c in calls] == [
        (child, f"{child}_call0", "Write notes.txt", "pending"),
        (child, f"{child}_call0", "Write notes.txt", "completed"),
    ]
    assert not [m for m in statuses(events, "p") if "SUB-DONE" in m]
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "lfgtui",
            "history",
            "export",
            recorded_run(stderr),
            "--config",
            str(lfg.config),
        ],
        env=lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert exported.returncode == 0, exported.stderr
    assert "sub-agent finished: Read the notes (end_turn)" in exported.stdout, "the history kept its record"
    assert "Write notes.txt (completed)" in exported.stdout


def test_a_sub_agents_permission_request_reaches_the_parents_pane_naming_it_and_ends_there(lfg: Lfg) -> None:
    """The child asks on its own session for a call the pane never saw (its updates are kept out): the
    person is asked in the parent's pane, the row names the sub-agent, and the answer ends the row,
    not "the agent did not say how this call ended" when the turn ends."""
    code, events, stderr = lfg.run(lfg.tickets(ticket("p", "delegating-asks")), "--yes")
    assert code == 0, stderr
    assert text(events, "p") == PARENT
    [call] = of(events, "p", "tool_call")
    assert call["name"] == "sub-agent Read the notes: Write notes.txt", call
    [result] = of(events, "p", "tool_result")
    assert not result["is_error"] and "allowed" in result["output"], result


def test_an_update_of_an_unknown_kind_is_ignored_and_counted_never_fatal(lfg: Lfg) -> None:
    code, events, stderr = lfg.run(lfg.tickets(ticket("u", "newer")))
    assert code == 0, stderr
    assert text(events, "u") == PARENT
    assert ending(events, "u")["outcome"] == "completed"
    said = statuses(events, "u")
    assert "ignored 1 agent update lfg does not read yet: session_weather_update" in said, said
    assert "not one" not in stderr


def recorded_updates() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURES.read_text().splitlines() if line.strip()]


def test_todays_claude_code_updates_read_as_lfgs_types_and_events() -> None:
    """Each recorded update reads as a type of ours (none as the SDK's invalid, none unknown), and
    the reader shows them: notices and compaction as statuses, a plan, a child's start and finish."""
    reader = UpdateReader(EventFactory("t", 1))
    reader.working = True
    shown = []
    for params in recorded_updates():
        update = session_update(params)
        assert update is not None and not isinstance(update, Malformed | Unknown), params
        shown += reader.events(update)
    said = [e.message for e in shown if type(e) in (Status, SubagentChanged)]
    assert said == [
        "the agent's notice: MCP server unavailable: Check the server's command.",
        "sub-agent started: Read the notes",
        "sub-agent finished: Read the notes (end_turn)",
        "the agent is compacting its context",
        "the agent compacted its context: the context gauge's drop is the compaction"
        " (77 characters of summary kept)",
    ]
    plans = [(e.message, len(e.steps), e.markdown) for e in shown if isinstance(e, PlanUpdated)]
    assert plans == [
        ("plan: ▸ Read the notes · ○ Report", 2, ""),
        ("plan: ▸ Read the notes · ○ Report | The plan", 2, "# The plan\n\n1. Read."),
        ("plan: ▸ Read the notes · ○ Report", 2, ""),
    ], "plans by id: a second plan is beside the first, and removing it leaves the first"
    assert not [e for e in shown if isinstance(e, TextDelta)], "session messages are nobody's answer"


@pytest.mark.parametrize(
    "update",
    [
        {"sessionUpdate": "notice", "severity": "warning", "title": ""},
        {"sessionUpdate": "compaction_update", "status": "completed"},
        {"sessionUpdate": "subagent_update", "title": "no session id"},
        {"sessionUpdate": "plan_update", "plan": {"type": "items", "planId": "p", "entries": "x"}},
    ],
)
def test_a_malformed_stable_update_is_logged_once_and_dropped(
    update: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    reader = UpdateReader(EventFactory("t", 1))
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            read = session_update({"sessionId": "s", "update": update})
            assert isinstance(read, Malformed)
            assert reader.events(read) == []
    assert len(caplog.records) == 1, caplog.records


def test_lfg_advertises_the_stable_capabilities_it_handles() -> None:
    sent = advertised({"terminal": True, "session": {"configOptions": {}}})
    assert sent["session"] == {"configOptions": {}, "notices": {}, "compaction": {}}
    assert sent["subagents"] == {} and sent["plan"] == {} and sent["terminal"] is True


def test_a_sub_agent_announced_once_is_known_by_its_title_when_later_updates_omit_it() -> None:
    view = AgentView()
    reader = UpdateReader(EventFactory("t", 1), view)
    first = {
        "sessionUpdate": "subagent_update",
        "sessionId": "c",
        "title": "Scan",
        "state": {"state": "running"},
    }
    later = {"sessionUpdate": "subagent_update", "sessionId": "c", "state": {"state": "idle"}}
    shown = [
        e.message
        for u in (first, later)
        for e in reader.events(session_update({"sessionId": "p", "update": u}))
    ]
    assert shown == ["sub-agent started: Scan", "sub-agent finished: Scan (idle)"]
    assert isinstance(session_update({"sessionId": "p", "update": first}), SubagentUpdate)


async def test_in_the_tui_each_compaction_is_one_entry_where_it_happened_never_its_summary(
    tmp_path: Path,
) -> None:
    """The sim ends each prompt with a compaction as Claude Code reports `/compact` (in progress;
    completed with a summary; completed again): the pane's transcript has one entry for it after the
    answer, and a follow-up's compaction one more after the follow-up; the summary is no answer."""
    path = tmp_path / "tickets.toml"
    path.write_text('[[ticket]]\nid = "c"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n')
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    compacting = BUILTIN["sim-acp"].with_agent(command=(*BUILTIN["sim-acp"].agent.command, "--compaction"))
    app = lfg_app(loaded.tickets, Providers({"sim-acp": compacting}))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["c"]
        await until(pilot, lambda: pane.state is PaneState.COMPLETED, timeout=20)
        entry = f"*{COMPACTED} (34 characters of summary kept)*"
        answered = pane.body.source
        assert answered.endswith(f"\n\n{entry}\n\n") and answered.count(COMPACTED) == 1, answered
        assert "The conversation so far" not in answered and pane.progress == ""
        pane.shown.focus()
        await pilot.press("i")
        await pilot.press(*keys("and then?"), "enter")
        await until(pilot, lambda: pane.attempt == 2 and pane.state is PaneState.COMPLETED, timeout=20)
        shown = pane.body.source
        assert shown.count(entry) == 2 and shown.rindex("> and then?") < shown.rindex(entry), shown


def test_a_compaction_in_progress_is_the_panes_note_and_its_end_an_entry_shown_inert(tmp_path: Path) -> None:
    """While the agent compacts, the pane's `▸` note says so; a failed compaction's entry shows the
    agent's reason as it is: Markdown in it is no markup of the transcript."""
    path = tmp_path / "tickets.toml"
    path.write_text('[[ticket]]\nid = "c"\nprompt = "x"\n')
    [loaded] = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={}).tickets
    pane = TicketPane(loaded, Tally(), str, Standing("c", State.WAITING, 0.0))
    metrics = Metrics()
    pane.apply(AttemptStarted(ticket="c", attempt=1, seq=0, t=0.0, provider="p", model="m"), metrics)
    reader = UpdateReader(EventFactory("c", 1))
    reader.working = True
    wire = {"sessionUpdate": "compaction_update", "compactionId": "k"}
    for update in ({"status": "in_progress"}, {"status": "failed", "error": "*out* of [room](x)"}):
        for event in reader.events(session_update({"sessionId": "s", "update": wire | update})):
            pane.apply(event, metrics)
        if update["status"] == "in_progress":
            assert pane.progress == "the agent is compacting its context" and pane.body.source == ""
    assert pane.progress == ""
    said = r"the agent's compaction of its context failed: \*out\* of \[room\](x)"
    assert pane.body.source == f"*{said}*\n\n"
