"""Headless output of a run: readable progress lines and a closing table, or NDJSON events.

Both are sinks fed every event in order. They read the run's shared `MetricsBook`, which must be
earlier in the sink list so it has seen an event before they print it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from lfgtui.alerts.states import Attentions
from lfgtui.contest import CheckRan, VerdictDecided
from lfgtui.cost.metrics import Metrics, MetricsBook
from lfgtui.events import (
    AGENT_STATE_CHANGED,
    AgentDetails,
    AgentProgress,
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
    Event,
    HeldMessage,
    Holding,
    Outcome,
    PlanUpdated,
    PromptSent,
    Queued,
    QuotaSeen,
    ReasoningDelta,
    RequestSent,
    Retrying,
    RunFact,
    SessionOpened,
    Stalled,
    Status,
    Steered,
    SteerOffer,
    SubagentChanged,
    SubagentDelta,
    SubagentToolCall,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolCallUpdated,
    ToolOutputDelta,
    ToolResult,
    Translation,
    Usage,
    WorktreeReady,
)
from lfgtui.formats import COMPARED, OUTCOME_GLYPHS, columns, compared, gauges, plural
from lfgtui.inert import inert, json_text, revealed
from lfgtui.worktrees.size import diff_size

if TYPE_CHECKING:
    from lfgtui.broker.gaps import Lost
    from lfgtui.contest import CheckResult, Verdict


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

    def write_with(self, write: Callable[[], None]) -> None:
        """A line of the sink's own that is no event (`JsonLines.gap`), kept from a closed output alike."""
        if not self.closed:
            try:
                write()
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


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class JsonLines:
    """One JSON object per line per event, `t` in seconds since the run started."""

    out: TextIO
    book: MetricsBook
    t0: float
    partial: set[tuple[str, int]] = field(default_factory=set)
    """Attempts a watcher lost events of (`gap`): their `attempt_ended` says `partial`."""
    attention: Attentions = field(default_factory=Attentions)
    """The tickets' attention states: each change is an `attention` line after the event that made it."""
    answering: set[tuple[str, int]] = field(default_factory=set)
    """Attempts whose last line was answer text."""
    held: dict[tuple[str, int], AgentDetails] = field(default_factory=dict)
    """An agent's details that came while its answer streamed (Claude Code says them after the
    answer's first word): its `agent` line waits for the answer to pause, so it never splits it."""

    def __call__(self, event: Event) -> None:
        key = (event.ticket, event.attempt)
        if type(event) is TextDelta:
            self.answering.add(key)
        else:
            held = self.held.pop(key, None) if self.held else None
            if held is not None:
                self._line(held)
            if type(event) is AgentDetails and key in self.answering:
                self.held[key] = event
                return
            self.answering.discard(key)
        self._line(event)

    def _line(self, event: Event) -> None:
        record = self._record(event)
        if record is not None:
            self._write(record.pop("type"), event.ticket, event.attempt, event.t, record)
        for standing in self.attention.apply(event):
            fields = standing.as_json(self.t0)
            self._write("attention", standing.ticket, standing.attempt or None, event.t, fields)

    def gap(self, lost: Lost) -> None:
        """What `lfg attach --json` of a run on a broker did not get, in order among the events."""
        if lost.ticket is not None and lost.attempt is not None:
            self.partial.add((lost.ticket, lost.attempt))
        self._write("gap", lost.ticket, lost.attempt, lost.t, lost.fields())

    def _write(
        self, kind: str, ticket: str | None, attempt: int | None, t: float, record: dict[str, Any]
    ) -> None:
        line = {"type": kind, "ticket": ticket, "attempt": attempt, "t": round(t - self.t0, 4), **record}
        self.out.write(json_text(line) + "\n")
        self.out.flush()

    def _record(self, event: Event) -> dict[str, Any] | None:
        record = JSON_LINES.handlers.get(type(event))
        return None if record is None else record(self, event)

    def _started(self, event: AttemptStarted) -> dict[str, Any]:
        return {"type": "attempt_started", "provider": event.provider, "model": event.model}

    def _check(self, event: CheckRan) -> dict[str, Any]:
        """A tournament contestant's check has ended (tournament/referee.py)."""
        return {"type": "check", **_check_json(event.result)}

    def _verdict(self, event: VerdictDecided) -> dict[str, Any]:
        """A tournament's verdict: `ticket` is the tournament (the id written in the file), of no attempt
        (its `attempt` is null, in its place among the line's first fields)."""
        return {"type": "verdict", "attempt": None, **_verdict_json(event.verdict)}

    def _queued_for_worker(self, event: AttemptQueued) -> dict[str, Any]:
        where = {"provider": event.provider, "model": event.model}
        return {"type": "attempt_queued", **where, "message": event.message}

    def _prompt(self, event: PromptSent) -> dict[str, Any]:
        return {"type": "prompt", "text": event.text, "continues": event.continues}

    def _steered(self, event: Steered) -> dict[str, Any]:
        """A steer put into the attempt at its place: a user turn after a round's tool results."""
        return {"type": "steer", "text": event.text, "by": event.by}

    def _holding(self, event: Holding) -> dict[str, Any]:
        """What the ticket holds for the person, whole, each time it changes."""

        def listed(messages: tuple[HeldMessage, ...]) -> list[dict[str, Any]]:
            return [{"id": m.id, "text": m.text, "steer": m.steer, "by": m.by} for m in messages]

        return {
            "type": "held",
            "held": listed(event.held),
            "unsent": listed(event.unsent),
            "sent": listed(event.sent),
            "message": event.message,
        }

    def _text(self, event: TextDelta) -> dict[str, Any]:
        return {"type": "text", "text": event.text}

    def _reasoning(self, event: ReasoningDelta) -> dict[str, Any]:
        return {"type": "reasoning", "text": event.text}

    def _tool_call(self, event: ToolCallReady) -> dict[str, Any]:
        call = {"id": event.call_id, "name": event.name, "arguments": event.arguments}
        return {"type": "tool_call", **call, "error": event.error}

    def _tool_update(self, event: ToolCallUpdated) -> dict[str, Any]:
        changed = {"id": event.call_id, "name": event.name, "arguments": event.arguments, "kind": event.kind}
        return {"type": "tool_call_update", **changed, "locations": list(event.locations)}

    def _tool_output(self, event: ToolOutputDelta) -> dict[str, Any]:
        return {"type": "tool_output", "id": event.call_id, "text": event.text}

    def _tool_result(self, event: ToolResult) -> dict[str, Any]:
        return {
            "type": "tool_result",
            "id": event.call_id,
            "output": event.output,
            "is_error": event.is_error,
        }

    def _plan(self, event: PlanUpdated) -> dict[str, Any]:
        plan = [{"content": s.content, "status": s.status, "priority": s.priority} for s in event.steps]
        return {"type": "plan", "steps": plan, "markdown": event.markdown}

    def _worktree(self, event: WorktreeReady) -> dict[str, Any]:
        where = {"path": event.path, "branch": event.branch, "base": event.base}
        return {"type": "worktree", **where, "message": event.message}

    def _diff(self, event: DiffUpdated) -> dict[str, Any]:
        size = {"added": event.added, "removed": event.removed, "files": event.files}
        return {"type": "diff", **size, "text": event.text}

    def _approval(self, event: ApprovalAsked) -> dict[str, Any]:
        asked = {
            "id": event.call_id,
            "name": event.name,
            "arguments": event.arguments,
            "message": event.message,
        }
        return {"type": "approval", **asked}

    def _approval_answer(self, event: ApprovalAnswered) -> dict[str, Any]:
        answer = {"id": event.call_id, "allowed": event.allowed, "by": event.by, "message": event.message}
        return {"type": "approval_answer", **answer}

    def _elicitation(self, event: ElicitationAsked) -> dict[str, Any]:
        asked = {"id": event.elicitation_id, "question": event.question, "form": event.form}
        return {"type": "elicitation", **asked, "waits": event.waits, "message": event.message}

    def _elicitation_answer(self, event: ElicitationAnswered) -> dict[str, Any]:
        answer = {"id": event.elicitation_id, "action": event.action, "content": event.content}
        return {"type": "elicitation_answer", **answer, "by": event.by, "message": event.message}

    def _context(self, event: ContextUsed) -> dict[str, Any]:
        used, size = event.used, event.size
        percent = round(100 * used / size, 1) if size else None
        limit = None if event.limit is None else asdict(event.limit)
        said = {"used": used, "size": size, "percent": percent, "cost_usd": event.cost_usd, "limit": limit}
        return {"type": "context", **said}

    def _quota(self, event: QuotaSeen) -> dict[str, Any]:
        allowances = {
            kind: {
                "limit": getattr(event, f"{kind}_limit"),
                "remaining": getattr(event, f"{kind}_remaining"),
                "reset_s": getattr(event, f"{kind}_reset_s"),
            }
            for kind in ("requests", "tokens")
        }
        return {"type": "quota", "provider": event.provider, **allowances}

    def _agent(self, event: AgentDetails) -> dict[str, Any]:
        offered = [{"name": c.name, "description": c.description} for c in event.commands]
        options = {setting.name: setting.value for setting in event.settings}
        return {
            "type": "agent",
            "model": event.model,
            "mode": event.mode,
            "settings": options,
            "commands": offered,
        }

    def _stalled(self, event: Stalled) -> dict[str, Any]:
        stall = {"idle_s": round(event.idle_s, 1), "limit_s": event.limit_s}
        return {"type": "stalled", **stall, "message": event.message}

    def _progress(self, event: AgentProgress) -> dict[str, Any]:
        return {"type": "agent_progress", "title": event.title, "message": event.message}

    def _status(self, event: Status) -> dict[str, Any]:
        if isinstance(event, Queued):  # waiting for its provider: why, and for how long when known
            wait_s = None if event.until is None else round(max(0.0, event.until - event.t), 3)
            return {"type": "status", "message": event.message, "reason": event.reason, "wait_s": wait_s}
        return {"type": "status", "message": event.message}

    def _subagent(self, event: SubagentChanged) -> dict[str, Any]:
        """A sub-agent's record as it stands (its start, its finish, its cost)."""
        return {
            "type": "subagent",
            "child": event.child,
            "task": event.task,
            "state": event.state,
            "output_tokens": event.output_tokens,
            "output_tokens_estimated": True,  # from its text: agents report no count of a child's own
            "cost_usd": event.cost_usd,
            "message": event.message,
        }

    def _subagent_text(self, event: SubagentDelta) -> dict[str, Any]:
        return {"type": "subagent_text", "child": event.child, "text": event.text}

    def _subagent_call(self, event: SubagentToolCall) -> dict[str, Any]:
        where = {"child": event.child, "call_id": event.call_id, "title": event.title}
        return {"type": "subagent_tool_call", **where, "state": event.state, "message": event.message}

    def _usage(self, event: Usage) -> dict[str, Any]:
        return {
            "type": "usage",
            "input_tokens": event.input_tokens,
            "output_tokens": event.output_tokens,
            "reasoning_tokens": event.reasoning_tokens,
            "cache_read_tokens": event.cache_read_tokens,
            "cache_write_tokens": event.cache_write_tokens,
            **({"models": [asdict(share) for share in event.models]} if event.models else {}),
        }

    def _ended(self, event: AttemptEnded) -> dict[str, Any]:
        metrics = self.book.attempts.get((event.ticket, event.attempt), Metrics())
        rate = metrics.tokens_per_s
        return {
            "type": "attempt_ended",
            "outcome": event.outcome.value,
            "error": _error_json(event.error),
            "ttft_ms": _ms(metrics.ttft_s),
            "tokens_per_s": None if rate is None else round(rate, 2),
            "tokens_per_s_estimated": rate is not None and metrics.rate_estimated,
            "output_tokens": metrics.output_tokens,
            "thinking_tokens": metrics.thinking_tokens,
            "thinking_estimated": metrics.thinking_estimated,
            "thinking_ms": _ms(metrics.thinking_s),
            "cost_usd": metrics.cost_usd,
            "cost_estimated": metrics.cost_usd is not None and metrics.cost_estimated,
            "cost_by_agent": metrics.cost_by_agent,
            "subagent_tokens": metrics.subagent_tokens,
            "subagent_tokens_estimated": bool(metrics.subagents),
            "cache_hit": _share(metrics.cache_hit),
            "cache_hit_last": _share(metrics.cache_hit_last),
            "cache_miss": metrics.cache_miss,
            "partial": (event.ticket, event.attempt) in self.partial,
        }


