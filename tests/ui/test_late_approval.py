"""A pane whose agent's request is asked after its attempt ended: an agent's request that came
before its prompt's answer is asked even then (docs/guides/coding-agents.md). Answered, the pane
shows the attempt as it ended, never running again with nothing running."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.alerts.states import Standing, State
from lfgtui.config.load import Config
from lfgtui.cost.metrics import Metrics
from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptStarted,
    ElicitationAnswered,
    ElicitationAsked,
    EventFactory,
    Outcome,
)
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.widgets.pane import PaneState, Tally, TicketPane


@pytest.mark.parametrize("outcome", [Outcome.COMPLETED, Outcome.FAILED, Outcome.CANCELLED])
def test_an_approval_or_a_question_answered_after_the_end_leaves_the_pane_as_it_ended(
    tmp_path: Path, outcome: Outcome
) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text('[[ticket]]\nid = "t"\nprompt = "x"\n')
    [ticket] = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={}).tickets
    pane = TicketPane(ticket, Tally(), str, Standing("t", State.WAITING, 0.0))
    metrics, ev, next_ev = Metrics(), EventFactory("t", 1), EventFactory("t", 2)
    pane.apply(ev(AttemptStarted, provider="p", model="m"), metrics)
    pane.apply(ev(AttemptEnded, outcome=outcome), metrics)
    ended = PaneState(outcome.value)
    pane.apply(ev(ApprovalAsked, message="", call_id="c1", name="write_file", arguments={}), metrics)
    assert pane.state is PaneState.APPROVAL, "it needs the person"
    pane.apply(ev(ApprovalAnswered, message="", call_id="c1", allowed=True, by="you"), metrics)
    assert pane.state is ended
    form = {"type": "object", "properties": {}}
    pane.apply(ev(ElicitationAsked, message="", elicitation_id="e1", question="Go?", form=form), metrics)
    assert pane.state is PaneState.APPROVAL
    pane.apply(ev(ElicitationAnswered, message="", elicitation_id="e1", action="cancel", by="you"), metrics)
    assert pane.state is ended
    pane.apply(next_ev(AttemptStarted, provider="p", model="m"), metrics)
    pane.apply(next_ev(ApprovalAsked, message="", call_id="c2", name="write_file", arguments={}), metrics)
    pane.apply(next_ev(ApprovalAnswered, message="", call_id="c2", allowed=True, by="you"), metrics)
    assert pane.state is PaneState.RUNNING, "a running attempt goes on running"
