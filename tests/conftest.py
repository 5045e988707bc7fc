"""Shared fixtures: a real sim server on 127.0.0.1 with a per-test scenario folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer


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
