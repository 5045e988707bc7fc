"""Coding agents that go quiet, are told no, are resumed or quit: through `lfg run --json` and the
attempt itself, against the sim ACP agent in a real subprocess."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot

from lfgtui.alerts.states import State
from lfgtui.config.load import Config
from lfgtui.events import (
    AgentProgress,
    AttemptEnded,
    ErrorKind,
    Outcome,
    SessionOpened,
    Stalled,
    ToolCallReady,
)
from lfgtui.history.recorded import RecordedRun, ReplayClock
from lfgtui.history.writer import open_run_history, reopen_run_history
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run.agents import process
from lfgtui.run.seeds import earlier_of_each
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.modals import FollowUpScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.agents import FAST, agent_processes, attempt, no_agent_left, sim_agent
from tests.support.agents import of as of_type
from tests.support.app import SIZE, keys, until
from tests.support.compose import first_run, lfg_app, replay_app, resumed_app
from tests.support.lfg import Lfg, ending, of, text
from tests.support.patience import PATIENCE
from tests.support.recording import load_recorded


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    """`lfg` in its own folders, agent logs included."""
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    return isolated


STALLING = f"""
[[ticket]]
id = "quiet"
prompt = "What is this project?"
provider = "sim-acp"
model = "fault-stall:{FAST}"
"""


def test_an_agent_that_goes_quiet_is_stalled_then_fails_as_timeout_keeping_its_text(lfg: Lfg) -> None:
    lfg.config.write_text("[providers.sim-acp]\nidle_timeout_s = 1.5\n")
    code, events, stderr = lfg.run(lfg.tickets(STALLING), "--no-history")
    assert code == 1, stderr
    failed = ending(events, "quiet")
    assert failed["outcome"] == "failed" and failed["error"]["kind"] == "timeout"
    assert failed["error"]["message"].startswith(
        "the agent sent nothing for 1.5 s while its turn was under way (idle_timeout_s)"
    )
    assert text(events, "quiet") == "These first words arrive and", "what arrived is kept"
    [stalled] = of(events, "quiet", "stalled")
    assert stalled["limit_s"] == 1.5 and 0.75 <= stalled["idle_s"] < 1.5
    assert stalled["message"].startswith("stalled: no update from the agent for ")
    assert "it fails at 1.5 s (idle_timeout_s)" in stalled["message"]
    assert not [e for e in of(events, "quiet", "status") if e["message"].startswith("stalled")]


def record_a_stall(lfg: Lfg) -> tuple[list[dict[str, object]], RecordedRun]:
    """`lfg run --json` of an agent that names its work, then goes quiet past its idle limit; its
    NDJSON and the run as the history recorded it."""
    command = codex_like("--progress", "Fix the widget")
    lfg.config.write_text(f"[providers.sim-acp]\nidle_timeout_s = 1.5\ncommand = {json.dumps(command)}\n")
    db = lfg.home / "h.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(STALLING), "--db", str(db))
    assert code == 1, stderr
    with sqlite3.connect(db) as conn:
        [(run_id,)] = conn.execute("SELECT id FROM runs").fetchall()
    return events, load_recorded(db, run_id)


def test_a_stall_and_a_progress_note_are_recorded_as_what_they_are(lfg: Lfg) -> None:
    """NDJSON and the history keep both typed, so a replay shows them as the live run did."""
    events, recorded = record_a_stall(lfg)
    [stalled], [progress] = of(events, "quiet", "stalled"), of(events, "quiet", "agent_progress")
    assert progress == progress | {"title": "Fix the widget", "message": "session: Fix the widget"}
    [ticket] = recorded.tickets
    replayed = ticket.attempts[-1].events
    [stall], [note] = of_type(replayed, Stalled), of_type(replayed, AgentProgress)
    assert isinstance(stall, Stalled) and isinstance(note, AgentProgress)
    assert (stall.limit_s, round(stall.idle_s, 1)) == (1.5, stalled["idle_s"])
    assert stall.message == stalled["message"]
    assert (note.title, note.message) == ("Fix the widget", "session: Fix the widget")


async def test_a_replay_shows_the_progress_note_then_the_stall_as_the_live_run_did(tmp_path: Path) -> None:
    _, recorded = record_a_stall(Lfg(tmp_path))
    app = replay_app(recorded, Providers(), clock=ReplayClock(0.5))
    async with app.run_test(size=SIZE) as pilot:
        quiet = app.controller.panes["quiet"]
        await until(pilot, lambda: str(quiet.notice.render()) == "▸ Fix the widget", timeout=20)
        await until(pilot, lambda: quiet.stalled is not None, timeout=20)
        await until(pilot, lambda: str(quiet.notice.render()).startswith("stalled for "), timeout=5)
        assert quiet.standing.state is State.STALLED and not quiet.needs_attention, "an agent gone quiet"
        await until(pilot, lambda: quiet.state is PaneState.FAILED, timeout=20)
        assert quiet.stalled is None


class SlowApprovals:
    """Answers yes after `wait_s`: a person who takes their time."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self.asked: list[ToolCallReady] = []

    async def __call__(self, call: ToolCallReady) -> str | None:
        self.asked.append(call)
        await asyncio.sleep(self.wait_s)
        return None


