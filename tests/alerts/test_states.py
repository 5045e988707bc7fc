"""The attention state machine (alerts/states.py), fed events as a run emits them."""

from __future__ import annotations

from typing import Any

import pytest

from lfgtui.alerts.states import Attentions, State, ends_on_question
from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptStarted,
    DiffUpdated,
    ErrorInfo,
    ErrorKind,
    Event,
    Outcome,
    Stalled,
    Status,
    TextDelta,
    ToolCallReady,
)
from lfgtui.formats import waited


class Feed:
    """Events of one run with a clock that moves one second per event."""

    def __init__(self, attentions: Attentions) -> None:
        self.attentions = attentions
        self.t = 0.0

    def __call__(
        self, cls: type[Event], ticket: str, attempt: int = 1, **fields: Any
    ) -> list[tuple[str, State]]:
        self.t += 1
        event = cls(ticket=ticket, attempt=attempt, seq=0, t=self.t, **fields)
        return [(s.ticket, s.state) for s in self.attentions.apply(event)]

    def state(self, ticket: str) -> State:
        return self.attentions.standings[ticket].state


def ended(
    feed: Feed, ticket: str, outcome: Outcome = Outcome.COMPLETED, **fields: Any
) -> list[tuple[str, State]]:
    return feed(AttemptEnded, ticket, outcome=outcome, **fields)


def test_a_ticket_goes_from_waiting_through_approval_to_done_unread_then_done() -> None:
    feed = Feed(Attentions({"a": ()}))
    assert feed.state("a") is State.WAITING
    assert feed(AttemptStarted, "a", provider="p", model="m") == [("a", State.WORKING)]
    assert feed(TextDelta, "a", text="Let me look.") == []
    asked = dict(call_id="c1", name="run_command", arguments={"command": "ls"}, message="")
    assert feed(ApprovalAsked, "a", **asked) == [("a", State.APPROVAL)]
    assert feed(ApprovalAsked, "a", **(asked | {"call_id": "c2"})) == [], "one state change for two requests"
    answer = dict(allowed=True, by="you", message="")
    assert feed(ApprovalAnswered, "a", call_id="c1", **answer) == [], "one request is still open"
    assert feed(ApprovalAnswered, "a", call_id="c2", **answer) == [("a", State.WORKING)]
    assert ended(feed, "a") == [("a", State.UNREAD)]
    assert feed.attentions.unread()[0].ticket == "a"
    looked = feed.attentions.looked("a")
    assert looked is not None and looked.state is State.DONE and looked.previous is State.UNREAD
    assert feed.attentions.looked("a") is None, "read once"


def test_a_turn_that_ends_on_a_question_asks_the_person_and_a_follow_up_answers_it() -> None:
    feed = Feed(Attentions())
    feed(AttemptStarted, "a", provider="p", model="m")
    feed(TextDelta, "a", text="I changed the parser.\n\nShould I also update the **docs?**\n")
    assert ended(feed, "a") == [("a", State.ASKED)]
    standing = feed.attentions.standings["a"]
    assert standing.detail == "Should I also update the **docs?**" and standing.label == "asked?"
    assert standing.needs_you and standing.since == feed.t
    assert feed.attentions.looked("a") is not None and feed.state("a") is State.ASKED, (
        "looking answers nothing"
    )
    assert feed(AttemptStarted, "a", attempt=2, provider="p", model="m") == [("a", State.WORKING)]


def test_only_the_last_message_counts_a_tool_call_starts_a_new_one() -> None:
    feed = Feed(Attentions())
    feed(AttemptStarted, "a", provider="p", model="m")
    feed(TextDelta, "a", text="Which file? Let me search.")
    feed(TextDelta, "a", text=" Maybe this one?")
    feed(ToolCallReady, "a", call_id="c", name="read_file", arguments={}, raw_arguments="{}")
    feed(TextDelta, "a", text="Done: fixed it.")
    assert ended(feed, "a") == [("a", State.UNREAD)]


