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

from lfgtui.config.load import Config
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
from tests.support.app import SIZE
from tests.support.compose import first_run, resumed_app
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
        transport=transport, base_url="http://lfg", headers=headers, timeout=10
    ) as client:
        yield client


async def until_ended(run: Run, ticket: str, attempt: int = 1) -> None:
    state = run.states[ticket]
    async with asyncio.timeout(20):
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
                again = {"request": "follow-up", "ticket": child, "text": "Say hello again."}
                followed = await lead.post("/v1/requests", json=again)
                assert followed.status_code == 200, followed.text
                described = (await lead.get("/v1/run")).json()
                assert [t["ticket"] for t in described["tickets"]] == ["boss", child]
                await until_ended(resumed, child, attempt=2)
                assert resumed.states[child].outcome is Outcome.COMPLETED
            assert resumed.parents == {child: "boss"}
            await pilot.press("q")
