"""The fleet view (`lfg runs --tui`) on a real redis-server, in the real app through Pilot: sim runs
published to it in this process, as `lfg run --publish` does."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from pytest_textual_snapshot import SVGImageExtension
from redis.asyncio import Redis
from syrupy.assertion import SnapshotAssertion
from textual._doc import take_svg_screenshot
from textual.pilot import Pilot

from lfgtui.broker.fleet_index import FleetReader
from lfgtui.broker.layout import Layout
from lfgtui.broker.watch import BrokerAttachment
from lfgtui.config.broker import Broker, BrokerSettings, resolve
from lfgtui.cost.prices import format_usd
from lfgtui.providers.base import PriceOverride
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.screens.fleet import FleetScreen
from lfgtui.ui.screens.run import RunScreen
from lfgtui.ui.services import Services
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import until
from tests.support.broker import published
from tests.support.redis_server import RedisServer

SIZE = (150, 30)
TWO = """
[defaults]
provider = "sim"

[[ticket]]
id = "slow"
prompt = "go"
model = "long-answer:tokens_per_s=40,repeat=2"

[[ticket]]
id = "quick"
prompt = "Say hello."
model = "hello"
"""
PRICED = {
    **BUILTIN,
    "sim": replace(BUILTIN["sim"], prices=PriceOverride(input_per_mtok=0.0, output_per_mtok=8.0)),
}
ONE = '[[ticket]]\nid = "hi"\nprovider = "sim"\nprompt = "x"\nmodel = "hello"\n'
STREAMING = """
[[ticket]]
id = "long"
provider = "sim"
prompt = "x"
model = "long-answer:tokens_per_s=60,repeat=8"
"""
WRITER = (
    '[[ticket]]\nid = "w"\nprovider = "sim"\nprompt = "x"\nmodel = "writer"\n'
    'tools = ["write_file", "run_command"]\n'
)


def fleet_app(broker: Broker) -> LfgApp:
    """`lfg runs --tui`'s app."""
    return LfgApp(Services(Providers(), broker=broker), None)


def fleet(app: LfgApp) -> FleetScreen:
    screen = app.screen
    assert isinstance(screen, FleetScreen)
    return screen


def row(screen: FleetScreen, run_id: str) -> str:
    """The run's row as shown, its cells separated by ` | `; empty when it is not listed."""
    if run_id not in {run.run_id for run in screen.shown}:
        return ""
    return " | ".join(cell.plain for cell in screen.table.get_row(run_id))


async def test_two_published_runs_are_listed_with_their_counts_cost_and_rate(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    async with (
        published(sim, tmp_path / "a", redis_server.url, TWO, providers=PRICED) as two,
        published(sim, tmp_path / "b", redis_server.url, ONE, providers=PRICED) as one,
    ):
        app = fleet_app(two.broker)
        async with app.run_test(size=SIZE) as pilot:
            screen = fleet(app)
            await until(pilot, lambda: "2 pending" in row(screen, two.run.run_id))
            assert "1 pending" in row(screen, one.run.run_id)
            two.run.start()
            await until(pilot, lambda: "running" in row(screen, two.run.run_id))
            one.run.start()
            await two.finish()
            await one.finish()
            await until(pilot, lambda: "2 completed" in row(screen, two.run.run_id), timeout=30)
            await until(pilot, lambda: "1 completed" in row(screen, one.run.run_id))
            assert [run.run_id for run in screen.shown] == [one.run.run_id, two.run.run_id], "newest first"
            listed = {run.run_id: run for run in screen.shown}
            cost, _ = two.run.book.cost_usd()
            assert cost and listed[two.run.run_id].cost == pytest.approx(cost)
            assert format_usd(cost) in row(screen, two.run.run_id)
            assert listed[two.run.run_id].tok_s is not None and listed[two.run.run_id].waiting == {}
            hit = two.run.book.cache_hit()
            assert listed[two.run.run_id].cache_hit == (None if hit is None else pytest.approx(hit, abs=1e-4))
            assert ("-" if hit is None else f"{hit:.0%}") in row(screen, two.run.run_id).split(" | ")[7]
            assert "2 runs" in str(screen.header.content) and "0 workers online" in str(screen.header.content)


async def test_enter_opens_a_runs_panes_which_stream_and_escape_comes_back(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, STREAMING) as streaming:
        streaming.run.start()
        app = fleet_app(streaming.broker)
        async with app.run_test(size=SIZE) as pilot:
            screen = fleet(app)
            await until(pilot, lambda: "running" in row(screen, streaming.run.run_id))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, RunScreen))
            body = app.controller.panes["long"].body
            await until(pilot, lambda: len(body.source) > 20)
            before = len(body.source)
            await until(pilot, lambda: len(body.source) > before + 20)
            assert app.controller.run_id == streaming.run.run_id
            started = app.controller.started  # the summary's elapsed time counts from the run's start
            assert abs(started - streaming.events[0].t) < 5, "the run's start, placed on this clock"
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is screen)
            assert app.controllers == [], "the attached run was closed"


