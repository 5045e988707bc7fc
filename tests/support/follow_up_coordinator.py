"""A coordinator that follows a ticket up once its first attempt completed, as its TUI does on `f`,
in a process of its own for tests/broker/test_resume.py to kill with -9:

    python -m tests.support.follow_up_coordinator URL TICKETS CONFIG DB TICKET FOLLOW_UP

It records the run into the history DB as `lfg run TICKETS --broker URL` would, prints its run id,
then each event of the run as a line `KIND TICKET ATTEMPT`; once TICKET completed it sends the
follow-up when a line comes on its stdin, and never ends by itself."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lfgtui.broker.client import connect
from lfgtui.broker.coordinator import BrokerRunner
from lfgtui.commands.broker import Outlet
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.config.load import load_config
from lfgtui.cost.prices import run_prices
from lfgtui.events import Event
from lfgtui.history.writer import open_run_history
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.run.approvals import Approvals
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS


async def coordinate(
    url: str, tickets: Path, config_path: Path, db: Path, ticket: str, follow_up: str
) -> None:
    config = load_config(config_path)
    loaded = load_tickets(tickets, config, BUILTIN_TOOLS, env={})
    broker = resolve(url, {}, BrokerSettings(lease_s=10))
    outlet = Outlet(broker, await connect(broker), tickets.parent)
    command = f"lfg run {tickets} --broker {url}"

    def printed(event: Event) -> None:
        print(type(event).__name__, event.ticket, event.attempt, flush=True)

    async with (
        Providers(config.providers) as providers,
        Outlet.closing(outlet),
        open_run_history(db, loaded, command, sys.exit) as history,
    ):
        prices = run_prices(providers.configs, loaded.tickets)
        run = outlet.make_run()(loaded.tickets, providers, Approvals(), [printed], prices=prices)
        assert isinstance(run.runner, BrokerRunner) and history is not None
        run.record(history)
        async with outlet.publishing(run, loaded.tickets, str(tickets), lambda _: None):
            print(run.run_id, flush=True)
            run.start()
            assert (await run.wait())[ticket] is Outcome.COMPLETED
            await asyncio.to_thread(sys.stdin.readline)
            assert run.continue_with(ticket, follow_up)
            await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    url, tickets, config, db, ticket, follow_up = sys.argv[1:]
    asyncio.run(coordinate(url, Path(tickets), Path(config), Path(db), ticket, follow_up))
