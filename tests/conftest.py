"""Shared fixtures: a real sim server on 127.0.0.1 with a per-test scenario folder, a canned server; the
person's own lfg folders kept out of every test; the markers of tests/support/markers.py."""

from __future__ import annotations

import asyncio
import functools
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from tests.support import durations, markers, warm_lfg
from tests.support.streams import CannedServer


@pytest.hookimpl(tryfirst=True)  # before xdist names each test of a group by it
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markers.apply(items)
    if config.getoption("loadgroup", False):  # an xdist worker of `--dist loadgroup`: a wide run
        items[:] = markers.longest_first(items)


def pytest_configure(config: pytest.Config) -> None:
    """The run's durations recorded when asked (tests/support/durations.py). lfg's config, history,
    logs and sim sessions in a tmp folder of this session's, from collection on (a module may read a
    default path when imported), for every test and every `lfg` it starts: never the person's own (a
    test would read their config and leave its logs there), and never shared with another pytest
    running at the same time (or another xdist worker). And no run reads the model catalogue from
    the internet (`LFG_MODEL_CATALOGUE`, which `tests/support/lfg.py` passes on)."""
    if durations.recording():
        config.pluginmanager.register(durations.Recorder(), "lfg-durations")
    root = Path(tempfile.mkdtemp(prefix="lfg-tests-"))
    config.add_cleanup(functools.partial(shutil.rmtree, root, ignore_errors=True))
    patch = pytest.MonkeyPatch()
    config.add_cleanup(patch.undo)
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        patch.setenv(f"XDG_{name}_HOME", str(root / name.lower()))
    patch.setenv("LFG_MODEL_CATALOGUE", "off")  # a run never reads models.dev from a test


@pytest.fixture(scope="session", autouse=True)
def warm_lfg_started() -> None:
    """The warm interpreter the tests' `lfg`s are forked from, started as the session starts."""
    warm_lfg.start()


@pytest.fixture
def scenario_dir(tmp_path: Path) -> Path:
    """A folder for scenarios written by the test itself (see `support.write_scenario`)."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    return folder


@pytest.fixture
async def sim(scenario_dir: Path) -> AsyncIterator[SimServer]:
    async with SimServer(ScenarioLibrary(extra_dirs=(scenario_dir,))) as server:
        yield server


@pytest.fixture
async def canned() -> AsyncIterator[CannedServer]:
    """A `CannedServer` on a free loopback port; `url` is its root."""
    canned_server = CannedServer([])
    server = await asyncio.start_server(canned_server.serve, "127.0.0.1", 0)
    canned_server.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield canned_server
