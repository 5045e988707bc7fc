"""`lfg run --broker` coordinating `lfg worker` processes through a real redis-server: tickets spread
over workers, `depends_on` across them, a worker killed mid-stream, a provider no worker has, and
(with the coordinator in this process, as its TUI does it) approvals and cancel sent to the worker
holding the ticket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from lfgtui.broker.client import connect
from lfgtui.broker.coordinator import BrokerRunner
from lfgtui.broker.work import WorkItem, relative_to
from lfgtui.commands.broker import Outlet
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.config.load import load_config
from lfgtui.cost.prices import run_prices
from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptQueued,
    AttemptStarted,
    Event,
    PromptSent,
    SessionOpened,
    Status,
    TextDelta,
)
from lfgtui.history.recorded import recorded_run
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import open_run_history
from lfgtui.outcome import Outcome
from lfgtui.providers.base import AssistantMessage, UserMessage
from lfgtui.providers.registry import Providers
from lfgtui.remote.following import watcher_name
from lfgtui.run.approvals import Approvals
from lfgtui.run.requests import YOU, Approve, Cancel
from lfgtui.run.scheduler import Run
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.screens.modals import ApprovalScreen
from lfgtui.ui.screens.run import BINDINGS
from lfgtui.ui.services import Services
from lfgtui.ui.widgets.pane import PaneState
from tests.support import warm_lfg
from tests.support.app import SIZE
from tests.support.fleet import (
    AGENT_TICKET,
    COORDINATOR_AGENT,
    LEASE,
    STEADY,
    Fleet,
    agent_config,
    coordinate,
    ends,
    eventually,
    finish,
    ran_on,
    same_tickets,
    streaming,
    until,
)
from tests.support.lfg import Lfg, of, quick_demo
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

LAB = '[providers.lab]\nkind = "sim"\nbase_url = "sim:/v1"\n'


def test_the_demo_runs_across_two_workers_and_is_recorded_here(fleet: Fleet) -> None:
    quick_demo(fleet.lfg.workdir)
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
    shown = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "history", "show", run_id, "--config", str(fleet.lfg.config)],
        env=fleet.lfg.env,
        timeout=60 * PATIENCE,
    )
    assert shown.returncode == 0 and all(t in shown.stdout for t in ("explore", "gcd", "tour", "summary"))


def test_a_worker_killed_mid_stream_leaves_its_ticket_to_another_and_both_attempts_are_recorded(
    fleet: Fleet,
) -> None:
    tickets = fleet.lfg.tickets(
        '[[ticket]]\nid = "long"\nprompt = "go"\nprovider = "sim"\n'
        'model = "long-answer:tokens_per_s=60,repeat=3"\n'
    )
    lapsing = fleet.config(LEASE, "lease.toml")
    first = fleet.start("w1", config=lapsing)
    coordinator = coordinate(fleet, tickets)
    assert coordinator.stdout is not None
    seen: list[dict[str, Any]] = []
    for line in coordinator.stdout:
        seen.append(json.loads(line))
        if len(of(seen, "long", "text")) >= 10:
            break
    first.send_signal(signal.SIGKILL)  # mid-stream: no goodbye, its lease lapses
    fleet.start("w2", config=lapsing)
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
        timeout=60 * PATIENCE,
    )
    assert export.returncode == 0, export.stderr
    (ticket,) = json.loads(export.stdout)["run"]["tickets"]
    assert [(a["number"], a["outcome"]) for a in ticket["attempts"]] == [(1, "interrupted"), (2, "completed")]
    watched = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "attach", f"{fleet.url}/{run_id}", "--json"],
        env=fleet.lfg.env,
        timeout=60 * PATIENCE,
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
    tickets = fleet.lfg.tickets(same_tickets(names, model))
    try:
        for name in ("w1", "w2"):  # four run at once, two wait on the work stream
            fleet.start(name, "--max-concurrency", "2", config=fleet.config(LEASE, "lease.toml"))
        coordinator = coordinate(fleet, tickets)
        seen = streaming(coordinator, names, 3)
        broker.kill()  # mid-distribution: entries taken, entries waiting, events on their way
        time.sleep(4)  # longer than the lease: the entries' idle clock has run out when it is back
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


def test_a_ticket_whose_provider_a_worker_lacks_waits_for_one_that_has_it_and_says_why(
    fleet: Fleet, admin: redis.Redis, tmp_path: Path
) -> None:
    """And it is queued until then: its one start is the worker's, so its times (the history's start,
    its wall time, its TTFT) count from when the worker took it, never from the wait."""
    tickets = fleet.lfg.tickets(
        '[[ticket]]\nid = "lab"\nprompt = "Say hello."\nprovider = "lab"\nmodel = "hello"\n'
    )
    with_lab = fleet.config(STEADY + LAB, "lab.toml")
    fleet.start("plain")
    eventually(lambda: admin.zscore("lfg:workers", "plain") is not None)  # it is on the broker
    db = tmp_path / "coordinator.sqlite3"
    coordinator = coordinate(fleet, tickets, "--db", str(db), config=with_lab)
    assert coordinator.stdout is not None
    seen = []
    for line in coordinator.stdout:
        seen.append(json.loads(line))
        if of(seen, "lab", "attempt_queued"):
            break
    (waiting,) = of(seen, "lab", "attempt_queued")
    assert waiting["message"] == (
        "no worker serves provider 'lab' yet (worker plain: no provider 'lab' in its config): "
        "this waits for one that does"
    )
    assert (waiting["provider"], waiting["model"]) == ("lab", "hello")
    assert not of(seen, "lab", "attempt_started"), "queued, not started"
    launched = time.time()
    fleet.start("lab", config=with_lab)
    code, events, err = finish(coordinator)
    assert code == 0, err
    assert ends(seen + events) == {("lab", 1): "completed"} and ran_on(events, "lab") == {"lab"}
    assert "took lab" not in fleet.said("plain")
    (started,) = of(seen + events, "lab", "attempt_started")  # one start: the worker's
    assert started["t"] > waiting["t"] and (started["provider"], started["model"]) == ("lab", "hello")
    with Store.open(db) as store:
        (only,) = store.list_runs()
        (recorded,) = store.load(Selection(only.id)).tickets
        (attempt,) = recorded.attempts
        rebuilt = store.attempt_events(attempt.row.id)
    row = attempt.row
    assert row.started_at >= launched, "the history's start is the worker's, after it was launched"
    assert row.ended_at is not None and row.ended_ms is not None and row.ttft_ms is not None
    assert row.ended_ms == pytest.approx((row.ended_at - row.started_at) * 1000)
    assert 0 < row.ttft_ms <= row.ended_ms  # within the worker's attempt: the wait is in neither
    assert [type(e) for e in rebuilt[:2]] == [AttemptQueued, AttemptStarted]
    assert sum(isinstance(e, AttemptStarted) for e in rebuilt) == 1


@contextlib.asynccontextmanager
async def coordinated(
    fleet: Fleet,
    toml: str,
    config_text: str = STEADY,
    db: Path | None = None,
    settings: BrokerSettings | None = None,
) -> AsyncIterator[tuple[Run, list[Event]]]:
    """A coordinated run in this process, as `lfg run --broker` makes it for the TUI (someone can
    answer approvals), started, recorded into the history `db` when given; cancelled at the end of
    the block if it has not ended. `settings`: its `[broker]` (a lease of its own)."""
    path = fleet.lfg.tickets(toml)
    config = load_config(fleet.config(config_text))
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    broker = resolve(fleet.url, {}, settings or BrokerSettings())
    outlet = Outlet(broker, await connect(broker), path.parent)
    async with (
        Providers(config.providers) as providers,
        Outlet.closing(outlet),
        open_run_history(db, loaded, "lfg run", pytest.fail) as history,
    ):
        events: list[Event] = []
        make_run = outlet.make_run()
        prices = run_prices(providers.configs, loaded.tickets)
        run = make_run(loaded.tickets, providers, Approvals(askable=True), [events.append], prices=prices)
        assert isinstance(run.runner, BrokerRunner)
        if history is not None:
            run.record(history)
        async with outlet.publishing(run, loaded.tickets, str(path), lambda _: None):
            run.start()
            try:
                yield run, events
            finally:
                run.cancel_all()
                await asyncio.wait_for(run.wait(), 30 * PATIENCE)


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
        approvals = [e for e in events if isinstance(e, ApprovalAsked)]
        for asked in approvals:
            assert run.ask(Approve(asked.ticket, asked.call_id, asked.ticket == "a"), YOU) is None
        outcomes = await asyncio.wait_for(run.wait(), 40 * PATIENCE)
    said = fleet.said("w1") + fleet.said("w2")
    for asked in approvals:  # the person's request itself, at the worker's run
        approve = Approve(asked.ticket, asked.call_id, asked.ticket == "a")
        assert f"{asked.ticket} of run {run.run_id}: {watcher_name()} asks {approve!r}" in said
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
        outcomes = await asyncio.wait_for(run.wait(), 30 * PATIENCE)
    assert outcomes == {"long": Outcome.CANCELLED}
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.CANCELLED]
    await until(lambda: "long of run" in fleet.said("w1") and ": cancelled" in fleet.said("w1"), 30)
    assert f"long of run {run.run_id}: {watcher_name()} asks {Cancel('long')!r}" in fleet.said("w1")


async def test_the_coordinators_tui_streams_the_workers_answer_and_its_approval_key_reaches_the_worker(
    fleet: Fleet,
) -> None:
    # `lfg run --broker` in the TUI: its controller as run.py makes it (the coordinated run), published
    # and dispatched before the app opens, a worker process running the tickets once they are queued.
    (fleet.lfg.workdir / "w").mkdir()
    path = fleet.lfg.tickets(
        '[[ticket]]\nid = "hi"\nprompt = "Say hello."\nprovider = "sim"\nmodel = "hello"\n\n'
        '[[ticket]]\nid = "w"\nworkdir = "w"\nprompt = "write"\nprovider = "sim"\nmodel = "writer"\n'
        'tools = ["write_file"]\n'
    )
    config = load_config(fleet.config(STEADY))
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    broker = resolve(fleet.url, {}, BrokerSettings())
    outlet = Outlet(broker, await connect(broker), path.parent)
    async with Providers(config.providers) as providers, Outlet.closing(outlet):
        prices = run_prices(providers.configs, loaded.tickets)
        services = Services(providers, prices=prices, broker=broker)  # not --yes: the TUI answers
        controller = RunController.live(services, loaded.tickets, make_run=outlet.make_run())
        run = controller.run
        assert isinstance(run.runner, BrokerRunner)
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
            await until(lambda: hi.state is PaneState.QUEUED and w.state is PaneState.QUEUED, 20)
            await until(lambda: "no worker is on the broker yet" in str(hi.shown.notice.render()), 10)
            assert hi.started_at is None, "queued: its clock waits for a worker"
            fleet.start("w1")
            await until(lambda: hi.state is PaneState.COMPLETED, 40)
            assert hi.started_at is not None and hi.attempt == 1
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
    asks = f"w of run {run.run_id}: {watcher_name()} asks Approve(ticket='w', call="
    assert asks in fleet.said("w1") and "allowed=True)" in fleet.said("w1"), (
        "the key's request, at the worker"
    )


WORKER_BUSY_S = 30
"""How long a scrape may wait: the worker's loop answers it between its own work (importing a
provider's SDK takes seconds on a loaded machine), and httpx2's default of 5 s is not a state."""


def scraped(url: str, token: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape of `url`, parsed by prometheus-client's own parser."""
    reply = httpx2.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=WORKER_BUSY_S * PATIENCE)
    assert reply.status_code == 200, reply.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def test_a_workers_metrics_count_its_attempts_behind_its_token(fleet: Fleet) -> None:
    token = "a-worker-token-of-sixteen-or-more"
    (fleet.lfg.home / "token").write_text(token)
    fleet.start("w1", "--metrics", "127.0.0.1:0", "--token-file", str(fleet.lfg.home / "token"))
    eventually(lambda: re.search(r"serving this worker's metrics at (\S+)", fleet.said("w1")), 30)
    served = re.search(r"serving this worker's metrics at (\S+)", fleet.said("w1"))
    assert served, fleet.said("w1")
    url = served.group(1)
    assert f"scrape them with the bearer token in {fleet.lfg.home / 'token'}" in fleet.said("w1")
    refused = httpx2.get(url, timeout=WORKER_BUSY_S * PATIENCE)
    assert refused.status_code == 401 and "lfg_" not in refused.text
    assert (
        httpx2.get(
            url.removesuffix("/metrics") + "/v1/run",
            headers={"Authorization": f"Bearer {token}"},
            timeout=WORKER_BUSY_S * PATIENCE,
        ).status_code
        == 404
    )
    slow = "long-answer:ttft_ms=1,tokens_per_s=100,repeat=3,ratelimit_requests=9"
    tickets = fleet.lfg.tickets(
        f'[[ticket]]\nid = "slow"\nprompt = "go"\nmodel = "{slow}"\n\n'
        '[[ticket]]\nid = "quick"\nprompt = "go"\nmodel = "hello:ttft_ms=1"\n'
    )
    process = coordinate(fleet, tickets)
    running = ("lfg_tickets_running", frozenset())
    eventually(lambda: scraped(url, token).get(running) == 1, 30)  # the slow ticket, while it streams
    code, events, err = finish(process)
    assert code == 0, err
    found = scraped(url, token)

    def value(name: str, **labels: str) -> float:
        return found[(name, frozenset(labels.items()))]

    ended = {e["ticket"]: e for e in events if e["type"] == "attempt_ended"}
    for ticket, model in (("slow", slow), ("quick", "hello:ttft_ms=1")):
        by = {"provider": "sim", "model": model, "outcome": "completed"}
        assert value("lfg_attempts_total", **by) == 1
        assert value("lfg_tokens_total", **by, token_type="output") == ended[ticket]["output_tokens"]
        assert value("lfg_ttft_seconds_count", **by) == 1
        assert value("lfg_ttft_seconds_sum", **by) == pytest.approx(ended[ticket]["ttft_ms"] / 1000, abs=1e-3)
    assert value("lfg_tokens_per_second_count", provider="sim", model=slow, outcome="completed") == 1
    assert value("lfg_tickets_running") == value("lfg_tickets_queued") == value("lfg_tickets_waiting") == 0
    assert value("lfg_quota_limit", provider="sim", quota="requests") == 9, "kept after its run ended"
    assert value("lfg_quota_remaining", provider="sim", quota="requests") == 8


