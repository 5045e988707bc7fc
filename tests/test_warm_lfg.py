"""The warm start of the `lfg`s a test runs to their end (tests/support/warm_lfg.py) gives what a
fresh `python -m lfgtui` gives: its exit code and streams, in the test's folder and environment, and
a timeout that ends it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import warm_lfg
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE

STALLED = '[[ticket]]\nid = "quiet"\nprompt = "Go."\nprovider = "sim"\nmodel = "fault-stall"\n'
"""A ticket whose stream goes silent for good: its `lfg run` does not end on its own for minutes."""


def both(args: list[str], env: dict[str, str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """`args` run warm, then fresh."""
    warm = warm_lfg.run(args, env=env, cwd=cwd, timeout=60 * PATIENCE)
    fresh = warm_lfg.run(args, env=env | {warm_lfg.COLD: "1"}, cwd=cwd, timeout=60 * PATIENCE)
    return [warm, fresh]


def test_a_run_in_the_tests_folder_and_environment_ends_as_a_fresh_one_does(tmp_path: Path) -> None:
    """The tickets file is named relative to the folder given, and the history lands where the
    environment given says (an XDG_DATA_HOME of each run's own): both read in the fork, not the
    warm interpreter's."""
    lfg = Lfg(tmp_path)
    lfg.tickets('[[ticket]]\nid = "hi"\nprompt = "Hi."\nprovider = "sim"\nmodel = "hello"\n')
    args = [sys.executable, "-m", "lfgtui", "run", "tickets.toml", "--json", "--config", str(lfg.config)]
    runs = []
    for name, cold in (("warm", ""), ("fresh", "1")):
        env = lfg.env | {"XDG_DATA_HOME": str(tmp_path / name), warm_lfg.COLD: cold}
        done = warm_lfg.run(args, env=env, cwd=lfg.workdir, timeout=60 * PATIENCE)
        assert done.returncode == 0, done.stderr
        assert len(list((tmp_path / name).rglob("*.sqlite3"))) == 1, name
        runs.append([json.loads(line)["type"] for line in done.stdout.splitlines()])
    assert runs[0] == runs[1]


def test_a_refused_command_says_the_same_and_exits_the_same(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    args = [sys.executable, "-m", "lfgtui", "run", str(tmp_path / "missing.toml"), "--json"]
    warm, fresh = both(args, lfg.env, tmp_path)
    assert (warm.returncode, warm.stdout, warm.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert warm.returncode == 2 and "missing.toml" in warm.stderr


def test_a_command_past_its_timeout_is_killed_and_its_output_so_far_kept(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    tickets = lfg.tickets(STALLED)
    with pytest.raises(subprocess.TimeoutExpired) as timed_out:
        warm_lfg.run(lfg.args(tickets, "--json"), env=lfg.env, timeout=2)
    assert '"type": "text"' in str(timed_out.value.output), timed_out.value.output


def test_an_environment_python_reads_as_it_starts_otherwise_starts_fresh() -> None:
    """What Python or a preloaded module reads when it starts is the warm interpreter's own: a
    command that sets it otherwise is not forked from it."""
    args = [sys.executable, "-m", "lfgtui", "--version"]
    env = dict(os.environ)
    assert warm_lfg._forkable(args, env)
    assert warm_lfg._warm_one(env) is not None
    assert warm_lfg._warm_one(env | {"PYTHONPATH": "/elsewhere"}) is None
    assert warm_lfg._warm_one(env | {"TEXTUAL_ANIMATIONS": "none"}) is None
    assert not warm_lfg._forkable([sys.executable, "-c", "pass"], env)
    assert not warm_lfg._forkable(args, env | {warm_lfg.COLD: "1"})


@pytest.mark.parametrize("cold", ["", "1"], ids=["warm", "fresh"])
def test_a_kept_running_lfg_is_polled_waited_for_and_signalled_as_a_popen(tmp_path: Path, cold: str) -> None:
    """What a test does with a worker or a coordinator it keeps running: read its stream as it goes,
    poll it, wait with a timeout, SIGTERM it and read how it ended; the same, warm and fresh."""
    lfg = Lfg(tmp_path)
    args = lfg.args(lfg.tickets(STALLED), "--json")
    env = lfg.env | {warm_lfg.COLD: cold}
    process = warm_lfg.popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert (type(process) is subprocess.Popen) == bool(cold), "forked warm, or started fresh"
    assert process.stdout is not None
    assert any('"type": "text"' in line for line in process.stdout), "its answer so far"
    assert process.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(0.1)
    process.terminate()
    _, err = process.communicate(timeout=60 * PATIENCE)
    assert process.returncode == 128 + signal.SIGTERM, err  # as a shell says it, having saved the run
    assert "recorded as run" in err and process.poll() == 128 + signal.SIGTERM


def test_a_popen_takes_the_streams_popen_takes(tmp_path: Path) -> None:
    """Standard input from a pipe, standard error into standard output, or either to /dev/null."""
    lfg = Lfg(tmp_path)
    args = [sys.executable, "-m", "lfgtui", "run", str(tmp_path / "missing.toml"), "--json"]
    merged = warm_lfg.popen(
        args, env=lfg.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, err = merged.communicate(b"", timeout=60 * PATIENCE)
    assert (merged.returncode, err) == (2, None) and b"missing.toml" in out
    quiet = warm_lfg.popen(args, env=lfg.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out, err = quiet.communicate(timeout=60 * PATIENCE)
    assert (quiet.returncode, out) == (2, None) and "missing.toml" in err


@pytest.mark.parametrize("cold", ["", "1"], ids=["warm", "fresh"])
async def test_an_lfg_on_the_tests_loop_is_read_waited_for_and_signalled_as_asyncios(
    tmp_path: Path, cold: str
) -> None:
    """What a test whose loop serves the `lfg` does with it: read its streams as they go, wait for
    it while the loop goes on, SIGTERM it, read the rest; the same, warm and fresh."""
    lfg = Lfg(tmp_path)
    args = lfg.args(lfg.tickets(STALLED), "--json")
    env = lfg.env | {warm_lfg.COLD: cold}
    pipe = subprocess.PIPE
    process = await warm_lfg.create_subprocess_exec(*args, env=env, stdout=pipe, stderr=pipe)
    assert (type(process) is warm_lfg.AsyncWarm) == (not cold), "forked warm, or started fresh"
    assert process.stdout is not None
    async with asyncio.timeout(60 * PATIENCE):
        while b'"type": "text"' not in await process.stdout.readline():
            pass
    waiting = asyncio.create_task(process.wait())
    await asyncio.sleep(0)  # the wait under way, the loop free
    assert not waiting.done() and process.returncode is None
    process.terminate()
    async with asyncio.timeout(60 * PATIENCE):
        _, err = await process.communicate()
        assert await waiting == process.returncode == 128 + signal.SIGTERM, err
    assert err is not None and b"recorded as run" in err
