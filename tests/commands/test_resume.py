"""`lfg resume` and `lfg replay` as subprocesses: every refusal is a clear message and exit code 2
that changes nothing, and a replay in a real terminal (a pty) plays and quits cleanly."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lfgtui.commands.common import find_recorded
from lfgtui.commands.main import main
from lfgtui.history.lock import RunLock
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from tests.support.fleet import eventually
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.recording import FAST_AGENT, record, record_tickets, sample_attempt, ticket, tickets_file
from tests.support.streams import write_scenario
from tests.support.terminal import Terminal


@pytest.fixture(autouse=True)
def fast_agent(scenario_dir: Path) -> None:
    write_scenario(scenario_dir, "fast-agent", FAST_AGENT)


def lfg(env: Lfg, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "lfgtui", *args, "--config", str(env.config)]
    return subprocess.run(command, env=env.env, capture_output=True, text=True, timeout=60 * PATIENCE)


def counts(db: Path) -> tuple[int, ...]:
    with sqlite3.connect(db) as conn:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("runs", "attempts", "parts")
        )


@pytest.fixture
def recorded(tmp_path: Path, scenario_dir: Path) -> tuple[Lfg, Path, str]:
    """A run recorded against an in-process sim, for the subprocesses to find in `--db`."""
    db = tmp_path / "h.sqlite3"

    async def record_one() -> str:
        async with SimServer(ScenarioLibrary(extra_dirs=(scenario_dir,))) as sim:
            return await record_tickets(sim, tickets_file(tmp_path / "work"), db)

    return Lfg(tmp_path), db, asyncio.run(record_one())


def test_unknown_and_ambiguous_ids_name_the_candidates(recorded: tuple[Lfg, Path, str]) -> None:
    env, db, _ = recorded
    with sqlite3.connect(db) as conn:
        for run_id in ("abc000000001", "abc000000002"):
            conn.execute("INSERT INTO runs (id, started_at, ended_at) VALUES (?, 1.0, 2.0)", (run_id,))
    before = counts(db)
    for command in ("resume", "replay"):
        done = lfg(env, command, "fff999", "--db", str(db))
        assert done.returncode == 2 and "no run or attempt with id 'fff999'" in done.stderr, done.stderr
        done = lfg(env, command, "abc", "--db", str(db))
        assert done.returncode == 2, done.stderr
        assert "'abc' is ambiguous: it could be run abc000000001, run abc000000002" in done.stderr
    assert counts(db) == before


def test_a_provider_that_is_gone_or_has_no_key_is_named(tmp_path: Path) -> None:
    env = Lfg(tmp_path)
    db = tmp_path / "h.sqlite3"
    gone = dataclasses.replace(ticket("explore"), provider="local-llm")
    keyed = dataclasses.replace(ticket("ask"), provider="anthropic")
    recorder = record(db, tmp_path, sample_attempt("explore"), tickets=(gone, keyed))
    recorder.finish()
    before = counts(db)
    done = lfg(env, "resume", recorder.run_id, "--db", str(db))
    assert done.returncode == 2
    assert "ticket 'explore' ran on provider 'local-llm', which is not configured any more" in done.stderr
    assert (
        "ticket 'ask': provider 'anthropic' needs an API key: set the environment variable ANTHROPIC_API_KEY"
        in (done.stderr)
    )
    assert f"lfg replay {recorder.run_id}" in done.stderr, "it says how to watch the run instead"
    assert counts(db) == before


def test_resume_refuses_a_run_still_open_and_needs_a_terminal(recorded: tuple[Lfg, Path, str]) -> None:
    env, db, run_id = recorded
    lock = RunLock(db, run_id)
    try:
        done = lfg(env, "resume", run_id[:6], "--db", str(db))
    finally:
        lock.release()
    assert done.returncode == 2 and f"run {run_id} is still running in another lfg" in done.stderr
    done = lfg(env, "resume", run_id, "--db", str(db))
    assert done.returncode == 2 and "lfg resume opens the TUI: run it in a terminal" in done.stderr
    done = lfg(env, "replay", f"{run_id}/hi", "--db", str(db))
    assert done.returncode == 2 and "lfg replay opens the TUI: run it in a terminal" in done.stderr
    done = lfg(env, "replay", run_id, "--db", str(db), "--speed", "0")
    assert done.returncode == 2 and "'0' is not a positive number" in done.stderr
    with sqlite3.connect(db) as conn:
        (ended_at,) = conn.execute("SELECT ended_at FROM runs WHERE id = ?", (run_id,)).fetchone()
    assert ended_at is not None, "refusing left the run as it was"


def test_replay_in_a_terminal_plays_the_run_and_quits(recorded: tuple[Lfg, Path, str]) -> None:
    env, db, run_id = recorded
    before = counts(db)
    command = [sys.executable, "-m", "lfgtui", "replay", run_id, "--speed", "20", "--db", str(db)]
    command += ["--config", str(env.config)]
    terminal = Terminal(columns=140)
    process = terminal.start(command, env.env)
    try:
        terminal.wait_for(b"2 completed")
        assert b"$?" not in terminal.output, "the replay knows the sim's prices: it costs $0"
        terminal.type(b"q")
        assert process.wait(timeout=30 * PATIENCE) == 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        terminal.hang_up()
    assert counts(db) == before, "a replay writes nothing"


def test_a_resumed_run_prices_its_new_attempts(recorded: tuple[Lfg, Path, str]) -> None:
    """`lfg resume` costs a follow-up with the provider's prices, as `lfg run` does."""
    env, db, run_id = recorded
    env.config.write_text("[providers.sim]\nprices = { input_per_mtok = 1000, output_per_mtok = 4000 }\n")
    env.scenario("fast-agent", FAST_AGENT)
    command = [sys.executable, "-m", "lfgtui", "resume", run_id, "--db", str(db), "--config", str(env.config)]
    terminal = Terminal(columns=140)
    process = terminal.start(command, env.env)
    try:
        terminal.wait_for(b"2 completed")
        terminal.type(b"i")
        terminal.wait_for(b"your next prompt")
        terminal.type(b"And then?")
        terminal.wait_for(b"And then?")
        terminal.type(b"\r")
        eventually(lambda: second_ended(db) is not None, 30)
        cost = second_ended(db)
        terminal.type(b"q")
        assert process.wait(timeout=30 * PATIENCE) == 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        terminal.hang_up()
    assert cost is not None and cost[0] is not None and cost[0] > 0, "the follow-up was priced"


