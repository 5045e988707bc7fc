"""An agent's question as a form in the attention states (alerts/states.py): certain ("asked you"),
needing the person while it is open and not a stall, behind an open permission request, and nothing at
all when nobody could answer it (declined at once)."""

from __future__ import annotations

from lfgtui.alerts.states import Attentions, State
from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptStarted,
    ElicitationAnswered,
    ElicitationAsked,
    EventFactory,
    Stalled,
)


def question(ev: EventFactory, number: int, waits: bool = True) -> ElicitationAsked:
    return ev(
        ElicitationAsked,
        message="asks",
        elicitation_id=f"elicitation-{number}",
        question=f"Question {number}?",
        form={},
        waits=waits,
    )


def answered(ev: EventFactory, number: int) -> ElicitationAnswered:
    return ev(
        ElicitationAnswered, message="ok", elicitation_id=f"elicitation-{number}", action="decline", by="you"
    )


def test_an_open_question_is_asked_you_until_answered() -> None:
    ev, attention = EventFactory("t", 1), Attentions({"t": ()})
    attention.apply(ev(AttemptStarted, provider="sim-acp", model="elicit"))
    (asked,) = attention.apply(question(ev, 1))
    assert (asked.state, asked.label, asked.detail, asked.inferred) == (
        State.ASKED,
        "asked you",
        "Question 1?",
        False,
    )
    assert asked.needs_you and asked.as_json(0.0)["inferred"] is False
    assert attention.apply(ev(Stalled, message="quiet", idle_s=31.0, limit_s=300.0)) == (), "waiting on you"
    (back,) = attention.apply(answered(ev, 1))
    assert back.state is State.WORKING


def test_a_permission_request_comes_first_and_the_question_stays() -> None:
    ev, attention = EventFactory("t", 1), Attentions({"t": ()})
    attention.apply(ev(AttemptStarted, provider="sim-acp", model="elicit"))
    attention.apply(ev(ApprovalAsked, message="a", call_id="c1", name="write_file", arguments={}))
    assert attention.apply(question(ev, 1)) == (), "still needs approval"
    (still,) = attention.apply(ev(ApprovalAnswered, message="y", call_id="c1", allowed=True, by="you"))
    assert (still.state, still.detail) == (State.ASKED, "Question 1?")
    attention.apply(question(ev, 2))
    (next_one,) = attention.apply(answered(ev, 1))
    assert (next_one.state, next_one.detail) == (State.ASKED, "Question 2?")
    assert attention.apply(answered(ev, 2))[0].state is State.WORKING


def test_a_question_nobody_could_answer_moves_nothing() -> None:
    ev, attention = EventFactory("t", 1), Attentions({"t": ()})
    attention.apply(ev(AttemptStarted, provider="sim-acp", model="elicit"))
    assert attention.apply(question(ev, 1, waits=False)) == ()
    assert attention.apply(answered(ev, 1)) == ()
    assert attention.standings["t"].state is State.WORKING
