"""A coordinated run of one coding agent's ticket (`lfg run --broker`) in this process, for the tests
of steering it (tests/broker): its worker is a real `lfg worker` running the sim ACP agent, whose
turn a permission request holds open until the coordinator's person answers it."""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import AsyncIterator

from lfgtui.broker.client import connect
from lfgtui.broker.coordinator import BrokerRunner
from lfgtui.commands.broker import Outlet
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.config.load import load_config
from lfgtui.cost.prices import run_prices
from lfgtui.events import ApprovalAsked, Event
from lfgtui.providers.registry import Providers
from lfgtui.remote.hub import EventHub
from lfgtui.remote.server import Address, EngineControls, RunServer
from lfgtui.run.approvals import Approvals
from lfgtui.run.requests import YOU, Approve, Request
from lfgtui.run.scheduler import Run
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import Ticket
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.fleet import COORDINATOR_AGENT, Fleet, until
from tests.support.serving import TOKEN

WRITER = (
    '[[ticket]]\nid = "a"\nprompt = "go"\nprovider = "agent"\nmodel = "writer:ttft_ms=0,tokens_per_s=0"\n'
)
"""One agent ticket whose turn asks to write a file: held open until the person answers."""
Coordinated = tuple[Run, list[Event], list[Ticket]]
"""The coordinator's run, every event it made, and its tickets."""
SIM_AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}"]


async def asked(run: Run, request: Request) -> str | None:
    """`request` as the coordinator's run answers it (None: done)."""
    told = run.ask(request, YOU)
    if inspect.isawaitable(told):
        told = await told
    return None if told is None else told.said


@contextlib.asynccontextmanager
async def coordinating(fleet: Fleet, start: bool = True, toml: str = WRITER) -> AsyncIterator[Coordinated]:
    """`lfg run TICKETS --broker URL` of the one ticket `a` (the agent's `WRITER` unless `toml` says
    another), in this process, started unless `start` is False (the test adds its sinks first); its
    permission requests wait for the person here."""
    tickets = fleet.lfg.tickets(toml)
    config = load_config(fleet.config(COORDINATOR_AGENT, "coordinator.toml"))
    loaded = load_tickets(tickets, config, BUILTIN_TOOLS, env={})
    broker = resolve(fleet.url, {}, BrokerSettings(lease_s=10))
    outlet = Outlet(broker, await connect(broker, read_timeout_s=10.0), tickets.parent)
    async with Providers(config.providers) as providers, Outlet.closing(outlet):
        prices = run_prices(providers.configs, loaded.tickets)
        run = outlet.make_run()(loaded.tickets, providers, Approvals(askable=True), [], prices=prices)
        events: list[Event] = []
        run.sinks.append(events.append)
        assert isinstance(run.runner, BrokerRunner)
        async with outlet.publishing(run, loaded.tickets, str(tickets), lambda _: None):
            if start:
                run.start()
            try:
                yield run, events, list(loaded.tickets)
            finally:
                run.cancel_all()
                await run.wait()


async def approve_all(run: Run, events: list[Event]) -> None:
    """Say yes to each permission request as it comes, until the ticket ends."""
    answered: set[str] = set()
    while run.states["a"].running:
        for call in [e.call_id for e in events if isinstance(e, ApprovalAsked) and e.call_id not in answered]:
            answered.add(call)
            await asked(run, Approve("a", call, True))
        await until(
            lambda: (
                not run.states["a"].running
                or any(isinstance(e, ApprovalAsked) and e.call_id not in answered for e in events)
            ),
            timeout=90,
        )


@contextlib.asynccontextmanager
async def serving(run: Run, tickets: list[Ticket]) -> AsyncIterator[str]:
    """The coordinator's run served with `--control` on a free loopback port, as `lfg run --broker
    --serve --control` serves it: its URL."""
    hub = EventHub(run.clock)
    run.sinks.append(hub)
    server = RunServer(hub, run.run_id, tickets, TOKEN, EngineControls(run))
    run.sinks.append(server.inbox)
    url = await server.start(Address.parse("127.0.0.1:0"))
    try:
        yield url
    finally:
        hub.end()
        await server.aclose(grace_s=1)
