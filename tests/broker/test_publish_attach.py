"""A sim run published to a real redis-server and followed from it, as `lfg run --publish` and
`lfg attach redis://…/RUN` do it (the same `Outlet` and `BrokerAttachment`, in this process)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis

from lfgtui.broker.client import connect
from lfgtui.broker.fleet_index import indexed_runs
from lfgtui.broker.layout import Layout
from lfgtui.broker.watch import BrokerAttachment
from lfgtui.commands.broker import Outlet
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.config.load import Config
from lfgtui.events import AttemptEnded, Event, TextDelta
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.remote.following import AttachError
from lfgtui.run.approvals import Approvals
from lfgtui.run.retry import RetryPolicy
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.modals import ApprovalScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, until
from tests.support.broker import published
from tests.support.compose import attach_app, first_run, lfg_app
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer
from tests.support.serving import WRITER

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


def identities(events: list[Event]) -> list[tuple[str, int, int, str]]:
    return [(e.ticket, e.attempt, e.seq, type(e).__name__) for e in events]


async def follow(attachment: BrokerAttachment, states: list[str] | None = None) -> list[Event]:
    got: list[Event] = []
    await attachment.describe()
    try:
        await asyncio.wait_for(
            attachment.follow(got.append, (states if states is not None else []).append), 40 * PATIENCE
        )
    finally:
        await attachment.aclose()
    return got


async def test_twenty_watchers_follow_a_published_run_and_each_gets_every_event_once(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, TICKETS) as run:
        watchers = [BrokerAttachment(run.broker, run.run.run_id) for _ in range(20)]
        described = await watchers[0].describe()
        assert [t.id for t in described.tickets] == ["slow", "quick"] and described.control is False
        assert described.tickets[0].title == "A slow answer"
        run.run.start()
        following = [asyncio.create_task(follow(w)) for w in watchers[1:]]
        first: list[Event] = []
        following.append(asyncio.create_task(watchers[0].follow(first.append, lambda _: None)))
        await run.finish()
    got = [await task for task in following[:-1]]
    await following[-1]
    await watchers[0].aclose()
    mine = identities(run.events)
    assert len(mine) > 50
    for events in [*got, first]:
        assert identities(events) == mine, "every event once, in the run's order"
    text = "".join(e.text for e in run.events if isinstance(e, TextDelta))
    assert "".join(e.text for e in first if isinstance(e, TextDelta)) == text
    mine_events, theirs = run.events, first
    assert theirs[-1].t - theirs[0].t == pytest.approx(mine_events[-1].t - mine_events[0].t, abs=1e-6)
    assert [replace(e, t=0.0) for e in theirs] == [replace(e, t=0.0) for e in mine_events], "equal events"


async def test_a_watcher_that_comes_after_the_end_reads_the_whole_run_and_resent_entries_show_nothing_twice(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, TICKETS) as run:
        run.run.start()
        await run.finish()
    layout, run_id = Layout(), run.run.run_id
    redis = Redis(port=redis_server.port)
    try:
        entries = await redis.xrange(layout.events(run_id))
        assert entries and entries[-1][1][b"kind"] == b"end"
        # At-least-once: every entry the publisher sent arrives again (a pipeline resent after a lost
        # reply), in another run's stream of the same description.
        again = "0123456789ab"
        await redis.hset(
            layout.run(again),
            "run",
            (await redis.hget(layout.run(run_id), "run")).replace(run_id.encode(), again.encode()),
        )
        for _, fields in entries[:-1]:
            await redis.xadd(layout.events(again), fields)
            await redis.xadd(layout.events(again), fields)
        await redis.xadd(layout.events(again), entries[-1][1])
    finally:
        await redis.aclose()
    whole = await follow(BrokerAttachment(run.broker, run_id))
    twice = await follow(BrokerAttachment(run.broker, again))
    assert identities(whole) == identities(run.events)
    assert identities(twice) == identities(run.events), "an entry sent twice is delivered once"


async def test_the_run_index_lists_who_ran_what_and_its_states(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, TICKETS) as run:
        redis = await connect(run.broker)
        try:
            (listed,) = await indexed_runs(redis, Layout())
            assert listed.run_id == run.run.run_id and listed.ended is None
            assert listed.states == {"pending": 2} and listed.host == os.uname().nodename
            run.run.start()
            await run.finish()
        finally:
            await redis.aclose()
    redis = await connect(run.broker)
    try:
        (listed,) = await indexed_runs(redis, Layout())
    finally:
        await redis.aclose()
    assert listed.ended is not None and listed.ended >= listed.started
    assert listed.states == {"completed": 2} and listed.title.endswith("tickets.toml")


@pytest.mark.timeout(120)  # its bounded waits add up past the default 60 s on a loaded machine
async def test_the_broker_killed_mid_run_stalls_only_the_watchers_who_see_the_gap_when_it_returns(
    sim: SimServer, tmp_path: Path, start_redis: Callable[..., RedisServer]
) -> None:
    broker = start_redis(aof=True)
    settings = BrokerSettings(queue_bytes=2_000)  # a few batches: the rest of the outage is a gap
    slow = TICKETS.replace("tokens_per_s=150,repeat=2", "tokens_per_s=100,repeat=8")
    states: list[str] = []
    got: list[Event] = []
    watcher: BrokerAttachment | None = None
    watching: asyncio.Task[None] | None = None
    try:  # a failure anywhere stops the watcher at once: the test fails there, not at pytest's timeout
        async with published(sim, tmp_path, broker.url, slow, settings) as run:
            watcher = BrokerAttachment(
                run.broker,
                run.run.run_id,
                reconnects=RetryPolicy(max_retries=20, base_delay_s=0.1, max_delay_s=0.5),
            )
            await watcher.describe()
            watching = asyncio.create_task(watcher.follow(got.append, states.append))
            run.run.start()
            async with asyncio.timeout(20 * PATIENCE):
                while not any(isinstance(e, TextDelta) and e.ticket == "slow" for e in got):
                    await asyncio.sleep(0.01)
            broker.kill()
            async with asyncio.timeout(20 * PATIENCE):
                while (
                    sum(isinstance(e, TextDelta) for e in run.events)
                    < sum(isinstance(e, TextDelta) for e in got) + 200
                ):  # the run goes on without the broker
                    await asyncio.sleep(0.02)
            assert any(s.startswith("reconnecting") for s in states)
            broker.start()  # the same port and append-only file
            await run.finish()
        await asyncio.wait_for(watching, 30 * PATIENCE)
    finally:
        if watching is not None:  # its own failure, if it failed, is the test's already or after this
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError, AttachError):
                await watching
        if watcher is not None:
            await watcher.aclose()
    ends = [(e.ticket, e.outcome) for e in run.events if isinstance(e, AttemptEnded)]
    assert sorted(ends) == [("quick", Outcome.COMPLETED), ("slow", Outcome.COMPLETED)], "the run completed"
    # One outage is one gap; on a loaded machine the publisher catching up after it may fall behind
    # its tiny queue again, and say so with another.
    assert watcher.gaps and all("dropped" in gap for gap in watcher.gaps)
    assert "of slow while the broker was away" in watcher.gaps[0]
    assert any(s.startswith("gap: ") for s in states) and states[-1] == "ended"
    mine = identities(run.events)
    seen = identities(got)
    assert len(seen) == len(set(seen)) and set(seen) < set(mine), "some lost, none twice, none made up"
    assert seen[-1] == mine[-1], "the run's end reached the watcher after the gap"


async def test_a_published_run_without_history_shows_the_id_it_has_on_the_broker(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    # `lfg run FILE --publish URL --no-history` in the TUI: no history names the run, so the app's
    # first controller is made without an id, and its run is published under the run's own.
    path = tmp_path / "tickets.toml"
    path.write_text(TICKETS)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    app = lfg_app(loaded.tickets, Providers(sim=sim))
    broker = resolve(redis_server.url, {}, BrokerSettings())
    outlet = Outlet(broker, await connect(broker))
    async with (
        Outlet.closing(outlet),
        outlet.publishing(first_run(app), loaded.tickets, str(path), lambda _: None) as watch,
        app.run_test(size=SIZE) as pilot,
    ):
        (listed,) = await indexed_runs(outlet.redis, Layout())
        await until(pilot, lambda: f"run {listed.run_id}" in str(app.controller.screen.summary.render()))
        assert app.controller.run_id == listed.run_id and watch is not None and watch.endswith(listed.run_id)


async def test_approving_in_a_run_attached_through_the_broker_says_where_it_is_answered(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    # A run whose TUI answers approvals (askable), published; watched with `lfg attach redis://…/RUN`.
    async with published(sim, tmp_path, redis_server.url, WRITER, approvals=Approvals(askable=True)) as run:
        attachment = BrokerAttachment(run.broker, run.run.run_id)
        app = attach_app(await attachment.describe(), attachment, Providers(sim=sim))
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            run.run.start()
            w = app.controller.panes["w"]
            await until(pilot, lambda: w.state is PaneState.APPROVAL and w.approval is not None)
            await pilot.press("y")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
            await pilot.press("y")
            await until(pilot, lambda: any("through the broker" in toast for toast in toasts(app)))
            (said,) = toasts(app)
            assert "--control" not in said and "coordinator" in said, said
            assert w.state is PaneState.APPROVAL, "still waiting: a watcher cannot answer it"
            await pilot.press("q")
        await attachment.aclose()


def toasts(app: LfgApp) -> list[str]:
    """The notifications on screen, as shown."""
    return [str(toast.render()) for toast in app.screen.query("Toast")]
