"""The review screen as the tests drive it: `lfg run`'s app recorded into a history file, the screen
opened with `v`, a comment kept."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.review_screen import ReviewScreen
from tests.support.app import keys, until
from tests.support.compose import first_run, lfg_app


@contextlib.asynccontextmanager
async def recorded_app(sim: SimServer, path: Path, db: Path, *, yes: bool = True) -> AsyncIterator[LfgApp]:
    """`lfg run`'s app on the tickets at `path`, recorded into `db` as `lfg run` records it; `yes`:
    every tool call allowed without asking (`--yes`)."""
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    async with open_run_history(db, loaded, "lfg run", pytest.fail) as history:
        assert history is not None
        app = lfg_app(loaded.tickets, Providers(sim=sim), yes=yes, run_id=history.run_id, history=db)
        first_run(app).record(history)
        yield app


async def open_review(pilot: object, app: LfgApp) -> ReviewScreen:
    await pilot.press("v")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
    assert isinstance(app.screen, ReviewScreen)
    return app.screen


async def comment(pilot: object, screen: ReviewScreen, text: str) -> None:
    """`c` on the cursor's line, the text typed, enter; waits until the draft is kept."""
    before = len(screen.desk.drafts)
    await pilot.press("c", *keys(text), "enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: len(screen.desk.drafts) == before + 1)
