"""A coordinator counts what its feed lost as its watchers do (broker/gaps.py): events of an attempt
that the broker lost between the worker's publish and the coordinator's read make the attempt
partial, in its NDJSON and its history, and the tickets that depend on it fail saying why (issue #55:
after a redis-server restart without persistence, cut answers were recorded whole and filled into a
dependent's prompt). Real `lfg worker` and `lfg run --broker` processes on a real redis-server, which
loses entries of one attempt while the coordinator is paused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import redis

from lfgtui.broker.layout import Layout
from tests.support.fleet import Fleet, coordinate, ends, eventually, finish, queued, stopped
from tests.support.lfg import of, recorded_run, text
from tests.support.patience import PATIENCE

TICKETS = (
    '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "long-answer:tokens_per_s=100"\n'
    '[[ticket]]\nid = "after"\nprompt = "Sum up: {{t}}"\nprovider = "sim"\nmodel = "hello"\n'
    'depends_on = ["t"]\n'
)


@pytest.mark.timeout(120)  # the worker warms up, the answer streams to its end: bounded waits that add up
def test_events_lost_before_the_coordinator_read_them_make_the_answer_partial_and_its_dependents_fail(
    fleet: Fleet, admin: redis.Redis
) -> None:
    coordinator = coordinate(fleet, fleet.lfg.tickets(TICKETS))
    try:
        seen = queued(coordinator, 1)  # no worker yet: t has not started
        coordinator.send_signal(signal.SIGSTOP)  # it reads nothing while t streams to its end
        try:
            eventually(lambda: stopped(coordinator.pid))
            # Its read waiting on the broker is answered while it is stopped, with what w1 publishes
            # first at most: t's beginning, before what is lost. Stopped once it had printed t's first
            # text instead, it could have read on past the middle of t's answer before the signal landed.
            fleet.start("w1")
            lose_mid_answer(admin)
        finally:
            coordinator.send_signal(signal.SIGCONT)
        code, events, err = finish(coordinator)
    finally:
        if coordinator.poll() is None:  # failed on the way: a coordinator waiting for a broker gone
            coordinator.kill()
            coordinator.communicate(timeout=30 * PATIENCE)
    events = seen + events
    assert code == 1, err
    assert ends(events) == {("t", 1): "completed", ("after", 1): "failed"}
    (gap,) = of(events, "t", "gap")
    assert gap["why"] == "trimmed" and gap["attempt"] == 1 and gap["events"] > 0
    (end,) = of(events, "t", "attempt_ended")
    assert end["partial"] is True, "its NDJSON says the answer is partial, as a watcher's does"
    said = [e["message"] for e in of(events, "t", "status")]
    lost = f"lost {gap['events']} events of attempt 1 (seq {gap['first_seq']} to {gap['last_seq']}): "
    assert any(m.startswith(lost + "the broker trimmed or lost them before this coordinator") for m in said)
    assert "its answer here is not whole, so the tickets that depend on it fail" in " ".join(said), said
    (failed,) = of(events, "after", "attempt_ended")
    assert failed["error"]["message"] == (
        f"the answer of t is not whole here ({gap['events']} events of it never reached this coordinator: "
        "the broker trimmed or lost them before this coordinator read them ([broker] max_len, or a broker "
        "that restarted without persistence, was flushed or failed over)): its prompt cannot be filled in"
    )
    assert not of(events, "after", "prompt"), "no prompt filled in with a cut answer"
    assert 0 < len(text(events, "t")) < 3000
    config = ["--config", str(fleet.lfg.config)]
    exported = subprocess.run(
        [sys.executable, "-m", "lfgtui", "history", "export", recorded_run(err), "--format", "json", *config],
        env=fleet.lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert exported.returncode == 0, exported.stderr
    assert "its answer here is not whole" in exported.stdout, "recorded partial in the history"


def lose_mid_answer(admin: redis.Redis) -> None:
    """Once all of t's events are on the broker, delete some of them from the middle of its answer."""
    [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
    layout = Layout()
    eventually(lambda: admin.hlen(layout.ended(run_id)) == 1)  # t ended: its worker recorded it
    of_t = [
        entry
        for entry, fields in admin.xrange(layout.events(run_id))
        if any(e.get("ticket") == "t" for e in json.loads(fields[b"data"]).get("events", ()))
    ]
    assert len(of_t) > 9, len(of_t)
    admin.xdel(layout.events(run_id), *of_t[len(of_t) // 3 : len(of_t) // 2])
