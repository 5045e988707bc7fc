"""A worker paused (SIGSTOP) past its lease, while another takes its ticket over, wakes with what its
provider sent meanwhile waiting in the socket (issue #55: paid twice). It publishes none of it: its
attempt's events wait while the lease is in doubt, and once the broker says another worker has the
entry they are dropped and the provider's stream closed. Real `lfg worker` processes on a real
redis-server, their provider the sim of this test (not paused with them), which counts the calls and
when it sent each token."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from importlib import resources
from pathlib import Path

import pytest
import redis

from lfgtui.broker.layout import Layout, loads
from lfgtui.sim.scenario import split_tokens
from lfgtui.sim.server import SimServer
from tests.support.fleet import LEASE, Fleet, coordinate, ends, finish, stopped, until
from tests.support.lfg import text
from tests.support.patience import PATIENCE
from tests.support.streams import write_scenario

TICKET = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "far"\n'
TICKET += 'model = "paused-answer:tokens_per_s=60,repeat=4"\n'
PAUSED_ANSWER = resources.files("lfgtui.sim").joinpath("scenarios", "long-answer.toml").read_text() + (
    '[[fault]]\nkind = "stall"\nafter_tokens = 60\ntimes = 1\n'
)
"""The sim's long answer, but the first call goes quiet after 60 tokens (a second into it) and stays
open until its client closes it: it can neither end while its worker is paused nor be sent whole into
the paused worker's socket (a pause longer than the answer, on a loaded machine, did that: the sim
ended the stream the worker was to close). The second call streams the whole answer."""


def published_text(admin: redis.Redis, run_id: str, attempt: int) -> str:
    """The text of the ticket's attempt on the run's event stream, whoever published it."""
    said = []
    for _, fields in admin.xrange(Layout().events(run_id)):
        events = loads(fields.get(b"data")).get("events")
        for event in events if isinstance(events, list) else ():
            if event.get("type") == "text_delta" and event.get("attempt") == attempt:
                said.append(event["text"])
    return "".join(said)


@pytest.mark.timeout(180)  # warm-ups, a lease to lapse, an answer to stream: bounded waits that add up
async def test_a_worker_woken_past_its_lease_publishes_nothing_of_what_came_during_its_pause(
    fleet: Fleet, admin: redis.Redis, sim: SimServer, scenario_dir: Path
) -> None:
    write_scenario(scenario_dir, "paused-answer", PAUSED_ANSWER)
    provider = f'[providers.far]\nkind = "sim"\nbase_url = "{sim.url}/v1"\n'
    config = fleet.config(LEASE + provider, "far.toml")
    ticket = TICKET
    for name in ("w1", "w2"):
        fleet.start(name, config=config)
    await until(lambda: fleet.ready("w1") and fleet.ready("w2"), 90)  # the other takes over in a lease
    coordinator = coordinate(fleet, fleet.lfg.tickets(ticket), config=config)
    try:
        await until(lambda: len(sim.log) == 1 and len(sim.log[0].token_times) > 5, 60)
        [taker] = [name for name in ("w1", "w2") if "took t of run" in fleet.said(name)]
        first = fleet.workers[taker]
        first.send_signal(signal.SIGSTOP)
        while not stopped(first.pid):  # no await: the sim sends nothing until it is
            os.sched_yield()
        stopped_at = time.monotonic()
        try:
            await until(lambda: len(sim.log) == 2 and len(sim.log[1].token_times) > 5, 90)
        finally:
            first.send_signal(signal.SIGCONT)
        await until(lambda: "(attempt 1):" in fleet.said(taker), 60)
        code, events, err = await asyncio.to_thread(finish, coordinator)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
            await asyncio.to_thread(coordinator.communicate, timeout=30 * PATIENCE)
    assert code == 0, err
    assert ends(events) == {("t", 1): "interrupted", ("t", 2): "completed"}, err
    [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
    answer = text([e for e in events if e["attempt"] == 2], "t")
    paused = sim.log[0]
    before = sum(sent < stopped_at for sent in paused.token_times)
    assert len(paused.token_times) > before, "the sim sent more during the pause"
    late = published_text(admin, run_id, 1)
    assert answer.startswith(late) and len(late) <= len("".join(split_tokens(answer)[:before])), (
        f"{taker} published only what came before its pause: {len(late)} characters"
    )
    assert paused.ended_at is None and paused.disconnected_at is not None, (
        "its stream was closed, not read to its end"
    )
    assert len(sim.log) == 2, "one call per attempt"
    said = fleet.said(taker)
    assert "events that came while its lease was in doubt, unpublished" in said, said
