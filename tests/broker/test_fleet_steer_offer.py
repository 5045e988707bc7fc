"""What the composer of a coordinated run's ticket says Enter does (`lfg run --broker`): the worker
running the attempt says what its turn takes (`SteerOffer`: the agent by its name, whether it takes
steers), through the broker, and the coordinator's TUI, `lfg attach` on the coordinator and its
`/v1/inbox` say it; before any worker has, they say that it is not known yet, and what Enter does
then. A real redis-server, real `lfg worker`s running the sim ACP agent with and without
`--steering`, the coordinator in this process."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
import redis
from textual.geometry import Region
from textual.pilot import Pilot

from lfgtui.broker.client import connect
from lfgtui.broker.layout import ENTRY_EVENTS, Layout, dumps
from lfgtui.commands.broker import Outlet
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.config.load import load_config
from lfgtui.cost.prices import run_prices
from lfgtui.events import (
    ApprovalAsked,
    AttemptEnded,
    AttemptStarted,
    Event,
    Holding,
    Outcome,
    PromptSent,
    Status,
    Steered,
    SteerOffer,
)
from lfgtui.providers.registry import Providers
from lfgtui.remote.attach import Attachment
from lfgtui.remote.codec import encode
from lfgtui.remote.server import EngineControls
from lfgtui.run.requests import Steer
from lfgtui.run.steer_words import MAX_NAME_CHARS, Composing
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.screens.steer import SteerScreen
from lfgtui.ui.services import Services
from tests.support.app import SIZE, keys
from tests.support.compose import attach_app
from tests.support.fleet import COORDINATOR_AGENT, STEADY, Fleet, agent_provider, until
from tests.support.fleet_steering import SIM_AGENT, WRITER, approve_all, asked, coordinating, serving
from tests.support.patience import PATIENCE
from tests.support.serving import TOKEN

AGENT = "lfg simulator (ACP)"
"""The sim agent as its `initialize` answer titles it."""
NOT_KNOWN = (
    "Not known yet whether a can be steered: its turn has not begun (it waits for a worker, or for its "
    "agent to start). Enter steers a if its turn takes a steer when this arrives; if not, this is held "
    "and sent as its next turn once this turn ends."
)
STEERS = (
    f"Enter steers a: sent to {AGENT} now, which reads it in this turn at a call it picks; what it is "
    "still writing may be cut off there, a tool call in it then not run."
)
CANNOT = f"{AGENT} cannot be steered: Enter queues this as a's next prompt, sent once this turn ends."
STEER = "Also say the word PELICAN."


async def inbox_item(url: str) -> dict[str, Any]:
    """Ticket `a` as the served `/v1/inbox` lists it."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(base_url=url, headers=headers, timeout=10 * PATIENCE) as client:
        snapshot = (await client.get("/v1/inbox")).json()
    return next(i for group in ("needs_you", "unread", "rest") for i in snapshot[group] if i["ticket"] == "a")


@pytest.mark.timeout(150)  # a worker to warm up and an agent's turn: past 60 s on a loaded machine
async def test_lfg_attach_on_the_coordinator_says_not_known_until_the_worker_says_its_agent_steers(
    fleet: Fleet,
) -> None:
    """No worker yet: the attached composer and `/v1/inbox` say it is not known whether `a` can be
    steered; once the worker's agent begins the turn they name it and say Enter steers it, and it
    does, mid-turn, on the worker."""
    async with coordinating(fleet, start=False) as (run, events, tickets), serving(run, tickets) as url:
        run.start()
        attachment = Attachment(url, TOKEN)
        app = attach_app(await attachment.describe(), attachment, Providers())
        async with app.run_test(size=SIZE) as pilot:
            a = app.controller.panes["a"]
            await until(lambda: a.running, 30)  # queued on the broker, for a worker
            a.shown.focus()
            await pilot.press("i")
            composer = app.screen
            assert isinstance(composer, SteerScreen)
            assert composer.says() == NOT_KNOWN
            assert composer.steer, "Enter steers if the turn turns out to take it"
            item = await inbox_item(url)
            assert (item["compose"], item["compose_says"]["steer"]) == ("steer", NOT_KNOWN)
            command = [*SIM_AGENT, "--steering", "injected"]
            fleet.start("w1", config=fleet.config(STEADY + agent_provider(command), "w1.toml"))
            await until(lambda: composer.says() == STEERS, 90)  # the open composer follows
            item = await inbox_item(url)
            assert (item["compose"], item["compose_says"]["steer"]) == ("steer", STEERS)
            await pilot.press(*keys(STEER), "enter")
            await until(lambda: any(isinstance(e, Holding) and e.sent for e in events), 60)
            await approve_all(run, events)
            assert await run.wait() == {"a": Outcome.COMPLETED}
        await attachment.aclose()
    [offer] = offers(events)
    assert (offer.attempt, offer.agent, offer.coding_agent, offer.steers) == (1, AGENT, True, True)
    assert [(e.attempt, e.text) for e in events if isinstance(e, Steered)] == [(1, STEER)]
    assert [e.text for e in events if isinstance(e, PromptSent)] == ["go"], "steered into the same turn"


