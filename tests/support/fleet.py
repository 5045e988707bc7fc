"""`lfg worker` processes and an `lfg run --broker` coordinator as real processes on one broker, their
logs and NDJSON picked apart (tests/broker). They hold leases of `STEADY` unless a test of a lapsing
lease gives them `LEASE`."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.support import warm_lfg
from tests.support.lfg import Lfg, of
from tests.support.patience import PATIENCE

EXAMPLES = Path(__file__).parents[2] / "examples"
FLEET_DOC = Path(__file__).parents[2] / "docs" / "fleet.md"
LEASE = "[broker]\nlease_s = 3\n"
"""A lease that lapses soon: for the tests of a worker that stops renewing it (long enough that a
worker stalled a moment on a loaded machine does not stop its own attempt, see `FENCE_AFTER`)."""
STEADY = "[broker]\nlease_s = 10\n"
"""For tests of something else than a lapsed lease: on a loaded machine a lease of 1.5 s can lapse
while its worker is busy, and another worker (or the same one) takes the ticket over."""


@dataclass
class Fleet:
    """`lfg worker` processes on one broker, each logging to a file; all killed at the end."""

    lfg: Lfg
    url: str
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def config(self, text: str, name: str = "config.toml") -> Path:
        path = self.lfg.home / name
        path.write_text(text)
        return path

    def start(
        self,
        name: str,
        *extra: str,
        config: Path | None = None,
        before: str = "",
        root: Path | None = None,
        data: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """`lfg worker NAME`; `before`: Python run in its process before lfg starts (an import hook);
        `root`: its clone (default: the coordinator's workdir); `data`: a data folder of its own (its
        worktrees), as on another machine."""
        log = self.log(name).open("wb")
        args = ["worker", "--broker", self.url, "--name", name, "--root", str(root or self.lfg.workdir)]
        env = self.lfg.env if data is None else self.lfg.env | {"XDG_DATA_HOME": str(data)}
        config = config or self.config(STEADY)
        launch = f"{before}\nimport sys\nfrom lfgtui.commands import lfg\nsys.exit(lfg())\n"
        lfg = ["-c", launch] if before else ["-m", "lfgtui"]
        process = warm_lfg.popen(
            [sys.executable, *lfg, *args, "--config", str(config), *extra],
            env=env,
            stdout=log,
            stderr=log,
        )
        self.workers[name] = process
        return process

    def log(self, name: str) -> Path:
        return self.lfg.home / f"{name}.log"

    def said(self, name: str) -> str:
        return self.log(name).read_text()

    def ready(self, name: str) -> bool:
        """Whether worker `name` said it is ready (its providers warm): it reads work from then on."""
        return f"worker {name} is ready" in self.said(name)

    def stop(self) -> None:
        terminated(self.workers.values(), within_s=15 * PATIENCE)


def terminated(processes: Iterable[subprocess.Popen[str] | None], within_s: float) -> None:
    """SIGTERM each process still running, wait up to `within_s` for each, then kill what is left."""
    running = [process for process in processes if process is not None and process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(within_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5 * PATIENCE)


def coordinate(fleet: Fleet, tickets: Path, *extra: str, config: Path | None = None) -> subprocess.Popen[str]:
    """`lfg run TICKETS --broker URL --json`, its NDJSON on a pipe."""
    args = fleet.lfg.args(tickets, "--json", "--broker", fleet.url, *extra)
    args[args.index("--config") + 1] = str(config or fleet.config(STEADY))
    return warm_lfg.popen(args, env=fleet.lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> tuple[int, list[dict[str, Any]], str]:
    out, err = process.communicate(timeout=90 * PATIENCE)
    return process.returncode, [json.loads(line) for line in out.splitlines()], err


def same_tickets(names: list[str], model: str) -> str:
    """A tickets file's text: a ticket of each id in `names`, all asking `model` of the sim."""
    return "".join(
        f'[[ticket]]\nid = "{n}"\nprompt = "go"\nprovider = "sim"\nmodel = "{model}"\n' for n in names
    )


def streaming(coordinator: subprocess.Popen[str], names: list[str], count: int) -> list[dict[str, Any]]:
    """The coordinator's NDJSON read until `count` of the tickets `names` stream text (mid-run)."""
    assert coordinator.stdout is not None
    seen: list[dict[str, Any]] = []
    for line in coordinator.stdout:
        seen.append(json.loads(line))
        if sum(bool(of(seen, name, "text")) for name in names) >= count:
            break
    return seen