def _check_json(result: CheckResult) -> dict[str, Any]:
    tests = None if result.tests is None else asdict(result.tests)
    return {
        "command": result.command,
        "passed": result.passed,
        "tests": tests,
        "output": result.output,
        "trusted": list(result.trusted),
        "restored": list(result.restored),
        "left_out": list(result.left_out),
        "refused": result.refused,
    }


def _verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The `verdict` line: winner and ranking (best first, each with its reasons), the judge (null: the
    rule ranked), why it failed and the labels it saw, each contestant's row of the table, and the git
    command that lands the winner."""
    contestants = []
    for c in verdict.contestants:
        m = c.metrics
        diff = c.diff
        contestants.append(
            {
                "ticket": c.ticket,
                "attempt": c.attempt,
                "model": c.model,
                "outcome": c.outcome.value,
                "check": None if c.check is None else _check_json(c.check),
                "diff": None
                if diff is None
                else {
                    "added": diff.added,
                    "removed": diff.removed,
                    "files": list(diff.files),
                    "count": diff.count,
                },
                "cost_usd": m.cost_usd,
                "cost_estimated": m.cost_usd is not None and m.cost_estimated,
                "wall_s": None if c.wall_s is None else round(c.wall_s, 3),
                "output_tokens": m.output_tokens,
                "ttft_ms": _ms(m.ttft_s),
                "tokens_per_s": None if m.tokens_per_s is None else round(m.tokens_per_s, 2),
                "branch": c.branch,
                "worktree": c.worktree,
            }
        )
    return {
        "winner": verdict.winner,
        "ranking": [{"ticket": p.ticket, "reasons": list(p.reasons)} for p in verdict.ranking],
        "judge": verdict.judge,
        "judge_error": verdict.judge_error,
        "labels": {label: ticket for label, ticket in verdict.labels} or None,
        "contestants": contestants,
        "land": verdict.land_command(),
    }


PLAIN_STATUSES = (Status, Retrying, Queued, AgentStarted, SessionOpened)
"""Statuses whose facts NDJSON leaves out: each is a `status` line with its message (a `Queued`'s
with its `reason` and `wait_s` too)."""

JSON_LINES: Translation[Callable[[JsonLines, Any], dict[str, Any]]] = Translation(
    "headless NDJSON",
    {
        AttemptStarted: JsonLines._started,
        AttemptQueued: JsonLines._queued_for_worker,
        PromptSent: JsonLines._prompt,
        Steered: JsonLines._steered,
        Holding: JsonLines._holding,
        TextDelta: JsonLines._text,
        ReasoningDelta: JsonLines._reasoning,
        ToolCallReady: JsonLines._tool_call,
        ToolCallUpdated: JsonLines._tool_update,
        ToolOutputDelta: JsonLines._tool_output,
        ToolResult: JsonLines._tool_result,
        PlanUpdated: JsonLines._plan,
        WorktreeReady: JsonLines._worktree,
        DiffUpdated: JsonLines._diff,
        ApprovalAsked: JsonLines._approval,
        ApprovalAnswered: JsonLines._approval_answer,
        ElicitationAsked: JsonLines._elicitation,
        ElicitationAnswered: JsonLines._elicitation_answer,
        ContextUsed: JsonLines._context,
        QuotaSeen: JsonLines._quota,
        AgentDetails: JsonLines._agent,
        Stalled: JsonLines._stalled,
        AgentProgress: JsonLines._progress,
        SubagentChanged: JsonLines._subagent,
        SubagentDelta: JsonLines._subagent_text,
        SubagentToolCall: JsonLines._subagent_call,
        **dict.fromkeys(PLAIN_STATUSES, JsonLines._status),
        Usage: JsonLines._usage,
        AttemptEnded: JsonLines._ended,
        CheckRan: JsonLines._check,
        VerdictDecided: JsonLines._verdict,
    },
    {
        RequestSent: "lfg's own bookkeeping: its usage and the attempt's end say what a request did",
        ToolCallStarted: "a call is printed once, complete, as `tool_call`",
        ToolCallArgsDelta: "a call is printed once, complete, as `tool_call`",
        CallEnded: "a model call's end is lfg's own bookkeeping; the attempt's end says how it ended",
        SteerOffer: "what a running turn takes from the person is the composer's; a steer's answer says it",
    },
)
"""The NDJSON line (README's "NDJSON events") of each event type. Not the remote codec's dialect:
see docs/watching.md."""


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
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    """Each tournament's latest verdict, for the closing table."""
    _answers: dict[str, list[str]] = field(default_factory=dict)
    _tool_names: dict[str, str] = field(default_factory=dict)

    def _line(self, event: Event, text: str) -> None:
        """One progress line, for `event` of one ticket."""
        self._say(event.t, f"{event.ticket}  {text}")

    def _say(self, t: float, text: str) -> None:
        """One progress line, and only one; everything in it but the time may come from outside, so
        it is revealed (inert, and a bidirectional control or carriage return shown, so nothing
        reorders or hides part of it) and its line breaks shown as `⏎`, so no part of it (a
        sub-agent's task, an agent's question) starts a line that passes for lfg's."""
        said = revealed(text).replace("\n", "⏎")
        self.out.write(f"[{t - self.t0:6.1f}s] {said}\n")
        self.out.flush()

    def _check(self, row: None, event: CheckRan) -> None:
        self._line(event, f"check {event.result.label()}")

    def _verdict(self, row: None, event: VerdictDecided) -> None:
        verdict = event.verdict
        self.verdicts[verdict.tournament] = verdict
        self._say(event.t, verdict.summary())

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunFact):  # the run's, not an attempt's: it has no row
            if (said := PROGRESS.handlers.get(type(event))) is not None:
                said(self, None, event)
            return
        row = self.rows.get(event.ticket)
        if row is None or row.attempt != event.attempt:
            row = self.rows[event.ticket] = _Row(event.ticket, event.attempt)
            self._answers[event.ticket] = []
        row.metrics = self.book.attempts.get((event.ticket, event.attempt), row.metrics)
        show = PROGRESS.handlers.get(type(event))
        if show is not None:
            show(self, row, event)

    def _started(self, row: _Row, event: AttemptStarted) -> None:
        row.started, row.model = event.t, f"{event.provider}/{event.model}"
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        self._line(event, f"started on {event.provider}/{event.model}{again}")

    def _request(self, row: _Row, event: RequestSent) -> None:
        self._answers[event.ticket] = []

    def _text(self, row: _Row, event: TextDelta) -> None:
        self._answers[event.ticket].append(event.text)

    def _diff(self, row: _Row, event: DiffUpdated) -> None:
        row.diff = event

    def _tool_call(self, row: _Row, event: ToolCallReady | ToolCallUpdated) -> None:
        self._tool_names[event.call_id] = event.name
        self._line(event, f"→ {event.name} {_first_line(event.raw_arguments, 80)}")

    def _tool_result(self, row: _Row, event: ToolResult) -> None:
        name = self._tool_names.get(event.call_id, "tool")
        output = event.output
        summary = (
            _first_line(output, 80) if event.is_error else f"ok ({plural(len(output.splitlines()), 'line')})"
        )
        self._line(event, f"← {name} {summary}")

    def _status(self, row: _Row, event: Status) -> None:
        head, _, diff = event.message.partition("\n")
        if not event.message.startswith(AGENT_STATE_CHANGED) or not diff:
            self._line(event, f"· {event.message}")
            return
        self._line(event, f"· {head}")  # then its diff, as an answer is shown
        pad = " " * 10
        self.out.write("".join(f"{pad}│ {revealed(line)}\n" for line in diff.split("\n")))
        self.out.flush()

    def _ended(self, row: _Row, event: AttemptEnded) -> None:
        row.ended, row.outcome = event.t, event.outcome
        self._line(event, f"{OUTCOME_GLYPHS[event.outcome]} {self._ending(row, event.error)}")
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
        header = ("ticket", *COMPARED, *(("changed",) * diffs))
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
            models = [("model", *COMPARED)]
            models += [(row.model, *_cells(row)) for row in rows]
            tables.append(f"compare {group}: {plural(len(rows), 'model')}, one prompt\n{columns(models)}")
        tables += [_verdict_table(verdict) for verdict in self.verdicts.values()]
        return inert("\n\n".join(tables))


