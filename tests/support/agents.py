"""Coding agents in tests: the sim ACP agent launched, one attempt run, its events read, its
processes found, the app on agent tickets, an approval given."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from lfgtui.config.load import Config
from lfgtui.events import AttemptEnded, AttemptStarted, Event, EventFactory, TextDelta, ToolCallReady
from lfgtui.providers.base import Message
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run.agents.attempt import run_acp
from lfgtui.run.agents.launch import AgentLaunch
from lfgtui.run.scheduler import Run
from lfgtui.run.tool_loop import AttemptTask
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import Ticket
from lfgtui.tools import BUILTIN_TOOLS, ToolContext
from lfgtui.tools.toolbox import Toolbox
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.modals import ApprovalScreen
from tests.support.compose import lfg_app
from tests.support.patience import PATIENCE
from tests.support.recording import ticket
from tests.support.streams import ask

FAST = "ttft_ms=0,tokens_per_s=0"


def agent_ticket(
    workdir: Path, ticket_id: str = "t", prompt: str = "p", model: str = "m", max_calls: int = 1
) -> Ticket:
    """A coding agent's ticket (`sim-acp`) in `workdir`, every other field as a tickets file leaves it."""
    made = ticket(ticket_id, model)
    return replace(made, prompt=prompt, provider="sim-acp", tools=(), max_calls=max_calls, workdir=workdir)


class Approvals:
    """Answers every approval with `answer`, keeping what was asked."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.asked: list[ToolCallReady] = []

    async def __call__(self, call: ToolCallReady) -> str | None:
        self.asked.append(call)
        return None if self.answer else "the person said no"


def saved(sessions: Path, session_id: str) -> list[dict[str, str]]:
    """The conversation the sim agent keeps of a session (in `sessions`, its folder of them)."""
    return json.loads((sessions / f"{session_id}.json").read_text())["messages"]


def sim_agent(*args: str) -> AgentLaunch:
    command = (sys.executable, "-m", "lfgtui.sim.acp_agent", *args, "--scenario", "{model}")
    config = BUILTIN["sim-acp"].with_agent(command=command)
    return AgentLaunch(config, dict(os.environ))


async def attempt(
    project: Path,
    model: str,
    approvals: Approvals | None = None,
    launch: AgentLaunch | None = None,
    transcript: list[Message] | None = None,
    **task: object,
) -> list[Event]:
    ctx = ToolContext(workdir=project, env={})
    toolbox = Toolbox({"write_file": BUILTIN_TOOLS["write_file"]}, ctx, approvals or Approvals())
    events = run_acp(
        launch or sim_agent(), AttemptTask(ask(model), **task), EventFactory("t", 1), toolbox, transcript
    )  # type: ignore[arg-type]
    return [event async for event in events]


def of(events: list[Event], kind: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def ending(events: list[Event]) -> AttemptEnded:
    assert isinstance(events[0], AttemptStarted) and isinstance(events[-1], AttemptEnded)
    return events[-1]


def text(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def the_log(folder: Path) -> tuple[Path, str, int, int]:
    """The one agent log in `folder`: its path, text, and its and the folder's permission bits."""
    [log] = list(folder.iterdir())
    return log, log.read_text(), log.stat().st_mode & 0o777, folder.stat().st_mode & 0o777


async def no_agent_left(under: Path) -> bool:
    """Whether every sim agent working under `under` is gone, allowing a killed one the moment its death
    takes (bounded)."""
    for _ in range(round(400 * PATIENCE)):
        if not agent_processes(under):
            return True
        await asyncio.sleep(0.025)
    return False


def agent_processes(under: Path, marker: bytes = b"lfgtui.sim.acp_agent") -> list[int]:
    """Live processes whose command line holds `marker` (by default: sim agents) working in a folder
    under `under`: this test's own, whatever else runs on the machine (an orphan keeps its folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                cwd = (entry / "cwd").readlink()
            except OSError:
                continue
            if marker in cmdline and state != "Z" and cwd.is_relative_to(under.resolve()):
                found.append(int(entry.name))
    return found


LATE = "writer:ttft_ms=0,tokens_per_s=0,late_tool_input=1"


def agent_app(tmp_path: Path, toml: str, providers: Providers | None = None) -> LfgApp:
    path = tmp_path / "tickets.toml"
    path.write_text(toml)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    return lfg_app(loaded.tickets, providers or Providers())


async def approve(pilot: Pilot[int], app: LfgApp) -> None:
    """Yes to the pane's approval, and again on the whole request when the notice could not show it."""
    await pilot.press("y")
    await pilot.pause()
    if isinstance(app.screen, ApprovalScreen):
        await pilot.press("y")


DELEGATING_TICKET = (
    '[[ticket]]\nid = "p"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0,tokens_per_s=300"\n'
)
"""A ticket `p` for the sim agent, which `delegating` makes delegate to a sub-agent of its own."""


def delegating(*flags: str) -> Providers:
    return delegating_as("Read the notes", *flags)


def delegating_as(task: str, *flags: str) -> Providers:
    """The sim agent, delegating `task` to a sub-agent of its own."""
    sim = BUILTIN["sim-acp"]
    assert sim.agent is not None
    return Providers({"sim-acp": sim.with_agent(command=(*sim.agent.command, "--subagent", task, *flags))})


def mcp_recording_agent(name: str, record: Path, sessions: Path, *flags: str) -> str:
    """A `[providers.NAME]` running the sim agent, recording the MCP servers it is given."""
    command = [
        sys.executable,
        "-m",
        "lfgtui.sim.acp_agent",
        *flags,
        "--mcp-record",
        str(record),
        "--sessions-dir",
        str(sessions),
        "--scenario",
        "{model}",
    ]
    return (
        f'[providers.{name}]\nkind = "acp"\ncommand = {json.dumps(command)}\ndefault_model = "hello:{FAST}"\n'
    )


def mcp_requests(record: Path) -> list[dict[str, Any]]:
    """What each session request brought the agent `mcp_recording_agent` made (its record)."""
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


async def run_through(run: Run, heard: Callable[[Event], None]) -> None:
    """Start `run` with `heard` among its sinks and wait for it to end; its agents are closed whatever
    happens (a failed assertion in `heard` included)."""
    run.sinks.append(heard)
    try:
        run.start()
        await run.wait()
    finally:
        await run.close_agents()
