"""A coding agent's context and cost, its commands and mode: gauges and one detail each, not a status
per update. Through the real `lfg run --json`, the history, the app's pane (Pilot) and the reader."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest
from acp import schema, text_block

from lfgtui.config.load import Config
from lfgtui.cost.metrics import MetricsBook
from lfgtui.events import (
    AgentCommand,
    AgentDetails,
    AgentLimit,
    AgentSetting,
    AttemptEnded,
    AttemptStarted,
    ContextUsed,
    EventFactory,
    Outcome,
    Status,
)
from lfgtui.formats import agent_usage_text, context_percent, context_text, limit_text
from lfgtui.history.recorded import recorded_run
from lfgtui.history.store import Selection, Store
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run.agents.choices import Offered
from lfgtui.run.agents.limits import CLAUDE_LIMIT, agent_limit
from lfgtui.run.agents.updates import AgentView, UpdateReader
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support import warm_lfg
from tests.support.agents import no_agent_left
from tests.support.app import SIZE, keys, until
from tests.support.compose import lfg_app
from tests.support.lfg import Lfg, ending, of
from tests.support.patience import PATIENCE

SIM_AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}"]
COSTLY = f'[providers.costly]\nkind = "acp"\ncommand = {json.dumps([*SIM_AGENT, "--cost", "0.03"])}\n'
TICKET = '[[ticket]]\nid = "a"\nprompt = "What is this?"\nprovider = "costly"\n'
DEMO = 'model = "agent-demo:ttft_ms=0,tokens_per_s=0"\n'


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    isolated.config.write_text(COSTLY)
    return isolated


def test_usage_and_commands_are_a_context_and_a_detail_not_statuses(lfg: Lfg, tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(TICKET + DEMO), "--db", str(db))
    assert code == 0, stderr
    notes = [e["message"] for e in of(events, "a", "status")]
    assert not [n for n in notes if n.startswith(("context", "agent commands", "agent mode"))], notes
    [context] = of(events, "a", "context")
    # 173 tokens of prompt and streamed output, and 7 of its two tool calls' arguments
    assert (context["used"], context["size"], context["percent"]) == (180, 200_000, 0.1)
    assert context["cost_usd"] == 0.03
    [offered] = of(events, "a", "agent")
    assert offered["mode"] == "default", "the mode the session opened in, with the commands it lists"
    assert offered["commands"] == [
        {"name": "scenario", "description": "Say which sim scenario this agent plays"}
    ]
    ended = ending(events, "a")
    assert (ended["cost_usd"], ended["cost_estimated"], ended["cost_by_agent"]) == (0.03, False, True)

    with Store.open(db) as store:
        [run] = store.list_runs(1)
        record = store.load(Selection(run.id))
    assert record.tickets[0].attempts[-1].row.cost_usd == 0.03
    [ticket] = recorded_run(record).tickets
    rebuilt = ticket.attempts[-1].events
    assert [(e.used, e.size, e.cost_usd) for e in rebuilt if isinstance(e, ContextUsed)] == [
        (180, 200_000, 0.03)
    ]
    [details] = [e for e in rebuilt if isinstance(e, AgentDetails)]
    assert details.commands == (AgentCommand("scenario", "Say which sim scenario this agent plays"),)
    shown = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "history", "show", run.id, "--db", str(db)],
        env=lfg.env | {"COLUMNS": "200"},
        timeout=60 * PATIENCE,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("context 180 of 200,000 tokens (0.1%), $0.03 by the agent's count") == 1
    assert shown.stdout.count("agent: mode default · 1 command") == 1


def test_an_agent_reported_cost_counts_toward_max_cost_usd(lfg: Lfg) -> None:
    code, events, stderr = lfg.run(lfg.tickets(TICKET + DEMO + "max_cost_usd = 0.02\n"), "--no-history")
    assert code == 1, stderr
    notes = [e["message"] for e in of(events, "a", "status")]
    assert (
        "no price is known for costly/agent-demo:ttft_ms=0,tokens_per_s=0: only a cost the agent"
        in " ".join(notes)
    )
    ended = ending(events, "a")
    assert ended["outcome"] == "failed" and ended["error"]["kind"] == "budget", ended
    assert "this attempt cost $0.03, reaching the ticket's max_cost_usd $0.02" in ended["error"]["message"]
    assert ended["cost_by_agent"] is True


def usage(used: int, cost: float | None, currency: str = "USD") -> schema.UsageUpdate:
    spent = None if cost is None else schema.Cost(amount=cost, currency=currency)
    return schema.UsageUpdate(session_update="usage_update", used=used, size=1000, cost=spent)


def test_each_attempt_costs_its_share_of_the_sessions_cumulative_cost() -> None:
    view = AgentView()
    first = UpdateReader(EventFactory("t", 1), view)
    [one] = first.events(usage(100, 0.03))
    assert first.events(usage(100, 0.03)) == [], "the same report again is no news"
    [more] = first.events(usage(150, 0.05))
    assert (one.cost_usd, more.cost_usd) == (0.03, 0.05)
    follow_up = UpdateReader(EventFactory("t", 2), view)
    assert [(e.used, e.size, e.cost_usd) for e in follow_up.carried() if isinstance(e, ContextUsed)] == [
        (150, 1000, None)
    ]
    [later] = follow_up.events(usage(300, 0.08))
    assert later.cost_usd == pytest.approx(0.03)
    restarted = UpdateReader(EventFactory("t", 3), view)
    [afresh] = restarted.events(usage(20, 0.01))
    assert afresh.cost_usd == 0.01, "a count that went down started afresh"
    [noted, euros] = UpdateReader(EventFactory("t", 4), AgentView()).events(usage(10, 1.5, "EUR"))
    assert isinstance(noted, Status) and "in EUR: it is not counted in max_cost_usd" in noted.message
    assert isinstance(euros, ContextUsed) and euros.cost_usd is None


def test_claude_codes_rate_limit_is_the_accounts_limit_and_a_damaged_one_is_none() -> None:
    reader = UpdateReader(EventFactory("t", 1))
    in_an_hour = time.time() + 3600
    said = {
        "status": "allowed_warning",
        "rateLimitType": "five_hour",
        "utilization": 0.91,
        "resetsAt": in_an_hour,
    }
    update = schema.UsageUpdate(
        session_update="usage_update", used=10, size=1000, field_meta={CLAUDE_LIMIT: said}
    )
    [limited] = reader.events(update)
    assert isinstance(limited, ContextUsed) and limited.limit is not None
    assert (limited.limit.window, limited.limit.status, limited.limit.used) == (
        "five_hour",
        "allowed_warning",
        0.91,
    )
    assert limited.limit.reset_s == pytest.approx(3600, abs=5)
    assert "5h 91% used ↻" in context_text(limited)
    damaged = [{"status": 3}, {"utilization": 0.5}, "rejected", None]
    assert [agent_limit({CLAUDE_LIMIT: meta}, 0.0) for meta in damaged] == [None] * 4
    odd = agent_limit({CLAUDE_LIMIT: {"status": "rejected", "utilization": "all", "resetsAt": True}}, 0.0)
    assert odd == AgentLimit("", "rejected") and limit_text(odd) == "limit reached"


def test_what_a_session_opened_with_is_shown_once_even_when_the_agent_says_nothing_more() -> None:
    reader = UpdateReader(EventFactory("t", 1))
    modes = schema.SessionModeState(
        current_mode_id="ask", available_modes=[schema.SessionMode(id="ask", name="Ask")]
    )
    reader.opened(Offered([], modes))
    assert reader.carried() == [], "shown with the agent's first word about its session, or at the end"
    [opened] = reader.unsaid()
    assert isinstance(opened, AgentDetails) and opened.mode == "ask"
    assert reader.unsaid() == []
    follow_up = UpdateReader(EventFactory("t", 2), reader.view)
    assert [e.mode for e in follow_up.carried() if isinstance(e, AgentDetails)] == ["ask"]


def test_commands_mode_and_settings_are_one_detail_each_time_they_change() -> None:
    """Once the turn's work began (before it they are held, to be one detail with it)."""
    reader = UpdateReader(EventFactory("t", 1))
    reader.events(schema.AgentMessageChunk(session_update="agent_message_chunk", content=text_block("Hi")))
    commands = schema.AvailableCommandsUpdate(
        session_update="available_commands_update",
        available_commands=[schema.AvailableCommand(name=f"c{i}", description="d") for i in range(25)],
    )
    [listed] = reader.events(commands)
    assert reader.events(commands) == [], "the same 25 commands again"
    [moded] = reader.events(
        schema.CurrentModeUpdate(session_update="current_mode_update", current_mode_id="plan")
    )
    options = [
        schema.SessionConfigOptionSelect(
            type="select",
            id="model",
            name="Model",
            category="model",
            current_value="opus",
            options=[schema.SessionConfigSelectOption(value="opus", name="Opus")],
        ),
        schema.SessionConfigOptionBoolean(type="boolean", id="fast", name="Fast", current_value=True),
    ]
    [configured] = reader.events(
        schema.ConfigOptionUpdate(session_update="config_option_update", config_options=options)
    )
    assert isinstance(listed, AgentDetails) and len(listed.commands) == 25 and listed.mode is None
    assert isinstance(moded, AgentDetails) and moded.mode == "plan" and len(moded.commands) == 25
    assert isinstance(configured, AgentDetails)
    assert configured.settings == (AgentSetting("Model", "Opus (opus)"), AgentSetting("Fast", "on"))
    assert configured.summary() == "mode plan · Model Opus (opus) · Fast on · 25 commands"


