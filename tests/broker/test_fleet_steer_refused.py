"""A steer the worker's agent turns down mid-turn (`promptRequired`, `failed`): the worker's run
holds it again as a next turn, and the coordinator, whose attempts they are, sends it as the ticket's
next turn, which a worker runs; it is never lost, and never a turn the coordinator does not know."""

from __future__ import annotations

import pytest

from lfgtui.events import ApprovalAsked, Holding, Outcome, PromptSent, Steered
from lfgtui.run.requests import Steer
from tests.support.fleet import STEADY, Fleet, agent_provider, until
from tests.support.fleet_steering import SIM_AGENT, approve_all, asked, coordinating

STEER = "Also say the word PELICAN."


@pytest.mark.timeout(150)
@pytest.mark.parametrize("outcome", ["promptRequired", "failed"])
async def test_a_steer_the_workers_agent_turns_down_is_the_coordinators_next_turn(
    fleet: Fleet, outcome: str
) -> None:
    command = [*SIM_AGENT, "--steering", outcome]
    fleet.start("w1", config=fleet.config(STEADY + agent_provider(command), "w1.toml"))
    async with coordinating(fleet) as (run, events, _):
        await until(lambda: any(isinstance(e, ApprovalAsked) for e in events), timeout=90)
        assert await asked(run, Steer("a", STEER)) is None
        await until(lambda: any(isinstance(e, Holding) and "did not take" in e.message for e in events), 60)
        await approve_all(run, events)
        await until(lambda: any(isinstance(e, PromptSent) and e.text == STEER for e in events), timeout=90)
        await approve_all(run, events)
        assert await run.wait() == {"a": Outcome.COMPLETED}
    assert [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)] == [(1, "go"), (2, STEER)]
    assert not any(isinstance(e, Steered) for e in events)