def answers(events: list[Event], ticket: str) -> dict[int, str]:
    """Each attempt's text."""
    said: dict[int, str] = {}
    for e in events:
        if isinstance(e, TextDelta) and e.ticket == ticket:
            said[e.attempt] = said.get(e.attempt, "") + e.text
    return said


async def test_a_follow_up_of_a_ticket_a_worker_ran_sends_its_whole_conversation_and_is_recorded_as_such(
    fleet: Fleet, tmp_path: Path
) -> None:
    """The writer scenario answers by how many answers the conversation holds: asked alone, the
    follow-up would get its first call (tool calls, then more); after the whole conversation, its last."""
    fleet.start("w1")
    toml = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\n'
    toml += 'model = "writer:ttft_ms=0,tokens_per_s=0"\n'
    db = tmp_path / "history.db"
    async with coordinated(fleet, toml, db=db) as (run, events):
        assert await asyncio.wait_for(run.wait(), 40 * PATIENCE) == {"t": Outcome.COMPLETED}
        assert run.continue_with("t", "And then?")
        assert await asyncio.wait_for(run.wait(), 40 * PATIENCE) == {"t": Outcome.COMPLETED}
        conversation = run.states["t"].conversation
    asked = [(e.attempt, e.text, e.continues) for e in events if isinstance(e, PromptSent)]
    assert asked == [(1, "go", None), (2, "And then?", 1)]
    assert answers(events, "t") == {
        1: "I'll write the notes file and check it.Done: the notes are in `notes/summary.md`.",
        2: "Done: the notes are in `notes/summary.md`.",
    }, "the follow-up was sent after the whole earlier conversation"
    with Store.open(db) as store:
        (ticket,) = recorded_run(store.load(store.resolve(run.run_id))).tickets
    assert [(a.number, a.outcome, a.continues) for a in ticket.attempts] == [
        (1, Outcome.COMPLETED, None),
        (2, Outcome.COMPLETED, 1),
    ]
    assert conversation == ticket.conversation(2), "the history holds the conversation the run continued"
    assert conversation[0] == UserMessage("go") and conversation[5] == UserMessage("And then?")
    assert [type(m).__name__ for m in conversation[1:5]] == [
        "AssistantMessage",
        "ToolResultMessage",
        "ToolResultMessage",
        "AssistantMessage",
    ]


