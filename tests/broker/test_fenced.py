"""A coordinator paused (SIGSTOP: a laptop lid) past its lease while another machine resumed the run
(issue #74). It wakes to a later generation of the run's coordinator lease, and stands down in one
line, exit 4, having written nothing: before, it took the lapsed lease for a broker gone back in time,
claimed it again, ignored the other coordinator's `end`, and enqueued the dependent a second time (or
waited forever); woken while the other still runs the run, it went on beside it. Real `lfg run
--broker`, `lfg resume --broker` and `lfg worker` processes on a real redis-server; their provider the
sim of this test, which counts the calls."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from lfgtui.sim.server import SimServer
from tests.support import warm_lfg
from tests.support.fleet import LEASE, Fleet, coordinate, ends, finish, stopped, until
from tests.support.patience import PATIENCE

SLOW = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "far"\nmodel = "long-answer:tokens_per_s=60"\n'
DEPENDENT = SLOW + '[[ticket]]\nid = "after"\nprompt = "Sum up: {{t}}"\nprovider = "far"\nmodel = "hello"\n'
DEPENDENT += 'depends_on = ["t"]\n'


def resumed(fleet: Fleet, run_id: str, db: Path, config: Path) -> subprocess.Popen[str]:
    """`lfg resume RUN --broker URL --json` with its own copy `db` of the history, as on another machine."""
    resume = [sys.executable, "-m", "lfgtui", "resume", run_id, "--broker", fleet.url, "--json"]
    return warm_lfg.popen(
        [*resume, "--db", str(db), "--config", str(config)],
        env=fleet.lfg.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def calls(sim: SimServer, words: str) -> int:
    """How many model requests the sim took whose conversation holds `words`."""
    return sum(words in json.dumps(logged.body) for logged in sim.log)


@pytest.mark.timeout(240)  # a warm-up, a lease to lapse, a resume to run the run to its end
@pytest.mark.parametrize("wakes", ["after", "during"], ids=["woken after the run ended", "woken mid-run"])
async def test_a_coordinator_paused_past_its_lease_while_another_resumed_the_run_stands_down(
    fleet: Fleet, admin: redis.Redis, sim: SimServer, wakes: str
) -> None:
    config = fleet.config(LEASE + f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n', "far.toml")
    fleet.start("w1", config=config)
    await until(lambda: fleet.ready("w1"), 90)
    first = coordinate(fleet, fleet.lfg.tickets(DEPENDENT), config=config)
    try:
        await until(lambda: len(sim.log) == 1 and len(sim.log[0].token_times) > 5, 60)
        [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
        first.send_signal(signal.SIGSTOP)
        while not stopped(first.pid):
            os.sched_yield()
        try:
            await until(lambda: not admin.exists(f"lfg:run:{run_id}:coordinator"), 30)  # lapsed
            copy = fleet.lfg.home / "other-machine.sqlite3"
            history = fleet.lfg.home / "data" / "lfgtui" / "history.sqlite3"
            with sqlite3.connect(history) as original, sqlite3.connect(copy) as copied:
                original.backup(copied)
            second = resumed(fleet, run_id, copy, config)
            if wakes == "during":  # once the other holds the run (this one cannot renew, stopped)
                await until(lambda: admin.exists(f"lfg:run:{run_id}:coordinator"), 60)
                first.send_signal(signal.SIGCONT)
                _, woke = await asyncio.to_thread(first.communicate, timeout=60 * PATIENCE)  # no hang
            code, events, err = await asyncio.to_thread(finish, second)
        finally:
            first.send_signal(signal.SIGCONT)
        if wakes == "after":
            _, woke = await asyncio.to_thread(first.communicate, timeout=60 * PATIENCE)  # no hang
    finally:
        if first.poll() is None:
            first.kill()
            await asyncio.to_thread(first.communicate, timeout=30 * PATIENCE)
    assert code == 0, err
    assert ends(events) == {("t", 1): "completed", ("after", 1): "completed"}, err
    assert first.returncode == 4, woke
    assert "Traceback" not in woke, woke
    [line] = [line for line in woke.splitlines() if "stands down" in line]
    assert "another coordinator took this run over" in line, woke
    assert calls(sim, "Sum up") == 1, "the dependent ran once: the woken coordinator enqueued nothing"
    assert len(sim.log) == 2, "t streamed to its end once, the dependent once"
    assert admin.xlen("lfg:work:far") == 0, "no work entry left: none was enqueued after the run ended"
    kinds = [fields[b"kind"] for _, fields in admin.xrange(f"lfg:run:{run_id}:events")]
    assert kinds.count(b"end") == 1, "one end: the resumed run's"