async def test_f_opens_the_fleet_over_an_attached_run_and_enter_on_that_run_goes_back_to_it(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, STREAMING) as streaming:
        streaming.run.start()
        attachment = BrokerAttachment(streaming.broker, streaming.run.run_id)
        remote = await attachment.describe()
        services = Services(Providers(), prices=remote.prices, broker=streaming.broker)
        first = RunController.attached(services, remote.tickets, remote.run_id, attachment)
        app = LfgApp(services, first)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("F")
                screen = fleet(app)
                await until(pilot, lambda: "1 running" in row(screen, streaming.run.run_id))
                await pilot.press("enter")
                await until(pilot, lambda: app.screen is first.screen)
                assert app.controllers == [first], "the run on screen already, not a second view of it"
        finally:
            await attachment.aclose()


async def test_a_opens_the_pane_that_has_waited_longest_for_an_approval_in_any_run(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    (tmp_path / "first").mkdir(), (tmp_path / "second").mkdir(), (tmp_path / "idle").mkdir()
    asking, also = Approvals(askable=True), Approvals(askable=True)
    async with (
        published(sim, tmp_path / "idle", redis_server.url, ONE) as idle,
        published(sim, tmp_path / "first", redis_server.url, WRITER, approvals=asking) as first,
        published(sim, tmp_path / "second", redis_server.url, WRITER, approvals=also) as second,
    ):
        app = fleet_app(first.broker)
        async with app.run_test(size=SIZE) as pilot:
            screen = fleet(app)
            await pilot.press("a")  # nothing waits yet: a notice, no run opened
            assert app.screen is screen
            first.run.start()
            await until(pilot, lambda: "⚑ 1" in row(screen, first.run.run_id))
            second.run.start()
            idle.run.start()
            await until(pilot, lambda: "⚑ 1" in row(screen, second.run.run_id))
            assert "⚑ 2 waiting for you" in str(screen.header.content)
            assert screen.table.cursor_row == 0 and screen.shown[0].run_id == second.run.run_id
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, RunScreen))
            controller = app.controller
            assert controller.run_id == first.run.run_id, "the run that has waited longest"
            pane = controller.panes["w"]
            await until(pilot, lambda: pane.state is PaneState.APPROVAL)
            assert controller.screen.focused_pane is pane


async def test_what_the_broker_holds_is_shown_inert(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    hostile = "\x1b]0;pwned\x07\x1b[2Jevil\x9b31m"
    async with published(sim, tmp_path, redis_server.url, ONE, title=hostile) as run:
        client = Redis(port=redis_server.port)
        try:
            layout = Layout()
            await client.hset(
                layout.worker("w\x1b[31m"),
                mapping={"host": "h\x07", "serves": '{"providers": ["sim\\u001b[1m"]}', "running": "1"},
            )
            await client.zadd(layout.workers, {"w\x1b[31m": 4e9})
        finally:
            await client.aclose()
        app = fleet_app(run.broker)
        async with app.run_test(size=SIZE) as pilot:
            screen = fleet(app)
            await until(pilot, lambda: bool(row(screen, run.run.run_id)))
            shown = row(screen, run.run.run_id)
            workers = str(screen.workers_line.content)
            assert "␛]0;pwned␇␛[2Jevil" in shown and "w␛[31m (h␇)" in workers and "sim␛[1m" in workers
            for text in (shown, workers):
                assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)


async def test_an_oversize_field_of_the_index_is_shown_cut(redis_server: RedisServer) -> None:
    client = Redis(port=redis_server.port)
    layout = Layout()
    huge = "who\n\x1b[2J" + "w" * 200_000
    try:
        states = json.dumps({"s" * 100_000: 1, "running": 1})
        fields = {"who": huge, "host": "h" * 100_000, "states": states, "started": NOW}
        fields["title"] = "t" * 100_000
        await client.hset(layout.run("r1"), mapping=fields)  # type: ignore[arg-type]
        await client.zadd(layout.runs, {"r1": NOW})
        presence = {"host": "h" * 100_000, "serves": json.dumps({"providers": ["p" * 100_000]}), "running": 1}
        await client.hset(layout.worker("n" * 100_000), mapping=presence)  # type: ignore[arg-type]
        await client.zadd(layout.workers, {"n" * 100_000: 4e9})
    finally:
        await client.aclose()
    app = fleet_app(resolve(redis_server.url, {}, BrokerSettings()))
    async with app.run_test(size=SIZE) as pilot:
        screen = fleet(app)
        await until(pilot, lambda: bool(row(screen, "r1")))
        cells = [cell.plain for cell in screen.table.get_row("r1")]
        workers = str(screen.workers_line.content)
        assert cells[1].startswith("who ␛[2Jwww") and "w…@hhh" in cells[1] and len(cells[1]) < 100
        assert max(map(len, cells)) < 100 and "1 running" in cells[4], cells
        assert "…" in workers and len(workers) < 300, len(workers)
        widths = [column.get_render_width(screen.table) for column in screen.table.ordered_columns]
        assert sum(widths) < 300, widths


