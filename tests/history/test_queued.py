"""An attempt queued on a broker (`AttemptQueued`) is recorded from its worker's start: its row's
start, its wall time and its output times count from the `AttemptStarted`, the wait before it is a
note at a time before that zero, and it comes back from the history with one start, after the
wait. One cancelled while still queued has no start at all; its row is there from its queueing, so
a crash while it waits leaves it as any open attempt."""

from __future__ import annotations

from pathlib import Path

from lfgtui.events import (
    AttemptEnded,
    AttemptQueued,
    AttemptStarted,
    Event,
    EventFactory,
    Outcome,
    PromptSent,
    RequestSent,
    TextDelta,
)
from lfgtui.history.recorder import Item, Started
from lfgtui.history.schema import PartKind
from lfgtui.history.store import Selection, Store
from tests.support.recording import WALL, Clock, record, ticket

WAITS = "queued on the broker: waits for a worker that serves 'sim'"


def queued_attempt(number: int, started: bool) -> list[Item]:
    """Queued at 100 s; a worker starts it 5 s later and it answers, or it is cancelled at 103 s."""
    clock = Clock()
    ev = EventFactory("t", number, clock=clock)
    items: list[Item] = [ev(AttemptQueued, message=WAITS, provider="sim", model="hello")]
    if not started:
        clock.now = 103.0
        return [*items, ev(AttemptEnded, outcome=Outcome.CANCELLED)]
    clock.now = 105.0
    items.append(Started(ev(AttemptStarted, provider="sim", model="hello"), WALL))
    for t, cls, fields in (
        (105.0, PromptSent, {"text": "Say hello."}),
        (105.1, RequestSent, {"call": 0}),
        (105.3, TextDelta, {"text": "Hello"}),
        (105.4, TextDelta, {"text": "!"}),
        (105.5, AttemptEnded, {"outcome": Outcome.COMPLETED}),
    ):
        clock.now = t
        items.append(ev(cls, **fields))
    return items


def test_a_queued_attempt_counts_from_its_workers_start_and_comes_back_with_one_start(
    tmp_path: Path,
) -> None:
    db = tmp_path / "h.sqlite3"
    # queued and started in separate batches (as a wait for a worker has them), then in one batch
    apart, together, cancelled = (queued_attempt(n, started=n < 3) for n in (1, 2, 3))
    recorder = record(db, tmp_path, apart[:1], apart[1:], together, cancelled, tickets=(ticket("t"),))
    recorder.finish()
    with Store.open(db) as store:
        (recorded,) = store.load(Selection(recorder.run_id)).tickets
        first, second, third = recorded.attempts
        rebuilt = [store.attempt_events(a.row.id) for a in (first, second)]
        never = store.attempt_events(third.row.id)
    for attempt, events in zip((first, second), rebuilt, strict=True):
        row = attempt.row
        assert row.started_at == WALL and (row.provider, row.model) == ("sim", "hello")
        assert row.ended_ms is not None and round(row.ended_ms) == 500, "its wall time: from the start"
        assert row.ttft_ms is not None and round(row.ttft_ms) == 200
        assert [round(p.t_ms) for p in attempt.parts if p.kind == PartKind.STATUS] == [-5000]
        assert [type(e) for e in events] == [
            AttemptQueued,
            AttemptStarted,
            PromptSent,
            RequestSent,
            TextDelta,
            TextDelta,
            AttemptEnded,
        ]
        queued = events[0]
        assert isinstance(queued, AttemptQueued)
        assert (queued.message, queued.provider, queued.model) == (WAITS, "sim", "hello")
        assert [round(e.t, 3) for e in events[1:]] == [0.0, 0.0, 0.1, 0.3, 0.4, 0.5]
        assert starts(events) == 1
    assert third.row.provider is None and third.row.ended_ms == 3000  # never started: no worker took it
    assert [type(e) for e in never] == [AttemptQueued, AttemptEnded] and starts(never) == 0


def starts(events: list[Event]) -> int:
    return sum(isinstance(event, AttemptStarted) for event in events)
