"""Forking a coding agent's ticket: ACP `session/fork` of the parent's session where the agent offers
it (the sim agent, a real subprocess over real pipes), else a new session told the conversation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.events import Event, EventFactory, Outcome, SessionOpened, Status
from lfgtui.providers.base import AssistantMessage, UserMessage
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.agents.attempt import run_acp
from lfgtui.run.approvals import Approvals
from lfgtui.run.tool_loop import AttemptTask
from lfgtui.tools import BUILTIN_TOOLS, ToolContext
from lfgtui.tools.toolbox import Toolbox
from tests.support.agents import FAST, agent_ticket, saved, sim_agent
from tests.support.agents import Approvals as Answering
from tests.support.streams import ask


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sim agent's saved sessions and lfg's agent logs go to the test's own folder."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "lfgtui" / "sim-acp-sessions"


def opened(events: list[Event]) -> SessionOpened:
    (session,) = [e for e in events if isinstance(e, SessionOpened)]
    return session


@pytest.mark.timeout(120)  # two agent processes, one after the other: past 60 s on a loaded machine
async def test_a_fork_forks_the_parents_agent_session(state_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# Widget\nA tiny service that renders widgets.\n")
    ticket = agent_ticket(project, "agent", "What is this project?", f"hello:{FAST}", max_calls=10)
    events: list[Event] = []
    async with Providers() as providers:
        run = Run((ticket,), providers, Approvals(yes=True), [events.append], keep_agents=True)
        run.start()
        await run.wait()
        parent = run.states["agent"].agent_session
        assert parent is not None and run.states["agent"].outcome is Outcome.COMPLETED
        fork = run.fork("agent", "Which file matters most?")
        await run.wait()
        await run.close_agents()
    assert run.states[fork.id].outcome is Outcome.COMPLETED
    forked = [e for e in events if e.ticket == fork.id]
    session = opened(forked)
    assert session.message.endswith("(forked)") and session.session_id != parent
    said = [e.message for e in forked if type(e) is Status]
    assert f"the agent forked session {parent} (session/fork): it has the whole conversation" in said
    conversation = saved(state_home, session.session_id)
    assert conversation[:2] == saved(state_home, parent)[:2], "the parent's conversation, as the agent had it"
    assert conversation[2] == {"role": "user", "text": "Which file matters most?"}, "only the fork's prompt"
    assert len(saved(state_home, parent)) == 2, "the parent's session is not changed by its fork"


async def test_an_agent_that_cannot_fork_is_told_the_conversation(state_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    launch = sim_agent("--no-fork")
    toolbox = Toolbox({"write_file": BUILTIN_TOOLS["write_file"]}, ToolContext(project, {}), Answering())
    call = ask(f"hello:{FAST}", "Which file matters most?")
    earlier = (UserMessage("What is this project?"), AssistantMessage("A widget renderer."))
    task = AttemptTask(replace(call, messages=(*earlier, *call.messages)))
    stream = run_acp(launch, task, EventFactory("agent-fork1", 1), toolbox, fork="sess-0123456789ab")
    events = [event async for event in stream]
    session = opened(events)
    assert not session.message.endswith("(forked)")
    said = [e.message for e in events if type(e) is Status]
    assert "this agent cannot fork a session (session/fork): the conversation goes in the prompt" in said
    (asked, _) = saved(state_home, session.session_id)
    assert asked["text"].startswith("This continues an earlier conversation with you")
    assert "A widget renderer." in asked["text"]


@pytest.mark.timeout(120)  # two agent processes, one after the other: past 60 s on a loaded machine
async def test_a_fork_at_an_earlier_turn_is_told_the_conversation_so_far(
    state_home: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    ticket = agent_ticket(project, "agent", "What is this project?", f"hello:{FAST}", max_calls=10)
    events: list[Event] = []
    async with Providers() as providers:
        run = Run((ticket,), providers, Approvals(yes=True), [events.append], keep_agents=True)
        run.start()
        await run.wait()
        assert run.continue_with("agent", "And the second question?")
        await run.wait()
        assert run.states["agent"].outcome is Outcome.COMPLETED
        fork = run.fork("agent", "Which file matters most?", at=1)
        await run.wait()
        await run.close_agents()
    assert run.states[fork.id].outcome is Outcome.COMPLETED
    forked = [e for e in events if e.ticket == fork.id]
    said = [e.message for e in forked if type(e) is Status]
    assert (
        "forked at turn 1 of 2: the conversation so far goes in the prompt "
        "(an agent's session forks only whole, at its last turn)"
    ) in said
    session = opened(forked)
    assert not session.message.endswith("(forked)"), "no session/fork: it would carry turn 2 too"
    (asked, _) = saved(state_home, session.session_id)
    assert asked["text"].startswith("This continues an earlier conversation with you")
    assert "What is this project?" in asked["text"] and asked["text"].endswith("Which file matters most?")
    assert "And the second question?" not in asked["text"], "turn 2 is after the cut"
