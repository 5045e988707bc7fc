"""Every event type the history records comes back from it as it went in: one sample of each,
written by the real recorder to a SQLite file and rebuilt from its rows (history/rebuild.py). A
type the recorder or the rebuild declares it does not keep (`ignored`, with why) is left out; any
other that comes back different, or has no sample here, is named."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from lfgtui import events
from lfgtui.events import (
    AgentCommand,
    AgentDetails,
    AgentLimit,
    AgentProgress,
    AgentSetting,
    AgentStarted,
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptQueued,
    AttemptStarted,
    CallEnded,
    ContextUsed,
    DiffUpdated,
    ElicitationAnswered,
    ElicitationAsked,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    HeldMessage,
    Holding,
    Outcome,
    PlanStep,
    PlanUpdated,
    PromptSent,
    QuotaSeen,
    ReasoningDelta,
    RequestSent,
    Retrying,
    SessionOpened,
    Stalled,
    Status,
    Steered,
    SubagentChanged,
    SubagentDelta,
    SubagentToolCall,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
    WorktreeReady,
    event_types,
)
from lfgtui.history.rebuild import NOT_AS_RECORDED, REBUILT
from lfgtui.history.recorder import RECORDED, Item, Started
from lfgtui.history.store import Selection, Store
from tests.support.recording import WALL, Clock, events_of, record, ticket

Sample = tuple[type[Event], dict[str, Any]]
RAW = '{"path": "src"}'
CALL: Sample = (ToolCallStarted, {"call_id": "c1", "name": "list_dir"})
READY: Sample = (
    ToolCallReady,
    {"call_id": "c1", "name": "list_dir", "arguments": {"path": "src"}, "raw_arguments": RAW},
)
SAMPLES: dict[type[Event], list[Sample]] = {
    AttemptStarted: [],  # every attempt's first event
    AttemptQueued: [],  # before its attempt's start, never after it: tests/history/test_queued.py
    PromptSent: [(PromptSent, {"text": "And then?", "continues": 1})],
    Steered: [(Steered, {"text": "Answer in French.", "by": "127.0.0.1 (ada)"})],
    Holding: [
        (
            Holding,
            {
                "message": "queued by you as the next turn: and then",
                "held": (
                    HeldMessage(1, "Answer in French.", True, "you"),
                    HeldMessage(2, "and then", False, "you"),
                ),
            },
        ),
        (Holding, {"message": "1 steer(s) sent", "held": ()}),
    ],
    RequestSent: [(RequestSent, {"call": 1, "input_estimate": 40})],
    TextDelta: [(TextDelta, {"text": "Hello, "}), (TextDelta, {"text": "world."})],
    ReasoningDelta: [(ReasoningDelta, {"text": "Think "}), (ReasoningDelta, {"text": "first."})],
    ToolCallStarted: [CALL],
    ToolCallArgsDelta: [CALL, (ToolCallArgsDelta, {"call_id": "c1", "fragment": RAW})],
    ToolCallReady: [
        CALL,
        (ToolCallReady, {**READY[1], "error": "arguments are not an object", "model_input_chars": 12}),
    ],
    ToolResult: [CALL, READY, (ToolResult, {"call_id": "c1", "output": "a.py\nb.py", "is_error": True})],
    Status: [(Status, {"message": "working"})],
    Retrying: [
        (
            Retrying,
            {
                "message": "rate limited: retry 1 of 3 in 2 s",
                "error": ErrorInfo(ErrorKind.RATE_LIMITED, "slow down", 429, 2.0),
                "retry": 1,
                "max_retries": 3,
                "delay_s": 2.0,
            },
        )
    ],
    AgentStarted: [(AgentStarted, {"message": "agent started", "log": "/tmp/agent.log"})],
    SessionOpened: [(SessionOpened, {"message": "session s1", "session_id": "s1", "loaded": True})],
    AgentProgress: [(AgentProgress, {"message": "Fixing the widget", "title": "Fixing the widget"})],
    Stalled: [(Stalled, {"message": "no word for 30 s", "idle_s": 30.0, "limit_s": 300.0})],
    ApprovalAsked: [
        (
            ApprovalAsked,
            {"message": "run ls?", "call_id": "c1", "name": "run_command", "arguments": {"command": "ls"}},
        )
    ],
    ApprovalAnswered: [
        (ApprovalAnswered, {"message": "denied", "call_id": "c1", "allowed": False, "by": "you"})
    ],
    ElicitationAsked: [
        (
            ElicitationAsked,
            {
                "message": "the agent asks you: Name?",
                "elicitation_id": "elicitation-1",
                "question": "Name?",
                "form": {"properties": {"name": {"type": "string"}}, "required": ["name"]},
                "waits": False,
            },
        )
    ],
    ElicitationAnswered: [
        (
            ElicitationAnswered,
            {
                "message": "accepted",
                "elicitation_id": "elicitation-1",
                "action": "accept",
                "content": {"name": "Ada"},
                "by": "you",
            },
        ),
        (
            ElicitationAnswered,
            {
                "message": "declined",
                "elicitation_id": "elicitation-2",
                "action": "decline",
                "content": None,
                "by": "lfg",
            },
        ),
    ],
    PlanUpdated: [
        (
            PlanUpdated,
            {
                "message": "plan: 2 steps",
                "steps": (PlanStep("read", "completed", "high"), PlanStep("fix", "in_progress")),
            },
        )
    ],
    SubagentChanged: [
        (
            SubagentChanged,
            {"message": "sub-agent started: Scan", "child": "c9", "task": "Scan", "state": "running"},
        ),
        (
            SubagentChanged,
            {
                "message": "sub-agent finished: Scan (end_turn)",
                "child": "c9",
                "task": "Scan",
                "state": "done",
                "output_tokens": 12,
                "cost_usd": 0.0042,
            },
        ),
    ],
    SubagentDelta: [
        (
            SubagentChanged,
            {"message": "sub-agent started: Scan", "child": "c9", "task": "Scan", "state": "running"},
        ),
        (SubagentDelta, {"child": "c9", "text": "Scanning "}),
        (TextDelta, {"text": "The parent's own words."}),
        (SubagentDelta, {"child": "c9", "text": "the notes."}),
        (SubagentDelta, {"child": "c8", "text": "Another child."}),
    ],
    SubagentToolCall: [
        (
            SubagentToolCall,
            {
                "message": "sub-agent Scan: Read notes.txt (completed)",
                "child": "c9",
                "call_id": "toolu_1",
                "title": "Read notes.txt",
                "state": "completed",
            },
        )
    ],
    WorktreeReady: [
        (WorktreeReady, {"message": "worktree", "path": "/tmp/wt", "branch": "lfg/t", "base": "abc123"})
    ],
    ContextUsed: [
        (ContextUsed, {"used": 1200, "size": 200_000, "cost_usd": 0.25}),
        (
            ContextUsed,
            {
                "used": 1300,
                "size": 200_000,
                "limit": AgentLimit("five_hour", "allowed_warning", 0.91, 3600.0),
            },
        ),
    ],
    AgentDetails: [
        (
            AgentDetails,
            {
                "commands": (AgentCommand("review", "Review the diff"),),
                "mode": "plan",
                "settings": (AgentSetting("model", "opus"),),
                "model": "opus",
            },
        )
    ],
    DiffUpdated: [(DiffUpdated, {"added": 3, "removed": 1, "files": 2, "text": "--- a\n+++ b\n"})],
    Usage: [
        (
            Usage,
            {
                "input_tokens": 10,
                "output_tokens": 12,
                "reasoning_tokens": 4,
                "cache_read_tokens": 2,
                "cache_write_tokens": 1,
            },
        )
    ],
    CallEnded: [(CallEnded, {"stop_reason": "tool_use"})],
    QuotaSeen: [
        (
            QuotaSeen,
            {
                "provider": "openai",
                "requests_limit": 500,
                "requests_remaining": 12,
                "requests_reset_s": 42.0,
                "tokens_limit": 90_000,
                "tokens_remaining": 89_950,
                "tokens_reset_s": 0.02,
            },
        )
    ],
    AttemptEnded: [],  # the failed end below
}
"""The events of one attempt per type, after its prompt and first request: the type's sample, and
what must come before it (a tool call's start before its arguments)."""

COMPLETED: Sample = (AttemptEnded, {"outcome": Outcome.COMPLETED})
FAILED: Sample = (
    AttemptEnded,
    {"outcome": Outcome.FAILED, "error": ErrorInfo(ErrorKind.SERVER, "boom", 500)},
)


def not_kept() -> set[type[Event]]:
    """The types the recorder or the rebuild declares it leaves out; an `AttemptStarted` is recorded
    wrapped as `Started`, so it is in every attempt below."""
    return (set(RECORDED.ignored) | set(REBUILT.ignored)) - {AttemptStarted}


def attempt(number: int, samples: list[Sample], end: Sample) -> list[Item]:
    """An attempt that starts, asks, sends its first request, then has `samples` and `end`, one every
    10 ms from t = 100 s."""
    clock = Clock()
    ev = EventFactory("t", number, clock=clock)
    items: list[Item] = [Started(ev(AttemptStarted, provider="sim", model="agent-demo"), WALL)]
    body = [(PromptSent, {"text": "Go."}), (RequestSent, {"call": 0}), *samples, end]
    for i, (cls, fields) in enumerate(body, start=1):
        clock.now = 100.0 + i / 100
        items.append(ev(cls, **fields))
    return items


def differs(recorded: list[Event], rebuilt: list[Event]) -> str | None:
    """The first recorded event that did not come back equal: at its time to the millisecond, and
    but for the fields `NOT_AS_RECORDED` declares."""
    for before, after in zip(recorded, rebuilt, strict=False):
        moved = dataclasses.replace(before, t=before.t - 100.0)
        declared = {name: getattr(after, name) for cls, name in NOT_AS_RECORDED if cls is type(before)}
        expected = dataclasses.replace(moved, **declared)
        if abs(after.t - expected.t) > 0.001 or dataclasses.replace(after, t=expected.t) != expected:
            return f"{type(before).__name__}: recorded {moved}, rebuilt {after}"
    if len(recorded) != len(rebuilt):
        return f"{len(recorded)} events recorded, {len(rebuilt)} rebuilt: {rebuilt}"
    return None


def unsampled() -> list[str]:
    """The event types neither sampled here nor declared not kept."""
    skipped = not_kept()
    return [cls.__name__ for cls in event_types() if cls not in SAMPLES and cls not in skipped]


def test_each_recorded_event_type_comes_back_from_the_history_as_it_went_in(tmp_path: Path) -> None:
    assert unsampled() == [], "add a sample of each to SAMPLES, or declare it not kept"
    ends = {AttemptEnded: FAILED}
    attempts = {
        cls: attempt(n, samples, ends.get(cls, COMPLETED))
        for n, (cls, samples) in enumerate(SAMPLES.items(), 1)
    }
    recorder = record(tmp_path / "h.sqlite3", tmp_path, *attempts.values(), tickets=(ticket("t"),))
    recorder.finish()
    problems = []
    with Store.open(tmp_path / "h.sqlite3") as store:
        (recorded_ticket,) = store.load(Selection(recorder.run_id)).tickets
        rebuilt = {a.row.number: store.attempt_events(a.row.id) for a in recorded_ticket.attempts}
    for n, (cls, items) in enumerate(attempts.items(), start=1):
        problem = differs(events_of(items), rebuilt[n])
        if problem is not None:
            problems.append(f"{cls.__name__}'s attempt: {problem}")
    assert problems == []


def test_an_event_type_added_to_the_vocabulary_wants_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Throwaway(Status):
        detail: str

    monkeypatch.setattr(events, "Throwaway", Throwaway, raising=False)
    assert unsampled() == ["Throwaway"]