async def acknowledged(fleet: Fleet, stream: str) -> None:
    """Wait until no entry of `stream` is pending: the run sees an attempt end before its worker
    acknowledges its entry, once its events are on the broker."""
    broker = resolve(fleet.url, {}, BrokerSettings())
    redis = await connect(broker)
    try:
        async with asyncio.timeout(30 * PATIENCE):
            while (await redis.xpending(stream, "workers"))["pending"]:
                await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


def loaded(events: list[Event], attempt: int) -> bool:
    (opened,) = [e for e in events if isinstance(e, SessionOpened) and e.attempt == attempt]
    return opened.loaded


@pytest.mark.timeout(120)  # the workers warm up first, which takes long on a busy machine
async def test_a_follow_up_of_a_coding_agents_ticket_goes_to_the_worker_that_has_its_session(
    fleet: Fleet,
) -> None:
    for name in ("w1", "w2"):
        fleet.start(name, config=agent_config(fleet, name))
    await until(lambda: fleet.ready("w1") and fleet.ready("w2"), 90)  # the bounds below are the run's
    async with coordinated(fleet, AGENT_TICKET, COORDINATOR_AGENT) as (run, events):
        assert await asyncio.wait_for(run.wait(), 40 * PATIENCE) == {"a": Outcome.COMPLETED}
        for follow_up in ("And then?", "And after that?"):
            assert run.continue_with("a", follow_up)
            assert await asyncio.wait_for(run.wait(), 40 * PATIENCE) == {"a": Outcome.COMPLETED}
    where = [e.message for e in events if isinstance(e, Status) and "running on worker" in e.message]
    assert len(where) == 3 and len({m.split()[3] for m in where}) == 1, f"all on one worker: {where}"
    assert [loaded(events, n) for n in (1, 2, 3)] == [False, True, True], "each loaded the session before"
    asked = [(e.attempt, e.continues) for e in events if isinstance(e, PromptSent)]
    assert asked == [(1, None), (2, 1), (3, 2)]


