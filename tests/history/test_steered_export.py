"""`lfg history export` of a run a person steered and queued into: the steer at its place between the
rounds of its attempt, who sent it named; the queued message as the next attempt's prompt, continuing
the one before, with who queued it; nothing sent twice, nothing taken back shown as sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import ApprovalAsked, Event, Outcome
from lfgtui.history.export import to_markdown
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.requests import Approve, Queue, RemoveHeld, Steer
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.patience import PATIENCE

TICKET = (
    '[[ticket]]\nid = "t"\nprompt = "Look around."\nprovider = "sim"\nmodel = "steer-rounds"\n'
    'tools = ["write_file", "list_dir", "read_file"]\n'
)


async def test_an_export_has_each_steered_and_queued_turn_at_its_place(
    sim: SimServer, tmp_path: Path
) -> None:
    path, db = tmp_path / "tickets.toml", tmp_path / "h.sqlite3"
    path.write_text(TICKET)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    async with (
        open_run_history(db, loaded, "lfg run", print) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(yes=False, askable=True), [events.append])
        run.record(history)
        run.start()
        async with asyncio.timeout(20 * PATIENCE):
            while not (asked := [e for e in events if isinstance(e, ApprovalAsked)]):
                await asyncio.sleep(0.01)
        assert run.ask(Steer("t", "Answer in French."), "127.0.0.1 (ada)") is None
        assert run.ask(Queue("t", "Then a haiku."), "you") is None
        assert run.ask(Queue("t", "Never mind."), "you") is None
        dropped = run.states["t"].inbox.held[-1].id
        assert run.ask(RemoveHeld("t", dropped), "you") is None
        assert run.ask(Approve("t", asked[0].call_id, True), "you") is None
        outcomes = await asyncio.wait_for(run.wait(), 30 * PATIENCE)
    assert outcomes == {"t": Outcome.COMPLETED}
    with Store.open(db) as store:
        markdown = to_markdown(store.load(Selection(history.run_id)))

    first, second = markdown.split("## t · attempt 2")
    steer = first.index("**Steer** from 127.0.0.1 (ada)\n\n> Answer in French.")
    assert first.index("**Prompt**\n\n> Look around.") < first.index("Tool call: write_file") < steer
    assert steer < first.index("Tool call: list_dir"), "between the first round's result and the next"
    assert markdown.count("> Answer in French.") == 1, "steered once, not replayed or sent again"
    assert second.index("**Prompt**\n\n> Then a haiku.") < second.index("*queued by you*")
    assert "Never mind." not in second and "taken back by you: Never mind." in first
    assert "attempt 3" not in markdown
