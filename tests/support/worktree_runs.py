"""Two sim tickets that write a file, run with isolation = "worktree" and recorded in a history file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.commands.main import main
from lfgtui.config.load import Config
from lfgtui.events import Event, Outcome
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS


def tickets(folder: Path, workdir: Path, defaults: str = "", model: str = "writer") -> Path:
    """`defaults`: more lines of `[defaults]` (a `setup`, a `sandbox`); `model`: the sim scenario."""
    path = folder / "tickets.toml"
    path.write_text(
        f'[defaults]\nprovider = "sim"\nisolation = "worktree"\nworkdir = "{workdir}"\n{defaults}'
        'tools = ["write_file", "run_command"]\n'
        f'[[ticket]]\nid = "one"\nprompt = "write"\nmodel = "{model}"\n'
        f'[[ticket]]\nid = "two"\nprompt = "write"\nmodel = "{model}"\n'
    )
    return path


async def run_in(
    sim: SimServer, tmp_path: Path, workdir: Path, db: Path, defaults: str = "", model: str = "writer"
) -> tuple[list[Event], dict[str, Outcome], str]:
    """Run the two writer tickets in `workdir`, recorded in `db`: their events, outcomes and run id."""
    loaded = load_tickets(
        tickets(tmp_path, workdir, defaults, model), Config(path=None), BUILTIN_TOOLS, env={}
    )
    events: list[Event] = []
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        trees = tmp_path / "trees"
        run = Run(loaded.tickets, providers, Approvals(yes=True), [events.append], worktrees=trees)
        run.record(history)
        run.start()
        outcomes = await run.wait()
    return events, outcomes, history.run_id


async def lfg(*argv: str) -> int:
    """`lfg ARGV` as the shell runs it (its own event loop, so on a thread of its own here)."""
    return await asyncio.to_thread(main, list(argv))
