"""Cancelling one sub-agent of a coordinated run (`X` on `lfg run --broker`): the coding agent runs on
a real `lfg worker` (the sim ACP agent, whose child waits until cancelled), the coordinator in this
process on a real redis-server; the worker cancels it and answers as a run of its own would."""

from __future__ import annotations

import contextlib
import inspect
import json
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from lfgtui.broker.client import connect
from lfgtui.broker.coordinator import BrokerRunner
from lfgtui.broker.work import ControlEntry, WorkError
from lfgtui.commands.broker import Outlet
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.config.load import load_config
from lfgtui.cost.prices import run_prices
from lfgtui.events import Event, Outcome, Status, SubagentChanged
from lfgtui.providers.registry import Providers
from lfgtui.remote.following import watcher_name
from lfgtui.run.approvals import Approvals
from lfgtui.run.requests import YOU, CancelChild
from lfgtui.run.scheduler import Run
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.services import Services
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE
from tests.support.fleet import AGENT_TICKET, COORDINATOR_AGENT, STEADY, Fleet, agent_provider, until
from tests.support.patience import PATIENCE

WAITING_CHILD = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}"]
WAITING_CHILD += ["--subagent", "Scan", "--subagent-waits"]


@dataclass
class Coordinated:
    run: Run
    events: list[Event] = field(default_factory=list)

    def children(self, state: str) -> list[SubagentChanged]:
        return [e for e in self.events if isinstance(e, SubagentChanged) and e.state == state]


async def x_on(run: Run, child: str) -> str | None:
    """`X` on sub-agent `child` of ticket `a`, as the coordinator's run answers it (None: asked)."""
    told = run.ask(CancelChild("a", child), YOU)
    if inspect.isawaitable(told):
        told = await told
    return None if told is None else told.said


@contextlib.asynccontextmanager
async def coordinating(fleet: Fleet, lease_s: float = 10) -> AsyncIterator[Coordinated]:
    """`lfg run TICKETS --broker URL` of the one agent ticket `a`, in this process, started."""
    tickets = fleet.lfg.tickets(AGENT_TICKET)
    config = load_config(fleet.config(COORDINATOR_AGENT, "coordinator.toml"))
    loaded = load_tickets(tickets, config, BUILTIN_TOOLS, env={})
    broker = resolve(fleet.url, {}, BrokerSettings(lease_s=lease_s))
    outlet = Outlet(broker, await connect(broker, read_timeout_s=10.0), tickets.parent)
    async with Providers(config.providers) as providers, Outlet.closing(outlet):
        prices = run_prices(providers.configs, loaded.tickets)
        run = outlet.make_run()(loaded.tickets, providers, Approvals(yes=True), [], prices=prices)
        seen = Coordinated(run)
        seen.run.sinks.append(seen.events.append)
        assert isinstance(seen.run.runner, BrokerRunner)
        async with outlet.publishing(seen.run, loaded.tickets, str(tickets), lambda _: None):
            seen.run.start()
            try:
                yield seen
            finally:
                seen.run.cancel_all()
                await seen.run.wait()


async def test_x_on_the_coordinator_cancels_the_sub_agent_on_the_worker_which_says_why_not_as_its_own_would(
    fleet: Fleet,
) -> None:
    fleet.start("w1", config=fleet.config(STEADY + agent_provider(WAITING_CHILD), "w1.toml"))
    async with coordinating(fleet) as one:
        await until(lambda: one.children("running"), timeout=90)
        [child] = {e.child for e in one.children("running")}
        assert await x_on(one.run, "nobody") == "no such sub-agent in this ticket's session"
        assert await x_on(one.run, child) is None, "the worker asked its agent"
        asked = f"a of run {one.run.run_id}: {watcher_name()} asks {CancelChild('a', child)!r}"
        assert asked in fleet.said("w1"), "the request itself reached the worker's run"
        outcomes = await one.run.wait()
        assert outcomes == {"a": Outcome.COMPLETED}, "the parent went on"
        said = [e.message for e in one.events if type(e) is Status]
        assert f"asked the agent to cancel sub-agent Scan (asked by {watcher_name()})" in said
        assert [e.child for e in one.children("failed")] == [child], "it ended cancelled"
        assert await x_on(one.run, child) == "a runs no coding agent's turn now"


async def test_x_on_the_coordinator_says_when_the_worker_running_the_ticket_does_not_answer(
    fleet: Fleet,
) -> None:
    worker = fleet.start("w1", config=fleet.config(STEADY + agent_provider(WAITING_CHILD), "w1.toml"))
    async with coordinating(fleet, lease_s=3) as one:
        await until(lambda: one.children("running"), timeout=90)
        [child] = {e.child for e in one.children("running")}
        worker.send_signal(signal.SIGKILL)
        worker.wait(10 * PATIENCE)
        why = await x_on(one.run, child)
        assert why is not None
        assert why.startswith("worker w1, which runs a, has not answered in 3 s"), why