async def test_a_follow_up_whose_agents_worker_is_gone_starts_a_new_session_elsewhere_and_says_so(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read of the workers kept from while w1 was here (CI once took it while w1 was shutting down)
    # must not send the follow-up to w1's own stream, which nobody reads again: it ran forever.
    monkeypatch.setattr("lfgtui.broker.coordinator.WORKERS_KEPT_S", 3600.0)
    first = fleet.start("w1", config=agent_config(fleet, "w1"))
    async with coordinated(fleet, AGENT_TICKET, COORDINATOR_AGENT) as (run, events):
        assert await asyncio.wait_for(run.wait(), 40 * PATIENCE) == {"a": Outcome.COMPLETED}
        await acknowledged(fleet, "lfg:work:agent")  # else another worker would run attempt 1 again
        assert isinstance(run.runner, BrokerRunner)
        kept = await run.runner.dispatch.workers(fresh=True)
        assert [w.name for w in kept] == ["w1"], "the read the coordinator keeps lists w1"
        first.send_signal(signal.SIGTERM)  # it leaves the broker, and its agent's sessions with it
        first.wait(15 * PATIENCE)
        fleet.start("w2", config=agent_config(fleet, "w2"))
        assert run.continue_with("a", "And then?")  # a new worker and agent session: stretched in a wide run
        assert await asyncio.wait_for(run.wait(), 40 * PATIENCE) == {"a": Outcome.COMPLETED}
    said = [e.message for e in events if isinstance(e, Status) and e.attempt == 2]
    assert (
        "worker w1, which ran attempt 1 and has its agent's session, is gone: this follow-up starts a new "
        "agent session on any worker, told the earlier conversation"
    ) in said
    assert "a new agent session: the earlier conversation is in the prompt" in said, said
    assert any("running on worker w2" in m for m in said) and not loaded(events, 2)
    asked = [(e.attempt, e.continues) for e in events if isinstance(e, PromptSent)]
    assert asked == [(1, None), (2, 1)]
    assert not any("waits for worker w1" in e.message for e in events if isinstance(e, AttemptQueued))


LAPSING_COORDINATOR = BrokerSettings(lease_s=3)
"""The coordinator's `[broker]` where its workers hold leases of `LEASE`: it looks at the entries its
attempts wait for every three quarters of one."""


@pytest.mark.timeout(180)  # the workers warm up first, which takes long on a busy machine
async def test_a_follow_up_left_for_a_worker_that_died_moves_to_another_in_a_new_session_and_says_so(
    fleet: Fleet,
) -> None:
    first = fleet.start("w1", config=agent_config(fleet, "w1", LEASE))
    settings = LAPSING_COORDINATOR
    async with coordinated(fleet, AGENT_TICKET, COORDINATOR_AGENT, settings=settings) as (run, events):
        assert await asyncio.wait_for(run.wait(), 40 * PATIENCE) == {"a": Outcome.COMPLETED}
        await acknowledged(fleet, "lfg:work:agent")
        first.send_signal(signal.SIGKILL)  # no goodbye: its presence lingers for three leases
        first.wait(15 * PATIENCE)
        assert run.continue_with("a", "And then?")
        await until(lambda: any(isinstance(e, AttemptQueued) and e.attempt == 2 for e in events))
        (queued,) = [e for e in events if isinstance(e, AttemptQueued) and e.attempt == 2]
        assert "waits for worker w1" in queued.message, "sent to w1's own stream while it seemed here"
        fleet.start("w2", config=agent_config(fleet, "w2", LEASE))
        assert await asyncio.wait_for(run.wait(), 90 * PATIENCE) == {"a": Outcome.COMPLETED}
    said = [e.message for e in events if isinstance(e, Status) and e.attempt == 2]
    assert (
        "worker w1, which ran attempt 1 and has its agent's session, left the broker before it took this "
        "follow-up: this follow-up starts a new agent session on any worker, told the earlier conversation"
    ) in said
    assert any("running on worker w2" in m for m in said) and not loaded(events, 2)
    asked = [(e.attempt, e.continues) for e in events if isinstance(e, PromptSent)]
    assert asked == [(1, None), (2, 1)], "moved as the same attempt: nobody ran it"
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED] * 2


