"""Per run, the broker's index counts the tickets that need the person and those ended unread, as
`lfg runs` and the fleet view show them; a ticket looked at in the runner's TUI is read there too."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

from redis.asyncio import Redis

from lfgtui.broker.fleet_index import IndexedRun, indexed_runs
from lfgtui.broker.layout import Layout
from lfgtui.commands.broker import _table
from lfgtui.config.broker import Broker
from lfgtui.events import ApprovalAsked, SubagentChanged
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run.approvals import Approvals
from lfgtui.run.requests import YOU, CancelChild
from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.fleet import FleetScreen
from lfgtui.ui.services import Services
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.broker import published
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

ASKS_AND_ENDS = (
    '[[ticket]]\nid = "w"\nprovider = "sim"\nprompt = "x"\nmodel = "writer"\ntools = ["write_file"]\n'
    '[[ticket]]\nid = "hi"\nprovider = "sim"\nprompt = "x"\nmodel = "hello"\n'
)


async def indexed(url: str, run_id: str, holds: object) -> IndexedRun:
    """The run's index entry once `holds(entry)` is true (bounded)."""
    redis = Redis.from_url(url)
    try:
        async with asyncio.timeout(20 * PATIENCE):
            while True:
                found = {run.run_id: run for run in await indexed_runs(redis, Layout("lfg"))}
                run = found.get(run_id)
                if run is not None and holds(run):  # type: ignore[operator]
                    return run
                await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


async def fleet_row(broker: Broker, run_id: str, text: str) -> tuple[str, str]:
    """Open the fleet view on `broker`, wait for `run_id`'s row to say `text`: the row and the
    view's header as shown then."""
    app = LfgApp(Services(Providers(), broker=broker), None)
    async with app.run_test(size=(150, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, FleetScreen)

        def shown() -> str:
            return " | ".join(c.plain for c in screen.table.get_row(run_id)) if screen.shown else ""

        await until(pilot, lambda: text in shown())
        return shown(), str(screen.header.content)


async def test_the_index_counts_who_needs_you_and_what_is_unread_per_run(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    asking = Approvals(askable=True)
    async with published(sim, tmp_path, redis_server.url, ASKS_AND_ENDS, approvals=asking) as one:
        one.run.start()
        run_id = one.run.run_id
        entry = await indexed(redis_server.url, run_id, lambda r: "w" in r.needs_you and r.unread == 1)
        assert set(entry.needing) == {"w"} and entry.attention() == "1 need you, 1 unread"
        assert entry.json()["needs_you"] == entry.needs_you and entry.json()["unread"] == 1
        assert "1 need you, 1 unread" in _table([entry])
        row, header = await fleet_row(one.broker, run_id, "1 unread")
        assert "⚑ 1 for" in row and "⚑ 1 waiting for you" in header
        one.run.looked("hi")
        entry = await indexed(redis_server.url, run_id, lambda r: r.unread == 0)
        assert entry.attention() == "1 need you"
        (asked,) = [e for e in one.events if isinstance(e, ApprovalAsked)]
        assert asking.answer("w", asked.call_id, True, "you")
        entry = await indexed(redis_server.url, run_id, lambda r: not r.needs_you and r.unread == 1)
        assert entry.attention() == "1 unread", "w ended unread once allowed"


async def test_looking_at_a_pane_in_the_tui_tells_the_runs_readers(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'))
    seen: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        run = app.controller.control.run
        assert run is not None
        run.readers.append(seen.append)
        await until(pilot, lambda: pane(app, "hi").standing.unread)
        await pilot.press("z")
        await until(pilot, lambda: seen == ["hi"])
        await pilot.press("z", "z")
    assert seen == ["hi"], "read once"


async def test_the_index_counts_a_runs_sub_agents_and_the_fleet_view_says_how_many_run(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    """The sim agent's child waits until cancelled: the index holds one sub-agent running, the fleet
    view's row says so; cancelled, it is counted but no longer running."""
    agent = BUILTIN["sim-acp"]
    assert agent.agent is not None
    waits = agent.with_agent(command=(*agent.agent.command, "--subagent", "Scan", "--subagent-waits"))
    toml = '[[ticket]]\nid = "p"\nprovider = "sim-acp"\nprompt = "x"\nmodel = "hello:ttft_ms=0"\n'
    async with published(
        sim, tmp_path, redis_server.url, toml, providers={**BUILTIN, "sim-acp": waits}
    ) as one:
        one.run.start()
        run_id = one.run.run_id
        entry = await indexed(redis_server.url, run_id, lambda r: r.subagents == (1, 1))
        assert entry.json()["subagents"] == {"count": 1, "running": 1}
        await fleet_row(one.broker, run_id, "1 sub-agent, 1 running")
        [changed] = [e for e in one.events if isinstance(e, SubagentChanged)]
        told = one.run.ask(CancelChild("p", changed.child), YOU)
        assert (await told if inspect.isawaitable(told) else told) is None
        await indexed(redis_server.url, run_id, lambda r: r.subagents == (1, 0))  # ended cancelled
