"""Status notes that carry facts, as the history keeps them: for each such event type, the JSON its
status part's `meta` holds (what the recorder writes) and how that JSON is read back into the event's
fields (what rebuild.py and the export read). One table for both directions, so a note written is a
note read. A part whose meta is not one of these (a plain status, a damaged or edited row) comes
back as a plain `Status`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lfgtui.events import (
    AgentCommand,
    AgentDetails,
    AgentLimit,
    AgentProgress,
    AgentSetting,
    AgentStarted,
    ApprovalAnswered,
    ApprovalAsked,
    AttemptQueued,
    ContextUsed,
    ElicitationAnswered,
    ElicitationAsked,
    ErrorInfo,
    ErrorKind,
    Event,
    HeldMessage,
    Holding,
    PlanStep,
    PlanUpdated,
    QuotaSeen,
    Retrying,
    SessionOpened,
    Stalled,
    Status,
    SubagentChanged,
    SubagentToolCall,
    WorktreeReady,
)
from lfgtui.formats import context_text, quota_text

Facts = dict[str, Any]


@dataclass(frozen=True, slots=True)
class NoteKind:
    """One kind of note: its text and meta from the event, and its event fields from the meta (None
    when the meta is not this kind's, or is damaged). A `Status` kind's `message` is the part's text."""

    text: Callable[[Any], str]
    meta: Callable[[Any], Facts]
    read: Callable[[Facts], Facts | None]


def _message(event: Status) -> str:
    return event.message


def error_kind(value: Any) -> ErrorKind:
    """The recorded kind of error; one this lfg does not know (a newer lfg's, an edited row) is
    `internal` rather than a crash."""
    try:
        return ErrorKind(value)
    except ValueError:
        return ErrorKind.INTERNAL


def _retry_meta(event: Retrying) -> Facts:
    error = event.error
    return {
        "retry": event.retry,
        "max_retries": event.max_retries,
        "delay_s": event.delay_s,
        "error": {
            "kind": error.kind.value,
            "message": error.message,
            "status": error.status,
            "retry_after": error.retry_after,
        },
    }


def _read_retry(info: Facts) -> Facts | None:
    error, retry, limit, delay = (info.get(k) for k in ("error", "retry", "max_retries", "delay_s"))
    if not (isinstance(error, dict) and isinstance(error.get("message"), str)):
        return None
    if not (isinstance(retry, int) and isinstance(limit, int) and isinstance(delay, int | float)):
        return None
    kind, status, after = error_kind(error.get("kind")), error.get("status"), error.get("retry_after")
    status = status if isinstance(status, int) and not isinstance(status, bool) else None
    after = float(after) if _seconds(after) else None
    return {
        "error": ErrorInfo(kind, error["message"], status, after),
        "retry": retry,
        "max_retries": limit,
        "delay_s": delay,
    }


def _context_meta(event: ContextUsed) -> Facts:
    facts: Facts = {"context": [event.used, event.size], "cost_usd": event.cost_usd}
    if (limit := event.limit) is not None:
        facts["limit"] = [limit.window, limit.status, limit.used, limit.reset_s]
    return facts


def _read_context(info: Facts) -> Facts | None:
    context, cost = info.get("context"), info.get("cost_usd")
    if (
        isinstance(context, list)
        and len(context) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in context)
        and (cost is None or _number(cost))
    ):
        return {
            "used": context[0],
            "size": context[1],
            "cost_usd": cost,
            "limit": _read_limit(info.get("limit")),
        }
    return None


def _read_limit(said: Any) -> AgentLimit | None:
    """An agent's account limit as a context note keeps it, or None (none, or a damaged one)."""
    if not (isinstance(said, list) and len(said) == 4):
        return None
    window, status, used, reset_s = said
    if (
        isinstance(window, str)
        and isinstance(status, str)
        and all(v is None or _number(v) for v in (used, reset_s))
    ):
        return AgentLimit(window, status, used, reset_s)
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _details_meta(event: AgentDetails) -> Facts:
    offered = {
        "commands": [[command.name, command.description] for command in event.commands],
        "mode": event.mode,
        "settings": [[setting.name, setting.value] for setting in event.settings],
        "model": event.model,
    }
    return {"agent": offered}


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


def _read_details(info: Facts) -> Facts | None:
    offered = info.get("agent")
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
    return {
        "commands": tuple(AgentCommand(*pair) for pair in commands),
        "mode": mode,
        "settings": tuple(AgentSetting(*pair) for pair in settings),
        "model": model,
    }


def _read_asked(info: Facts) -> Facts | None:
    asked, tool, arguments = info.get("approval"), info.get("tool"), info.get("arguments")
    if isinstance(asked, str) and isinstance(tool, str) and isinstance(arguments, dict):
        return {"call_id": asked, "name": tool, "arguments": arguments}
    return None


