"""Headless output of a run: readable progress lines and a closing table, or NDJSON events.

Both are sinks fed every event in order. They read the run's shared `MetricsBook`, which must be
earlier in the sink list so it has seen an event before they print it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from lfgtui.cost.metrics import Metrics, MetricsBook
from lfgtui.events import (
    AgentDetails,
    AgentProgress,
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptStarted,
    ContextUsed,
    DiffUpdated,
    ErrorInfo,
    Event,
    Outcome,
    PlanUpdated,
    PromptSent,
    ReasoningDelta,
    RequestSent,
    Stalled,
    Status,
    TextDelta,
    ToolCallReady,
    ToolCallUpdated,
    ToolOutputDelta,
    ToolResult,
    Usage,
    WorktreeReady,
)
from lfgtui.formats import OUTCOME_GLYPHS, columns, compared, gauges
from lfgtui.inert import inert, json_text
from lfgtui.worktrees.size import diff_size


@dataclass
class UntilClosed:
    """Feeds an output sink until its terminal or pipe goes away (a hangup, `| head`), then drops it.

    A failed write must not end tickets or the run: they go on, and so do the history and the exit
    code. Once closed, `out`'s file descriptor is pointed at /dev/null so that nothing still buffered
    fails again when the interpreter exits.
    """

    sink: Callable[[Event], None]
    out: TextIO
    closed: bool = False

    def __call__(self, event: Event) -> None:
        if not self.closed:
            try:
                self.sink(event)
            except OSError:
                self._close()

    def write(self, text: str) -> None:
        if not self.closed:
            try:
                self.out.write(text)
                self.out.flush()
            except OSError:
                self._close()

    def _close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError, ValueError):  # ValueError: `out` has no file descriptor
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            os.close(devnull)


def _error_json(error: ErrorInfo | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"kind": error.kind.value, "message": error.message, "status": error.status}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class JsonLines:
    """One JSON object per line per event, `t` in seconds since the run started."""

    out: TextIO
    book: MetricsBook
    t0: float

    def __call__(self, event: Event) -> None:
        record = self._record(event)
        if record is None:
            return
        line = {"type": record.pop("type"), "ticket": event.ticket, "attempt": event.attempt}
        line["t"] = round(event.t - self.t0, 4)
        line.update(record)
        self.out.write(json_text(line) + "\n")
        self.out.flush()

    def _record(self, event: Event) -> dict[str, Any] | None:
        match event:
            case AttemptStarted(provider=provider, model=model):
                return {"type": "attempt_started", "provider": provider, "model": model}
            case PromptSent(text=text, continues=continues):
                return {"type": "prompt", "text": text, "continues": continues}
            case TextDelta(text=text):
                return {"type": "text", "text": text}
            case ReasoningDelta(text=text):
                return {"type": "reasoning", "text": text}
            case ToolCallReady(call_id=call_id, name=name, arguments=arguments, error=error):
                return {
                    "type": "tool_call",
                    "id": call_id,
                    "name": name,
                    "arguments": arguments,
                    "error": error,
                }
            case ToolCallUpdated(call_id=call_id, name=name, arguments=arguments, kind=kind):
                changed = {"id": call_id, "name": name, "arguments": arguments, "kind": kind}
                return {"type": "tool_call_update", **changed, "locations": list(event.locations)}
            case ToolOutputDelta(call_id=call_id, text=text):
                return {"type": "tool_output", "id": call_id, "text": text}
            case ToolResult(call_id=call_id, output=output, is_error=is_error):
                return {"type": "tool_result", "id": call_id, "output": output, "is_error": is_error}
            case PlanUpdated(steps=steps):
                plan = [{"content": s.content, "status": s.status, "priority": s.priority} for s in steps]
                return {"type": "plan", "steps": plan}
            case WorktreeReady(path=path, branch=branch, base=base, message=message):
                return {"type": "worktree", "path": path, "branch": branch, "base": base, "message": message}
            case DiffUpdated(added=added, removed=removed, files=files, text=text):
                return {"type": "diff", "added": added, "removed": removed, "files": files, "text": text}
            case ApprovalAsked(call_id=call_id, name=name, arguments=arguments, message=message):
                asked = {"id": call_id, "name": name, "arguments": arguments, "message": message}
                return {"type": "approval", **asked}
            case ApprovalAnswered(call_id=call_id, allowed=allowed, by=by, message=message):
                answer = {"id": call_id, "allowed": allowed, "by": by, "message": message}
                return {"type": "approval_answer", **answer}
            case ContextUsed(used=used, size=size, cost_usd=cost):
                percent = round(100 * used / size, 1) if size else None
                return {"type": "context", "used": used, "size": size, "percent": percent, "cost_usd": cost}
            case AgentDetails(commands=commands, mode=mode, settings=settings, model=model):
                offered = [{"name": c.name, "description": c.description} for c in commands]
                options = {setting.name: setting.value for setting in settings}
                return {
                    "type": "agent",
                    "model": model,
                    "mode": mode,
                    "settings": options,
                    "commands": offered,
                }
            case Stalled(idle_s=idle_s, limit_s=limit_s, message=message):
                return {"type": "stalled", "idle_s": round(idle_s, 1), "limit_s": limit_s, "message": message}
            case AgentProgress(title=title, message=message):
                return {"type": "agent_progress", "title": title, "message": message}
            case Status(message=message):
                return {"type": "status", "message": message}
            case Usage(input_tokens=input_tokens, output_tokens=output_tokens):
                return {
                    "type": "usage",
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "cache_read_tokens": event.cache_read_tokens,
                    "cache_write_tokens": event.cache_write_tokens,
                }
            case AttemptEnded(outcome=outcome, error=error):
                metrics = self.book.attempts.get((event.ticket, event.attempt), Metrics())
                rate = metrics.tokens_per_s
                return {
                    "type": "attempt_ended",
                    "outcome": outcome.value,
                    "error": _error_json(error),
                    "ttft_ms": _ms(metrics.ttft_s),
                    "tokens_per_s": None if rate is None else round(rate, 2),
                    "output_tokens": metrics.output_tokens,
                    "cost_usd": metrics.cost_usd,
                    "cost_estimated": metrics.cost_usd is not None and metrics.cost_estimated,
                    "cost_by_agent": metrics.cost_by_agent,
                }
        return None


@dataclass
class _Row:
    ticket: str
    attempt: int
    started: float | None = None
    ended: float | None = None
    outcome: Outcome | None = None
    metrics: Metrics = field(default_factory=Metrics)
    diff: DiffUpdated | None = None
    model: str = ""


def _first_line(text: str, width: int = 100) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


@dataclass
class Progress:
    """Readable lines as tickets start, call tools, retry and end, each final answer under its ending."""

    out: TextIO
    book: MetricsBook
    t0: float
    groups: Mapping[str, str] = field(default_factory=dict)
    """The ticket each fanned-out ticket (`ID@model`) came from, to compare its models at the end."""
    rows: dict[str, _Row] = field(default_factory=dict)
    _answers: dict[str, list[str]] = field(default_factory=dict)
    _tool_names: dict[str, str] = field(default_factory=dict)

    def _line(self, event: Event, text: str) -> None:
        """One progress line; everything in it but the time may come from outside, so it is made inert."""
        self.out.write(f"[{event.t - self.t0:6.1f}s] {inert(f'{event.ticket}  {text}')}\n")
        self.out.flush()

    def __call__(self, event: Event) -> None:
        row = self.rows.get(event.ticket)
        if row is None or row.attempt != event.attempt:
            row = self.rows[event.ticket] = _Row(event.ticket, event.attempt)
            self._answers[event.ticket] = []
        row.metrics = self.book.attempts.get((event.ticket, event.attempt), row.metrics)
        match event:
            case AttemptStarted(provider=provider, model=model):
                row.started, row.model = event.t, f"{provider}/{model}"
                again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
                self._line(event, f"started on {provider}/{model}{again}")
            case RequestSent():
                self._answers[event.ticket] = []
            case TextDelta(text=text):
                self._answers[event.ticket].append(text)
            case DiffUpdated():
                row.diff = event
            case (
                ToolCallReady(call_id=call_id, name=name, raw_arguments=raw)
                | ToolCallUpdated(call_id=call_id, name=name, raw_arguments=raw)
            ):
                self._tool_names[call_id] = name
                self._line(event, f"→ {name} {_first_line(raw, 80)}")
            case ToolOutputDelta():
                pass  # a command's output as it streams: the result's line says how it ended
            case ToolResult(call_id=call_id, output=output, is_error=is_error):
                name = self._tool_names.get(call_id, "tool")
                summary = _first_line(output, 80) if is_error else f"ok ({len(output.splitlines())} lines)"
                self._line(event, f"← {name} {summary}")
            case Status(message=message):
                self._line(event, f"· {message}")
            case AttemptEnded(outcome=outcome, error=error):
                row.ended, row.outcome = event.t, outcome
                self._line(event, f"{OUTCOME_GLYPHS[outcome]} {self._ending(row, error)}")
                answer = inert("".join(self._answers.pop(event.ticket, []))).strip()
                if answer:
                    pad = " " * 10
                    self.out.write("".join(f"{pad}│ {line}\n" for line in answer.splitlines()))
                    self.out.flush()

    def _ending(self, row: _Row, error: ErrorInfo | None) -> str:
        assert row.outcome is not None
        if row.outcome is Outcome.COMPLETED:
            diff = row.diff
            changed = "" if diff is None else f" · changed {diff_size(diff.added, diff.removed, diff.files)}"
            return f"completed in {_duration(row)} · {gauges(row.metrics)}{changed}"
        if error is not None:
            return f"{row.outcome.value}: {error.describe()}"
        return row.outcome.value

    def table(self) -> str:
        """The closing table: one row per ticket, its latest attempt; then, for each ticket that fanned
        out over several models, those models side by side."""
        diffs = any(row.diff is not None for row in self.rows.values())
        header = ("ticket", "outcome", "TTFT", "tok/s", "tokens", "cost", "duration", *(("changed",) * diffs))
        lines = [header]
        for row in self.rows.values():
            name = row.ticket if row.attempt == 1 else f"{row.ticket} #{row.attempt}"
            lines.append((name, *_cells(row), *((_changed(row),) * diffs)))
        tables = [columns(lines)]
        groups: dict[str, list[_Row]] = {}
        for row in self.rows.values():
            group = self.groups.get(row.ticket)
            if group is not None:
                groups.setdefault(group, []).append(row)
        for group, rows in groups.items():
            models = [("model", "outcome", "TTFT", "tok/s", "tokens", "cost", "duration")]
            models += [(row.model, *_cells(row)) for row in rows]
            tables.append(f"compare {group}: {len(rows)} models, one prompt\n{columns(models)}")
        return inert("\n\n".join(tables))


def _cells(row: _Row) -> tuple[str, ...]:
    return compared(row.metrics, (row.outcome or Outcome.CANCELLED).value, _duration(row))


def _changed(row: _Row) -> str:
    return "-" if row.diff is None else diff_size(row.diff.added, row.diff.removed, row.diff.files)


def _duration(row: _Row) -> str:
    if row.started is None or row.ended is None:
        return "-"
    return f"{row.ended - row.started:.1f}s"
