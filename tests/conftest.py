"""Shared fixtures: a real sim server on 127.0.0.1 with a per-test scenario folder, a canned server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from tests.support.streams import CannedServer


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