async def test_waiting_for_the_person_is_not_a_stall(project: Path) -> None:
    """The person answering after three times the idle limit is no stall. Both stretched by PATIENCE:
    at a plain 0.5 s a loaded CI run saw the agent's own 0.25 s between updates before it asked."""
    launch = sim_agent()
    launch = replace(launch, config=replace(launch.config, idle_timeout_s=0.5 * PATIENCE))
    approvals = SlowApprovals(1.5 * PATIENCE)
    events = await attempt(project, f"writer:{FAST}", approvals, launch)  # type: ignore[arg-type]
    assert approvals.asked
    assert not of_type(events, Stalled)
    ended = events[-1]
    assert isinstance(ended, AttemptEnded) and ended.outcome is Outcome.COMPLETED, ended.error


async def test_a_stalled_agent_is_counted_stalled_until_it_times_out(tmp_path: Path) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(STALLING)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    providers = Providers({"sim-acp": replace(BUILTIN["sim-acp"], idle_timeout_s=8)})
    app = lfg_app(loaded.tickets, providers)
    async with app.run_test(size=SIZE) as pilot:
        quiet = app.controller.panes["quiet"]
        await until(pilot, lambda: quiet.stalled is not None, timeout=20)
        await until(pilot, lambda: str(quiet.notice.render()).startswith("stalled for "), timeout=5)
        assert "no update from the agent; fails at 8 s (idle_timeout_s), c: cancel" in str(
            quiet.notice.render()
        )
        assert quiet.state is PaneState.RUNNING and quiet.standing.state is State.STALLED
        await until(pilot, lambda: "1 stalled" in str(app.screen.summary.render()), timeout=5)
        await until(pilot, lambda: quiet.state is PaneState.FAILED, timeout=20)
        assert quiet.stalled is None and quiet.error is not None and quiet.error.kind is ErrorKind.TIMEOUT
        assert quiet.body.source == "These first words arrive and"
    assert await no_agent_left(tmp_path)


def codex_like(*switches: str) -> tuple[str, ...]:
    """The sim agent's command line with `switches`, ending its turn when told no as Codex does."""
    return (sys.executable, "-m", "lfgtui.sim.acp_agent", *switches, "--scenario", "{model}")


WRITER = f'[[ticket]]\nid = "w"\nprompt = "write"\nprovider = "sim-acp"\nmodel = "writer:{FAST}"\n'


def test_a_no_that_ends_the_agents_turn_completes_it_for_a_follow_up(lfg: Lfg) -> None:
    command = codex_like("--after-denial", "cancelled")
    lfg.config.write_text(f"[providers.sim-acp]\ncommand = {json.dumps(command)}\n")
    code, events, stderr = lfg.run(lfg.tickets(WRITER), "--no-history")
    assert code == 0, stderr
    assert ending(events, "w")["outcome"] == "completed"
    [refused] = of(events, "w", "tool_result")
    assert refused["is_error"] and refused["output"].startswith("denied: ")
    notes = [e["message"] for e in of(events, "w", "status")]
    assert "the agent ended its turn when told no: follow up to tell it what to do instead" in notes
    assert not (lfg.workdir / "notes").exists()


async def test_after_a_no_ends_the_turn_a_follow_up_tells_the_same_agent_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(WRITER)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    codex = BUILTIN["sim-acp"].with_agent(command=codex_like("--after-denial", "cancelled"))
    app = lfg_app(loaded.tickets, Providers({"sim-acp": codex}))
    async with app.run_test(size=SIZE) as pilot:
        w = app.controller.panes["w"]
        await until(pilot, lambda: w.state is PaneState.APPROVAL, timeout=20)
        w.shown.focus()
        await pilot.press("n")
        await until(pilot, lambda: w.state is PaneState.COMPLETED, timeout=20)
        [agent] = agent_processes(tmp_path)
        await pilot.press("i")
        assert isinstance(app.screen, FollowUpScreen)
        await pilot.press(*keys("write it elsewhere"), "enter")
        await until(pilot, lambda: w.attempt == 2 and w.state is PaneState.APPROVAL, timeout=20)
        assert agent_processes(tmp_path) == [agent], "the same agent goes on"
        assert "> write it elsewhere" in w.body.source
    assert await no_agent_left(tmp_path)


HELLO = '[[ticket]]\nid = "h"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n'