def resume_in_terminal(env: Lfg, db: Path, run_id: str) -> tuple[Terminal, subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "lfgtui", "resume", run_id, "--db", str(db), "--config", str(env.config)]
    terminal = Terminal(columns=140)
    return terminal, terminal.start(command, env.env)


def second_ended(db: Path) -> tuple[float | None] | None:
    """The cost of the run's second attempt, once it has ended."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT cost_usd FROM attempts WHERE number = 2 AND outcome IS NOT NULL"
        ).fetchone()


def attempts_of(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM attempts WHERE outcome IS NOT NULL").fetchone()[0]


@pytest.mark.parametrize("answer", [b"n", b"y"])
def test_an_imported_run_asks_before_its_tools_work_outside_this_folder(
    recorded: tuple[Lfg, Path, str], tmp_path: Path, answer: bytes
) -> None:
    """Its tickets work in tmp_path/work, not under the folder lfg runs in: no says nothing ran (exit
    2); yes lets a follow-up run there. Either way the grants of the file are not applied, and said."""
    env, db, run_id = recorded
    env.scenario("fast-agent", FAST_AGENT)
    exported, other = tmp_path / "run.json", tmp_path / "other.sqlite3"
    done = lfg(env, "history", "export", run_id, "--format", "json", "-o", str(exported), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert lfg(env, "history", "import", str(exported), "--db", str(other)).returncode == 0
    before = counts(other)
    terminal, process = resume_in_terminal(env, other, run_id)
    try:
        terminal.wait_for(b"Let them work there?")
        assert b"(ticket explore)" in terminal.output
        terminal.wait_for(b"not applied here")
        terminal.type(answer)
        if answer == b"n":
            assert process.wait(timeout=30 * PATIENCE) == 2
            terminal.wait_for(b"was not resumed: nothing ran")
        else:
            terminal.type(b"i")
            terminal.wait_for(b"your next prompt")
            terminal.type(b"And then?\r")
            eventually(lambda: attempts_of(other) == 3, 30)
            terminal.type(b"q")
            assert process.wait(timeout=30 * PATIENCE) == 0
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        terminal.hang_up()
    if answer == b"n":
        assert counts(other) == before, "nothing ran"
    else:
        with sqlite3.connect(other) as conn:
            outcomes = conn.execute("SELECT outcome FROM attempts ORDER BY started_at").fetchall()
        assert outcomes[-1] == ("completed",) and len(outcomes) == 3, "the follow-up ran once allowed"


def test_a_run_read_to_be_taken_up_again_is_held_from_the_read_on(recorded: tuple[Lfg, Path, str]) -> None:
    """Two `lfg fork`s of one run started together both found it free, then one took its lock and the
    other ran its fork unrecorded ("history is off"): the read now claims the run, so the second is
    refused before anything runs; a command that refuses after the read lets the run go."""
    env, db, run_id = recorded
    found = find_recorded(run_id, env.config, db, whole_run=True)
    assert not isinstance(found, str), found
    try:
        assert RunLock.alive(db, run_id), "held from the read on"
        done = lfg(env, "fork", run_id, "hi", "-p", "And more?", "--db", str(db))
        assert done.returncode == 2 and f"run {run_id} is still running in another lfg" in done.stderr
    finally:
        RunLock.release_claims()
    assert not RunLock.alive(db, run_id)
    before = counts(db)
    args = [
        "fork",
        run_id,
        "hi",
        "--at",
        "9",
        "-p",
        "And more?",
        "--db",
        str(db),
        "--config",
        str(env.config),
    ]
    assert main(args) == 2, "refused after the read: the ticket has no turn 9"
    assert not RunLock.alive(db, run_id), "and let go"
    assert counts(db) == before
