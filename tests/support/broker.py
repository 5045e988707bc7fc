"""A sim run published to a broker in this process, as `lfg run --publish URL` does it (the same
`Outlet` and `Publisher`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lfgtui.broker.client import connect
from lfgtui.broker.layout import ENTRY_EVENTS, dumps
from lfgtui.commands.broker import Outlet
from lfgtui.config.broker import Broker, BrokerSettings, resolve
from lfgtui.config.load import Config
from lfgtui.cost.prices import run_prices
from lfgtui.events import Event
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.remote.codec import encode
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.patience import PATIENCE

SHUTDOWN_S = 20.0
"""How long the run and its publisher may take to shut down: a hang fails the test saying so, not at
pytest's timeout (waited for in a task of its own, which a swallowed cancellation cannot stall)."""
ONE_TICKET = (
    '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "long-answer:tokens_per_s=2000"\n'
)
"""One sim ticket `t` whose answer streams fast: a run to write a worker's entries for by hand."""


@dataclass
class Published:
    """A run on the sim with its publisher attached (not started: the test starts it)."""

    run: Run
    broker: Broker
    events: list[Event] = field(default_factory=list)

    async def finish(self) -> None:
        await asyncio.wait_for(self.run.wait(), 30 * PATIENCE)


@contextlib.asynccontextmanager
async def published(
    sim: SimServer,
    folder: Path,
    url: str,
    toml: str,
    settings: BrokerSettings | None = None,
    approvals: Approvals | None = None,
    title: str | None = None,
    providers: Mapping[str, ProviderConfig] | None = None,
) -> AsyncIterator[Published]:
    """`lfg run --publish URL` of `toml` in `folder` (which exists), in this process; the publisher
    ends with the block. `approvals`: the run's (default: `--yes`); `title`: the index's (default:
    the file's path); `providers`: the configured providers (default: the built-in ones)."""
    path = folder / "tickets.toml"
    path.write_text(toml)
    config = Config(path=None, providers=dict(providers or BUILTIN))
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    broker = resolve(url, {}, settings or BrokerSettings())
    async with Providers(config.providers, sim=sim) as providers:
        prices = run_prices(providers.configs, loaded.tickets)
        events: list[Event] = []
        policy = approvals or Approvals(yes=True)
        run = Run(loaded.tickets, providers, policy, [events.append], prices=prices)
        outlet = Outlet(broker, await connect(broker))
        async with contextlib.AsyncExitStack() as publishing:
            await publishing.enter_async_context(Outlet.closing(outlet))
            watch = await publishing.enter_async_context(
                outlet.publishing(run, loaded.tickets, title or str(path))
            )
            assert watch == f"lfg attach {broker.where} {run.run_id}"
            try:
                yield Published(run, broker, events)
            finally:
                shutting = asyncio.create_task(shut_down(run, publishing))
                done, _ = await asyncio.wait([shutting], timeout=SHUTDOWN_S * PATIENCE)
                assert done, f"the run and its publisher did not shut down in {SHUTDOWN_S * PATIENCE:g} s"
                await shutting


async def shut_down(run: Run, publishing: contextlib.AsyncExitStack) -> None:
    """What `lfg run` does at its end: the run stops, then the publisher and the broker's connection."""
    run.cancel_all()
    await run.wait()
    await publishing.aclose()


def events_entry(instance: str, number: int, events: list[Event]) -> dict[str, bytes]:
    """A publisher's events entry on a run's stream, as instance `instance` writes its `number`th."""
    data = dumps({"now": 0.0, "events": [encode(event, 0.0) for event in events]})
    return {"kind": ENTRY_EVENTS.encode(), "n": f"{instance}.{number}".encode(), "data": data}