ROUNDS = (
    '[[ticket]]\nid = "a"\nprompt = "Look around."\nprovider = "sim"\nmodel = "steer-rounds"\n'
    'tools = ["write_file", "list_dir", "read_file"]\n'
)
"""An API ticket in three tool rounds, the first waiting for the person's approval."""


@pytest.mark.timeout(150)  # a worker to warm up and three tool rounds: past 60 s on a loaded machine
async def test_an_api_tickets_worker_says_its_model_and_that_its_tool_loop_takes_a_steer(
    fleet: Fleet,
) -> None:
    """An API ticket on a worker: the worker says its provider/model and that its tool loop has a
    safe point; the coordinator's `/v1/inbox` composer says so, and a steer lands after the round."""
    fleet.start("w1")
    async with coordinating(fleet, toml=ROUNDS) as (run, events, _):
        await until(lambda: any(isinstance(e, ApprovalAsked) for e in events), 90)
        assert EngineControls(run).composes("a") == Composing(
            "steer",
            {
                "steer": "Enter steers a (sim/steer-rounds): sent after this round's tool results, before "
                "its next call.",
                "queue": "Enter queues this as a's next turn, sent once this turn ends.",
            },
        )
        assert await asked(run, Steer("a", STEER)) is None
        await approve_all(run, events)
        assert await run.wait() == {"a": Outcome.COMPLETED}
    [offer] = offers(events)
    assert (offer.agent, offer.coding_agent, offer.steers) == ("sim/steer-rounds", False, True)
    assert [(e.attempt, e.text) for e in events if isinstance(e, Steered)] == [(1, STEER)]


def offers(events: list[Event]) -> list[SteerOffer]:
    """The run's `SteerOffer`s (one per attempt: a second is a second attempt, said with each
    attempt's start, end and the run's status lines when there is one, to show why it ran again)."""
    found = [e for e in events if isinstance(e, SteerOffer)]
    timeline = [e for e in events if isinstance(e, AttemptStarted | AttemptEnded | Status)]
    assert len(found) == 1, f"{len(found)} attempts: {timeline}"
    return found


@contextlib.asynccontextmanager
async def coordinator_tui(fleet: Fleet) -> AsyncIterator[tuple[RunController, LfgApp]]:
    """`lfg run --broker` in the TUI: its controller as run.py makes it, published on the broker."""
    path = fleet.lfg.tickets(WRITER)
    config = load_config(fleet.config(COORDINATOR_AGENT, "coordinator.toml"))
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    broker = resolve(fleet.url, {}, BrokerSettings(lease_s=10))
    outlet = Outlet(broker, await connect(broker, read_timeout_s=10.0), path.parent)
    async with Providers(config.providers) as providers, Outlet.closing(outlet):
        services = Services(providers, prices=run_prices(providers.configs, loaded.tickets), broker=broker)
        controller = RunController.live(services, loaded.tickets, make_run=outlet.make_run())
        async with outlet.publishing(controller.run, loaded.tickets, str(path), lambda _: None):
            yield controller, LfgApp(services, controller)


