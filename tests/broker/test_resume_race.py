"""Two `lfg resume RUN --broker` of one run started together on two machines (issue #66), held against
a real redis-server with real `lfg worker` and `lfg resume` processes; each machine is imitated with
`unshare --uts` (a host name of its own) and a copy of the history (no lock shared). Exactly one
coordinates the run to its end, its dependent included; the other is refused in one line, exit 2,
having published nothing. Before, both were registered and publishing before either claimed the
coordinator lease: the loser died with a traceback and published the run's `end`, and the winner's
feed stopped at it and never saw its attempts end."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.support.fleet import LEASE, Fleet, coordinate, ends, finish, streaming
from tests.support.patience import PATIENCE

SLOW = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "long-answer:tokens_per_s=60"\n'
DEPENDENT = SLOW + '[[ticket]]\nid = "after"\nprompt = "Sum up: {{t}}"\nprovider = "sim"\nmodel = "hello"\n'
DEPENDENT += 'depends_on = ["t"]\n'


def on_machine(fleet: Fleet, host: str, db: Path, run_id: str, config: Path) -> subprocess.Popen[str]:
    """`lfg resume RUN --broker URL --json` as if on machine `host`, with its own copy `db` of the history."""
    resume = [sys.executable, "-m", "lfgtui", "resume", run_id, "--broker", fleet.url, "--json"]
    resume += ["--db", str(db), "--config", str(config)]
    script = f'hostname {host} && exec "$@"'
    return subprocess.Popen(
        ["unshare", "--uts", "--map-root-user", "sh", "-c", script, "sh", *resume],
        env=fleet.lfg.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux) to imitate a machine")
@pytest.mark.timeout(150)  # the worker warms up, a lease lapses, the answer streams to its end
def test_two_resumes_started_together_on_two_machines_one_coordinates_the_other_changes_nothing(
    fleet: Fleet, admin: redis.Redis
) -> None:
    config = fleet.config(LEASE, "lease.toml")
    fleet.start("w1", config=config)
    coordinator = coordinate(fleet, fleet.lfg.tickets(DEPENDENT), config=config)
    streaming(coordinator, ["t"], 1)
    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait(30 * PATIENCE)
    assert coordinator.stderr is not None
    run_id = coordinator.stderr.read().split(f"lfg attach {fleet.url} ")[1].split()[0]
    history = fleet.lfg.home / "data" / "lfgtui" / "history.sqlite3"
    copies = [fleet.lfg.home / f"machine-{name}.sqlite3" for name in "ab"]
    for copy in copies:
        with sqlite3.connect(history) as original, sqlite3.connect(copy) as copied:
            original.backup(copied)
    resumes = [on_machine(fleet, copy.stem, copy, run_id, config) for copy in copies]
    done = [(process, *process.communicate(timeout=120 * PATIENCE)) for process in resumes]
    codes = sorted(process.returncode for process, _, _ in done)
    assert codes == [0, 2], "\n".join(f"exit {p.returncode}: {err}" for p, _, err in done)
    [(out, err)] = [(out, err) for process, out, err in done if process.returncode == 0]
    [loser] = [err for process, _, err in done if process.returncode == 2]
    events = [json.loads(line) for line in out.splitlines()]
    assert ends(events) == {("t", 1): "completed", ("after", 1): "completed"}, err
    assert "Traceback" not in loser, loser
    assert f"cannot resume run {run_id}: run {run_id} is coordinated already by " in loser, loser
    assert "running this run on the workers of" not in loser, "the loser published nothing"
    kinds = [fields[b"kind"] for _, fields in admin.xrange(f"lfg:run:{run_id}:events")]
    assert kinds.count(b"end") == 1, "one end: the winner's"
    assert not admin.exists(f"lfg:run:{run_id}:coordinator"), "given up at the run's end"


@pytest.mark.timeout(150)  # the worker warms up, the answer streams to its end
def test_a_coordinators_feed_does_not_end_on_an_end_another_publisher_wrote(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """An `end` in the run's stream that its coordinator did not write (a coordinator before it, or
    anyone who may write the broker) mid-run: the coordinator reads on, sees its attempts end and
    runs the dependent. Before, its feed stopped there and the run waited forever."""
    fleet.start("w1")
    coordinator = coordinate(fleet, fleet.lfg.tickets(DEPENDENT))
    try:
        seen = streaming(coordinator, ["t"], 1)
        [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
        admin.xadd(f"lfg:run:{run_id}:events", {"kind": "end", "n": "stale.1", "data": '{"now": 0}'})
        code, events, err = finish(coordinator)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
            coordinator.communicate(timeout=30 * PATIENCE)
    assert ends(seen + events) == {("t", 1): "completed", ("after", 1): "completed"}, err
    assert code == 0, err
