"""Every request a person may make of a run (lfgtui/run/requests.py) meets the run in one place: a row
of run/decisions.py `DECISIONS` (what the run does, what the asker is told), or a line of `ABOVE`
saying why the UI decides it above the engine. Checked as the event translations are: a request added
to the vocabulary fails here, named, until it is decided; and whoever asks (the person here, a
watcher, a coordinator's worker) is told the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from lfgtui.providers.registry import Providers
from lfgtui.run import requests
from lfgtui.run.approvals import Approvals
from lfgtui.run.decisions import ABOVE, DECISIONS
from lfgtui.run.requests import (
    YOU,
    AddTicket,
    Approve,
    Cancel,
    CancelChild,
    Refusal,
    Request,
    Resume,
    Retry,
    Steer,
    Synthesize,
    request_types,
)
from lfgtui.run.scheduler import Run
from tests.support.recording import ticket


def undecided(types: tuple[type[Request], ...]) -> list[str]:
    """The requests of the vocabulary neither decided by the run nor declared above it, and those
    that are both. Only those run/requests.py holds count: a class another test made and let go of
    may live on as a subclass until it is collected."""
    return [
        f"{cls.__name__} is neither decided by the run nor declared above it"
        for cls in types
        if getattr(requests, cls.__name__, None) is cls and (cls in DECISIONS) == bool(ABOVE.get(cls))
    ]


def test_every_request_is_decided_by_the_run_or_declared_above_it_with_a_reason() -> None:
    assert undecided(request_types()) == []
    assert all(reason.strip() for reason in ABOVE.values()), "each with its reason"


def test_a_request_added_to_the_vocabulary_is_named_until_decided(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass(frozen=True)
    class Throwaway(Request):
        kind: ClassVar[str] = "throwaway"
        ticket: str

    monkeypatch.setattr(requests, "Throwaway", Throwaway, raising=False)
    assert undecided(request_types()) == ["Throwaway is neither decided by the run nor declared above it"]


def test_what_reaches_a_worker_is_what_a_watcher_may_send_too() -> None:
    """The control stream carries a request in the form a watcher sends (`encode`), which reads back
    only `served` requests: each that must reach the attempt is one."""
    reaching = {cls for cls, decision in DECISIONS.items() if decision.reaches}
    assert reaching == {Cancel, CancelChild, Approve, Steer}
    assert all(cls.served for cls in reaching)


async def test_whoever_asks_is_told_the_same_refusal_in_words() -> None:
    """A run with one ticket not yet started: each request it cannot do is refused with the run's
    words, the same for the person here as for a watcher."""
    run = Run((ticket("t"),), Providers(), Approvals(askable=True), [])
    for who in (YOU, "203.0.113.9 (lfg attach)"):
        assert run.ask(Cancel("t"), who) == Refusal("t is not running")
        assert run.ask(Resume("t"), who) == Refusal("t is not paused for its quota")
        assert run.ask(Approve("t", "c1", True), who) == Refusal(
            "no call 'c1' of t waits for approval (answered already, or it ended)"
        )
        assert run.ask(CancelChild("t", "s1"), who) == Refusal("t runs no coding agent's turn now")
        assert run.ask(Retry("nobody"), who) == Refusal("the run has no ticket 'nobody'")
        assert run.ask(AddTicket({"prompt": "x"}), who) == Refusal(
            "this run takes no new tickets: only `lfg run` adds them to the run it runs, and `lfg resume` "
            "to a run that recorded its [defaults]"
        )
    with pytest.raises(TypeError, match="not the run's to decide"):
        run.ask(Synthesize("t"), YOU)
