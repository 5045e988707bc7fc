"""The fleet view (`lfg runs --tui`) and `lfg runs` on a broker behind Sentinel, in the real app
through Pilot, while its primary fails over: real processes (a primary, a replica, three sentinels),
runs published to them in this process as `lfg run --publish` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.broker.fleet_index import FleetReader
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.fleet import FleetScreen
from lfgtui.ui.services import Services
from tests.support.app import until
from tests.support.broker import published
from tests.support.topologies import SentinelSet, role

ONE = '[[ticket]]\nid = "hi"\nprovider = "sim"\nprompt = "x"\nmodel = "hello"\n'


def fleet(app: LfgApp) -> FleetScreen:
    screen = app.screen
    assert isinstance(screen, FleetScreen)
    return screen


async def publish_one(sim: SimServer, folder: Path, url: str) -> str:
    """A finished run published to the primary the sentinels name now; its id (`folder` exists)."""
    async with published(sim, folder, url, ONE) as run:
        run.run.start()
        await run.finish()
        return run.run.run_id


@pytest.mark.timeout(120)
async def test_the_fleet_view_follows_a_failover_of_a_live_primary_and_shows_the_new_primarys_runs(
    sim: SimServer, tmp_path: Path, sentinels: SentinelSet
) -> None:
    """`SENTINEL FAILOVER` of a primary that stays a primary (its REPLICAOF denied): a view still
    reading it would show its runs forever, a stale answer; it shows the runs on the new one."""
    old = sentinels.admin(sentinels.primary.port)
    old.execute_command("ACL", "SETUSER", "default", "-replicaof", "-slaveof")
    (tmp_path / "before").mkdir(), (tmp_path / "after").mkdir()
    before = await publish_one(sim, tmp_path / "before", sentinels.url)
    app = LfgApp(Services(Providers(), broker=resolve(sentinels.url, {}, BrokerSettings())), None)
    async with app.run_test(size=(150, 30)) as pilot:
        screen = fleet(app)
        await until(pilot, lambda: [run.run_id for run in screen.shown] == [before], timeout=20)
        sentinels.promote()
        after = await publish_one(sim, tmp_path / "after", sentinels.url)
        await until(pilot, lambda: after in {run.run_id for run in screen.shown}, timeout=20)
    old.close()


@pytest.mark.timeout(120)
async def test_the_fleet_reader_reads_from_the_new_primary_after_its_primary_is_killed_without_a_failed_read(
    sim: SimServer, tmp_path: Path, sentinels: SentinelSet
) -> None:
    """The view's reader read the index once; then its primary is SIGKILLed and the replica promoted
    while its loop is held (as a busy TUI's may be), so the sentinels' `+switch-master` waits unread
    and the connection to the dead primary is still in the pool. The next read answers from the new
    primary: no failed read said over the list first, no stale answer."""
    (tmp_path / "before").mkdir()
    before = await publish_one(sim, tmp_path / "before", sentinels.url)
    reader = FleetReader(resolve(sentinels.url, {}, BrokerSettings()))
    try:
        assert [run.run_id for run in (await reader.read()).runs] == [before]
        sentinels.primary_killed()
        assert [run.run_id for run in (await reader.read()).runs] == [before], "read from the new primary"
        assert role(sentinels.replica.port) == "master"
    finally:
        await reader.aclose()
