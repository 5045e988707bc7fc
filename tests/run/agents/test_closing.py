"""Every way out of a coding-agent attempt ends its agent's process and reaps it before the attempt's
task is done: one left to the loop outlives a run torn down mid-close, and its transport then fails
once the loop is closed ("Event loop is closed" at exit). Against the real sim ACP agent."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import sys
import warnings
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.events import AgentStarted, Event, EventFactory
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.agents.attempt import run_acp
from lfgtui.run.agents.terminals import Terminals
from lfgtui.run.approvals import Approvals
from lfgtui.run.tool_loop import AttemptTask
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS, ToolContext
from lfgtui.tools.toolbox import Toolbox
from tests.support.agents import FAST, no_agent_left, sim_agent
from tests.support.agents import Approvals as Yes
from tests.support.patience import PATIENCE
from tests.support.streams import ask


def agent_pid(events: list[Event]) -> int:
    """The pid of the agent's process (its supervisor's) as its `AgentStarted` says."""
    [started] = [e for e in events if isinstance(e, AgentStarted)]
    found = re.search(r"\(pid (\d+)\)", started.message)
    assert found is not None, started.message
    return int(found[1])


def reaped(pid: int) -> bool:
    """Whether the process is gone, reaped too: a zombie still has its /proc entry."""
    return not Path(f"/proc/{pid}").exists()


async def torn_down_mid_close(folder: Path) -> int:
    """A served run's teardown: every ticket cancelled and waited for, here while its agent, done with
    its turn, is being closed (it lingers after its stdin closes until it is stopped); returns the
    agent's pid, asserted reaped once the run has ended."""
    trace = folder / "closing.txt"
    trace.touch()
    path = folder / "tickets.toml"
    path.write_text(f'[[ticket]]\nid = "a"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:{FAST}"\n')
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    lingering = BUILTIN["sim-acp"].with_agent(command=sim_agent("--linger", str(trace)).config.agent.command)
    events: list[Event] = []
    async with Providers({"sim-acp": lingering}) as providers:
        run = Run(loaded.tickets, providers, Approvals(yes=True), [events.append])
        run.start()
        async with asyncio.timeout(45 * PATIENCE):  # a loaded machine starts the agent slowly
            while "eof" not in trace.read_text():  # its session is closing: its stdin closed
                await asyncio.sleep(0.01)
        run.cancel_all()
        await run.wait()
        pid = agent_pid(events)
        assert reaped(pid), "the agent was reaped before the run's end"
    return pid


def test_a_run_torn_down_while_its_agent_closes_leaves_nothing_for_the_closed_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its own loop, closed by the test, after which nothing of the agent may be left to fail."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    failed: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: failed.append(f"{u.exc_value!r} in {u.object!r}"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(torn_down_mid_close(tmp_path))
        gc.collect()  # what the loop's objects left behind fails, if anything does
    assert not failed
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


async def test_an_agent_ends_when_its_attempt_is_left_at_the_start(project: Path) -> None:
    """A consumer that stops at the agent's start (closing the attempt's events) still ends it."""
    toolbox = Toolbox({}, ToolContext(workdir=project, env={}), Yes())
    task = AttemptTask(ask(f"hello:{FAST}"))
    seen: list[Event] = []
    async with contextlib.aclosing(run_acp(sim_agent(), task, EventFactory("t", 1), toolbox)) as events:
        async for event in events:
            seen.append(event)
            if isinstance(event, AgentStarted):
                break
    assert reaped(agent_pid(seen))
    assert await no_agent_left(project)


async def test_closing_the_terminals_cancelled_still_stops_and_reaps_every_one(project: Path) -> None:
    terminals = Terminals(ToolContext(workdir=project, env={}))
    for _ in range(2):
        await terminals.create("sleep 60", project, {}, None)
    running = list(terminals.live.values())
    closing = asyncio.create_task(terminals.close())
    await asyncio.sleep(0)  # it has begun: the first terminal is being stopped
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert all(terminal.process.returncode is not None for terminal in running), "each stopped, reaped"
