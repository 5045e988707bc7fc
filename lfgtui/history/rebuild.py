"""A recorded attempt back from its rows: its events with their original times (for replay and
panes), and its conversation as provider messages (to continue it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lfgtui.conversation import conversation_of
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    DiffUpdated,
    ErrorInfo,
    Event,
    Outcome,
    PromptSent,
    Queued,
    ReasoningDelta,
    RequestSent,
    RunFact,
    Status,
    Steered,
    SteerOffer,
    SubagentChanged,
    SubagentDelta,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolCallUpdated,
    ToolOutputDelta,
    ToolResult,
    Translation,
    Usage,
)
from lfgtui.history.notes import NOTES, error_kind, read_note
from lfgtui.history.rows import AttemptRecord, PartRow, RequestRow, unpack_chunks
from lfgtui.history.schema import PartKind
from lfgtui.providers.base import Message, parse_tool_arguments

Key = tuple[int, int]
"""Where an event stands in its attempt: the seq of the row it comes from, then its place in that row."""
END: Key = (1 << 62, -2)
"""Where an attempt's closing events start: the usage of a last call that never ended, the diff, the end."""


@dataclass(frozen=True)
class Window:
    """Which of an attempt's events to build: keys from `since` up to `until`, numbered from `seq`, none
    earlier than `t`, so a running attempt can be built in steps (see remote/tail.py)."""

    since: Key = (-1, 0)
    until: Key = (1 << 63, 0)
    seq: int = 0
    t: float = 0.0


WHOLE = Window()


@dataclass
class _Events:
    """Builds an attempt's events in stored order, each `t` no earlier than the one before."""

    ticket: str
    attempt: int
    window: Window = WHOLE
    keyed: list[tuple[Key, float, type[Event], dict[str, Any]]] = field(default_factory=list)

    def add(self, key: Key, ms: float, cls: type[Event], **values: Any) -> None:
        if self.window.since <= key < self.window.until:
            self.keyed.append((key, ms, cls, values))

    def events(self) -> list[Event]:
        events: list[Event] = []
        t = self.window.t
        ordered = sorted(self.keyed, key=lambda item: item[0])
        for seq, (_, ms, cls, values) in enumerate(ordered, start=self.window.seq):
            t = max(t, ms / 1000)
            events.append(cls(ticket=self.ticket, attempt=self.attempt, seq=seq, t=t, **values))
        return events


def _streamed(
    events: _Events, part: PartRow, cls: type[Event], field_name: str, first: int, **extra: Any
) -> None:
    """One event per stored chunk, its text sliced from the part; the first chunk at its exact time."""
    at = 0
    for i, (ms, length) in enumerate(unpack_chunks(part.chunks)):
        chunk = part.text[at : at + length]
        at += length
        when = part.t_ms if i == 0 and first == 0 else ms
        events.add((part.seq, first + i), when, cls, **{field_name: chunk}, **extra)


def _usage_key(requests: tuple[RequestRow, ...], n: int) -> Key:
    """A request's usage stands where its last count is known for good: just before its `CallEnded`,
    else just before the next request, else with the attempt's end. (The counts grow while a request
    streams; placed so, they never move back past what a reader of a running attempt has built.)"""
    request = requests[n]
    if request.ended_seq is not None:
        return (request.ended_seq, -1)
    return (requests[n + 1].seq, -1) if n + 1 < len(requests) else END