async def test_the_pane_gauges_the_context_and_the_agents_cost_per_attempt(tmp_path: Path) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text('[[ticket]]\nid = "h"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n')
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    costly = BUILTIN["sim-acp"].with_agent(command=(*BUILTIN["sim-acp"].agent.command, "--cost", "0.03"))
    app = lfg_app(loaded.tickets, Providers({"sim-acp": costly}))
    async with app.run_test(size=SIZE) as pilot:
        h = app.controller.panes["h"]
        await until(pilot, lambda: h.state.value == "completed" and "ctx" in h.gauges.text.plain, timeout=20)
        gauges = h.gauges.text.plain
        assert "ctx " in gauges and "/200k " in gauges and "%" in gauges, gauges
        assert "$0.03 agent" in gauges, gauges
        assert h.agent.display and str(h.agent.title) == "agent: mode default · 1 command"
        h.shown.focus()
        await pilot.press("i")
        await pilot.press(*keys("and then?"), "enter")
        await until(pilot, lambda: h.attempt == 2 and h.state.value == "completed", timeout=20)
        await until(pilot, lambda: "$0.03 agent" in h.gauges.text.plain, timeout=5)
        assert h.agent.display, "the follow-up's pane still shows what the agent offers"
    assert await no_agent_left(tmp_path)