def queued(coordinator: subprocess.Popen[str], count: int) -> list[dict[str, Any]]:
    """The coordinator's NDJSON read until `count` of its tickets wait on the broker (with no worker
    there yet: none of them started)."""
    assert coordinator.stdout is not None
    seen: list[dict[str, Any]] = []
    for line in coordinator.stdout:
        seen.append(json.loads(line))
        if len({e["ticket"] for e in seen if e["type"] == "attempt_queued"}) >= count:
            break
    return seen


def ends(events: list[dict[str, Any]]) -> dict[tuple[str, int], str]:
    return {(e["ticket"], e["attempt"]): e["outcome"] for e in events if e["type"] == "attempt_ended"}


def ran_on(events: list[dict[str, Any]], ticket: str) -> set[str]:
    said = [e["message"] for e in of(events, ticket, "status")]
    return {m.split("running on worker ")[1].split()[0] for m in said if "running on worker " in m}


def stopped(pid: int) -> bool:
    """Whether the process is stopped (SIGSTOP took effect), as /proc says."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "T"


def eventually(check: Callable[[], object], timeout: float = 60) -> None:
    """Wait (polling) until `check()` holds, from a test that is not async; `timeout` (stretched in a
    wide run: tests/support/patience.py) fails the test."""
    deadline = time.monotonic() + timeout * PATIENCE
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


async def until(check: Any, timeout: float = 40) -> None:
    """Wait (polling) until `check()` holds: a log line, a state; `timeout` (stretched in a wide run:
    tests/support/patience.py) fails the test."""
    async with asyncio.timeout(timeout * PATIENCE):
        while not check():
            await asyncio.sleep(0.02)


def gated_import(module: str, gate: Path, arrived: Path | None = None) -> str:
    """Python for `Fleet.start(before=...)`: importing `module` in that process waits until `gate`
    exists, as an SDK's import takes seconds on a busy machine, for as long as the test says;
    `arrived`: a file made once the import waits there."""
    arrive = f"open({str(arrived)!r}, 'w').close()" if arrived is not None else "pass"
    return (
        "import os, sys, time\n"
        "class Gate:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {module!r}:\n"
        f"            {arrive}\n"
        f"        while name == {module!r} and not os.path.exists({str(gate)!r}):\n"
        "            time.sleep(0.02)\n"
        "sys.meta_path.insert(0, Gate())\n"
    )


def agent_config(fleet: Fleet, name: str, lease: str = STEADY) -> Path:
    """A config whose provider `agent` is the sim ACP agent keeping its sessions in a folder of
    `name`'s alone, as a coding agent keeps them on its own machine; `lease`: its `[broker]`."""
    sessions = fleet.lfg.home / f"{name}-sessions"
    command = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--sessions-dir", str(sessions)]
    command += ["--scenario", "{model}"]
    return fleet.config(lease + agent_provider(command), f"{name}.toml")


def agent_provider(command: list[str]) -> str:
    return f'[providers.agent]\nkind = "acp"\ncommand = {json.dumps(command)}\n'


AGENT_TICKET = '[[ticket]]\nid = "a"\nprompt = "go"\nprovider = "agent"\nmodel = "hello:ttft_ms=0"\n'
COORDINATOR_AGENT = STEADY + agent_provider([sys.executable])
"""The coordinator knows the provider is a coding agent; its workers run it."""


def holds(admin: redis.Redis, consumer: str, stream: str = "lfg:work:far") -> bool:
    """Whether `consumer` holds an entry of the work stream now (its group exists: the broker is back)."""
    try:
        return any(
            c["name"] == consumer.encode() and c["pending"] for c in admin.xinfo_consumers(stream, "workers")
        )
    except redis.ResponseError:
        return False


def documented_rules(role: str, worker: str) -> list[str]:
    """The ACL key rules of `role` as the docs table lists them: `%R~` for each read pattern, `%W~`
    for each write pattern (a worker's NAME is `worker`)."""
    text = FLEET_DOC.read_text()
    table = text.split("### Who may write what", 1)[1]
    [row] = [line for line in table.splitlines() if line.startswith(f"| {role} ")]
    _, reads, writes = [cell.strip() for cell in row.strip("|").split("|")]
    rules = [f"%R{pattern}" for pattern in re.findall(r"`(~[^`]+)`", reads)]
    rules += [f"%W{pattern}" for pattern in re.findall(r"`(~[^`]+)`", writes)]
    return [rule.replace("NAME", worker) for rule in rules]


def acl_user(admin: redis.Redis, name: str, rules: list[str]) -> None:
    admin.execute_command("ACL", "SETUSER", name, "reset", "on", f">{name}-secret", "+@all", *rules)
