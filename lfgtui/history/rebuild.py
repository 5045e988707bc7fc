"""A recorded attempt back from its rows: its events with their original times (for replay and
panes), and its conversation as provider messages (to continue it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lfgtui.events import (
    AgentCommand,
    AgentDetails,
    AgentProgress,
    AgentSetting,
    AgentStarted,
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    ContextUsed,
    DiffUpdated,
    ErrorInfo,
    ErrorKind,
    Event,
    Outcome,
    PlanStep,
    PlanUpdated,
    PromptSent,
    ReasoningDelta,
    RequestSent,
    Retrying,
    SessionOpened,
    Stalled,
    Status,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
    WorktreeReady,
)
from lfgtui.history.rows import AttemptRecord, PartRow, RequestRow, unpack_chunks
from lfgtui.history.schema import PartKind
from lfgtui.providers.base import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    parse_tool_arguments,
)

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


def _error_kind(value: Any) -> ErrorKind:
    """The recorded kind of error; one this lfg does not know (a newer lfg's, an edited row) is
    `internal` rather than a crash."""
    try:
        return ErrorKind(value)
    except ValueError:
        return ErrorKind.INTERNAL


def _retrying(info: dict[str, Any]) -> dict[str, Any] | None:
    """A retry status's facts as `Retrying` fields, or None when the part is not one (or is damaged)."""
    error, retry, limit, delay = (info.get(k) for k in ("error", "retry", "max_retries", "delay_s"))
    if not (isinstance(error, dict) and isinstance(error.get("message"), str)):
        return None
    if not (isinstance(retry, int) and isinstance(limit, int) and isinstance(delay, int | float)):
        return None
    kind = _error_kind(error.get("kind"))
    return {
        "error": ErrorInfo(kind, error["message"]),
        "retry": retry,
        "max_retries": limit,
        "delay_s": delay,
    }


def _approval(info: dict[str, Any]) -> tuple[type[Event], dict[str, Any]] | None:
    asked, tool, arguments = info.get("approval"), info.get("tool"), info.get("arguments")
    if isinstance(asked, str) and isinstance(tool, str) and isinstance(arguments, dict):
        return ApprovalAsked, {"call_id": asked, "name": tool, "arguments": arguments}
    answered, allowed, by = info.get("answered"), info.get("allowed"), info.get("by")
    if isinstance(answered, str) and isinstance(allowed, bool) and isinstance(by, str):
        return ApprovalAnswered, {"call_id": answered, "allowed": allowed, "by": by}
    return None


def _pairs(value: Any) -> list[tuple[str, str]] | None:
    """A list of [str, str] as tuples, or None when it is not one."""
    if not isinstance(value, list):
        return None
    pairs = [
        (item[0], item[1])
        for item in value
        if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
    ]
    return pairs if len(pairs) == len(value) else None


def agent_note(info: dict[str, Any]) -> tuple[type[Event], dict[str, Any]] | None:
    """A note of what a coding agent said about its session (its context, its details) as that
    event's type and fields, or None when the part is not one (or is damaged)."""
    context, cost, offered = info.get("context"), info.get("cost_usd"), info.get("agent")
    if (
        isinstance(context, list)
        and len(context) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in context)
        and (cost is None or (isinstance(cost, int | float) and not isinstance(cost, bool)))
    ):
        return ContextUsed, {"used": context[0], "size": context[1], "cost_usd": cost}
    if not isinstance(offered, dict):
        return None
    commands, settings = _pairs(offered.get("commands")), _pairs(offered.get("settings"))
    mode, model = offered.get("mode"), offered.get("model")
    if (
        commands is None
        or settings is None
        or not all(v is None or isinstance(v, str) for v in (mode, model))
    ):
        return None
    return AgentDetails, {
        "commands": tuple(AgentCommand(*pair) for pair in commands),
        "mode": mode,
        "settings": tuple(AgentSetting(*pair) for pair in settings),
        "model": model,
    }


def _seconds(value: Any) -> bool:
    """A finite, non-negative number of seconds (an imported file's may be anything)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf


def _agent_state(info: dict[str, Any]) -> tuple[type[Event], dict[str, Any]] | None:
    """A coding agent's stall or progress note as its event type and fields, or None."""
    stalled, progress = info.get("stalled"), info.get("progress")
    if isinstance(stalled, list) and len(stalled) == 2 and all(_seconds(value) for value in stalled):
        return Stalled, {"idle_s": float(stalled[0]), "limit_s": float(stalled[1])}
    return (AgentProgress, {"title": progress}) if isinstance(progress, str) else None


