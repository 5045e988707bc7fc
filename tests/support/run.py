"""The engine in tests: a clock that sleeps on demand, a fake time, tickets that write files, and
who answers their approvals."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import ApprovalAsked, Event
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Approvals, Run
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.patience import PATIENCE


class Sleeps:
    """Records the delays the retry loop asks for instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class FakeTime:
    """A clock that moves only when told, and a sleep that ends when the clock passes its time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, wake))
        await wake

    async def advance(self, seconds: float) -> None:
        await settle()  # sleeps that are due to start, start before the clock moves
        self.now += seconds
        for at, wake in list(self._sleepers):
            if at <= self.now:
                self._sleepers.remove((at, wake))
                if not wake.done():
                    wake.set_result(None)
        await settle()

    @property
    def sleeping(self) -> int:
        return sum(not wake.done() for _, wake in self._sleepers)


async def settle() -> None:
    """Let every task that can run, run."""
    for _ in range(20):
        await asyncio.sleep(0)


WRITER = '[[ticket]]\nid = "w"\nprompt = "x"\nmodel = "writer"\ntools = ["write_file", "run_command"]\n'


def writer_tickets(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "README.md").write_text("# Widget\n")
    path = tmp_path / "tickets.toml"
    path.write_text('[defaults]\nprovider = "sim"\n\n' + WRITER + extra)
    return path


class Answerer:
    """A sink that answers each `ApprovalAsked` as a person would: later, from outside the run."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.events: list[Event] = []
        self.run: Run | None = None
        self.late: list[bool] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, ApprovalAsked):
            asyncio.get_running_loop().call_soon(self._answer, event)

    def _answer(self, asked: ApprovalAsked) -> None:
        assert self.run is not None
        allowed = self.answers.pop(0)
        assert self.run.approvals.answer(asked.ticket, asked.call_id, allowed, "203.0.113.9 (lfg attach)")
        self.late.append(self.run.approvals.answer(asked.ticket, asked.call_id, True, "you"))


async def run_writer(
    sim: SimServer, tmp_path: Path, approvals: Approvals, answerer: Answerer, db: Path | None = None
) -> Run:
    """The writer ticket run to its end, its approvals answered by `answerer`; recorded into the
    history file `db` when given (the run then has the history's id)."""
    loaded = load_tickets(writer_tickets(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    problems: list[str] = []
    async with (
        open_run_history(db, loaded, "lfg run", problems.append) as history,
        Providers(sim=sim) as providers,
    ):
        assert db is None or history is not None, problems
        run = Run(loaded.tickets, providers, approvals, [answerer])
        answerer.run = run
        if history is not None:
            run.record(history)
        run.start()
        await asyncio.wait_for(run.wait(), 30 * PATIENCE)
    return run
