"""`machine`: `lfg agents` in folders of its own, with the stand-in npm and node on its PATH."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.acp_registry import Machine


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)
