"""The recorder: events to rows, however they are batched, and back to the same events."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.cost.metrics import Metrics
from lfgtui.events import ApprovalAnswered, ApprovalAsked, AttemptEnded, Event, EventFactory, Outcome, Status
from lfgtui.history import writer
from lfgtui.history.rows import unpack_chunks
from lfgtui.history.schema import PartKind
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import FLUSH_INTERVAL_S, open_run_history
from lfgtui.providers.base import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.recording import ANSWER, PROMPT, WALL, events_of, record, sample_attempt, ticket
from tests.support.run import Answerer, run_writer
from tests.support.streams import imported_lfgtui_modules

RAW = '{"path": "."}'
PATH = {"path": "."}
SPLITS = {
    "one batch": lambda items: [items],
    "one event per batch": lambda items: [[item] for item in items],
    "uneven batches": lambda items: [items[:3], items[3:4], items[4:11], items[11:]],
}


def fields_of(event: Event) -> tuple[str, dict[str, object]]:
    values = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    for stamp in ("seq", "t"):
        values.pop(stamp)
    return type(event).__name__, values


@pytest.mark.parametrize("split", SPLITS)
def test_streamed_deltas_become_one_part_per_kind_and_call(tmp_path: Path, split: str) -> None:
    items = sample_attempt()
    recorder = record(tmp_path / "h.sqlite3", tmp_path, *SPLITS[split](items))
    recorder.finish()
    with Store.open(tmp_path / "h.sqlite3") as store:
        (ticket,) = store.load(Selection(recorder.run_id)).tickets
    (attempt,) = ticket.attempts
    kinds = [(p.kind, p.request, p.text) for p in attempt.parts]
    assert kinds == [
        (PartKind.PROMPT, None, PROMPT),
        (PartKind.REASONING, 0, "Look at the files."),
        (PartKind.TEXT, 0, "Let me look."),
        (PartKind.TOOL_CALL, 0, '{"path": "."}'),
        (PartKind.TOOL_RESULT, 0, "README.md\nsrc/"),
        (PartKind.TEXT, 1, ANSWER),
    ]
    assert all(p.sealed for p in attempt.parts)
    reasoning, answer = attempt.parts[1], attempt.parts[5]
    assert unpack_chunks(reasoning.chunks) == [(300, 8), (311, 10)], "to the nearest ms"
    assert reasoning.t_ms == pytest.approx(300.4)
    assert unpack_chunks(answer.chunks) == [(1000, 10), (1020, 20), (1040, len(ANSWER) - 30)]
    assert attempt.parts[4].name == "list_dir" and not attempt.parts[4].is_error


def test_timings_usage_and_summary_match_the_metrics_reducer(tmp_path: Path) -> None:
    items = sample_attempt()
    metrics = Metrics()
    for event in events_of(items):
        metrics.apply(event)
    recorder = record(tmp_path / "h.sqlite3", tmp_path, items)
    recorder.finish()
    with Store.open(tmp_path / "h.sqlite3") as store:
        (attempt,) = store.load(Selection(recorder.run_id)).tickets[0].attempts
    row = attempt.row
    assert row.outcome == "completed" and row.provider == "sim" and row.model == "agent-demo"
    assert row.started_at == WALL and row.ended_at == pytest.approx(WALL + 1.07)
    assert metrics.ttft_s is not None and row.ttft_ms == pytest.approx(metrics.ttft_s * 1000)
    assert row.ttft_reasoning_ms == pytest.approx(299.0)
    assert row.ttft_text_ms == pytest.approx(399.0)
    assert row.tokens_per_s == pytest.approx(metrics.tokens_per_s)
    assert row.output_tokens == metrics.output_tokens == 20 and not row.tokens_estimated
    first, second = attempt.requests
    assert (first.call, first.request_ms, first.stop_reason) == (0, pytest.approx(1.0), "tool_use")
    assert first.first_token_ms == pytest.approx(300.0) and first.last_token_ms == pytest.approx(520)
    assert (first.input_tokens, first.output_tokens, first.chunk_count) == (10, 12, 6)
    assert (second.call, second.first_text_ms, second.output_tokens) == (1, pytest.approx(1000), 8)


def test_the_loaded_events_are_the_original_events_at_their_original_times(tmp_path: Path) -> None:
    items = sample_attempt()
    recorder = record(tmp_path / "h.sqlite3", tmp_path, *SPLITS["uneven batches"](items))
    recorder.finish()
    with Store.open(tmp_path / "h.sqlite3") as store:
        (attempt,) = store.load(Selection(recorder.run_id)).tickets[0].attempts
        loaded = store.attempt_events(attempt.row.id)
    original = events_of(items)
    assert [fields_of(e) for e in loaded] == [fields_of(e) for e in original]
    assert [e.seq for e in loaded] == list(range(len(original)))
    for before, after in zip(original, loaded, strict=True):
        assert after.t == pytest.approx(before.t - 100.0, abs=0.001)
    replayed, recorded = Metrics(), Metrics()
    for event in loaded:
        replayed.apply(event)
    for event in original:
        recorded.apply(event)
    assert replayed.ttft_s == pytest.approx(recorded.ttft_s)
    assert replayed.output_tokens == recorded.output_tokens
    assert replayed.tokens_per_s == pytest.approx(recorded.tokens_per_s, rel=0.01)


def test_the_conversation_can_be_continued(tmp_path: Path) -> None:
    recorder = record(tmp_path / "h.sqlite3", tmp_path, sample_attempt())
    recorder.finish()
    with Store.open(tmp_path / "h.sqlite3") as store:
        (attempt,) = store.load(Selection(recorder.run_id)).tickets[0].attempts
        messages = store.conversation(attempt.row.id)
    assert messages == [
        UserMessage(PROMPT),
        AssistantMessage("Let me look.", "Look at the files.", (ToolCall("c1", "list_dir", PATH, RAW),)),
        ToolResultMessage("c1", "list_dir", "README.md\nsrc/"),
        AssistantMessage(ANSWER),
    ]


def test_attempts_that_never_started_are_recorded_with_their_status(tmp_path: Path) -> None:
    ev = EventFactory("after", 1)
    skipped = [
        ev(Status, message="skipped: first did not complete"),
        ev(AttemptEnded, outcome=Outcome.SKIPPED),
    ]
    recorder = record(tmp_path / "h.sqlite3", tmp_path, skipped, tickets=(ticket("after"),))
    recorder.finish()
    with Store.open(tmp_path / "h.sqlite3") as store:
        (attempt,) = store.load(Selection(recorder.run_id)).tickets[0].attempts
        loaded = store.attempt_events(attempt.row.id)
    assert attempt.row.outcome == "skipped" and attempt.row.provider is None
    assert [p.kind for p in attempt.parts] == [PartKind.STATUS]
    assert [type(e).__name__ for e in loaded] == ["Status", "AttemptEnded"]


def tickets_path(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[defaults]\nprovider = "sim"\n\n'
        '[[ticket]]\nid = "long"\nprompt = "go"\nmodel = "long-answer:repeat=6,tokens_per_s=300"\n\n'
        '[[ticket]]\nid = "after"\nprompt = "Summarise {{ outputs.long }}"\nmodel = "hello"\n'
        'depends_on = ["long"]\n'
    )
    return path


async def test_a_reader_sees_the_stream_while_the_writer_streams(sim: SimServer, tmp_path: Path) -> None:
    loaded = load_tickets(tickets_path(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    db = tmp_path / "data" / "h.sqlite3"
    errors: list[str] = []
    seen: list[str] = []
    async with (
        open_run_history(db, loaded, "lfg run", errors.append) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(), [])
        run.record(history)
        run.start()
        with Store.open(db) as reader:
            selection = Selection(history.run_id, ticket="long")
            while not seen or len(seen) < 3:
                await asyncio.sleep(FLUSH_INTERVAL_S)
                (ticket_record,) = reader.load(selection).tickets
                texts = [p.text for a in ticket_record.attempts for p in a.parts if p.kind == PartKind.TEXT]
                if texts and texts[0] and ticket_record.attempts[0].row.outcome is None:
                    seen.append(texts[0])
            assert reader.recovered == [], "a live run is never marked interrupted"
        outcomes = await run.wait()
    assert errors == []
    assert all(outcome is Outcome.COMPLETED for outcome in outcomes.values())
    assert len(seen[0]) < len(seen[-1]), "the reader saw the answer grow"
    with Store.open(db) as store:
        record_ = store.load(Selection(history.run_id))
        long_answer = "".join(p.text for p in record_.tickets[0].attempts[0].parts if p.kind == PartKind.TEXT)
        after_prompt = record_.tickets[1].attempts[0].parts[0]
        assert run.states["long"].answer == long_answer
        assert after_prompt.kind == PartKind.PROMPT and after_prompt.text == f"Summarise {long_answer}"
        assert record_.row.ended_at is not None
        assert store.search("Streaming section", limit=1)[0].ticket == "long"


async def test_history_off_records_nothing(tmp_path: Path) -> None:
    loaded = load_tickets(tickets_path(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    async with open_run_history(None, loaded, "lfg run", print) as history:
        assert history is None


async def test_an_unusable_file_turns_history_off_with_a_warning(tmp_path: Path) -> None:
    loaded = load_tickets(tickets_path(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    (tmp_path / "not-a-db").write_text("this is not SQLite " * 100)
    errors: list[str] = []
    async with open_run_history(tmp_path / "not-a-db", loaded, "lfg run", errors.append) as history:
        assert history is None
    assert len(errors) == 1 and errors[0].startswith("history is off for this run:")


def test_the_history_learns_what_was_sent_from_events_alone() -> None:
    """The prompt is an event (`PromptSent`): nothing under history/ imports the engine to ask for it."""
    sources = Path(writer.__file__).parent.glob("*.py")
    askers = {p.name for p in sources if any(m.split(".")[1] == "run" for m in imported_lfgtui_modules(p))}
    assert askers == set()


async def test_approvals_asked_and_answered_come_back_from_the_history_as_they_happened(
    sim: SimServer, tmp_path: Path
) -> None:
    answerer = Answerer([True, False])
    db = tmp_path / "h.sqlite3"
    run = await run_writer(sim, tmp_path, Approvals(askable=True), answerer, db)
    with Store.open(db) as store:
        (attempt,) = store.load(Selection(run.run_id)).tickets[0].attempts
        rebuilt = store.attempt_events(attempt.row.id)
    approvals = (ApprovalAsked, ApprovalAnswered)
    live = [fields_of(e) for e in answerer.events if isinstance(e, approvals)]
    assert [fields_of(e) for e in rebuilt if isinstance(e, approvals)] == live
    assert [name for name, _ in live] == ["ApprovalAsked", "ApprovalAnswered"] * 2
