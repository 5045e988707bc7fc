"""A run on the sim, served on 127.0.0.1 as `lfg run --serve` serves it, or read from its history file
as `lfg serve RUN_ID` reads it, for real clients to watch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from aiohttp import web

from lfgtui.config.load import Config
from lfgtui.cost.prices import run_prices
from lfgtui.events import ApprovalAsked, Event
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.remote.hub import EventHub
from lfgtui.remote.server import Address, Controls, EngineControls, RunServer
from lfgtui.remote.tail import RunTail
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_added, load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support import warm_lfg
from tests.support.patience import PATIENCE

TOKEN = "test-token-0123456789abcdef"
TICKETS = """
[defaults]
provider = "sim"

[[ticket]]
id = "slow"
title = "A slow answer"
prompt = "go"
model = "long-answer:tokens_per_s=150,repeat=2"

[[ticket]]
id = "quick"
prompt = "Say hello."
model = "hello"
"""


@dataclass
class Served:
    """A run on the sim, published by a hub and served on a free loopback port."""

    run: Run
    hub: EventHub
    server: RunServer
    url: str
    events: list[Event] = field(default_factory=list)
    """Every event the run made, as its own sinks saw them."""

    def client(self, token: str | None = TOKEN) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx2.AsyncClient(base_url=self.url, headers=headers, timeout=10 * PATIENCE)


STEERED_AGENT_TICKET = (
    '[[ticket]]\nid = "a"\nprompt = "Write the notes."\nprovider = "sim-acp"\n'
    'model = "writer:ttft_ms=0,tokens_per_s=0"\n'
)
"""A coding agent's ticket (the sim agent: `steered_agent` takes ACP steering) whose first write
waits for approval; its `workdir` follows."""


def steered_agent(*switches: str) -> dict[str, ProviderConfig]:
    """The sim ACP agent under `--steering injected` (and `switches`): it takes a steer into its
    running turn."""
    agent = BUILTIN["sim-acp"]
    assert agent.agent is not None
    command = (*agent.agent.command, "--steering", "injected", *switches)
    return {"sim-acp": agent.with_agent(command=command)}


@contextlib.asynccontextmanager
async def served(
    sim: SimServer,
    tmp_path: Path,
    toml: str = TICKETS,
    control: bool = False,
    yes: bool = True,
    configs: Mapping[str, ProviderConfig] | None = None,
    **server_options: float,
) -> AsyncIterator[Served]:
    """Serve a run of `toml` (not started: the test starts it), closed and cancelled at the end.
    Its tool calls run without asking unless `yes` is False; then, with `control`, watchers answer.
    `configs` are providers beside the built-in ones (their `prices` price the run, as `lfg run`'s)."""
    path = tmp_path / "tickets.toml"
    path.write_text(toml)
    config = Config(path=None, providers=dict(BUILTIN) | dict(configs or {}))
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    async with Providers(config.providers, sim=sim) as providers:
        events: list[Event] = []
        prices = run_prices(providers.configs, loaded.tickets)
        approvals = Approvals(yes=yes, askable=control, forms=control)
        run = Run(loaded.tickets, providers, approvals, [events.append], prices=prices)
        run.admits = lambda table, taken: load_added(table, loaded, taken, config, BUILTIN_TOOLS, env={})
        hub = EventHub(run.clock)
        run.sinks.append(hub)
        controls: Controls | None = EngineControls(run) if control else None
        server = RunServer(
            hub,
            run.run_id,
            loaded.tickets,
            TOKEN,
            controls,
            prices=prices,
            leads=run.parents,  # as `lfg run --serve` (commands/remote.py)
            **server_options,  # type: ignore[arg-type]
        )
        run.sinks.append(server.inbox)
        run.added.append(server.add)
        url = await server.start(Address.parse("127.0.0.1:0"))
        try:
            yield Served(run, hub, server, url, events)
        finally:
            run.cancel_all()
            await run.wait()
            hub.end()
            await server.aclose(grace_s=1)


WRITER = """
[defaults]
provider = "sim"

[[ticket]]
id = "w"
prompt = "x"
model = "writer"
tools = ["write_file", "run_command"]
"""
"""One ticket whose model asks to write a file, then to run a command: two approvals."""

API_PROBE = """
import json, sys, urllib.error, urllib.request
try:
    token = open(sys.argv[1]).read().strip()
except OSError as exc:
    token = ""
    print("token unreadable", exc.strerror)
print("token chars", len(token))
body = json.dumps({"request": "queue", "ticket": sys.argv[3], "text": "planted"}).encode()
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
request = urllib.request.Request(sys.argv[2] + "/v1/requests", body, headers)
try:
    print("answered", urllib.request.urlopen(request, timeout=20).status)
except urllib.error.HTTPError as exc:
    print("answered", exc.code)
"""
"""What a boxed agent tries on lfg's served API (`python3 probe.py TOKEN_FILE URL TICKET`): read the
run's token file and queue a turn ("planted") into TICKET; it prints the token's length and the
answer's status."""


async def asked(served: Served, count: int, within: float = 10) -> ApprovalAsked:
    """The `count`th question the run asked, once it has (within `within` seconds)."""
    async with asyncio.timeout(within * PATIENCE):
        while len(questions := [e for e in served.events if isinstance(e, ApprovalAsked)]) < count:
            await asyncio.sleep(0.01)
    return questions[count - 1]


async def finish(served: Served) -> None:
    """Wait for the run to end and the hub to say so."""
    await asyncio.wait_for(served.run.wait(), 20 * PATIENCE)
    served.hub.end()


@dataclass
class Tailed:
    """A run read from its history file as `lfg serve RUN_ID` reads it, published by a hub and served
    on a free loopback port; `batches` holds what each read of the file published."""

    tail: RunTail
    hub: EventHub
    server: RunServer
    url: str
    following: asyncio.Task[None]
    batches: list[list[Event]] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def client(self, token: str | None = TOKEN) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx2.AsyncClient(base_url=self.url, headers=headers, timeout=10 * PATIENCE)

    @property
    def published(self) -> list[Event]:
        return [event for batch in self.batches for event in batch]


@contextlib.asynccontextmanager
async def tailing(db: Path, run_id: str) -> AsyncIterator[Tailed]:
    """Serve run `run_id` of `db` while it is recorded, until the block ends."""
    tail = RunTail.open(db, run_id)
    hub = EventHub(tail.now, t0=0.0)  # the tail's clock counts from the run's start
    server = RunServer(hub, run_id, tail.tickets, TOKEN)
    url = await server.start(Address.parse("127.0.0.1:0"))
    batches: list[list[Event]] = []
    said: list[str] = []

    def publish(events: list[Event]) -> None:
        batches.append(events)
        for event in events:
            server.inbox(event)
        hub.publish_all(events)

    async def follow() -> None:
        await tail.follow(publish, said.append)
        hub.end()

    tailed = Tailed(tail, hub, server, url, asyncio.create_task(follow()), batches, said)
    try:
        yield tailed
    finally:
        tailed.following.cancel()
        await asyncio.wait([tailed.following])
        await tail.aclose()
        await server.aclose(grace_s=1)


async def attach_json(url: str, env: Mapping[str, str] = os.environ) -> tuple[list[dict[str, Any]], str]:
    """`lfg attach URL --json` run to the run's end: its lines and what it said on stderr (run on a
    thread: the server it attaches to may be this loop's)."""
    attach = await asyncio.to_thread(
        warm_lfg.run,
        [sys.executable, "-m", "lfgtui", "attach", url, "--json"],
        env={**env, "LFG_TOKEN": TOKEN},
        timeout=30 * PATIENCE,
    )
    assert attach.returncode == 0, attach.stderr
    return [json.loads(line) for line in attach.stdout.splitlines()], attach.stderr


@contextlib.asynccontextmanager
async def on_loopback(app: web.Application) -> AsyncIterator[str]:
    """`app` served on a free port of 127.0.0.1, as any other program could serve it: its URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def lookalike(run: object, events: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.Application:
    """A server that says it is lfg: `/v1/run` describes `run`, `/v1/events` is `events`."""

    async def describe(_: web.Request) -> web.Response:
        return web.json_response(run)

    app = web.Application()
    app.router.add_get("/v1/run", describe)
    app.router.add_get("/v1/events", events)
    return app
