"""`lfg run --broker` coordinating `lfg worker` processes through a real redis-server: tickets spread
over workers, `depends_on` across them, a worker killed mid-stream, a provider no worker has, and
(with the coordinator in this process, as its TUI does it) approvals and cancel sent to the worker
holding the ticket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lfgtui.broker.client import connect
from lfgtui.broker.coordinator import CoordinatedRun
from lfgtui.broker.settings import BrokerSettings, resolve
from lfgtui.commands.broker import Outlet
from lfgtui.config import load_config
from lfgtui.cost.prices import run_prices
from lfgtui.events import ApprovalAnswered, ApprovalAsked, AttemptEnded, Event, Status, TextDelta
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.run.approvals import Approvals
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.modals import ApprovalScreen
from lfgtui.ui.pane import PaneState
from lfgtui.ui.run_controller import RunController
from lfgtui.ui.run_screen import BINDINGS
from lfgtui.ui.services import Services
from tests.broker.redis_server import RedisServer
from tests.support.app import SIZE
from tests.support.lfg import Lfg, of

EXAMPLES = Path(__file__).parents[2] / "examples"
LEASE = "[broker]\nlease_s = 1.5\n"
LAB = '[providers.lab]\nkind = "sim"\nbase_url = "sim:/v1"\n'


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

    def start(self, name: str, *extra: str, config: Path | None = None) -> subprocess.Popen[bytes]:
        log = self.log(name).open("wb")
        args = ["worker", "--broker", self.url, "--name", name, "--root", str(self.lfg.workdir)]
        config = config or self.config(LEASE)
        process = subprocess.Popen(
            [sys.executable, "-m", "lfgtui", *args, "--config", str(config), *extra],
            env=self.lfg.env,
            stdout=log,
            stderr=log,
        )
        self.workers[name] = process
        return process

    def log(self, name: str) -> Path:
        return self.lfg.home / f"{name}.log"

    def said(self, name: str) -> str:
        return self.log(name).read_text()

    def stop(self) -> None:
        for process in self.workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def fleet(tmp_path: Path, redis_server: RedisServer) -> Iterator[Fleet]:
    found = Fleet(Lfg(tmp_path), redis_server.url)
    yield found
    found.stop()


def coordinate(fleet: Fleet, tickets: Path, *extra: str, config: Path | None = None) -> subprocess.Popen[str]:
    """`lfg run TICKETS --broker URL --json`, its NDJSON on a pipe."""
    args = fleet.lfg.args(tickets, "--json", "--broker", fleet.url, *extra)
    args[args.index("--config") + 1] = str(config or fleet.config(LEASE))
    return subprocess.Popen(
        args, env=fleet.lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, list[dict[str, Any]], str]:
    out, err = process.communicate(timeout=90)
    return process.returncode, [json.loads(line) for line in out.splitlines()], err


def ends(events: list[dict[str, Any]]) -> dict[tuple[str, int], str]:
    return {(e["ticket"], e["attempt"]): e["outcome"] for e in events if e["type"] == "attempt_ended"}


def ran_on(events: list[dict[str, Any]], ticket: str) -> set[str]:
    said = [e["message"] for e in of(events, ticket, "status")]
    return {m.split("running on worker ")[1].split()[0] for m in said if "running on worker " in m}


def test_the_demo_runs_across_two_workers_and_is_recorded_here(fleet: Fleet) -> None:
    shutil.copy(EXAMPLES / "demo.toml", fleet.lfg.workdir / "demo.toml")
    for name in ("w1", "w2"):
        fleet.start(name, "--max-concurrency", "2")  # three tickets start at once: both take some
    code, events, err = finish(coordinate(fleet, fleet.lfg.workdir / "demo.toml"))
    assert code == 0, err
    assert ends(events) == {(t, 1): "completed" for t in ("explore", "gcd", "tour", "summary")}
    workers = set().union(*(ran_on(events, t) for t in ("explore", "gcd", "tour", "summary")))
    assert workers == {"w1", "w2"}, "the tickets were spread over both workers"
    explored = "".join(e["text"] for e in of(events, "explore", "text"))
    (prompt,) = of(events, "summary", "prompt")
    assert len(explored) > 200 and explored[-200:] in prompt["text"], "depends_on across workers: filled in"
    run_id = err.split("recorded as run ")[1].split()[0]
    shown = subprocess.run(
        [sys.executable, "-m", "lfgtui", "history", "show", run_id, "--config", str(fleet.lfg.config)],
        env=fleet.lfg.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0 and all(t in shown.stdout for t in ("explore", "gcd", "tour", "summary"))


def test_a_worker_killed_mid_stream_leaves_its_ticket_to_another_and_both_attempts_are_recorded(
    fleet: Fleet,
) -> None:
    tickets = fleet.lfg.tickets(
        '[[ticket]]\nid = "long"\nprompt = "go"\nprovider = "sim"\n'
        'model = "long-answer:tokens_per_s=60,repeat=3"\n'
    )
    first = fleet.start("w1")
    coordinator = coordinate(fleet, tickets)
    assert coordinator.stdout is not None
    seen: list[dict[str, Any]] = []
    for line in coordinator.stdout:
        seen.append(json.loads(line))
        if len(of(seen, "long", "text")) >= 10:
            break
    first.send_signal(signal.SIGKILL)  # mid-stream: no goodbye, its lease lapses
    fleet.start("w2")
    code, events, err = finish(coordinator)
    events = seen + events
    assert code == 0, err
    assert ends(events) == {("long", 1): "interrupted", ("long", 2): "completed"}
    (interrupted,) = [e for e in events if e["type"] == "attempt_ended" and e["attempt"] == 1]
    assert "took the ticket over as attempt 2" in interrupted["error"]["message"]
    assert ran_on(events, "long") == {"w1", "w2"}
    assert len([e for e in events if e["attempt"] == 1 and e["type"] == "text"]) >= 10, "what arrived is kept"
    run_id = err.split("recorded as run ")[1].split()[0]
    export = subprocess.run(
        [
            sys.executable,
            "-m",
            "lfgtui",
            "history",
            "export",
            run_id,
            "--format",
            "json",
            "--config",
            str(fleet.lfg.config),
        ],
        env=fleet.lfg.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert export.returncode == 0, export.stderr
    (ticket,) = json.loads(export.stdout)["run"]["tickets"]
    assert [(a["number"], a["outcome"]) for a in ticket["attempts"]] == [(1, "interrupted"), (2, "completed")]
    watched = subprocess.run(
        [sys.executable, "-m", "lfgtui", "attach", f"{fleet.url}/{run_id}", "--json"],
        env=fleet.lfg.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert watched.returncode == 0, watched.stderr
    seen_by_watcher = [json.loads(line) for line in watched.stdout.splitlines()]
    assert ends(seen_by_watcher) == {("long", 1): "interrupted", ("long", 2): "completed"}, (
        "lfg attach sees the attempt taken over end"
    )


def test_the_broker_killed_and_restarted_with_its_append_only_file_loses_no_ticket_and_completes_none_twice(
    tmp_path: Path, start_redis: Callable[..., RedisServer]
) -> None:
    broker = start_redis(aof=True)
    fleet = Fleet(Lfg(tmp_path), broker.url)
    names = [f"t{n}" for n in range(6)]
    model = "long-answer:tokens_per_s=80,repeat=2"
    tickets = fleet.lfg.tickets(
        "".join(
            f'[[ticket]]\nid = "{n}"\nprompt = "go"\nprovider = "sim"\nmodel = "{model}"\n' for n in names
        )
    )
    try:
        for name in ("w1", "w2"):
            fleet.start(name, "--max-concurrency", "2")  # four run at once, two wait on the work stream
        coordinator = coordinate(fleet, tickets)
        assert coordinator.stdout is not None
        seen: list[dict[str, Any]] = []
        for line in coordinator.stdout:
            seen.append(json.loads(line))
            if sum(bool(of(seen, n, "text")) for n in names) >= 3:
                break
        broker.kill()  # mid-distribution: entries taken, entries waiting, events on their way
        time.sleep(2.5)  # longer than the lease: the entries' idle clock has run out when it is back
        broker.start()  # the same port and append-only file
        code, events, err = finish(coordinator)
    finally:
        fleet.stop()
    assert code == 0, err
    completed = [ticket for (ticket, _), outcome in ends(seen + events).items() if outcome == "completed"]
    assert sorted(completed) == names, "every ticket completed, once"
    said = fleet.said("w1") + fleet.said("w2")
    for name in names:
        runs = re.findall(rf"{name} of run \S+ \(attempt \d+\): completed", said)
        assert len(runs) == 1, f"{name} ran to completion on one worker, once:\n{said}"


def test_a_ticket_whose_provider_a_worker_lacks_waits_for_one_that_has_it_and_says_why(fleet: Fleet) -> None:
    tickets = fleet.lfg.tickets(
        '[[ticket]]\nid = "lab"\nprompt = "Say hello."\nprovider = "lab"\nmodel = "hello"\n'
    )
    with_lab = fleet.config(LEASE + LAB, "lab.toml")
    fleet.start("plain")
    deadline = time.monotonic() + 30
    while "serves" not in fleet.said("plain") and time.monotonic() < deadline:  # it is on the broker
        time.sleep(0.05)
    coordinator = coordinate(fleet, tickets, config=with_lab)
    assert coordinator.stdout is not None
    seen = []
    for line in coordinator.stdout:
        seen.append(json.loads(line))
        if of(seen, "lab", "status"):
            break
    (waiting,) = of(seen, "lab", "status")
    assert waiting["message"] == (
        "no worker serves provider 'lab' yet (worker plain: no provider 'lab' in its config): "
        "this waits for one that does"
    )
    fleet.start("lab", config=with_lab)
    code, events, err = finish(coordinator)
    assert code == 0, err
    assert ends(seen + events) == {("lab", 1): "completed"} and ran_on(events, "lab") == {"lab"}
    assert "took lab" not in fleet.said("plain")


@contextlib.asynccontextmanager
async def coordinated(fleet: Fleet, toml: str) -> AsyncIterator[tuple[CoordinatedRun, list[Event]]]:
    """A coordinated run in this process, as `lfg run --broker` makes it for the TUI (someone can
    answer approvals), started; cancelled at the end of the block if it has not ended."""
    path = fleet.lfg.tickets(toml)
    config = load_config(fleet.config(LEASE))
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    broker = resolve(fleet.url, {}, BrokerSettings(lease_s=1.5))
    outlet = Outlet(broker, await connect(broker), path.parent)
    async with Providers(config.providers) as providers, Outlet.closing(outlet):
        events: list[Event] = []
        make_run = outlet.make_run()
        prices = run_prices(providers.configs, loaded.tickets)
        run = make_run(loaded.tickets, providers, Approvals(askable=True), [events.append], prices=prices)
        assert isinstance(run, CoordinatedRun)
        async with outlet.publishing(run, loaded.tickets, str(path), lambda _: None):
            run.start()
            try:
                yield run, events
            finally:
                run.cancel_all()
                await asyncio.wait_for(run.wait(), 30)


async def until(check: Any, timeout: float = 40) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_approvals_answered_at_the_coordinator_reach_the_worker_holding_each_ticket(
    fleet: Fleet,
) -> None:
    writer = 'prompt = "write"\nprovider = "sim"\nmodel = "writer"\ntools = ["write_file"]\n'
    toml = f'[[ticket]]\nid = "a"\nworkdir = "a"\n{writer}\n[[ticket]]\nid = "b"\nworkdir = "b"\n{writer}'
    for folder in ("a", "b"):
        (fleet.lfg.workdir / folder).mkdir()
    fleet.start("w1", "--max-concurrency", "1")
    fleet.start("w2", "--max-concurrency", "1")
    async with coordinated(fleet, toml) as (run, events):
        await until(lambda: len([e for e in events if isinstance(e, ApprovalAsked)]) == 2)
        for asked in [e for e in events if isinstance(e, ApprovalAsked)]:
            assert run.approvals.answer(asked.ticket, asked.call_id, asked.ticket == "a", "you")
        outcomes = await asyncio.wait_for(run.wait(), 40)
    assert outcomes == {"a": Outcome.COMPLETED, "b": Outcome.COMPLETED}
    answered = {e.ticket: e for e in events if isinstance(e, ApprovalAnswered)}
    assert answered["a"].allowed and not answered["b"].allowed and "@" in answered["a"].by
    assert (fleet.lfg.workdir / "a" / "notes" / "summary.md").exists(), "allowed: written on its worker"
    assert not (fleet.lfg.workdir / "b" / "notes").exists(), "denied: not written"
    where = {
        e.ticket: e.message.split()[3] for e in events if isinstance(e, Status) and "on worker" in e.message
    }
    assert sorted(where.values()) == ["w1", "w2"], "one ticket on each worker, each answer to its own"


async def test_a_ticket_cancelled_at_the_coordinator_stops_on_its_worker(fleet: Fleet) -> None:
    fleet.start("w1")
    toml = '[[ticket]]\nid = "long"\nprompt = "go"\nprovider = "sim"\n'
    toml += 'model = "long-answer:tokens_per_s=50,repeat=8"\n'
    async with coordinated(fleet, toml) as (run, events):
        await until(lambda: any(isinstance(e, TextDelta) for e in events))
        assert run.cancel("long", why="cancel asked by you")
        outcomes = await asyncio.wait_for(run.wait(), 30)
    assert outcomes == {"long": Outcome.CANCELLED}
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.CANCELLED]
    await until(lambda: "long of run" in fleet.said("w1") and ": cancelled" in fleet.said("w1"), 30)


async def test_the_coordinators_tui_streams_the_workers_answer_and_its_approval_key_reaches_the_worker(
    fleet: Fleet,
) -> None:
    # `lfg run --broker` in the TUI: its controller as run.py makes it (the coordinated run), published
    # and dispatched before the app opens, a worker process running the tickets.
    (fleet.lfg.workdir / "w").mkdir()
    path = fleet.lfg.tickets(
        '[[ticket]]\nid = "hi"\nprompt = "Say hello."\nprovider = "sim"\nmodel = "hello"\n\n'
        '[[ticket]]\nid = "w"\nworkdir = "w"\nprompt = "write"\nprovider = "sim"\nmodel = "writer"\n'
        'tools = ["write_file"]\n'
    )
    fleet.start("w1")
    config = load_config(fleet.config(LEASE))
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    broker = resolve(fleet.url, {}, BrokerSettings(lease_s=1.5))
    outlet = Outlet(broker, await connect(broker), path.parent)
    async with Providers(config.providers) as providers, Outlet.closing(outlet):
        prices = run_prices(providers.configs, loaded.tickets)
        services = Services(providers, prices=prices, broker=broker)  # not --yes: the TUI answers
        controller = RunController.live(services, loaded.tickets, make_run=outlet.make_run())
        run = controller.run
        assert isinstance(run, CoordinatedRun)
        app = LfgApp(services, controller)

        def key(binding: str) -> str:
            """The key of a binding, as this app's keymap has it."""
            return services.first_key(
                next(b for b in (*BINDINGS, *ApprovalScreen.BINDINGS) if b.id == binding)
            )

        async with (
            outlet.publishing(run, loaded.tickets, str(path), lambda _: None),
            app.run_test(size=SIZE) as pilot,
        ):
            hi, w = controller.panes["hi"], controller.panes["w"]
            await until(lambda: hi.state is PaneState.COMPLETED, 40)
            answer = run.states["hi"].answer
            assert answer, "the worker's answer reached the coordinator"
            await until(lambda: answer in hi.shown.body.source, 10)  # drawn in its pane
            await until(lambda: w.approval is not None, 40)
            await pilot.press(key("run.attention"))  # to the pane that waits for the person
            await pilot.press(key("pane.approve"))
            if isinstance(app.screen, ApprovalScreen):  # the request did not fit the pane's notice
                await pilot.press(key("approval.yes"))
            await until(lambda: w.finished, 40)
            await pilot.press("q")
    assert w.state is PaneState.COMPLETED
    assert (fleet.lfg.workdir / "w" / "notes" / "summary.md").exists(), "approved here: written on the worker"
    assert "took w of run" in fleet.said("w1")
