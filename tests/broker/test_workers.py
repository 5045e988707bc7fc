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
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

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
from tests.broker.redis_server import RedisServer
from tests.support.fleet import EXAMPLES, LEASE, Fleet, coordinate, ends, finish, ran_on
from tests.support.lfg import Lfg, of

LAB = '[providers.lab]\nkind = "sim"\nbase_url = "sim:/v1"\n'


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