@pytest.mark.parametrize(
    ("message", "asked"),
    [
        ("Shall I go on?", True),
        ("Want me to push it?)", True),
        ("\u8981\u7ee7\u7eed\u5417\uff1f", True),
        ('He said "why?"', True),
        ("All done.", False),
        ("Is it fixed? Yes, it is.", False),
        ("", False),
        ("Here:\n```python\nif x?\n```", False),
        ("Here:\n```\nwhat?", False),
        ("    code()?", False),
        ("> Did you mean this?", False),
    ],
)
def test_the_question_rule(message: str, asked: bool) -> None:
    assert ends_on_question(message) is asked


def test_a_stall_ends_with_the_agents_next_event_not_with_lfgs_own_measure() -> None:
    feed = Feed(Attentions())
    feed(AttemptStarted, "a", provider="p", model="m")
    assert feed(Stalled, "a", message="quiet", idle_s=30.0, limit_s=60.0) == [("a", State.STALLED)]
    assert feed(DiffUpdated, "a", added=1, removed=0, files=1, text=None) == []
    assert feed(Status, "a", message="still here") == [("a", State.WORKING)]


def test_ends_failed_cancelled_and_skipped_and_what_a_dependent_waits_on() -> None:
    feed = Feed(Attentions({"a": (), "b": (), "c": ("a", "b")}))
    assert feed.attentions.standings["c"].label == "waiting on a, b"
    feed(AttemptStarted, "a", provider="p", model="m")
    feed(AttemptStarted, "b", provider="p", model="m")
    assert ended(feed, "a") == [("a", State.UNREAD), ("c", State.WAITING)]
    assert feed.attentions.standings["c"].label == "waiting on b"
    error = ErrorInfo(kind=ErrorKind.AUTH, message="bad key", status=401)
    assert ended(feed, "b", Outcome.FAILED, error=error) == [("b", State.FAILED)]
    assert feed.attentions.standings["b"].unread, "a failure is unread until looked at"
    assert [s.ticket for s in feed.attentions.unread()] == ["a", "b"]
    assert ended(feed, "c", Outcome.SKIPPED) == [("c", State.CANCELLED)]
    assert feed.attentions.standings["c"].detail == "skipped"


def test_needs_you_is_the_longest_waiting_first() -> None:
    feed = Feed(Attentions())
    for ticket in ("a", "b"):
        feed(AttemptStarted, ticket, provider="p", model="m")
    feed(TextDelta, "b", text="Ok?")
    ended(feed, "b")
    feed(ApprovalAsked, "a", message="", call_id="c", name="write_file", arguments={})
    assert [s.ticket for s in feed.attentions.needs_you()] == ["b", "a"]


def test_how_long_it_waited_reads() -> None:
    assert [waited(s) for s in (5, 60, 14 * 60 + 59, 125 * 60)] == [
        "<1 min",
        "1 min",
        "14 min",
        "2 h 5 min",
    ]


def test_a_request_asked_after_its_attempt_ended_leaves_the_ticket_as_it_ended_once_answered() -> None:
    """An agent's request that came before its prompt's answer is asked even once the attempt has
    ended (docs/guides/coding-agents.md): it needs the person, and answered, the ticket stands as
    it ended, never working again with no attempt running."""
    feed = Feed(Attentions())
    feed(AttemptStarted, "a", provider="p", model="m")
    assert ended(feed, "a") == [("a", State.UNREAD)]
    asked = dict(call_id="c1", name="write_file", arguments={}, message="")
    assert feed(ApprovalAsked, "a", **asked) == [("a", State.APPROVAL)]
    assert feed(ApprovalAnswered, "a", call_id="c1", allowed=True, by="you", message="") == [
        ("a", State.UNREAD)
    ]
    assert feed.attentions.standings["a"].unread
    looked = feed.attentions.looked("a")
    assert looked is not None and looked.state is State.DONE
    feed(ApprovalAsked, "a", **(asked | {"call_id": "c2"}))
    feed(ApprovalAnswered, "a", call_id="c2", allowed=False, by="you", message="")
    assert feed.state("a") is State.DONE, "as the person last saw it"
    assert feed(AttemptStarted, "a", attempt=2, provider="p", model="m") == [("a", State.WORKING)]
    feed(ApprovalAsked, "a", attempt=2, **asked)
    assert feed(ApprovalAnswered, "a", attempt=2, call_id="c1", allowed=True, by="you", message="") == [
        ("a", State.WORKING)
    ], "a running attempt goes on working"
