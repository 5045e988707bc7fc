"""A coordinator as a real process whose NDJSON is read as it comes, and what the sim was paid: the
tests of a broker that fails over or goes back in time mid-run (tests/broker) count each ticket's calls
at the sim and whether each ran to its end."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from lfgtui.sim.server import SimServer
from tests.support import warm_lfg
from tests.support.fleet import Fleet, ends
from tests.support.patience import PATIENCE


def paid_tickets(names: list[str], model: str, slow: str) -> str:
    """A tickets file of ticket `slow` (on model `slow`: it keeps the run going) and `names` on
    `model`, each on provider `far` and saying `ticket NAME says go`."""
    return "".join(
        f'[[ticket]]\nid = "{n}"\nprompt = "ticket {n} says go"\nprovider = "far"\n'
        f'model = "{slow if n == "slow" else model}"\n'
        for n in ["slow", *names]
    )


def calls_of(sim: SimServer, ticket: str) -> list[Any]:
    """The sim's calls of one ticket (its prompt names it: `ticket NAME says go`)."""
    return [record for record in sim.log if f"ticket {ticket} says go" in json.dumps(record.body)]


def answered(sim: SimServer, ticket: str) -> int:
    """How many times the ticket's answer was streamed to its end: what a provider is paid in full."""
    return sum(r.ended_at is not None and r.disconnected_at is None for r in calls_of(sim, ticket))


def mid_answer_since(sim: SimServer, since: int) -> bool:
    """Whether a call the sim took after the first `since` is streaming now."""
    return any(r.token_times and r.ended_at is None for r in sim.log[since:])


@dataclass
class NdjsonProcess:
    """An lfg command's process, its NDJSON read as it comes (so the test sees what it said when), its
    stderr in a file."""

    process: subprocess.Popen[str]
    err: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    reader: threading.Thread | None = None

    @classmethod
    def launched(cls, fleet: Fleet, args: list[str], err: Path) -> Self:
        with err.open("w") as sink:
            process = warm_lfg.popen(args, env=fleet.lfg.env, stdout=subprocess.PIPE, stderr=sink, text=True)
        found = cls(process, err)
        found.reader = threading.Thread(target=found._read, daemon=True)
        found.reader.start()
        return found

    def wait(self, timeout_s: float) -> int:
        """Its exit code, once it exited and every line it wrote is in `events`: the process's exit
        says nothing of the reader, which may not have read its last lines yet (its last ticket's end,
        on a loaded machine). `timeout_s` stretches by `PATIENCE`."""
        code = self.process.wait(timeout_s * PATIENCE)
        assert self.reader is not None
        self.reader.join(timeout_s * PATIENCE)
        assert not self.reader.is_alive(), "its output was not closed when it exited"
        return code

    async def killed(self) -> None:
        """Kill it if it runs still (its test failed on the way, or waits for a broker gone), and
        reap it: what a test's `finally` does."""
        if self.process.poll() is None:
            self.process.kill()
            await asyncio.to_thread(self.process.communicate, timeout=30 * PATIENCE)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append(json.loads(line))


class Coordinator(NdjsonProcess):
    """`lfg run --broker --json`."""

    @classmethod
    def start(cls, fleet: Fleet, tickets: Path, config: Path) -> Coordinator:
        args = fleet.lfg.args(tickets, "--json", "--broker", fleet.url)
        args[args.index("--config") + 1] = str(config)
        return cls.launched(fleet, args, fleet.lfg.home / "coordinator.err")

    def completed(self) -> set[str]:
        """The tickets it recorded as completed so far."""
        return {ticket for (ticket, _), outcome in ends(list(self.events)).items() if outcome == "completed"}


class Watcher(NdjsonProcess):
    """`lfg attach URL RUN --json` through the broker, from the run's start."""

    @classmethod
    def start(cls, fleet: Fleet, run_id: str, config: Path) -> Watcher:
        args = [sys.executable, "-m", "lfgtui", "attach", fleet.url, run_id, "--json"]
        args += ["--config", str(config)]
        return cls.launched(fleet, args, fleet.lfg.home / "watcher.err")

    def unended(self) -> set[tuple[str, int]]:
        """The attempts it saw start and not end."""
        seen = list(self.events)
        started = {(e["ticket"], e["attempt"]) for e in seen if e["type"] == "attempt_started"}
        return started - ends(seen).keys()