def _typed_note(info: dict[str, Any]) -> tuple[type[Event], dict[str, Any]] | None:
    """A status that carries facts (a coding agent's start, session, plan, stall or progress; a
    ticket's worktree; an approval asked or answered) as its event type and fields, or None when the
    part is not one (or is damaged): then it comes back as a plain status."""
    if (approval := _approval(info)) is not None:
        return approval
    if (state := _agent_state(info)) is not None:
        return state
    log, session, plan = info.get("agent_log"), info.get("acp_session"), info.get("plan")
    worktree = [info.get(key) for key in ("worktree", "branch", "base")]
    if all(isinstance(value, str) for value in worktree):
        return WorktreeReady, dict(zip(("path", "branch", "base"), worktree, strict=True))
    if isinstance(log, str):
        return AgentStarted, {"log": log}
    if isinstance(session, str):
        return SessionOpened, {"session_id": session, "loaded": info.get("loaded") is True}
    well_formed = isinstance(plan, list) and all(
        isinstance(step, list) and len(step) == 3 and all(isinstance(field, str) for field in step)
        for step in plan
    )
    return (PlanUpdated, {"steps": tuple(PlanStep(*step) for step in plan)}) if well_formed else None


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
        events.add((-1, 0), 0.0, AttemptStarted, provider=row.provider, model=row.model or "")
    for n, request in enumerate(record.requests):
        events.add((request.seq, 0), request.request_ms, RequestSent, call=request.call)
        if request.usage_seq is not None and request.usage_ms is not None:
            usage = {
                "input_tokens": request.input_tokens,
                "output_tokens": request.output_tokens,
                "reasoning_tokens": request.reasoning_tokens,
                "cache_read_tokens": request.cache_read_tokens,
                "cache_write_tokens": request.cache_write_tokens,
            }
            events.add(_usage_key(record.requests, n), request.usage_ms, Usage, **usage)
        if request.ended_seq is not None and request.ended_ms is not None:
            ended = {"stop_reason": request.stop_reason or ""}
            events.add((request.ended_seq, 0), request.ended_ms, CallEnded, **ended)
    for part in record.parts:
        info = part.info
        match part.kind:
            case PartKind.PROMPT:
                continues = info.get("continues")
                continues = (
                    continues if isinstance(continues, int) and not isinstance(continues, bool) else None
                )
                events.add((part.seq, 0), part.t_ms, PromptSent, text=part.text, continues=continues)
            case PartKind.TEXT:
                _streamed(events, part, TextDelta, "text", 0)
            case PartKind.REASONING:
                _streamed(events, part, ReasoningDelta, "text", 0)
            case PartKind.TOOL_CALL:
                call_id, name = part.call_id or "", part.name or ""
                events.add((part.seq, 0), part.t_ms, ToolCallStarted, call_id=call_id, name=name)
                _streamed(events, part, ToolCallArgsDelta, "fragment", 1, call_id=call_id)
                if not info.get("partial"):
                    arguments, error = parse_tool_arguments(part.text)
                    events.add(
                        (part.seq, 1 << 30),
                        part.end_ms,
                        ToolCallReady,
                        call_id=call_id,
                        name=name,
                        arguments=arguments,
                        raw_arguments=part.text,
                        error=info.get("error", error),
                    )
            case PartKind.TOOL_RESULT:
                events.add(
                    (part.seq, 0),
                    part.t_ms,
                    ToolResult,
                    call_id=part.call_id or "",
                    output=part.text,
                    is_error=part.is_error,
                )
            case PartKind.STATUS if (retrying := _retrying(info)) is not None:
                events.add((part.seq, 0), part.t_ms, Retrying, message=part.text, **retrying)
            case PartKind.STATUS if (said := agent_note(info)) is not None:
                kind, facts = said
                events.add((part.seq, 0), part.t_ms, kind, **facts)
            case PartKind.STATUS if (typed := _typed_note(info)) is not None:
                kind, facts = typed
                events.add((part.seq, 0), part.t_ms, kind, message=part.text, **facts)
            case PartKind.STATUS:
                events.add((part.seq, 0), part.t_ms, Status, message=part.text)
    if row.diff_files is not None:
        diff = {"added": row.diff_added or 0, "removed": row.diff_removed or 0, "files": row.diff_files}
        events.add((1 << 62, -1), row.ended_ms or 0.0, DiffUpdated, text=row.diff, **diff)
    if row.outcome is not None:
        error = (
            ErrorInfo(_error_kind(row.error_kind), row.error_message or "", row.error_status)
            if row.error_kind
            else None
        )
        events.add((1 << 62, 0), row.ended_ms or 0.0, AttemptEnded, outcome=Outcome(row.outcome), error=error)
    return events.events()


def conversation(record: AttemptRecord) -> list[Message]:
    """See `Store.conversation`: one assistant message per model call, results after it."""
    call_of = {request.n: request.call for request in record.requests}
    messages: list[Message] = []
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    names: dict[str, str] = {}
    current: int | None = None

    def flush() -> None:
        if text or reasoning or calls:
            messages.append(AssistantMessage("".join(text), "".join(reasoning), tuple(calls)))
        text.clear()
        reasoning.clear()
        calls.clear()

    for part in record.parts:
        call = call_of.get(part.request) if part.request is not None else None
        if call != current and part.kind in (PartKind.TEXT, PartKind.REASONING, PartKind.TOOL_CALL):
            flush()
            current = call
        match part.kind:
            case PartKind.PROMPT:
                messages.append(UserMessage(part.text))
            case PartKind.TEXT:
                text.append(part.text)
            case PartKind.REASONING:
                reasoning.append(part.text)
            case PartKind.TOOL_CALL:
                arguments, _ = parse_tool_arguments(part.text)
                call_id = part.call_id or ""
                names[call_id] = part.name or ""
                calls.append(ToolCall(call_id, part.name or "", arguments, part.text))
            case PartKind.TOOL_RESULT:
                flush()
                call_id = part.call_id or ""
                name = part.name or names.get(call_id, "")
                messages.append(ToolResultMessage(call_id, name, part.text, part.is_error))
    flush()
    return messages
