"""Issue 53, item 6: an agent's own sessions, started elsewhere, are listed (`lfg agents sessions`,
ACP `session/list`) and continued by a ticket (`resume_session`: `session/resume`, else
`session/load`), recorded like any ticket; an agent that cannot continue it fails the ticket."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lfgtui.events import ErrorKind, Event, EventFactory, Outcome, SessionOpened, Status
from lfgtui.history.recorded import recorded_run
from lfgtui.history.store import Selection, Store
from lfgtui.run.agents.attempt import run_acp
from lfgtui.run.agents.launch import AgentLaunch
from lfgtui.run.tool_loop import AttemptTask
from lfgtui.tools import ToolContext
from lfgtui.tools.toolbox import Toolbox
from tests.support import agents as acp_events
from tests.support.agents import FAST, Approvals, sim_agent
from tests.support.lfg import Lfg, ending, of, text
from tests.support.patience import PATIENCE
from tests.support.streams import ask


async def turn(project: Path, launch: AgentLaunch, prompt: str) -> list[Event]:
    toolbox = Toolbox({}, ToolContext(workdir=project, env={}), Approvals())
    task = AttemptTask(ask(f"hello:{FAST}", prompt))
    return [e async for e in run_acp(launch, task, EventFactory("t", 1), toolbox)]


def agent_log(private_logs: Path) -> str:
    return "".join(path.read_text() for path in sorted(private_logs.iterdir()))


def failure(events: list[Event]) -> tuple[ErrorKind, str]:
    ended = acp_events.ending(events)
    assert ended.outcome is Outcome.FAILED and ended.error is not None, ended
    return ended.error.kind, ended.error.message


@pytest.mark.parametrize(
    ("flags", "method"),
    [((), "session/resume"), (("--no-sessions",), "session/load")],
    ids=["resume", "load"],
)
async def test_a_ticket_continues_an_agents_own_session(
    project: Path, private_logs: Path, flags: tuple[str, ...], method: str
) -> None:
    """Its answer is only the new turn's: what a `session/load` replays is not shown again."""
    first = await turn(project, sim_agent(*flags), "what is this project?")
    [opened] = acp_events.of(first, SessionOpened)
    later = await turn(project, replace(sim_agent(*flags), resume=opened.session_id), "and its tests?")
    assert acp_events.ending(later).outcome is Outcome.COMPLETED
    [reopened] = acp_events.of(later, SessionOpened)
    assert (reopened.session_id, reopened.loaded) == (opened.session_id, True)
    said = [s.message for s in acp_events.of(later, Status)]
    goes_on = f"the agent's own session {opened.session_id} goes on ({method}): it has its conversation"
    assert goes_on in said, said
    assert acp_events.text(later) == acp_events.text(first), "only the new answer, nothing replayed"
    assert f"prompt 2 in {opened.session_id}" in agent_log(private_logs), "the session went on"


async def test_a_session_the_agent_does_not_have_fails_the_ticket_and_opens_no_other(
    project: Path, private_logs: Path
) -> None:
    events = await turn(project, replace(sim_agent(), resume="sess-0123456789ab"), "hi")
    kind, message = failure(events)
    assert kind is ErrorKind.NOT_FOUND
    assert "resume_session: the agent would not continue session sess-0123456789ab" in message, message
    assert not acp_events.of(events, SessionOpened) and "session/new" not in agent_log(private_logs)


async def test_an_agent_that_can_neither_resume_nor_load_fails_the_ticket_saying_so(
    project: Path, tmp_path: Path
) -> None:
    script = tmp_path / "no_load.py"  # the sim agent, minus its `loadSession`
    script.write_text(
        "import sys\nfrom lfgtui.sim import acp_agent\n"
        "acp_agent.SimAcpAgent.load_session = None\n"
        "original = acp_agent.SimAcpAgent.initialize\n"
        "async def initialize(self, *args, **kwargs):\n"
        "    answer = await original(self, *args, **kwargs)\n"
        "    answer.agent_capabilities.load_session = False\n"
        "    return answer\n"
        "acp_agent.SimAcpAgent.initialize = initialize\n"
        "acp_agent.main(sys.argv[1:])\n"
    )
    launch = sim_agent("--no-sessions")
    command = (sys.executable, str(script), "--no-sessions", "--scenario", "{model}")
    launch = replace(launch, config=launch.config.with_agent(command=command), resume="sess-0123456789ab")
    kind, message = failure(await turn(project, launch, "hi"))
    assert kind is ErrorKind.BAD_REQUEST
    assert "can neither resume nor load a session" in message and "sess-0123456789ab" in message, message


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    return isolated


def agents(lfg: Lfg, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "lfgtui", "agents", *args, "--config", str(lfg.config)]
    return subprocess.run(
        command, env=lfg.env, cwd=lfg.workdir, capture_output=True, text=True, timeout=120 * PATIENCE
    )


AGENT_TICKET = """
[[ticket]]
id = "agent"
prompt = "{prompt}"
provider = "sim-acp"
model = "hello:ttft_ms=0,tokens_per_s=0"
{more}
"""


