"""A run with a lead ticket, recorded, then resumed (`lfg resume`'s app): the lead is served again
(its socket and token), and the tickets it added before are its own still (the history keeps which
lead added each: migration 33), so it may reach them and sees them, as before. A real SQLite history
in tmp, the sim and the sim agent, the lead's requests over its real Unix socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
from textual.widgets import Input

from lfgtui.commands.run import admits
from lfgtui.config.load import Config
from lfgtui.history.recorder import Recorder
from lfgtui.history.writer import open_run_history
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.remote.leads import serving_leads
from lfgtui.run import Run
from lfgtui.run.agents.launch import LeadDoor
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_added, load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.screens.new_ticket import NewTicketScreen
from tests.support.app import SIZE, until
from tests.support.compose import first_run, resumed_app
from tests.support.patience import PATIENCE
from tests.support.recording import load_recorded

BOSS = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=200"
lead = true
lead_max_added = 2
"""


@contextlib.asynccontextmanager
async def lead_client(door: LeadDoor) -> AsyncIterator[httpx2.AsyncClient]:
    """The lead's way to its run, as `lfg mcp` takes it: its socket, its token."""
    token = door.token_file.read_text().strip()
    transport = httpx2.AsyncHTTPTransport(uds=str(door.socket))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://lfg", headers=headers, timeout=10 * PATIENCE
    ) as client:
        yield client


async def until_ended(run: Run, ticket: str, attempt: int = 1) -> None:
    state = run.states[ticket]
    async with asyncio.timeout(20 * PATIENCE):
        while state.attempt < attempt or state.outcome is None or state.running:
            await asyncio.sleep(0.01)


async def test_a_resumed_lead_is_served_again_and_its_tickets_from_before_are_its_own(
    sim: SimServer, tmp_path: Path
) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(BOSS)
    config = Config(path=None)
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    db = tmp_path / "history.sqlite3"
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(yes=True), [])
        run.admits = lambda table, taken: load_added(table, loaded, taken, config, BUILTIN_TOOLS, env={})
        run.record(history)
        async with serving_leads(run, loaded.tickets):
            run.start()
            async with lead_client(run.lead_doors["boss"]) as lead:
                body = {"request": "add-ticket", "ticket": {"prompt": "Say hello.", "model": "hello"}}
                added = await lead.post("/v1/requests", json=body)
                assert added.status_code == 200, added.text
                child = added.json()["ticket"]
            await until_ended(run, child)
            assert run.states[child].outcome is Outcome.COMPLETED
            run.cancel("boss")  # the person stops the run
            await run.wait()
        run_id = run.run_id

    recorded = load_recorded(db, run_id)
    async with Providers(sim=sim) as providers:
        app = resumed_app(recorded, providers)
        async with app.run_test(size=SIZE) as pilot:
            resumed = first_run(app)
            async with (
                serving_leads(resumed, recorded.as_tickets),
                lead_client(resumed.lead_doors["boss"]) as lead,
            ):
                assert resumed.retry("boss")  # a lead messages only while it runs
                again = {"request": "follow-up", "ticket": child, "text": "Say hello again."}
                followed = await lead.post("/v1/requests", json=again)
                assert followed.status_code == 200, followed.text
                described = (await lead.get("/v1/run")).json()
                assert [t["ticket"] for t in described["tickets"]] == ["boss", child]
                await until_ended(resumed, child, attempt=2)
                assert resumed.states[child].outcome is Outcome.COMPLETED
            assert resumed.parents == {child: "boss"}
            await pilot.press("q")


async def test_a_resumed_lead_adds_tickets_under_the_run_s_recorded_defaults(
    sim: SimServer, tmp_path: Path
) -> None:
    """`lfg resume` checks a ticket added to it (by its lead, or the person's `N`) against the
    `[defaults]` the run recorded (migration 34), not the tickets file as it is now: a file edited
    since changes nothing."""
    path = tmp_path / "tickets.toml"
    path.write_text(BOSS.replace('provider = "sim"\n', 'provider = "sim"\nmax_calls = 7\n', 1))
    config = Config(path=None)
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    db = tmp_path / "history.sqlite3"
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(yes=True), [])
        run.record(history)
        run.start()
        run.cancel("boss")  # the person stops the run before its lead adds anything
        await run.wait()
        run_id = run.run_id
    path.write_text(BOSS.replace('provider = "sim"\n', 'provider = "sim"\nmax_calls = 3\n', 1))

    recorded = load_recorded(db, run_id)
    added_to = recorded.added_to()
    assert added_to is not None and added_to.defaults == {"provider": "sim", "max_calls": 7}
    async with Providers(sim=sim) as providers:
        app = resumed_app(recorded, providers)
        async with app.run_test(size=SIZE) as pilot:
            resumed = first_run(app)
            resumed.admits = admits(config, added_to)  # as lfg resume does
            async with (
                serving_leads(resumed, recorded.as_tickets),
                lead_client(resumed.lead_doors["boss"]) as lead,
            ):
                assert resumed.retry("boss")  # a lead adds only while it runs
                body = {"request": "add-ticket", "ticket": {"prompt": "Say hello.", "model": "hello"}}
                added = await lead.post("/v1/requests", json=body)
                assert added.status_code == 200, added.text
                child = added.json()["ticket"]
                await until_ended(resumed, child)
            assert resumed.states[child].outcome is Outcome.COMPLETED
            assert resumed.states[child].written.max_calls == 7
            assert resumed.parents == {child: "boss"}
            resumed.cancel("boss")
            await pilot.press("N")  # the person adds one too, in the resumed run's form
            assert isinstance(app.screen, NewTicketScreen)
            app.screen.query_one("#new-ticket-prompt", Input).value = "Say hello."
            app.screen.query_one("#new-ticket-model", Input).value = "hello"
            app.screen.query_one("#new-ticket-prompt", Input).focus()
            await pilot.press("enter")
            await until(pilot, lambda: "added-2" in app.controller.panes)
            await until_ended(resumed, "added-2")
            assert resumed.states["added-2"].written.max_calls == 7
            assert "added-2" not in resumed.parents
            await pilot.press("q")


def test_a_run_recorded_before_its_defaults_were_kept_takes_no_new_tickets_when_resumed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(BOSS)
    db = tmp_path / "history.sqlite3"
    recorder = Recorder.begin(db, load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={}), "lfg run")
    recorder.store.conn.execute("UPDATE runs SET ticket_defaults = NULL")  # as an lfg of schema 33 left it
    recorder.finish()
    assert load_recorded(db, recorder.run_id).added_to() is None
