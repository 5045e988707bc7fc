"""Steering a ticket of a coordinated run (`lfg run --broker`): the coding agent runs on a real
`lfg worker` (the sim ACP agent, its turn held open by a permission request the coordinator's person
answers), the coordinator in this process on a real redis-server. A steer on the coordinator reaches
the worker's run, which steers the agent's turn; one the worker's turn cannot take is queued by the
coordinator as the ticket's next turn, which a worker runs."""

from __future__ import annotations

import pytest

from lfgtui.broker.work import MAX_NOTE, ControlEntry, WorkError
from lfgtui.events import ApprovalAsked, Holding, Outcome, PromptSent, Steered, TextDelta
from lfgtui.run.requests import Approve, Request, Steer
from lfgtui.run.steering import MAX_MESSAGE_CHARS
from tests.support.fleet import STEADY, Fleet, agent_provider, until
from tests.support.fleet_steering import SIM_AGENT, approve_all, asked, coordinating

STEER = "Also say the word PELICAN."


async def test_a_steer_on_the_coordinator_reaches_the_workers_agent_mid_turn(fleet: Fleet) -> None:
    command = [*SIM_AGENT, "--steering", "injected"]
    fleet.start("w1", config=fleet.config(STEADY + agent_provider(command), "w1.toml"))
    async with coordinating(fleet) as (run, events, _):
        await until(lambda: any(isinstance(e, ApprovalAsked) for e in events), timeout=90)
        assert await asked(run, Steer("a", STEER)) is None
        await until(lambda: any(isinstance(e, Holding) and e.sent for e in events), timeout=60)
        await approve_all(run, events)
        assert await run.wait() == {"a": Outcome.COMPLETED}
    assert f"asks {Steer('a', STEER)!r}" in fleet.said("w1"), "the request itself reached the worker's run"
    assert [(e.attempt, e.text) for e in events if isinstance(e, Steered)] == [(1, STEER)]
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert f"(steered mid-turn, idleBehavior promptRequired: {STEER})" in answer
    assert [e.text for e in events if isinstance(e, PromptSent)] == ["go"], "the same turn"


async def test_a_steer_the_workers_turn_cannot_take_is_the_coordinators_next_turn(fleet: Fleet) -> None:
    fleet.start("w1", config=fleet.config(STEADY + agent_provider(SIM_AGENT), "w1.toml"))
    async with coordinating(fleet) as (run, events, _):
        await until(lambda: any(isinstance(e, ApprovalAsked) for e in events), timeout=90)
        assert await asked(run, Steer("a", STEER)) is None
        queued = [e.message for e in events if isinstance(e, Holding)]
        assert any("has no safe point to steer at" in m for m in queued), queued
        await approve_all(run, events)
        await until(lambda: any(isinstance(e, PromptSent) and e.text == STEER for e in events), timeout=90)
        await approve_all(run, events)
        assert await run.wait() == {"a": Outcome.COMPLETED}
    assert "has no safe point to steer at on this worker" not in " ".join(
        e.message for e in events if isinstance(e, Holding)
    ), "the worker refused it to its coordinator, which queued it"
    assert f"asks {Steer('a', STEER)!r}" in fleet.said("w1"), "carried to the worker first"
    assert [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)] == [(1, "go"), (2, STEER)]
    assert not any(isinstance(e, Steered) for e in events)


def test_a_steer_on_the_control_stream_holds_a_prompts_worth_and_no_more() -> None:
    """A steer is read back as long as the person may write it (`MAX_MESSAGE_CHARS`), where the
    control stream's other texts hold a note's worth."""
    long = "x" * MAX_MESSAGE_CHARS
    assert ControlEntry.read(entry(Steer("a", long))).request == Steer("a", long)
    with pytest.raises(WorkError):
        ControlEntry.read(entry(Steer("a", long + "x")))
    with pytest.raises(WorkError):
        ControlEntry.read(entry(Approve("a", "c" * (MAX_NOTE + 1), True)))


def entry(request: Request) -> dict[bytes, bytes]:
    return {key.encode(): value for key, value in ControlEntry(request, "ada", "1-0").fields().items()}