def run_agent(lfg: Lfg, prompt: str, more: str = "", *extra: str) -> list[dict[str, Any]]:
    code, events, stderr = lfg.run(lfg.tickets(AGENT_TICKET.format(prompt=prompt, more=more)), *extra)
    assert code == 0, stderr
    return events


def first_session(lfg: Lfg) -> str:
    """The session of a first run of the agent ticket in `lfg`'s folder."""
    first = run_agent(lfg, "What is this project?")
    [opened] = [e for e in of(first, "agent", "status") if e["message"].startswith("agent session ")]
    return opened["message"].removeprefix("agent session ")


@pytest.mark.timeout(300)  # five lfg commands, each starting an agent: minutes on a loaded machine
def test_lfg_agents_sessions_lists_a_folders_sessions(lfg: Lfg, tmp_path: Path) -> None:
    session_id = first_session(lfg)
    listed = agents(lfg, "sessions", "sim-acp", "--json")
    assert listed.returncode == 0, listed.stderr
    [found] = json.loads(listed.stdout)
    assert found["session_id"] == session_id and found["cwd"] == str(lfg.workdir.resolve())
    assert found["title"] == "What is this project?" and found["updated_at"]
    shown = agents(lfg, "sessions", "sim-acp")
    assert session_id in shown.stdout and 'resume_session = "ID"' in shown.stdout, shown.stdout
    elsewhere = agents(lfg, "sessions", "sim-acp", "--cwd", str(tmp_path), "--json")
    assert json.loads(elsewhere.stdout) == [], "another folder's sessions are not this one's"
    assert session_id in agents(lfg, "sessions", "sim-acp", "--cwd", str(tmp_path), "--all").stdout


def test_a_ticket_continues_the_session_it_names_and_is_recorded_with_it(lfg: Lfg, tmp_path: Path) -> None:
    session_id = first_session(lfg)
    db = tmp_path / "history.sqlite3"
    later = run_agent(lfg, "And its tests?", f'resume_session = "{session_id}"', "--db", str(db))
    assert ending(later, "agent")["outcome"] == "completed"
    said = [e["message"] for e in of(later, "agent", "status")]
    assert f"agent session {session_id} (resumed)" in said, said
    assert text(later, "agent"), "the new turn's answer"
    with Store.open(db) as store:
        [run] = store.list_runs(1)
        [ticket] = recorded_run(store.load(Selection(run.id))).tickets
    assert ticket.ticket.resume_session == session_id, "recorded, so lfg resume continues it too"


def test_an_agent_that_lists_no_sessions_says_so(lfg: Lfg) -> None:
    lfg.config.write_text(
        '[providers.quiet]\nkind = "acp"\n'
        f'command = [{json.dumps(sys.executable)}, "-m", "lfgtui.sim.acp_agent", "--no-sessions"]\n'
    )
    listed = agents(lfg, "sessions", "quiet")
    assert listed.returncode == 1
    assert "does not list its sessions (no sessionCapabilities.list)" in listed.stderr, listed.stderr
    assert agents(lfg, "sessions", "nobody").returncode == 2


@pytest.mark.parametrize(
    ("ticket", "said"),
    [
        (
            'provider = "sim"\nmodel = "hello"\nresume_session = "sess-0123456789ab"',
            "resume_session continues a coding agent's own session, and provider 'sim' is not a coding agent",
        ),
        (
            'models = ["sim-acp/hello", "sim-acp/long"]\nresume_session = "sess-0123456789ab"',
            "resume_session continues one session, and the ticket fans out into 2",
        ),
        ('provider = "sim-acp"\nmodel = "hello"\nresume_session = " "', "resume_session"),
    ],
    ids=["api", "fanned-out", "blank"],
)
def test_a_resume_session_that_cannot_hold_is_refused_naming_its_line(
    lfg: Lfg, ticket: str, said: str
) -> None:
    tickets = lfg.tickets(f'[[ticket]]\nid = "t"\nprompt = "hi"\n{ticket}\n')
    code, _, stderr = lfg.run(tickets)
    assert code == 2 and said in stderr and f"{tickets}:" in stderr, stderr


@pytest.mark.parametrize(
    ("flags", "closed"), [((), True), (("--no-sessions",), False)], ids=["offers", "not"]
)
async def test_a_finished_session_is_closed_where_the_agent_offers_it(
    project: Path, private_logs: Path, flags: tuple[str, ...], closed: bool
) -> None:
    """ACP `session/close` before lfg stops the agent, so it ends the session as its own: only where
    its `initialize` offers it (an agent without it is never sent one)."""
    events = await turn(project, sim_agent(*flags), "hi")
    assert acp_events.ending(events).outcome is Outcome.COMPLETED
    [opened] = acp_events.of(events, SessionOpened)
    log = agent_log(private_logs)
    assert (f"session {opened.session_id} closed" in log) is closed, log
    assert "session/close" not in log, "nothing it does not offer was asked"
