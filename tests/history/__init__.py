"""Helpers for the history tests: tickets, and one hand-stamped attempt whose every time is known."""

from __future__ import annotations

from pathlib import Path

from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    Event,
    EventFactory,
    Outcome,
    ReasoningDelta,
    RequestSent,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
)
from lfgtui.history.writer import Item, Recorder, Started
from lfgtui.tickets import Ticket, TicketFile

WALL = 1_700_000_000.0
PROMPT = "What is this project?"
ANSWER = "## Widget\nIt renders **widgets** for dashboards."


def ticket(ticket_id: str, model: str = "agent-demo") -> Ticket:
    return Ticket(
        id=ticket_id,
        prompt=PROMPT,
        title=ticket_id,
        system=None,
        provider="sim",
        model=model,
        tools=("list_dir",),
        max_turns=20,
        max_tokens=None,
        temperature=None,
        workdir=Path("/tmp"),
        depends_on=(),
        auto_approve=frozenset(),
        auto_approve_all=False,
        line=1,
    )


def ticket_file(tmp_path: Path, *tickets: Ticket) -> TicketFile:
    return TicketFile(path=tmp_path / "tickets.toml", tickets=tickets, offline_default=False)


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sample_attempt(ticket_id: str = "explore", attempt: int = 1, ended: bool = True) -> list[Item]:
    """Reasoning, a streamed tool call and its result, then a two-chunk answer; t0 = 100 s."""
    clock = Clock()
    ev = EventFactory(ticket_id, attempt, clock=clock)
    items: list[Item] = []

    def at(t: float, event_type: type[Event], **fields: object) -> None:
        clock.now = 100.0 + t
        items.append(ev(event_type, **fields))

    at(0.0, AttemptStarted, provider="sim", model="agent-demo")
    started = items.pop()
    assert isinstance(started, AttemptStarted)
    items.append(Started(started, PROMPT, WALL))
    at(0.001, RequestSent, call=0)
    at(0.3004, ReasoningDelta, text="Look at ")
    at(0.3106, ReasoningDelta, text="the files.")
    at(0.400, TextDelta, text="Let me ")
    at(0.410, TextDelta, text="look.")
    at(0.500, ToolCallStarted, call_id="c1", name="list_dir")
    at(0.510, ToolCallArgsDelta, call_id="c1", fragment='{"path"')
    at(0.520, ToolCallArgsDelta, call_id="c1", fragment=': "."}')
    raw = '{"path": "."}'
    at(0.530, ToolCallReady, call_id="c1", name="list_dir", arguments={"path": "."}, raw_arguments=raw)
    at(0.540, Usage, input_tokens=10, output_tokens=12)
    at(0.545, CallEnded, stop_reason="tool_use")
    if not ended:
        return items
    at(0.600, ToolResult, call_id="c1", output="README.md\nsrc/")
    at(0.700, RequestSent, call=1)
    at(1.000, TextDelta, text=ANSWER[:10])
    at(1.020, TextDelta, text=ANSWER[10:30])
    at(1.040, TextDelta, text=ANSWER[30:])
    at(1.050, Usage, input_tokens=30, output_tokens=8)
    at(1.060, CallEnded, stop_reason="stop")
    at(1.070, AttemptEnded, outcome=Outcome.COMPLETED)
    return items


def events_of(items: list[Item]) -> list[Event]:
    return [item.event if isinstance(item, Started) else item for item in items]


def record(path: Path, tmp_path: Path, *batches: list[Item], tickets: tuple[Ticket, ...] = ()) -> Recorder:
    """A recorder for a run of `tickets` (default: one `explore`) that has written `batches`."""
    recorder = Recorder.begin(path, ticket_file(tmp_path, *(tickets or (ticket("explore"),))), "lfg run")
    for batch in batches:
        recorder.write(batch)
    return recorder