def attempt_events(record: AttemptRecord, ticket: str, number: int, window: Window = WHOLE) -> list[Event]:
    """Rebuild an attempt's events from its rows (see `Store.attempt_events`), or those of `window`.

    Order follows the original sequence numbers; a chunk's time is stored to the millisecond, the
    first chunk of each part and every other event exactly.
    """
    row = record.row
    events = _Events(ticket, number, window)
    if row.provider is not None:
        # after what came before it (an attempt queued on a broker: its wait, at times before its zero)
        before = [part.seq for part in record.parts if part.t_ms < 0]
        key = (max(before), 1 << 31) if before else (-1, 0)
        events.add(key, 0.0, AttemptStarted, provider=row.provider, model=row.model or "")
    for n, request in enumerate(record.requests):
        events.add(
            (request.seq, 0),
            request.request_ms,
            RequestSent,
            call=request.call,
            tokens_per_char=request.tokens_per_char,
        )
        if request.usage_seq is not None and request.usage_ms is not None:
            usage = {
                "input_tokens": request.input_tokens,
                "output_tokens": request.output_tokens,
                "reasoning_tokens": request.reasoning_tokens,
                "cache_read_tokens": request.cache_read_tokens,
                "cache_write_tokens": request.cache_write_tokens,
                "models": request.model_shares(),
                "tokens_per_char": request.counted_per_char,
                "output_unseen": request.output_unseen,
            }
            events.add(_usage_key(record.requests, n), request.usage_ms, Usage, **usage)
        if request.ended_seq is not None and request.ended_ms is not None:
            ended = {"stop_reason": request.stop_reason or "", "turn": request.turn()}
            events.add((request.ended_seq, 0), request.ended_ms, CallEnded, **ended)
    for part in record.parts:
        rebuild = _FROM_PART.get(part.kind)
        if rebuild is not None:
            rebuild(events, part)
    _subagent_words(events, record)
    if row.diff_files is not None:
        diff = {"added": row.diff_added or 0, "removed": row.diff_removed or 0, "files": row.diff_files}
        events.add((1 << 62, -1), row.ended_ms or 0.0, DiffUpdated, text=row.diff, **diff)
    if row.outcome is not None:
        error = (
            ErrorInfo(error_kind(row.error_kind), row.error_message or "", row.error_status)
            if row.error_kind
            else None
        )
        events.add((1 << 62, 0), row.ended_ms or 0.0, AttemptEnded, outcome=Outcome(row.outcome), error=error)
    return events.events()


def _subagent_words(events: _Events, record: AttemptRecord) -> None:
    """Each sub-agent's words as they streamed: a row's deltas at its place and times, as a part's
    chunks. A row recorded before they had times (migration 30) holds a child's whole text: it comes
    back as one delta right after the child's last record note, else before the attempt's end."""
    last_note: dict[str, PartRow] = {}
    for part in record.parts:
        if part.kind == PartKind.STATUS and (facts := NOTES[SubagentChanged].read(part.info)) is not None:
            last_note[facts["child"]] = part
    for piece in record.subagents:
        if piece.seq is not None and piece.t_ms is not None:
            at, chunks = 0, unpack_chunks(piece.chunks)
            for i, (ms, length) in enumerate(chunks):
                chunk, at = piece.text[at : at + length], at + length
                events.add(
                    (piece.seq, i), piece.t_ms if i == 0 else ms, SubagentDelta, child=piece.child, text=chunk
                )
            if at < len(piece.text):  # chunks that do not say all of it (an import's): the rest at once
                rest = {"child": piece.child, "text": piece.text[at:]}
                events.add((piece.seq, len(chunks)), piece.t_ms, SubagentDelta, **rest)
        elif (note := last_note.get(piece.child)) is not None:
            events.add((note.seq, 1), note.t_ms, SubagentDelta, child=piece.child, text=piece.text)
        else:
            events.add(
                _UNPLACED, record.row.ended_ms or 0.0, SubagentDelta, child=piece.child, text=piece.text
            )


_UNPLACED: Key = (1 << 62, -3)
"""Where a sub-agent's untimed words with no record note go: before the attempt's closing events."""


def _prompt(events: _Events, part: PartRow) -> None:
    """The attempt's prompt or, a part who steered it names, a steer at its place."""
    if isinstance(by := part.info.get("steered_by"), str):
        events.add((part.seq, 0), part.t_ms, Steered, text=part.text, by=by)
        return
    continues = part.info.get("continues")
    continues = continues if isinstance(continues, int) and not isinstance(continues, bool) else None
    events.add((part.seq, 0), part.t_ms, PromptSent, text=part.text, continues=continues)


def _text(events: _Events, part: PartRow) -> None:
    _streamed(events, part, TextDelta, "text", 0)


def _reasoning(events: _Events, part: PartRow) -> None:
    _streamed(events, part, ReasoningDelta, "text", 0)