def _read_answered(info: Facts) -> Facts | None:
    answered, allowed, by = info.get("answered"), info.get("allowed"), info.get("by")
    if isinstance(answered, str) and isinstance(allowed, bool) and isinstance(by, str):
        return {"call_id": answered, "allowed": allowed, "by": by}
    return None


def _question_meta(event: ElicitationAsked) -> Facts:
    return {
        "elicitation": event.elicitation_id,
        "question": event.question,
        "form": event.form,
        "waits": event.waits,
    }


def _read_question(info: Facts) -> Facts | None:
    asked, question, form, waits = (info.get(k) for k in ("elicitation", "question", "form", "waits"))
    if (
        isinstance(asked, str)
        and isinstance(question, str)
        and isinstance(form, dict)
        and isinstance(waits, bool)
    ):
        return {"elicitation_id": asked, "question": question, "form": form, "waits": waits}
    return None


def _reply_meta(event: ElicitationAnswered) -> Facts:
    return {
        "elicitation_answer": event.elicitation_id,
        "action": event.action,
        "content": event.content,
        "by": event.by,
    }


def _read_reply(info: Facts) -> Facts | None:
    answered, action, content, by = (info.get(k) for k in ("elicitation_answer", "action", "content", "by"))
    well_formed = isinstance(answered, str) and isinstance(action, str) and isinstance(by, str)
    if well_formed and (content is None or isinstance(content, dict)):
        return {"elicitation_id": answered, "action": action, "content": content, "by": by}
    return None


def _seconds(value: Any) -> bool:
    """A finite, non-negative number of seconds (an imported file's may be anything)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf


def _read_stalled(info: Facts) -> Facts | None:
    stalled = info.get("stalled")
    if isinstance(stalled, list) and len(stalled) == 2 and all(_seconds(value) for value in stalled):
        return {"idle_s": float(stalled[0]), "limit_s": float(stalled[1])}
    return None


def _read_progress(info: Facts) -> Facts | None:
    progress = info.get("progress")
    return {"title": progress} if isinstance(progress, str) else None


def _read_worktree(info: Facts) -> Facts | None:
    worktree = [info.get(key) for key in ("worktree", "branch", "base")]
    if all(isinstance(value, str) for value in worktree):
        return dict(zip(("path", "branch", "base"), worktree, strict=True))
    return None


def _read_agent_log(info: Facts) -> Facts | None:
    log = info.get("agent_log")
    return {"log": log} if isinstance(log, str) else None


def _read_session(info: Facts) -> Facts | None:
    session = info.get("acp_session")
    return {"session_id": session, "loaded": info.get("loaded") is True} if isinstance(session, str) else None


def _read_plan(info: Facts) -> Facts | None:
    plan = info.get("plan")
    well_formed = isinstance(plan, list) and all(
        isinstance(step, list) and len(step) == 3 and all(isinstance(field, str) for field in step)
        for step in plan
    )
    if not well_formed:
        return None
    markdown = info.get("plan_markdown", "")  # a note recorded before plan operations has none
    return {
        "steps": tuple(PlanStep(*step) for step in plan),
        "markdown": markdown if isinstance(markdown, str) else "",
    }


QUOTA_FIELDS = ("limit", "remaining", "reset_s")


def _quota_meta(event: QuotaSeen) -> Facts:
    allowances = {
        kind: [getattr(event, f"{kind}_{field}") for field in QUOTA_FIELDS] for kind in ("requests", "tokens")
    }
    return {"quota": event.provider, **allowances}


def _read_quota(info: Facts) -> Facts | None:
    provider = info.get("quota")
    if not isinstance(provider, str):
        return None
    facts: Facts = {"provider": provider}
    for kind in ("requests", "tokens"):
        values = info.get(kind)
        if not (isinstance(values, list) and len(values) == len(QUOTA_FIELDS)):
            return None
        limit, remaining, reset_s = values
        if not (_count(limit) and _count(remaining) and (reset_s is None or _seconds(reset_s))):
            return None
        facts |= {f"{kind}_limit": limit, f"{kind}_remaining": remaining, f"{kind}_reset_s": reset_s}
    return facts


def _count(value: Any) -> bool:
    """None, or a whole number not below zero."""
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _read_queued_for(info: Facts) -> Facts | None:
    where = info.get("queued_for")
    if not (isinstance(where, list) and len(where) == 2 and all(isinstance(w, str) for w in where)):
        return None
    return {"provider": where[0], "model": where[1]}


def _subagent_meta(event: SubagentChanged) -> Facts:
    return {"subagent": [event.child, event.task, event.state, event.output_tokens, event.cost_usd]}


def _read_subagent(info: Facts) -> Facts | None:
    """A sub-agent's record (`SubagentChanged`), or None when the meta is not one (or is damaged)."""
    record = info.get("subagent")
    if not (isinstance(record, list) and len(record) == 5):
        return None
    child, task, state, tokens, cost = record
    if not (isinstance(child, str) and isinstance(task, str) and isinstance(state, str)):
        return None
    if not (_count(tokens) and tokens is not None and (cost is None or isinstance(cost, int | float))):
        return None
    return {"child": child, "task": task, "state": state, "output_tokens": tokens, "cost_usd": cost}