PROGRESS: Translation[Callable[[Progress, Any, Any], None]] = Translation(
    "headless progress",
    {
        AttemptStarted: Progress._started,
        RequestSent: Progress._request,
        TextDelta: Progress._text,
        DiffUpdated: Progress._diff,
        ToolCallReady: Progress._tool_call,
        ToolCallUpdated: Progress._tool_call,
        ToolResult: Progress._tool_result,
        **dict.fromkeys(
            (
                *PLAIN_STATUSES,
                AttemptQueued,
                AgentProgress,
                Stalled,
                ApprovalAsked,
                ApprovalAnswered,
                ElicitationAsked,
                ElicitationAnswered,
                PlanUpdated,
                WorktreeReady,
                SubagentChanged,
                Holding,
            ),
            Progress._status,
        ),
        AttemptEnded: Progress._ended,
        CheckRan: Progress._check,
        VerdictDecided: Progress._verdict,
    },
    {
        PromptSent: "the ticket's prompt is the person's own; the answer is what the lines show",
        Steered: "a steer is the person's own words; the line its `Holding` says is its progress",
        ReasoningDelta: "progress shows the answer, not the thinking",
        SubagentDelta: "progress shows the parent's answer; a sub-agent's start and finish are lines",
        SubagentToolCall: "a sub-agent's calls are its own: NDJSON and the pane show them",
        ToolCallStarted: "a call gets its line once complete",
        ToolCallArgsDelta: "a call gets its line once complete",
        ToolOutputDelta: "a command's output as it streams: the result's line says how it ended",
        Usage: "the counts are in the closing table, from the metrics",
        CallEnded: "the attempt's end is the line that counts",
        ContextUsed: "a coding agent's context and cost reach the closing table through the metrics",
        AgentDetails: "what an agent offers is the TUI's and NDJSON's, not a progress line",
        SteerOffer: "whether a turn takes steers is the composer's, not a progress line",
        QuotaSeen: "a provider's quota is the TUI's summary bar's and NDJSON's, not a progress line",
    },
)
"""Each event type's progress line (most events make none): what `lfg run --headless` prints."""


def _verdict_table(verdict: Verdict) -> str:
    """A tournament's section of the closing table: its contestants best first, the winner marked, and
    how to land it."""
    from lfgtui.contest import TABLE_HEADER

    rows: list[tuple[str, ...]] = [("", *TABLE_HEADER)]
    for placing in verdict.ranking:
        mark = "★" if placing.ticket == verdict.winner else ""
        rows.append((mark, *verdict.contestant(placing.ticket).row()))
    said = [verdict.summary(), columns(rows)]
    if (land := verdict.land_command()) is not None:
        said.append(f"land the winner: {land}")
    return "\n".join(said)


def _cells(row: _Row) -> tuple[str, ...]:
    return compared(row.metrics, (row.outcome or Outcome.CANCELLED).value, _duration(row))


def _changed(row: _Row) -> str:
    return "-" if row.diff is None else diff_size(row.diff.added, row.diff.removed, row.diff.files)


def _duration(row: _Row) -> str:
    if row.started is None or row.ended is None:
        return "-"
    return f"{row.ended - row.started:.1f}s"