@pytest.mark.timeout(240)
async def test_a_follow_up_whose_worker_is_paused_past_its_presence_runs_again_elsewhere_and_not_there(
    fleet: Fleet,
) -> None:
    toml = '[[ticket]]\nid = "a"\nprompt = "go"\nprovider = "agent"\n'
    toml += 'model = "long-answer:ttft_ms=0,tokens_per_s=25,repeat=3"\n'
    first = fleet.start("w1", config=agent_config(fleet, "w1", LEASE))
    settings = LAPSING_COORDINATOR
    async with coordinated(fleet, toml, COORDINATOR_AGENT, settings=settings) as (run, events):
        assert await asyncio.wait_for(run.wait(), 60 * PATIENCE) == {"a": Outcome.COMPLETED}
        await acknowledged(fleet, "lfg:work:agent")
        assert run.continue_with("a", "And then?")
        await until(lambda: any(isinstance(e, TextDelta) and e.attempt == 2 for e in events), 60)
        first.send_signal(signal.SIGSTOP)  # mid-follow-up, on its own stream: its presence lapses
        fleet.start("w2", config=agent_config(fleet, "w2", LEASE))
        assert await asyncio.wait_for(run.wait(), 120 * PATIENCE) == {"a": Outcome.COMPLETED}
        first.send_signal(signal.SIGCONT)
        await until(lambda: f"a of run {run.run_id} (attempt 2): interrupted" in fleet.said("w1"), 60)
    ended = {e.attempt: e for e in events if isinstance(e, AttemptEnded)}
    assert {n: e.outcome for n, e in ended.items()} == {
        1: Outcome.COMPLETED,
        2: Outcome.INTERRUPTED,
        3: Outcome.COMPLETED,
    }
    error = ended[2].error
    assert error is not None and error.message == (
        "its worker w1 left the broker (killed, paused, or cut off from it) and stopped renewing its lease, "
        "and nobody else reads that worker's own stream: enqueued again as attempt 3"
    )
    said = [e.message for e in events if isinstance(e, Status) and e.attempt == 3]
    assert (
        "worker w1, which ran attempt 1 and has its agent's session, is gone: this follow-up starts a new "
        "agent session on any worker, told the earlier conversation"
    ) in said
    assert any("running on worker w2" in m for m in said) and not loaded(events, 3)
    asked = [(e.attempt, e.continues) for e in events if isinstance(e, PromptSent)]
    assert asked == [(1, None), (2, 1), (3, 1)]
    assert f"took a of run {run.run_id} (attempt 3)" not in fleet.said("w1")


async def test_a_work_entry_whose_follow_up_has_a_malformed_conversation_is_refused_saying_why(
    fleet: Fleet,
) -> None:
    fleet.start("w1")
    ticket = load_tickets(
        fleet.lfg.tickets('[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n'),
        load_config(fleet.config(STEADY)),
        BUILTIN_TOOLS,
        env={},
    ).tickets[0]
    base = (UserMessage("go"), AssistantMessage("hi"))
    placed = relative_to(ticket, fleet.lfg.workdir)
    item = WorkItem("0123456789ab", placed, 2, {}, base=base, follow_up="and?", continues=1)
    data = json.loads(item.fields()["data"])
    data["base"][1]["text"] = ["not", "text"]
    broker = resolve(fleet.url, {}, BrokerSettings())
    redis = await connect(broker)
    try:
        await redis.xadd("lfg:work:sim", {"data": json.dumps(data)})
        await until(lambda: "dropped entry" in fleet.said("w1"), 30)
    finally:
        await redis.aclose()
    assert (
        "the work entry's base is not a conversation: base[1].text: expected a string, got list"
        in fleet.said("w1")
    )
    assert "took t of run 0123456789ab" not in fleet.said("w1")
