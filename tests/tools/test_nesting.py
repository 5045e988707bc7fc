"""Whether an agent's own sandbox can start in lfg's bubblewrap box (tools/nesting.py), probed with
the probe wherever lfg lies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lfgtui.tools import nesting
from lfgtui.tools.sandbox import unavailable


async def test_the_probe_runs_in_the_box_when_lfg_lies_under_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lfg run from a checkout under /tmp (CI's clean clone): the box's own /tmp hid the probe, it
    could not start, and a Codex ticket was refused as if its sandbox could not start either."""
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    probe = tmp_path / "nest_probe.py"
    shutil.copy(nesting.PROBE, probe)
    monkeypatch.setattr(nesting, "PROBE", probe)
    nesting._refused.cache_clear()
    try:
        assert await nesting.refused("bwrap", home_shown=True) is None
    finally:
        nesting._refused.cache_clear()