@pytest.mark.timeout(150)  # a worker to warm up and an agent's turn: past 60 s on a loaded machine
async def test_the_coordinators_composer_says_the_workers_agent_cannot_be_steered_and_queues(
    fleet: Fleet,
) -> None:
    """A worker whose agent does not advertise steering: the coordinator's composer names the agent,
    says it cannot be steered and opens on queueing; a steer sent anyway (ctrl+t) is queued as the
    next prompt, as it said, and sent once the turn ends."""
    fleet.start("w1", config=fleet.config(STEADY + agent_provider(SIM_AGENT), "w1.toml"))
    async with coordinator_tui(fleet) as (controller, app):
        run, events = controller.run, []
        run.sinks.append(events.append)
        async with app.run_test(size=SIZE) as pilot:
            await steer_anyway(pilot, controller, app, events)
    assert not any(isinstance(e, Steered) for e in events)
    assert [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)] == [(1, "go"), (2, STEER)]


async def steer_anyway(
    pilot: Pilot[None], controller: RunController, app: LfgApp, events: list[Event]
) -> None:
    """`i` on `a` once its worker said its agent takes no steers; a steer sent anyway, then yes to
    every permission request until the ticket completes."""
    run = controller.run
    a = controller.panes["a"]
    await until(lambda: a.offer is not None and run.states["a"].inbox.offer is not None, 90)
    a.shown.focus()
    await pilot.press("i")
    composer = app.screen
    assert isinstance(composer, SteerScreen)
    assert (composer.says(), composer.steer) == (CANNOT, False)
    await pilot.press("ctrl+t")
    assert (composer.says(), composer.steer) == (CANNOT, True), "a steer, sent anyway, is queued too"
    await pilot.press(*keys(STEER), "enter")
    await until(lambda: any(isinstance(e, Holding) and STEER in e.message for e in events), 60)
    await approve_all(run, events)
    assert await run.wait() == {"a": Outcome.COMPLETED}
    await pilot.press("q")


def forged(layout: Layout, run_id: str, admin: redis.Redis, events: list[dict[str, Any]]) -> None:
    """Entries a hostile worker writes on the run's event stream."""
    data = dumps({"now": time.monotonic(), "events": events})
    admin.xadd(layout.events(run_id), {"kind": ENTRY_EVENTS, "n": "forged.1", "data": data})


async def test_a_hostile_workers_offer_is_shown_inert_on_one_line_and_a_forged_steer_is_queued(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """No worker runs the ticket; a hostile one writes its start and an offer that is markup, escape
    sequences and a huge name, then an offer whose `steers` is no boolean. The composer names it
    inert, on one short line, says it steers (as forged), and a steer sent there finds no worker
    running the ticket: it is queued as the next turn, saying so, never lost."""
    async with coordinator_tui(fleet) as (controller, app), app.run_test(size=SIZE) as pilot:
        run = controller.run
        a = controller.panes["a"]
        await until(lambda: a.running, 30)
        hostile = "[b]evil[/b]\x1b[2J\x1b[H\x1b]0;pwned\x07\n\r" + "\u202e" + "x" * 200_000
        start = AttemptStarted(ticket="a", attempt=1, seq=0, t=0.0, provider="agent", model="writer")
        offer = SteerOffer(ticket="a", attempt=1, seq=1, t=0.0, agent=hostile, coding_agent=True, steers=True)
        spoiled = encode(offer, 0.0) | {"seq": 2, "steers": "yes", "agent": "lies"}
        forged(Layout(), run.run_id, admin, [encode(start, 0.0), encode(offer, 0.0)])
        forged(Layout(), run.run_id, admin, [spoiled])
        await until(lambda: a.offer is not None and run.states["a"].inbox.offer is not None, 30)
        a.shown.focus()
        await pilot.press("i")
        composer = app.screen
        assert isinstance(composer, SteerScreen)
        says = composer.says()
        name = ("[b]evil[/b]␛[2J␛[H␛]0;pwned␇ <U+202E>" + "x" * MAX_NAME_CHARS)[: MAX_NAME_CHARS - 1] + "…"
        assert says == STEERS.replace(AGENT, name)
        said = composer.said
        shown = "".join(strip.text for strip in said.render_lines(Region(0, 0, *said.size)))
        assert "[b]evil[/b]␛[2J" in shown and "\x1b" not in shown, "no markup read in it, no escape let out"
        await pilot.press(*keys(STEER), "enter")
        await until(lambda: any(m.text == STEER and not m.steer for m in run.states["a"].inbox.held), 30)
        assert run.states["a"].inbox.offer.agent == hostile, "kept as the worker sent it; only shown inert"
        said = EngineControls(run).composes("a")
        assert said is not None and said.says["steer"] == says
        await pilot.press("q")
