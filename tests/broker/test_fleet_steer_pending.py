"""A steer to a worker that does not answer within the coordinator's wait (paused: SIGSTOP, still under
its lease) is pending, neither refused nor delivered, and lands exactly once (issue #74). Before, the
coordinator took the silence for a refusal and queued the steer as the next turn ("has no safe point
to steer at"), and the worker, waking, steered it into the running turn too: the agent got it twice.
A steer a worker took before it died is carried to the attempt that takes the ticket over. A real
`lfg worker` running the sim ACP agent, whose turn a permission request holds open, the
coordinator in this process on a real redis-server."""

from __future__ import annotations

import os
import signal

import httpx2
import pytest

from lfgtui.events import ApprovalAsked, Holding, Outcome, PromptSent, Status, Steered, TextDelta
from lfgtui.run.requests import Steer
from tests.support.fleet import LEASE, Fleet, agent_provider, stopped, until
from tests.support.fleet_steering import SIM_AGENT, approve_all, asked, coordinating, serving
from tests.support.patience import PATIENCE
from tests.support.serving import TOKEN

STEER = "Also say the word PELICAN."
LONG_LEASE = "[broker]\nlease_s = 60\n"
"""The worker's lease outlasts its pause (the coordinator's wait, 10 s): its attempt runs on."""


@pytest.mark.timeout(180)  # the agent starts, the coordinator waits its 10 s, the turn ends
async def test_a_steer_to_a_worker_paused_past_the_coordinators_wait_lands_once(fleet: Fleet) -> None:
    """Asked through the coordinator's served API (`lfg run --broker --serve --control`), as a watcher
    or the inbox asks it: the answer is 202, pending, in words (nothing tested that answer before)."""
    command = [*SIM_AGENT, "--steering", "injected"]
    worker = fleet.start("w1", config=fleet.config(LONG_LEASE + agent_provider(command), "w1.toml"))
    async with coordinating(fleet, start=False) as (run, events, tickets), serving(run, tickets) as url:
        run.start()
        await until(lambda: any(isinstance(e, ApprovalAsked) for e in events), timeout=90)
        worker.send_signal(signal.SIGSTOP)
        while not stopped(worker.pid):
            os.sched_yield()
        try:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx2.AsyncClient(base_url=url, headers=headers, timeout=60 * PATIENCE) as client:
                told = await client.post(
                    "/v1/requests", json={"request": "steer", "ticket": "a", "text": STEER}
                )
        finally:
            worker.send_signal(signal.SIGCONT)
        await until(lambda: any(isinstance(e, Holding) and e.sent for e in events), timeout=60)
        await approve_all(run, events)
        assert await run.wait() == {"a": Outcome.COMPLETED}
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    landed = answer.count(f"(steered mid-turn, idleBehavior promptRequired: {STEER})")
    prompts = [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)]
    assert (landed, prompts) == (1, [(1, "go")]), "the agent got it once, mid-turn, and no next turn of it"
    assert [(e.attempt, e.text) for e in events if isinstance(e, Steered)] == [(1, STEER)]
    assert not any("has no safe point" in e.message for e in events if isinstance(e, Holding))
    assert told.status_code == 202, told.text
    said = told.json()
    assert said["ok"] is True and "has not answered in 10 s" in said["pending"], said
    assert "the steer is pending" in said["pending"], said


@pytest.mark.timeout(240)  # two agents start, a lease lapses, the turn runs again
async def test_a_steer_taken_by_a_worker_that_then_dies_is_carried_to_the_next_attempt(fleet: Fleet) -> None:
    """The worker that steered its agent is killed; another takes the ticket over as attempt 2, which
    runs the turn again from its prompt: the steer goes to it too, once (as a local retry replays
    the steers its attempt took). Before, attempt 2 ran the first prompt alone: the steer was lost
    without a word."""
    config = fleet.config(LEASE + agent_provider([*SIM_AGENT, "--steering", "injected"]), "agents.toml")
    for name in ("w1", "w2"):
        fleet.start(name, config=config)
    async with coordinating(fleet) as (run, events, _):
        await until(lambda: any(isinstance(e, ApprovalAsked) for e in events), timeout=90)
        assert await asked(run, Steer("a", STEER)) is None
        await until(lambda: any(isinstance(e, Holding) and e.sent for e in events), timeout=60)
        [taker] = [name for name in ("w1", "w2") if "took a of run" in fleet.said(name)]
        fleet.workers[taker].send_signal(signal.SIGKILL)
        await until(lambda: any(isinstance(e, ApprovalAsked) and e.attempt == 2 for e in events), 90)
        await approve_all(run, events)
        assert await run.wait() == {"a": Outcome.COMPLETED}
    steered = [(e.attempt, e.text) for e in events if isinstance(e, Steered)]
    again = [e.text for e in events if isinstance(e, PromptSent) and e.text == STEER]
    # attempt 1's agent took it, but its turn never ended: no user turn of it there (not known read)
    assert len(steered) + len(again) == 1 and all(attempt == 2 for attempt, _ in steered), (steered, again)
    carried = [e.message for e in events if isinstance(e, Status) and "is carried to attempt 2" in e.message]
    assert carried and STEER in carried[0], carried
