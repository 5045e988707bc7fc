"""A ticket a run takes on as it runs (an add-ticket), watched through the broker (`lfg attach
redis://… RUN`): the run's publisher puts a ticket entry on the stream before the ticket's events and
describes the run anew in the index, so a watcher following it makes the ticket's pane and shows its
events, "added by WHO" among them, and one that attaches later reads it from the description. A real
redis-server, the real `Outlet`, `Publisher` and `BrokerAttachment`, the attached TUI by Pilot."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from redis.asyncio import Redis

from lfgtui.broker.layout import ENTRY_END, ENTRY_TICKET, Layout, dumps
from lfgtui.broker.watch import BrokerAttachment
from lfgtui.events import AttemptEnded, Event, Status, TextDelta
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.remote.description import ticket_json
from lfgtui.sim.server import SimServer
from lfgtui.tickets.ticket import Ticket
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, until
from tests.support.broker import published
from tests.support.compose import attach_app
from tests.support.git import ESCAPE
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

SLOW = """
[defaults]
provider = "sim"

[[ticket]]
id = "slow"
prompt = "go"
model = "long-answer:tokens_per_s=150,repeat=2"
"""
ADDED_BY = "added by 127.0.0.1 (ada)"


async def followed(attachment: BrokerAttachment) -> list[Event]:
    """Every event `attachment` delivers until the run's end."""
    got: list[Event] = []
    await asyncio.wait_for(attachment.follow(got.append, lambda _: None), 40 * PATIENCE)
    return got


async def test_a_watcher_through_the_broker_follows_a_ticket_added_as_the_run_runs(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, SLOW) as run:
        attachment = BrokerAttachment(run.broker, run.run.run_id)
        app = attach_app(await attachment.describe(), attachment, Providers(sim=sim))
        beside = BrokerAttachment(run.broker, run.run.run_id)
        told = []
        beside.added = told.append
        await beside.describe()
        following = asyncio.create_task(followed(beside))
        async with app.run_test(size=SIZE) as pilot:
            run.run.start()
            await until(pilot, lambda: app.controller.panes["slow"].state is PaneState.RUNNING)
            later = dataclasses.replace(run.run.states["slow"].written, id="later", model="hello")
            run.run.add(later, ADDED_BY)
            await run.finish()
            panes = app.controller.panes
            await until(pilot, lambda: "later" in panes and panes["later"].state is PaneState.COMPLETED)
            assert list(panes) == ["slow", "later"]
            await pilot.press("q")
        await attachment.aclose()
    events = await following
    await beside.aclose()
    assert [ticket.id for ticket in told] == ["later"], "told once, before its events"
    said = [e.message for e in events if isinstance(e, Status) and e.ticket == "later"]
    assert ADDED_BY in said
    [ended] = [e for e in events if isinstance(e, AttemptEnded) and e.ticket == "later"]
    assert ended.outcome is Outcome.COMPLETED
    answer = "".join(e.text for e in events if isinstance(e, TextDelta) and e.ticket == "later")
    assert answer == run.run.states["later"].answer and answer

    late = BrokerAttachment(run.broker, run.run.run_id)
    described = await late.describe()
    assert [ticket.id for ticket in described.tickets] == ["slow", "later"], "the index describes it"
    again = await followed(late)
    await late.aclose()
    assert timeless(again, "later") == timeless(events, "later") != []


def timeless(events: list[Event], ticket: str) -> list[Event]:
    """The ticket's events, their times left out (each watcher places them on its own clock)."""
    return [dataclasses.replace(e, t=0.0) for e in events if e.ticket == ticket]


async def test_a_forged_ticket_entry_is_skipped_and_said_or_taken_once_as_any_writer_of_the_stream_may(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, SLOW) as run:
        run.run.start()
        await run.finish()
    layout, run_id = Layout(), run.run.run_id
    written = run.run.states["slow"].written
    forged = ticket_json(dataclasses.replace(written, id="forged", prompt=ESCAPE))
    redis = Redis(port=redis_server.port)
    try:
        await redis.delete(layout.events(run_id))  # the stream as a forger writes it
        for number, data in enumerate(
            (
                b"{not json",
                dumps({"now": 0.0, "ticket": {"ticket": 5}}),
                dumps({"now": 0.0, "ticket": ticket_json(dataclasses.replace(written, prompt="again"))}),
                dumps({"now": 0.0, "ticket": forged}),
                dumps({"now": 0.0, "ticket": forged}),
            ),
            1,
        ):
            await redis.xadd(layout.events(run_id), {"kind": ENTRY_TICKET, "n": f"x.{number}", "data": data})
        await redis.xadd(layout.events(run_id), {"kind": ENTRY_END, "n": "x.6", "data": dumps({"now": 0.0})})
    finally:
        await redis.aclose()
    attachment = BrokerAttachment(run.broker, run_id)
    told: list[Ticket] = []
    attachment.added = told.append
    said: list[str] = []
    await attachment.describe()
    try:
        await asyncio.wait_for(attachment.follow(lambda _: None, said.append), 40 * PATIENCE)
    finally:
        await attachment.aclose()
    assert [ticket.id for ticket in told] == ["forged"], "a described one is not taken again, nor one twice"
    assert told[0].prompt == ESCAPE, "kept whole: shown inert where it is shown"
    skipped = [line for line in said if line.startswith("skipped a ticket that is not valid")]
    assert len(skipped) == 2, said  # not JSON, not a ticket: said each, nothing ended
