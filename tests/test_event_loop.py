"""`event_loop.run`: uvloop where it is installed, asyncio's own loop where it is not."""

from __future__ import annotations

import asyncio
import sys

import pytest

from lfgtui import event_loop


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_runs_on_uvloop_when_installed() -> None:
    pytest.importorskip("uvloop")
    assert event_loop.run(loop_module()).startswith("uvloop")


def test_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    assert event_loop.run(loop_module()).startswith("asyncio")
