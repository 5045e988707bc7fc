"""Issue 53, item 5: an agent's plans by id (ACP `plan_update` / `plan_removed`), against the sim
agent's `--plan-ops`: its steps and, while the turn runs, a Markdown plan of its approach beside
them; removing one plan leaves the other, in NDJSON, the history and the pane."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import cast

import pytest
from rich.console import Console, RenderableType

from lfgtui.events import PlanStep, PlanUpdated
from lfgtui.history.recorded import recorded_run
from lfgtui.history.store import Selection, Store
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.sim.acp_stable import APPROACH
from lfgtui.ui.widgets.pane import PaneState, plan_view
from tests.support.agents import agent_app, no_agent_left
from tests.support.app import SIZE, until
from tests.support.lfg import Lfg, of

TICKET = '[[ticket]]\nid = "p"\nprompt = "x"\nprovider = "{provider}"\nmodel = "agent-demo:{pace}"\n'


def test_plans_by_id_reach_ndjson_and_the_history(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    command = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--plan-ops", "--scenario", "{model}"]
    lfg.config.write_text(f'[providers.planner]\nkind = "acp"\ncommand = {json.dumps(command)}\n')
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(
        lfg.tickets(TICKET.format(provider="planner", pace="ttft_ms=0,tokens_per_s=0")),
        "--yes",
        "--db",
        str(db),
    )
    assert code == 0, stderr
    plans = of(events, "p", "plan")
    assert plans[0]["markdown"] == "", "the steps came first"
    assert plans[1]["markdown"] == APPROACH and plans[1]["steps"] == plans[0]["steps"], "beside the steps"
    assert plans[-1]["markdown"] == "", "removed at the turn's end, the steps kept"
    assert {step["status"] for step in plans[-1]["steps"]} == {"completed"}
    with Store.open(db) as store:
        [run] = store.list_runs(1)
        rebuilt = recorded_run(store.load(Selection(run.id)))
    rebuilt_plans = [e for e in rebuilt.tickets[0].attempts[0].events if isinstance(e, PlanUpdated)]
    assert [e.markdown for e in rebuilt_plans][:2] == ["", APPROACH], "the history keeps each plan"


@pytest.mark.timeout(180)  # a paced agent turn of about 150 tokens, on a loaded machine
async def test_the_pane_shows_the_markdown_plan_while_it_holds_and_its_steps_after(tmp_path: Path) -> None:
    sim = BUILTIN["sim-acp"]
    assert sim.agent is not None
    providers = Providers({"sim-acp": sim.with_agent(command=(*sim.agent.command, "--plan-ops"))})
    slow = TICKET.format(provider="sim-acp", pace="tokens_per_s=50,repeat=20").replace(
        "agent-demo", "long-answer"
    )
    app = agent_app(tmp_path, slow, providers)
    async with app.run_test(size=SIZE) as pilot:
        p = app.controller.panes["p"]
        await until(pilot, lambda: "Approach" in drawn(p.shown.plan.content), 60)
        assert "Answer briefly" in drawn(p.shown.plan.content), "drawn as Markdown: no asterisks"
        await until(pilot, lambda: p.state is PaneState.COMPLETED, 60)
        await until(pilot, lambda: "Approach" not in drawn(p.shown.plan.content), 5)
        assert drawn(p.shown.plan.content).startswith("✓ ") and p.shown.plan.display
    assert await no_agent_left(tmp_path)


def test_a_markdown_plan_is_drawn_inert() -> None:
    shown = drawn(plan_view((PlanStep("Read", "completed"),), "# Plan\n\n\x1b]0;owned\x07 **bold**"))
    assert "✓ Read" in shown and "Plan" in shown and "bold" in shown and "**" not in shown
    assert "\x1b]0;" not in shown and "\x07" not in shown, "an escape in a plan is shown, never run"


def drawn(renderable: object) -> str:
    """What the renderable shows, as plain text."""
    console = Console(width=60, record=True, force_terminal=True)
    console.print(renderable if isinstance(renderable, str) else cast("RenderableType", renderable))
    return console.export_text()