async def follow_up(app: LfgApp, pilot: Pilot[None], text: str, attempt: int) -> None:
    pane = app.controller.panes["h"]
    pane.shown.focus()
    await pilot.press("i")
    assert isinstance(app.screen, FollowUpScreen)
    await pilot.press(*keys(text), "enter")
    await until(pilot, lambda: pane.attempt == attempt and pane.state is PaneState.COMPLETED, timeout=20)


async def test_resume_after_a_live_follow_up_loads_the_latest_agent_session(tmp_path: Path) -> None:
    db, path = tmp_path / "h.sqlite3", tmp_path / "tickets.toml"
    path.write_text(HELLO)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    async with open_run_history(db, loaded, "lfg run", pytest.fail) as history:
        assert history is not None
        app = lfg_app(loaded.tickets, Providers(), run_id=history.run_id, history=db)
        first_run(app).record(history)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.controller.panes["h"].state is PaneState.COMPLETED, timeout=20)
            await follow_up(app, pilot, "and then?", 2)
    recorded = load_recorded(db, history.run_id)
    [ticket] = recorded.tickets
    first, second = (attempt.agent_session for attempt in ticket.attempts)
    assert first is not None and second == first, "the live follow-up recorded its session too"
    assert earlier_of_each(recorded.tickets)["h"].agent_session == first

    async with reopen_run_history(db, history.run_id, pytest.fail) as again:
        assert again is not None
        app = resumed_app(recorded, Providers(), history=db)
        first_run(app).record(again)
        async with app.run_test(size=SIZE) as pilot:
            await follow_up(app, pilot, "and now?", 3)
    [ticket] = load_recorded(db, history.run_id).tickets
    [opened] = [e for e in ticket.attempts[-1].events if isinstance(e, SessionOpened)]
    assert opened.session_id == first and opened.loaded, "a new agent loaded the session (session/load)"
    assert await no_agent_left(tmp_path)


async def test_quitting_stops_the_kept_agents_all_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both lingering agents are told to stop (stdin closed) before either is signalled: the second
    sees its stdin close while the first still lingers. Each agent needs a moment of CPU to note it, so
    the grace before SIGTERM is stretched by `PATIENCE` here, and a thread, not the busy loop that
    quits the app, watches (a helper's run at a load of 15 failed it 2 of 3 at the plain 2 s)."""
    monkeypatch.setattr(process, "STOP_WAIT_S", process.STOP_WAIT_S * PATIENCE)
    trace = tmp_path / "stops.txt"
    trace.touch()
    two = HELLO + HELLO.replace('id = "h"', 'id = "g"')
    path = tmp_path / "tickets.toml"
    path.write_text(two)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    lingering = BUILTIN["sim-acp"].with_agent(command=codex_like("--linger", str(trace)))
    app = lfg_app(loaded.tickets, Providers({"sim-acp": lingering}))

    def alive_once_both_are_told_to_stop() -> list[int]:
        """The agents alive when the second has seen its stdin close (each lingers until SIGTERM)."""
        deadline = time.monotonic() + 30 * PATIENCE
        while time.monotonic() < deadline:
            if trace.read_text().count("eof") == 2:
                return agent_processes(tmp_path)
            time.sleep(0.01)
        return []

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all(p.state is PaneState.COMPLETED for p in app.controller.panes.values()))
        agents = agent_processes(tmp_path)
        assert len(agents) == 2, "both agents are kept for a follow-up"
        watching = asyncio.ensure_future(asyncio.to_thread(alive_once_both_are_told_to_stop))
        await pilot.press("q")
    alive = await asyncio.wait_for(watching, 40 * PATIENCE)
    assert sorted(alive) == sorted(agents), "the second was told to stop while the first still lingered"
    assert await no_agent_left(tmp_path)


async def test_the_agents_progress_note_shows_in_its_pane_while_it_works(tmp_path: Path) -> None:
    path = tmp_path / "tickets.toml"
    slow = 'model = "long-answer:tokens_per_s=40,repeat=20"\n'
    path.write_text(f'[[ticket]]\nid = "p"\nprompt = "x"\nprovider = "sim-acp"\n{slow}')
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    noting = BUILTIN["sim-acp"].with_agent(command=codex_like("--progress", "Fix the \x1b[31mwidget"))
    app = lfg_app(loaded.tickets, Providers({"sim-acp": noting}))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["p"]
        await until(pilot, lambda: str(pane.notice.render()) == "▸ Fix the ␛[31mwidget", timeout=20)
        assert pane.state is PaneState.RUNNING
        pane.shown.focus()
        await pilot.press("c")
        await until(pilot, lambda: pane.state is PaneState.CANCELLED, timeout=20)
        await until(pilot, lambda: not pane.notice.display, timeout=5)  # the note went with the work
    assert await no_agent_left(tmp_path)
