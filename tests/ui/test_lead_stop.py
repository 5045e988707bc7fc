"""Stopping a lead ticket at the TUI (`c` on its pane) whose tickets are at work asks once whether
they stop with it or keep running (issue #76: before, they were cancelled without asking); escape
stops nothing. Through Pilot on the real app, the leads served their doors as `lfg run` serves them,
their tickets added through the run's own decision as a lead's token asks."""

from __future__ import annotations

from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import AttemptEnded, Status
from lfgtui.remote.leads import serving_leads
from lfgtui.run.requests import Added, AddTicket, Lead
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_added, load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.screens.modals import LeadStopScreen
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.compose import first_run

LEADS = """
[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=200"
lead = true

[[ticket]]
id = "boss2"
prompt = "Plan too."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=200"
lead = true
"""
SLOW = {"prompt": "go", "model": "long-answer:tokens_per_s=20,repeat=200"}


async def test_stopping_a_lead_asks_whether_its_tickets_at_work_stop_too_or_keep_running(
    sim: SimServer, tmp_path: Path
) -> None:
    path, config = tickets(tmp_path, LEADS), Config(path=None)
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    app = make_app(sim, path)
    run = first_run(app)
    run.admits = lambda fields, taken: load_added(fields, loaded, taken, config, BUILTIN_TOOLS, env={})
    events: list[object] = []
    run.sinks.append(events.append)
    leads = [state.written for state in run.states.values()]
    async with serving_leads(run, leads), app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: run.states["boss"].live and run.states["boss2"].live)
        kept = run.ask(AddTicket({**SLOW, "title": "\x1b]0;pwned\x07\u202eT"}), Lead("boss"))
        stopped = run.ask(AddTicket(SLOW), Lead("boss2"))
        assert isinstance(kept, Added) and isinstance(stopped, Added), (kept, stopped)
        await until(pilot, lambda: run.states[kept.ticket].live and run.states[stopped.ticket].live)

        shown = pane(app, kept.ticket).header
        await until(pilot, lambda: kept.ticket in str(shown.text))
        assert "␛]0;pwned␇<U+202E>T" in str(shown.text), "a lead's title is outside text: shown inert"
        await app.controller.screen.show_pane(pane(app, "boss"))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, LeadStopScreen))
        assert app.screen.live == [kept.ticket]  # type: ignore[attr-defined]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LeadStopScreen))
        assert run.states["boss"].running, "escape stops nothing"

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, LeadStopScreen))
        await pilot.press("k")
        await until(pilot, lambda: ended(events, "boss"))
        assert run.states[kept.ticket].running, "kept running, as the person chose"

        await app.controller.screen.show_pane(pane(app, "boss2"))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, LeadStopScreen))
        await pilot.press("s")
        await until(pilot, lambda: ended(events, stopped.ticket))
        assert run.states[kept.ticket].running
    said = {e.ticket: [] for e in events if isinstance(e, Status)}
    for event in events:
        if isinstance(event, Status):
            said[event.ticket].append(event.message)
    assert f"its tickets keep running: {kept.ticket}" in said["boss"]
    assert f"its tickets stop with it: {stopped.ticket}" in said["boss2"]
    assert "cancelled with its lead boss2" in said[stopped.ticket]
    assert "cancelled with its lead boss" not in said[kept.ticket]


def ended(events: list[object], ticket: str) -> bool:
    return any(isinstance(e, AttemptEnded) and e.ticket == ticket for e in events)