@pytest.mark.timeout(120)
async def test_a_broker_that_goes_away_is_said_the_list_kept_and_it_recovers_when_back(
    start_redis: Callable[..., RedisServer],
) -> None:
    server = start_redis(aof=True)
    client = Redis(port=server.port)
    layout = Layout()
    try:
        await client.hset(
            layout.run("r1"), mapping={"who": "ann", "host": "box", "started": 1.0, "states": "{}"}
        )
        await client.zadd(layout.runs, {"r1": 1.0})
    finally:
        await client.aclose()
    app = fleet_app(resolve(server.url, {}, BrokerSettings()))
    async with app.run_test(size=SIZE) as pilot:
        screen = fleet(app)
        await until(pilot, lambda: bool(row(screen, "r1")))
        server.kill()
        await until(pilot, lambda: screen.problem is not None)
        assert "cannot reach the broker" in str(screen.status.content)
        assert str(screen.status.content).startswith("the list as read")
        assert row(screen, "r1"), "the last list is kept"
        reads = screen.reads
        server.start()
        await until(pilot, lambda: screen.reads > reads and screen.problem is None, timeout=20)
        assert row(screen, "r1") and "cannot reach" not in str(screen.status.content)


@pytest.mark.timeout(120)
async def test_a_run_comes_back_into_the_list_after_its_broker_restarted_without_its_data(
    sim: SimServer, tmp_path: Path, start_redis: Callable[..., RedisServer]
) -> None:
    server = start_redis()  # no append-only file: a restart loses the index
    async with published(sim, tmp_path, server.url, STREAMING) as streaming:
        streaming.run.start()
        app = fleet_app(streaming.broker)
        async with app.run_test(size=SIZE) as pilot:
            screen = fleet(app)
            await until(pilot, lambda: "1 running" in row(screen, streaming.run.run_id))
            server.kill()
            await until(pilot, lambda: screen.problem is not None)
            server.start()
            await until(pilot, lambda: screen.problem is None)
            await until(pilot, lambda: "1 running" in row(screen, streaming.run.run_id), timeout=20)
            assert "tickets.toml" in row(screen, streaming.run.run_id), "its description written again"


NOW = 1_750_000_000.0


def test_the_fleet_view_snapshot(redis_server: RedisServer, snapshot: SnapshotAssertion) -> None:
    """Two live runs (one waiting for an approval, one silent), one that ended, two workers, read at a
    frozen clock."""
    client = redis.Redis(port=redis_server.port)
    layout = Layout()
    runs: list[tuple[str, dict[str, Any]]] = [
        ("a1b2c3d4e5f6", {"who": "ann", "host": "build-3", "title": "refactor/tickets.toml",
         "started": NOW - 200, "updated": NOW - 1, "states": '{"running": 3, "completed": 5, "pending": 2}',
         "waiting": json.dumps({"api": NOW - 65}), "cost": 0.4213, "tok_s": 412.0, "cache": 0.8342}),
        ("0f1e2d3c4b5a", {"who": "bo", "host": "ci-runner-7", "title": "nightly.toml", "started": NOW - 900,
         "updated": NOW - 120, "states": '{"running": 1, "failed": 1}', "cost": 1.5, "tok_s": 0}),
        ("99aa88bb77cc", {"who": "ann", "host": "laptop", "title": "docs.toml", "started": NOW - 1500,
         "updated": NOW - 60, "ended": NOW - 60, "states": '{"completed": 4}', "cost": 0.02}),
    ]  # fmt: skip
    workers = {"build-3-411": ["sim", "openai"], "ci-runner-7-90": ["anthropic"]}
    try:
        for run_id, fields in runs:
            client.hset(layout.run(run_id), mapping=fields)
            client.zadd(layout.runs, {run_id: fields["started"]})
        for name, serves in workers.items():
            host = name.rsplit("-", 1)[0]
            presence = {"host": host, "serves": json.dumps({"providers": serves}), "running": 2}
            client.hset(layout.worker(name), mapping=presence)  # type: ignore[arg-type]
            client.zadd(layout.workers, {name: 4e9})
    finally:
        client.close()
    broker = resolve(redis_server.url, {}, BrokerSettings())
    app = fleet_app(broker)

    async def frozen(pilot: Pilot[Any]) -> None:
        """The fleet read at a frozen clock, over the one the app opened with."""
        screen = FleetScreen(FleetReader(broker), app.open_broker_run, first=False, clock=lambda: NOW)
        await app.push_screen(screen)
        await until(pilot, lambda: screen.reads > 0 and screen.table.row_count == len(screen.shown) == 3)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.3)

    svg = take_svg_screenshot(app=app, terminal_size=(150, 14), run_before=frozen)
    svg = re.sub(r"terminal-\d+", "terminal", svg.replace(f":{redis_server.port}", ":PORT"))
    assert snapshot(extension_class=SVGImageExtension) == svg
