"""Every place that translates events says, for every event type, what it does with it or why it
leaves it alone: an event type added to lfgtui/events.py fails here, naming each place that has not
decided, instead of being silently dropped there. So does every fact of the run (contest.py `FACTS`: a
check's result, a verdict), which goes out through the same sinks: each place handles it, or ignores
`RunFact` (what only reads attempts leaves every fact alone)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lfgtui import events
from lfgtui.alerts.moments import MOMENTS
from lfgtui.alerts.states import ATTENTION
from lfgtui.commands.headless import JSON_LINES, PROGRESS
from lfgtui.contest import FACTS
from lfgtui.cost.metrics import BOOK, METRICS
from lfgtui.events import Event, RunFact, Status, Translation, event_types
from lfgtui.history.rebuild import REBUILT
from lfgtui.history.recorder import RECORDED
from lfgtui.remote.codec import CODEC
from lfgtui.remote.hub import HUB
from lfgtui.remote.inbox import INBOX
from lfgtui.telemetry.metered import METERED
from lfgtui.telemetry.spans import SPANS
from lfgtui.tournament.referee import REFEREE
from lfgtui.ui.screens.verdict import NEWS
from lfgtui.ui.widgets.pane import PANE

TRANSLATIONS: tuple[Translation[object], ...] = (
    RECORDED,
    REBUILT,
    JSON_LINES,
    PROGRESS,
    CODEC,
    PANE,
    METERED,
    METRICS,
    BOOK,
    MOMENTS,
    ATTENTION,
    SPANS,
    REFEREE,
    INBOX,
)

FACT_TRANSLATIONS: tuple[Translation[object], ...] = (HUB, NEWS)
"""What takes only the run's facts: an attempt's events reach the same consumer through one of
`TRANSLATIONS` (the hub's through the codec, the TUI's through the pane)."""


def undecided(
    types: tuple[type[Event], ...], translations: tuple[Translation[object], ...] = TRANSLATIONS
) -> list[str]:
    return [
        f"{translation.name}: {cls.__name__} is neither handled nor ignored"
        for translation in translations
        for cls in translation.untranslated(types)
    ]


def test_every_event_type_is_handled_or_ignored_by_every_translation() -> None:
    assert undecided(event_types()) == []


def test_an_event_type_added_to_the_vocabulary_is_named_wherever_it_is_undecided(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Throwaway(Status):
        detail: str

    monkeypatch.setattr(events, "Throwaway", Throwaway, raising=False)
    assert Throwaway in event_types()
    named = [f"{translation.name}: Throwaway is neither handled nor ignored" for translation in TRANSLATIONS]
    assert undecided(event_types()) == named


def test_every_fact_of_the_run_is_handled_or_ignored_by_every_consumer_of_events() -> None:
    assert undecided(FACTS, (*TRANSLATIONS, *FACT_TRANSLATIONS)) == []


def test_a_fact_added_to_the_run_is_named_wherever_it_is_undecided() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Throwaway(RunFact):
        detail: str

    everywhere = (*TRANSLATIONS, *FACT_TRANSLATIONS)
    named = [
        f"{translation.name}: Throwaway is neither handled nor ignored"
        for translation in everywhere
        if RunFact not in translation.ignored
    ]
    assert undecided((Throwaway,), everywhere) == named
    assert {"history recorder", "headless NDJSON", "remote hub", "verdict screen"} <= {
        translation.name for translation in everywhere if RunFact not in translation.ignored
    }, "what shows or keeps a verdict decides each fact by name"


def test_the_walk_finds_every_event_class_of_the_module_and_only_those() -> None:
    defined = {
        value
        for value in vars(events).values()
        if isinstance(value, type) and issubclass(value, Event) and value is not Event
    }
    defined -= {RunFact}  # the base of the run's facts, which are not an attempt's events
    found = event_types()
    assert set(found) == defined and len(found) == len(defined)
    assert {events.Retrying, events.Queued, events.ApprovalAsked} <= defined  # subclasses of a subclass
    assert RunFact not in found and not set(FACTS) & set(found), "the run's facts are not an attempt's"


@pytest.mark.parametrize(
    "translation", (*TRANSLATIONS, *FACT_TRANSLATIONS), ids=lambda translation: translation.name
)
def test_each_type_is_either_handled_or_ignored_with_a_reason(translation: Translation[object]) -> None:
    assert not translation.handlers.keys() & translation.ignored.keys()
    assert set(translation.handlers) | set(translation.ignored) <= {*event_types(), *FACTS, RunFact}
    assert all(reason.strip() for reason in translation.ignored.values())
