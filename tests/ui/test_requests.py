"""Every request a person may make of a run (lfgtui/run/requests.py) is declared once, in
ui/run/controller.py `REQUESTS`: the key that asks it, with its help line, and who carries it out in a
run here, one another lfg serves and a record, or why nobody does; a request a watcher may send is
one the run decides (run/decisions.py `DECISIONS`) or the served run's control does above it.
Checked as the event translations are: a request added to the vocabulary fails here, named, until it
is declared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from lfgtui.remote.server import EngineControls
from lfgtui.run import requests
from lfgtui.run.approvals import Reply
from lfgtui.run.decisions import ABOVE, DECISIONS
from lfgtui.run.requests import (
    AddTicket,
    Answer,
    Approve,
    Cancel,
    EditHeld,
    FollowUp,
    RemoveHeld,
    Request,
    RequestError,
    Synthesize,
    decode,
    encode,
    request_types,
)
from lfgtui.ui.run.controller import REQUESTS, Why
from tests.support.keys import bindings_by_id

ABOVE_SERVED = {Synthesize: "synthesize"}
"""The served requests decided above the run, by the served run's control that carries each out."""


def undeclared(types: tuple[type[Request], ...]) -> list[str]:
    """What is missing of each request's declaration."""
    keys = bindings_by_id()
    missing = []
    for cls in types:
        declared = REQUESTS.get(cls)
        if declared is None:
            missing.append(f"{cls.__name__} is not declared")
            continue
        binding = keys.get(declared.binding)
        if binding is None or not binding.tooltip:
            missing.append(f"{cls.__name__}: no key with a help line ({declared.binding})")
        for where in ("local", "remote", "record"):
            handler = getattr(declared, where)
            if isinstance(handler, Why) and not (handler.said or where == "record"):
                missing.append(f"{cls.__name__}: no {where} handler, and no reason why")
        if cls.served and not (
            cls in DECISIONS or callable(getattr(EngineControls, ABOVE_SERVED.get(cls, ""), None))
        ):
            missing.append(f"{cls.__name__}: a watcher may send it, and nothing serves it")
    return missing


def test_every_request_has_a_key_a_help_line_and_its_handlers_or_says_why_not() -> None:
    assert undeclared(request_types()) == []
    served = {cls for cls in request_types() if cls.served}
    assert set(ABOVE_SERVED) == served & set(ABOVE), "a served route for each, only"


def test_a_refused_local_request_is_told_as_a_record_tells_it() -> None:
    """A handler here that returns REFUSED is answered by the record's reason: there must be one."""
    assert [
        cls.__name__
        for cls, d in REQUESTS.items()
        if not isinstance(d.local, Why) and not isinstance(d.record, Why)
    ] == ["TakeWinner"]


def test_a_request_added_to_the_vocabulary_is_named_until_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass(frozen=True)
    class Throwaway(Request):
        kind: ClassVar[str] = "throwaway"
        served: ClassVar[bool] = True
        ticket: str

    monkeypatch.setattr(requests, "Throwaway", Throwaway, raising=False)
    assert Throwaway in request_types()
    assert undeclared(request_types()) == ["Throwaway is not declared"]


@pytest.mark.parametrize(
    "asked",
    [
        Cancel("a"),
        Approve("a", "call-1", False),
        Answer("a", "e1", Reply("accept", {"name": "v4", "n": 2})),
        FollowUp("a", "go on"),
        EditHeld("a", 3, "then a haiku"),
        RemoveHeld("a", 3),
        Synthesize("t"),
        AddTicket({"id": "b", "prompt": "x", "tools": ["read_file"], "depends_on": ["a"]}),
    ],
    ids=lambda asked: asked.kind,
)
def test_a_served_request_is_read_back_as_sent(asked: Request) -> None:
    assert decode(encode(asked)) == asked


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ([], "a JSON object"),
        ({"request": "land", "ticket": "a"}, "expected one of"),
        ({"request": "cancel"}, "cancel: ticket is missing"),
        (
            {"request": "approve", "ticket": "a", "call": "c", "allowed": "yes"},
            "allowed must be true or false",
        ),
        (
            {"request": "answer", "ticket": "a", "elicitation": "e", "reply": {"action": "go"}},
            "reply must be",
        ),
        ({"request": "retry", "ticket": 3}, "ticket must be text"),
        ({"request": "remove-held", "ticket": "a", "held": True}, "held must be a held message's id"),
        ({"request": "remove-held", "ticket": "a", "held": 0}, "held must be a held message's id"),
        ({"request": "add-ticket", "ticket": "x"}, "add-ticket: ticket must be a JSON object"),
        ({"request": "add-ticket", "ticket": {"tools": [[[[]]]]}}, "ticket nests deeper than"),
    ],
)
def test_a_request_that_is_not_one_says_which_field(body: object, said: str) -> None:
    with pytest.raises(RequestError, match=said):
        decode(body)
