"""What an ACP agent's `session/update` notifications mean as lfg events.

A tool call arrives as `tool_call` and then changes through `tool_call_update`s; lfg shows it as one
row: `ToolCallStarted` + `ToolCallReady` when it appears, one `ToolResult` when it ends (completed or
failed), with its content rendered as text (text as is, a diff as a unified diff, a terminal by id).
The agent runs its own tools: lfg never runs these calls, it shows them.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from acp import schema

from lfgtui.acp.blocks import MessageBlocks
from lfgtui.events import (
    Event,
    EventFactory,
    PlanStep,
    PlanUpdated,
    ReasoningDelta,
    Status,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
)

ENDED = frozenset({"completed", "failed"})
PLAN_GLYPHS = {"completed": "✓", "in_progress": "▸", "pending": "○"}
NO_ENDING = "the agent did not say how this call ended"


def content_text(block: Any) -> str:
    """A content block as text: text itself, anything else as a short description of it."""
    match block:
        case schema.TextContentBlock(text=text):
            return text
        case schema.ResourceContentBlock(name=name, uri=uri):
            return f"[{name}]({uri})"
        case schema.EmbeddedResourceContentBlock(resource=schema.TextResourceContents(text=text)):
            return text
        case schema.EmbeddedResourceContentBlock(resource=resource):
            return f"[{resource.mime_type or 'binary'} resource {resource.uri}]"
        case schema.ImageContentBlock(mime_type=mime) | schema.AudioContentBlock(mime_type=mime):
            return f"[{block.type} {mime}]"
    return f"[{getattr(block, 'type', 'unknown')} content]"


def tool_content_text(item: Any) -> str:
    """One item of a tool call's content: text, a unified diff of a file, or a terminal's id."""
    match item:
        case schema.ContentToolCallContent(content=block):
            return content_text(block)
        case schema.FileEditToolCallContent(path=path, old_text=old, new_text=new):
            before = [] if old is None else old.splitlines(keepends=True)
            after = new.splitlines(keepends=True)
            source = "/dev/null" if old is None else path
            diff = difflib.unified_diff(before, after, source, path)
            return "".join(line if line.endswith("\n") else line + "\n" for line in diff)
        case schema.TerminalToolCallContent(terminal_id=terminal_id):
            return f"[terminal {terminal_id}]"
    return f"[{getattr(item, 'type', 'unknown')} content]"


def plan_message(steps: tuple[PlanStep, ...]) -> str:
    return "plan: " + " · ".join(f"{PLAN_GLYPHS.get(s.status, '?')} {s.content}" for s in steps)


@dataclass
class _Call:
    title: str
    kind: str | None
    content: list[Any] = field(default_factory=list)
    raw_output: Any = None
    status: str | None = None


@dataclass
class UpdateReader:
    """Turns one agent session's updates into events, remembering each tool call until it ends."""

    ev: EventFactory
    calls: dict[str, _Call] = field(default_factory=dict)
    ready: dict[str, ToolCallReady] = field(default_factory=dict)
    """Each call as first shown: what a permission request about it is asked as."""
    inputs: dict[str, Any] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)
    """Calls whose permission request the person answered no: their failure is shown as denied."""
    blocks: MessageBlocks = field(default_factory=MessageBlocks)

    def events(self, update: Any) -> list[Event]:
        ev = self.ev
        if isinstance(update, schema.ToolCallStart | schema.ToolCallProgress):
            self.blocks.interrupt()
        match update:
            case schema.AgentMessageChunk(content=block, message_id=message_id):
                return [ev(TextDelta, text=self.blocks.text(content_text(block), message_id))]
            case schema.AgentThoughtChunk(content=block, message_id=message_id):
                return [ev(ReasoningDelta, text=self.blocks.thought(content_text(block), message_id))]
            case schema.ToolCallStart():
                return self._started(update)
            case schema.ToolCallProgress():
                return self._progressed(update)
            case schema.AgentPlanUpdate(entries=entries):
                steps = tuple(PlanStep(e.content, e.status, e.priority) for e in entries)
                return [ev(PlanUpdated, message=plan_message(steps), steps=steps)]
            case schema.AvailableCommandsUpdate(available_commands=commands):
                names = ", ".join(f"/{c.name}" for c in commands) or "none"
                return [ev(Status, message=f"agent commands: {names}")]
            case schema.CurrentModeUpdate(current_mode_id=mode):
                return [ev(Status, message=f"agent mode: {mode}")]
            case schema.UsageUpdate(used=used, size=size):
                return [ev(Status, message=f"context: {used:,} of {size:,} tokens")]
            case schema.SessionInfoUpdate(title=str(title)):
                return [ev(Status, message=f"session: {title}")]
        return []  # the person's own messages replayed by session/load, config changes: nothing to show

    def _started(self, start: schema.ToolCallStart) -> list[Event]:
        call_id = start.tool_call_id
        call = self.calls[call_id] = _Call(
            start.title, start.kind, list(start.content or []), start.raw_output
        )
        raw = start.raw_input
        arguments = raw if isinstance(raw, dict) else ({} if raw is None else {"input": raw})
        name = call.title or call.kind or "tool"
        self.inputs[call_id] = raw
        started = self.ev(ToolCallStarted, call_id=call_id, name=name)
        ready = self.ready[call_id] = self.ev(
            ToolCallReady,
            call_id=call_id,
            name=name,
            arguments=arguments,
            raw_arguments=json.dumps(arguments, ensure_ascii=False),
        )
        return [
            started,
            ready,
            *self._ending(call_id, start.status),
        ]

    def _progressed(self, progress: schema.ToolCallProgress) -> list[Event]:
        call_id = progress.tool_call_id
        call = self.calls.get(call_id)
        if call is None:  # an update for a call never announced: show it from here on
            start = schema.ToolCallStart(
                session_update="tool_call", tool_call_id=call_id, title=progress.title or "tool"
            )
            return self._started(start) + self._progressed(progress)
        if progress.content is not None:
            call.content = list(progress.content)
        if progress.raw_output is not None:
            call.raw_output = progress.raw_output
        return self._ending(call_id, progress.status)

    def _ending(self, call_id: str, status: str | None) -> list[Event]:
        call = self.calls[call_id]
        if status not in ENDED or call.status in ENDED:
            return []
        call.status = status
        parts = [tool_content_text(item) for item in call.content]
        if not parts and call.raw_output is not None:
            parts = [call.raw_output if isinstance(call.raw_output, str) else json.dumps(call.raw_output)]
        output = "\n".join(part.rstrip("\n") for part in parts)
        if status == "failed" and call_id in self.denied:
            output = f"denied: {output or 'the person said no'}"
        return [self.ev(ToolResult, call_id=call_id, output=output, is_error=status == "failed")]

    def unfinished(self) -> list[Event]:
        """A failed result for every call the agent left open when its turn ended."""
        open_calls = [call_id for call_id, call in self.calls.items() if call.status not in ENDED]
        for call_id in open_calls:
            self.calls[call_id].status = "failed"
        return [self.ev(ToolResult, call_id=c, output=NO_ENDING, is_error=True) for c in open_calls]
