"""Forking a ticket at an earlier turn (`Run.fork(..., at=N)`, `lfg fork --at N`): the fork goes on
from the conversation cut after the person's user turn N. An API ticket's fork sends the provider's
messages of turns 1..N verbatim (the model's thinking and its signatures whole: the sim refuses a
request that lost them, or that cut a tool call from its result); a coding agent's is told the
conversation so far in its prompt, since its session forks only whole. The cut is recorded, so a
follow-up after `lfg resume` goes on from the same cut conversation."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.events import Event, Outcome, Status
from lfgtui.history.recorded import recorded_run
from lfgtui.history.schema import MIGRATIONS
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.fork import CannotFork
from lfgtui.run.seeds import earlier_of_each
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.recording import as_schema_28, load_recorded

THINKER = "claude-sonnet-5-5"
"""A Claude model that thinks before each tool call: its turns carry signed thinking blocks."""


@pytest.fixture
async def sim(scenario_dir: Path) -> AsyncIterator[SimServer]:
    rules = (ModelRule(THINKER, "think-tools"),)
    async with SimServer(ScenarioLibrary(extra_dirs=(scenario_dir,)), models=ModelMap(rules)) as server:
        yield server


def notes_reader(folder: Path) -> Path:
    (folder / "notes.txt").write_text("Ship on Friday.\n")
    path = folder / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "notes"\nprompt = "What do the notes say?"\nprovider = "sim-anthropic"\n'
        f'model = "{THINKER}"\ntools = ["read_file"]\nauto_approve = ["read_file"]\n'
        f'workdir = "{folder}"\n'
    )
    return path


async def test_a_fork_at_turn_1_sends_exactly_turn_1s_messages_verbatim_then_its_prompt(
    sim: SimServer, tmp_path: Path
) -> None:
    loaded = load_tickets(notes_reader(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    db = tmp_path / "history.sqlite3"
    events: list[Event] = []
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.record(history)
        run.start()
        await run.wait()
        second_turn = len(sim.log)
        for follow_up in ("And read them once more?", "Anything else in there?"):
            assert run.continue_with("notes", follow_up)
            await run.wait()
        assert run.states["notes"].outcome is Outcome.COMPLETED

        with pytest.raises(CannotFork) as refused:
            run.fork("notes", "Then?", at=4)
        assert str(refused.value) == "notes has 3 turn(s): fork it at a turn from 1 to 3, not 4"
        forked_at = len(sim.log)
        fork = run.fork("notes", "Now say it in French.", at=1)
        await run.wait()
        run_id = history.run_id
    assert run.states[fork.id].outcome is Outcome.COMPLETED and fork.fork_turn == 1
    assert all(r.status == 200 and r.replay is not None and r.replay.whole for r in sim.log[forked_at:])
    turn_1 = sim.log[second_turn].body["messages"][:-1]  # the follow-up's request: turn 1, then it
    sent = sim.log[forked_at].body["messages"]
    assert sent[:-1] == turn_1, "turn 1's messages, verbatim, thinking and signatures with them"
    assert any(block.get("signature") for m in turn_1 if m["role"] == "assistant" for block in m["content"])
    assert sent[-1]["role"] == "user" and [b["text"] for b in sent[-1]["content"]] == [
        "Now say it in French."
    ]
    said = [e.message for e in events if e.ticket == fork.id and type(e) is Status]
    assert "forked at turn 1 of 3: its provider messages up to there, verbatim" in said

    recorded = load_recorded(db, run_id)
    (forked,) = [t for t in recorded.tickets if t.ticket.id == fork.id]
    assert forked.ticket.fork_turn == 1
    async with Providers(sim=sim) as providers:
        resumed = Run(
            recorded.as_tickets, providers, Approvals(), [], earlier=earlier_of_each(recorded.tickets)
        )
        resumed.start()
        again = len(sim.log)
        assert resumed.continue_with(fork.id, "Once more?")
        await resumed.wait()
    assert resumed.states[fork.id].outcome is Outcome.COMPLETED
    continued = sim.log[again].body["messages"]
    assert continued[: len(turn_1)] == turn_1, "a follow-up after lfg resume goes on from the same cut"
    assert continued[len(turn_1)] == {"role": "user", "content": "Now say it in French."}


async def test_a_file_recorded_before_forks_were_cut_is_migrated_and_its_forks_are_whole(
    sim: SimServer, tmp_path: Path
) -> None:
    loaded = load_tickets(notes_reader(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    db = tmp_path / "history.sqlite3"
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(), [])
        run.record(history)
        run.start()
        await run.wait()
        assert run.continue_with("notes", "And read them once more?")
        await run.wait()
        run.fork("notes", "Then?")  # a whole fork, as an lfg of schema 27 recorded every fork
        await run.wait()
        run_id = history.run_id
    with sqlite3.connect(db) as conn:
        as_schema_28(conn)
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        parent, fork = recorded_run(store.load(Selection(run_id))).tickets
    assert fork.ticket.fork_of == ("notes", 2) and fork.ticket.fork_turn is None
    assert fork.base == parent.conversation(2), "after the whole conversation"
