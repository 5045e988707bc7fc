"""A coordinator counts what its feed lost as its watchers do (broker/gaps.py): events of an attempt
that the broker lost between the worker's publish and the coordinator's read make the attempt
partial, in its NDJSON and its history, and the tickets that depend on it fail saying why (issue #55:
after a redis-server restart without persistence, cut answers were recorded whole and filled into a
dependent's prompt). Real `lfg worker` and `lfg run --broker` processes on a real redis-server, which
loses entries of one attempt while the coordinator is paused."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import pytest
import redis

from lfgtui.broker.layout import Layout
from lfgtui.sim.server import SimServer
from tests.support.fleet import STEADY, Fleet, ends, eventually, stopped, until
from tests.support.lfg import of, recorded_run, text
from tests.support.paid import Coordinator, mid_answer_since
from tests.support.patience import PATIENCE
from tests.support.proxy import partition

TICKETS = (
    '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "far"\nmodel = "long-answer:tokens_per_s=100"\n'
    '[[ticket]]\nid = "after"\nprompt = "Sum up: {{t}}"\nprovider = "sim"\nmodel = "hello"\n'
    'depends_on = ["t"]\n'
)


@pytest.mark.timeout(120)  # the worker warms up, the answer streams to its end: bounded waits that add up
async def test_events_lost_before_the_coordinator_read_them_make_the_answer_partial_and_its_dependents_fail(
    fleet: Fleet, admin: redis.Redis, sim: SimServer
) -> None:
    """`t`'s answer comes from this test's sim through a proxy, held there mid-answer until the
    coordinator is stopped: the entries lost are ones published since, which it cannot have read (a
    coordinator that fell behind on a loaded machine had read past the middle of the answer before
    the test, reading its first text, stopped it, and saw no gap)."""
    with partition(("127.0.0.1", sim.port)) as link:
        provider = f'[providers.far]\nkind = "sim"\nbase_url = "http://127.0.0.1:{link.port}/v1"\n'
        config = fleet.config(STEADY + provider, "far.toml")
        fleet.start("w1", config=config)
        coordinator = Coordinator.start(fleet, fleet.lfg.tickets(TICKETS), config)
        try:
            await until(lambda: mid_answer_since(sim, 0))
            link.black_hole()  # nothing awaited since: the rest of `t` waits in the proxy
            coordinator.process.send_signal(signal.SIGSTOP)  # it reads nothing while t streams to its end
            try:
                await until(lambda: stopped(coordinator.process.pid))
                [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
                unread = admin.xinfo_stream(Layout().events(run_id))["last-generated-id"]
                link.heal()
                await asyncio.to_thread(lose_mid_answer, admin, run_id, unread)
            finally:
                coordinator.process.send_signal(signal.SIGCONT)
            code = await asyncio.to_thread(coordinator.wait, 90)
        finally:
            await coordinator.killed()
    events, err = coordinator.events, coordinator.err.read_text()
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
    exported = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "lfgtui", "history", "export", recorded_run(err), "--format", "json", *config],
        env=fleet.lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert exported.returncode == 0, exported.stderr
    assert "its answer here is not whole" in exported.stdout, "recorded partial in the history"


def lose_mid_answer(admin: redis.Redis, run_id: str, unread: bytes) -> None:
    """Once all of t's events are on the broker, delete some from the middle of those after
    `unread` (the stream's last entry when the coordinator stopped)."""
    layout = Layout()
    eventually(lambda: admin.hlen(layout.ended(run_id)) == 1)  # t ended: its worker recorded it
    of_t = [
        entry
        for entry, fields in admin.xrange(layout.events(run_id), min=b"(" + unread)
        if any(e.get("ticket") == "t" for e in json.loads(fields[b"data"]).get("events", ()))
    ]
    assert len(of_t) > 9, len(of_t)
    admin.xdel(layout.events(run_id), *of_t[len(of_t) // 3 : len(of_t) // 2])