def _read_subagent_call(info: Facts) -> Facts | None:
    """A sub-agent's tool call (`SubagentToolCall`), or None when the meta is not one."""
    call = info.get("subagent_call")
    if not (isinstance(call, list) and len(call) == 4 and all(isinstance(part, str) for part in call)):
        return None
    return dict(zip(("child", "call_id", "title", "state"), call, strict=True))


def _held_meta(event: Holding) -> Facts:
    meta: Facts = {"held": [[m.id, m.text, m.steer, m.by] for m in event.held]}
    if event.unsent:
        meta["unsent"] = [[m.id, m.text, m.steer, m.by] for m in event.unsent]
    if event.sent:
        meta["sent"] = [[m.id, m.text, m.steer, m.by] for m in event.sent]
    return meta


def _read_messages(listed: Any) -> tuple[HeldMessage, ...] | None:
    """Held messages as a note keeps them, or None when damaged."""
    if not isinstance(listed, list):
        return None
    messages = []
    for item in listed:
        if not (isinstance(item, list) and len(item) == 4):
            return None
        number, text, steer, by = item
        if not (_count(number) and isinstance(text, str) and isinstance(steer, bool) and isinstance(by, str)):
            return None
        messages.append(HeldMessage(number, text, steer, by))
    return tuple(messages)


def _read_held(info: Facts) -> Facts | None:
    """What a ticket held (`Holding`) and what a turn that did not complete left unsent (none in a note
    recorded before lfg kept it), or None when the meta is not that (or is damaged)."""
    held = _read_messages(info.get("held"))
    unsent = _read_messages(info.get("unsent", []))
    sent = _read_messages(info.get("sent", []))
    if held is None or unsent is None or sent is None:
        return None
    return {"held": held, "unsent": unsent, "sent": sent}


NOTES: dict[type[Event], NoteKind] = {
    AttemptQueued: NoteKind(_message, lambda e: {"queued_for": [e.provider, e.model]}, _read_queued_for),
    Retrying: NoteKind(_message, _retry_meta, _read_retry),
    ContextUsed: NoteKind(context_text, _context_meta, _read_context),
    AgentDetails: NoteKind(lambda e: f"agent: {e.summary()}", _details_meta, _read_details),
    QuotaSeen: NoteKind(lambda e: f"quota: {quota_text(e)}", _quota_meta, _read_quota),
    ApprovalAsked: NoteKind(
        _message, lambda e: {"approval": e.call_id, "tool": e.name, "arguments": e.arguments}, _read_asked
    ),
    ApprovalAnswered: NoteKind(
        _message, lambda e: {"answered": e.call_id, "allowed": e.allowed, "by": e.by}, _read_answered
    ),
    ElicitationAsked: NoteKind(_message, _question_meta, _read_question),
    ElicitationAnswered: NoteKind(_message, _reply_meta, _read_reply),
    Stalled: NoteKind(_message, lambda e: {"stalled": [e.idle_s, e.limit_s]}, _read_stalled),
    AgentProgress: NoteKind(_message, lambda e: {"progress": e.title}, _read_progress),
    WorktreeReady: NoteKind(
        _message, lambda e: {"worktree": e.path, "branch": e.branch, "base": e.base}, _read_worktree
    ),
    AgentStarted: NoteKind(_message, lambda e: {"agent_log": e.log}, _read_agent_log),
    SessionOpened: NoteKind(
        _message, lambda e: {"acp_session": e.session_id, "loaded": e.loaded}, _read_session
    ),
    PlanUpdated: NoteKind(
        _message,
        lambda e: (
            {"plan": [[step.content, step.status, step.priority] for step in e.steps]}
            | ({"plan_markdown": e.markdown} if e.markdown else {})
        ),
        _read_plan,
    ),
    SubagentChanged: NoteKind(_message, _subagent_meta, _read_subagent),
    Holding: NoteKind(_message, _held_meta, _read_held),
    SubagentToolCall: NoteKind(
        _message, lambda e: {"subagent_call": [e.child, e.call_id, e.title, e.state]}, _read_subagent_call
    ),
}
"""Every note with facts, in the order a part's meta is tried when it is read back."""


def read_note(info: Facts) -> tuple[type[Event], Facts] | None:
    """The event type and fields (but a status's `message`) a status part's meta stands for, or None
    when it is none of these kinds: then the part is a plain `Status`."""
    for kind, note in NOTES.items():
        if (facts := note.read(info)) is not None:
            return kind, facts
    return None


def agent_note(info: Facts) -> tuple[type[Event], Facts] | None:
    """A note of what a coding agent said about its session (its context, its details) as that
    event's type and fields, or None when the part is not one (or is damaged)."""
    for kind in (ContextUsed, AgentDetails):
        if (facts := NOTES[kind].read(info)) is not None:
            return kind, facts
    return None
