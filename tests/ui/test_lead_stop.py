"""Stopping a lead ticket at the TUI (`c` on its pane) whose tickets are at work asks once whether
they stop with it or keep running (issue #76: before, they were cancelled without asking); escape
stops nothing. Through Pilot on the real app, the leads served their doors as `lfg run` serves them,
their tickets added through the run's own decision as a lead's token asks."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.pilot import Pilot

from lfgtui.config.load import Config
from lfgtui.events import AttemptEnded, Status
from lfgtui.remote.leads import serving_leads
from lfgtui.run.requests import Added, AddTicket, Lead
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_added, load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.modals import LeadStopScreen
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.compose import first_run
from tests.support.patience import PATIENCE
from tests.support.remote import attached_app
from tests.support.serving import served

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


async def asked_and_escaped(pilot: Pilot[None], app: LfgApp, live: str) -> None:
    """`c` on the lead `boss` asks whether its live ticket `live` stops too; escape closes the
    question."""
    await app.controller.screen.show_pane(pane(app, "boss"))
    await pilot.press("c")
    await until(pilot, lambda: isinstance(app.screen, LeadStopScreen))
    assert app.screen.live == [live]  # type: ignore[attr-defined]
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(app.screen, LeadStopScreen))


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
        await asked_and_escaped(pilot, app, kept.ticket)
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


async def test_stopping_a_lead_in_an_attached_tui_asks_the_same_and_its_server_keeps_or_stops_them(
    sim: SimServer, tmp_path: Path
) -> None:
    """`lfg attach`'s TUI on a served run (`--control`): `c` on a lead whose tickets are at work asks
    the same question as the run's own terminal, and sends the cancel with `keep_tickets` as chosen;
    escape sends nothing. Which lead added a ticket comes in the run's description (a ticket added
    before the watcher attached) and in the `ticket` message of one added after. Before, the attached
    TUI sent a plain cancel at once, and the lead's tickets stopped with it unasked."""
    async with served(sim, tmp_path, LEADS, control=True) as run:
        leads = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, leads):
            run.run.start()
            states = run.run.states
            async with asyncio.timeout(20 * PATIENCE):
                while not (states["boss"].running and states["boss2"].running):
                    await asyncio.sleep(0.01)
            kept = run.run.ask(AddTicket(SLOW), Lead("boss"))
            assert isinstance(kept, Added), kept
            app, attachment = await attached_app(run.url, sim)
            async with app.run_test(size=SIZE) as pilot:
                stopped = run.run.ask(AddTicket({**SLOW, "title": "\x1b[2J\u202eT"}), Lead("boss2"))
                assert isinstance(stopped, Added), stopped
                live = app.controller.panes
                await until(pilot, lambda: stopped.ticket in live and live[stopped.ticket].running)
                await until(pilot, lambda: live[kept.ticket].running and live["boss"].running)
                await asked_and_escaped(pilot, app, kept.ticket)
                assert states["boss"].running, "escape sends nothing"

                await pilot.press("c")
                await until(pilot, lambda: isinstance(app.screen, LeadStopScreen))
                await pilot.press("k")
                await until(pilot, lambda: ended(run.events, "boss"))
                assert states[kept.ticket].running, "kept running, as the person chose"

                await app.controller.screen.show_pane(pane(app, "boss2"))
                await pilot.press("c")
                await until(pilot, lambda: isinstance(app.screen, LeadStopScreen))
                assert app.screen.live == [stopped.ticket]  # type: ignore[attr-defined]
                await pilot.press("s")
                await until(pilot, lambda: ended(run.events, stopped.ticket))
                assert states[kept.ticket].running
            await attachment.aclose()
    said: dict[str, list[str]] = {}
    for event in run.events:
        if isinstance(event, Status):
            said.setdefault(event.ticket, []).append(event.message)
    assert f"its tickets keep running: {kept.ticket}" in said["boss"]
    assert f"its tickets stop with it: {stopped.ticket}" in said["boss2"]
    assert "cancelled with its lead boss2" in said[stopped.ticket]


def ended(events: list[object], ticket: str) -> bool:
    return any(isinstance(e, AttemptEnded) and e.ticket == ticket for e in events)