@pytest.mark.timeout(180)  # warm-up, the agent's child, the coordinator's 10 s wait: bounded waits
async def test_x_sent_to_a_paused_worker_says_it_waits_for_the_worker_and_is_done_when_it_wakes(
    fleet: Fleet,
) -> None:
    """A worker paused (SIGSTOP) within its lease does not answer the coordinator's 10 s wait; the
    cancel is on the control stream all the same, and the worker acts on it when it runs again (issue
    #66: the coordinator said "nothing was cancelled", then the sub-agent was)."""
    worker = fleet.start("w1", config=fleet.config(STEADY + agent_provider(WAITING_CHILD), "w1.toml"))
    async with coordinating(fleet, lease_s=30) as one:
        await until(lambda: one.children("running"), timeout=90)
        [child] = {e.child for e in one.children("running")}
        worker.send_signal(signal.SIGSTOP)
        try:
            why = await x_on(one.run, child)
        finally:
            worker.send_signal(signal.SIGCONT)
        assert why == (
            "worker w1, which runs a, has not answered in 10 s (paused, or cut off from the broker): the "
            "cancel waits for it on the broker, and the sub-agent is cancelled when the worker reads it; "
            "if the worker is gone, its lease lapses and another worker runs the ticket again"
        ), why
        await until(lambda: one.children("failed"), timeout=60)
        assert [e.child for e in one.children("failed")] == [child], "cancelled once the worker woke"
        asked = f"a of run {one.run.run_id}: {watcher_name()} asks {CancelChild('a', child)!r}"
        assert asked in fleet.said("w1")
        assert await one.run.wait() == {"a": Outcome.COMPLETED}, "the parent went on"


def test_a_sub_agents_cancel_from_the_broker_names_no_key_but_its_own_reply() -> None:
    """A writer of the broker is not trusted to name the key a worker writes its answer to."""
    sent = ControlEntry(CancelChild("a", "s-sub1"), "ann", "1-0", reply="0f" * 12)
    assert ControlEntry.read({k.encode(): v for k, v in sent.fields().items()}) == sent
    data = json.loads(sent.fields()["data"])
    for spoiled in (
        {"reply": "x:other:key"},
        {"request": data["request"] | {"child": ""}},
        {"request": data["request"] | {"child": None}},
    ):
        with pytest.raises(WorkError, match="not a request a worker acts on"):
            ControlEntry.read({b"data": json.dumps(data | spoiled).encode()})


async def test_shift_x_in_the_coordinators_tui_cancels_the_sub_agent_running_on_the_worker(
    fleet: Fleet,
) -> None:
    """`lfg run --broker` in the TUI: its controller as run.py makes it; the child's row comes from
    the worker's events, and `X` on it reaches the worker, whose agent cancels it; the parent goes on."""
    fleet.start("w1", config=fleet.config(STEADY + agent_provider(WAITING_CHILD), "w1.toml"))
    path = fleet.lfg.tickets(AGENT_TICKET)
    config = load_config(fleet.config(COORDINATOR_AGENT, "coordinator.toml"))
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    broker = resolve(fleet.url, {}, BrokerSettings())
    outlet = Outlet(broker, await connect(broker, read_timeout_s=10.0), path.parent)
    async with Providers(config.providers) as providers, Outlet.closing(outlet):
        services = Services(providers, prices=run_prices(providers.configs, loaded.tickets), broker=broker)
        controller = RunController.live(services, loaded.tickets, make_run=outlet.make_run())
        app = LfgApp(services, controller)
        async with (
            outlet.publishing(controller.run, loaded.tickets, str(path), lambda _: None),
            app.run_test(size=SIZE) as pilot,
        ):
            a = controller.panes["a"]
            tree = a.shown.subagents
            await until(lambda: len(tree.rows) == 1, 90)
            [row] = tree.rows.values()
            row.collapsed = False
            a.shown.focus()
            await pilot.press("X")
            await until(lambda: a.state is PaneState.COMPLETED, 60)
            [child] = tree.subagents.children.values()
            assert child.state == "failed", "stopped on the worker: idle with stop reason cancelled"
            request = CancelChild("a", next(iter(tree.subagents.children)))
            asked = f"a of run {controller.run.run_id}: {watcher_name()} asks {request!r}"
            assert asked in fleet.said("w1"), "the key's request, at the worker's run"
            await pilot.press("q")