async def test_the_summary_bar_shows_what_an_agent_providers_sessions_reported_and_its_limit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tickets.toml"
    two = "".join(
        f'[[ticket]]\nid = "{name}"\nprompt = "{prompt}"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n'
        for name, prompt in (("short", "x"), ("long", "say hello to everyone in the room please"))
    )
    path.write_text(two)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    limited = ("--cost", "0.03", "--rate-limit", "0.91")
    costly = BUILTIN["sim-acp"].with_agent(command=(*BUILTIN["sim-acp"].agent.command, *limited))
    app = lfg_app(loaded.tickets, Providers({"sim-acp": costly}))
    async with app.run_test(size=SIZE) as pilot:
        summary = app.controller.screen.summary
        await until(pilot, lambda: "2 completed" in str(summary.render()), timeout=20)
        await until(pilot, lambda: "$0.06 agent" in str(summary.render()), timeout=5)
        shown = str(summary.render())
        said = shown[shown.index("sim-acp ctx") :]
        contexts = [m.context for m in app.controller.book.attempts.values() if m.context is not None]
        last = max(contexts, key=lambda c: c.t)
        context = f"sim-acp ctx {last.used}/200k {context_percent(last.used, 200_000)}"
        assert re.fullmatch(rf"{context} · \$0\.06 agent · 5h 91% used ↻(59m\d\ds|1h00m)", said), said
    assert await no_agent_left(tmp_path)


def test_the_fullest_running_session_is_the_providers_context_until_it_ends() -> None:
    book, ev = MetricsBook(), EventFactory("a", 1)
    other = EventFactory("b", 1)
    book(ev(AttemptStarted, provider="claude-code", model="default"))
    book(other(AttemptStarted, provider="claude-code", model="default"))
    book(ev(ContextUsed, used=150_000, size=200_000, cost_usd=0.5))
    book(other(ContextUsed, used=20_000, size=200_000, cost_usd=0.25))
    book(other(ContextUsed, used=30_000, size=200_000, cost_usd=0.75))
    usage = book.agents["claude-code"]
    assert agent_usage_text(usage, 0.0) == "claude-code ctx 150k/200k 75% (fullest of 2) · $1.25 agent"
    book(other(AttemptEnded, outcome=Outcome.COMPLETED))
    assert agent_usage_text(usage, 0.0) == "claude-code ctx 150k/200k 75% · $1.25 agent", "the one running"
    book(ev(AttemptEnded, outcome=Outcome.COMPLETED))
    assert agent_usage_text(usage, 0.0) == "claude-code ctx 30k/200k 15% · $1.25 agent", "none runs: the last"


def test_a_context_with_anything_in_it_is_never_shown_empty() -> None:
    assert [context_percent(u, 200_000) for u in (0, 16, 173, 45_210, 200_000)] == [
        "0.0%",
        "<0.1%",
        "0.1%",
        "23%",
        "100%",
    ]