def _tool_call(events: _Events, part: PartRow) -> None:
    """A call as it streamed (`ToolCallStarted`, its arguments' fragments) and, unless it never
    completed, as the model or agent last described it: a `ToolCallUpdated` replaced the row."""
    call_id, name = part.call_id or "", part.name or ""
    events.add((part.seq, 0), part.t_ms, ToolCallStarted, call_id=call_id, name=name)
    _streamed(events, part, ToolCallArgsDelta, "fragment", 1, call_id=call_id)
    if not part.info.get("partial"):
        arguments, error = parse_tool_arguments(part.text)
        ready = {"call_id": call_id, "name": name, "arguments": arguments, "raw_arguments": part.text}
        error, seen = part.info.get("error", error), part.info.get("model_input_chars")
        seen = seen if type(seen) is int and seen >= 0 else None
        events.add(
            (part.seq, 1 << 30), part.end_ms, ToolCallReady, **ready, error=error, model_input_chars=seen
        )


def _tool_result(events: _Events, part: PartRow) -> None:
    result = {"call_id": part.call_id or "", "output": part.text, "is_error": part.is_error}
    events.add((part.seq, 0), part.t_ms, ToolResult, **result)


def _status(events: _Events, part: PartRow) -> None:
    """A note with facts as its event (notes.py); any other, or a damaged one, as a plain `Status`."""
    kind, facts = read_note(part.info) or (Status, {})
    if issubclass(kind, Status):
        facts["message"] = part.text
    events.add((part.seq, 0), part.t_ms, kind, **facts)


_FROM_PART: dict[PartKind, Callable[[_Events, PartRow], None]] = {
    PartKind.PROMPT: _prompt,
    PartKind.TEXT: _text,
    PartKind.REASONING: _reasoning,
    PartKind.TOOL_CALL: _tool_call,
    PartKind.TOOL_RESULT: _tool_result,
    PartKind.STATUS: _status,
}
"""An attempt's events from each kind of part; its error part is read with its row, as its end."""

_PARTS = "a part of its kind"
REBUILT: Translation[str] = Translation(
    "history rebuild",
    {
        AttemptStarted: "the attempt's row",
        RequestSent: "a request's row",
        Usage: "a request's row",
        CallEnded: "a request's row",
        PromptSent: _PARTS,
        Steered: "a prompt part, who steered it its meta",
        TextDelta: _PARTS,
        ReasoningDelta: _PARTS,
        ToolCallStarted: _PARTS,
        ToolCallArgsDelta: _PARTS,
        ToolCallReady: _PARTS,
        ToolResult: _PARTS,
        Status: _PARTS,
        **dict.fromkeys(NOTES, "a status part's meta (notes.py)"),
        SubagentDelta: "a row of `subagent_texts` (`AttemptRecord.subagents`): a run of one child's words",
        DiffUpdated: "the attempt's row: its last diff",
        AttemptEnded: "the attempt's row and its error part",
    },
    {
        ToolCallUpdated: "it replaced its call's row, which comes back as the `ToolCallReady` it describes",
        ToolOutputDelta: "the history keeps only the `ToolResult`, with the whole output",
        SteerOffer: "not recorded (recorder.py): what a turn took from the person is only the composer's",
        Queued: "recorded as a plain status note (the wait is long over when the history is read)",
        RunFact: "the run's, not an attempt's: a verdict's row keeps its ranking, not the diffs and "
        "metrics a `VerdictDecided` carries, so checks and verdicts are read as rows (`lfg history show`, "
        "`lfg land`), never replayed",
    },
)
"""Where each event type of a recorded attempt comes back from (`attempt_events`); the recorder's
translation is `recorder.RECORDED`."""

NOT_AS_RECORDED: dict[tuple[type[Event], str], str] = {
    (RequestSent, "input_estimate"): "lfg's estimate of the prompt's tokens has no column: a rebuilt "
    "request without reported usage counts no input",
    (RequestSent, "cache_prefix"): "the digests a cache miss's cause is told by are the live run's: "
    "a rebuilt attempt says its hit rate, not why a request missed",
    (DiffUpdated, "t"): "the attempt's row keeps its last diff, which comes back with the attempt's end",
}
"""The fields of a handled type that do not come back as recorded, and why (a `DiffUpdated` before
the last comes back as none); tests/history/test_round_trip.py holds every other field to it."""


def conversation(record: AttemptRecord) -> list[Message]:
    """See `Store.conversation`: built from its events as a running attempt's is (conversation.py)."""
    return conversation_of(attempt_events(record, "", record.row.number))
