"""What an ACP agent's `session/update` notifications mean as lfg events.

A tool call arrives as `tool_call` and then changes through `tool_call_update`s; lfg shows it as one
row: `ToolCallStarted` + `ToolCallReady` when it appears, a `ToolCallUpdated` whenever an update
changes its name, input, kind or locations (every field an update carries is merged into the call),
`ToolOutputDelta`s while a command of it runs (see `tool_output.py`), one `ToolResult` when it ends
(completed or failed), with its content rendered as text (text as is, a diff as a unified diff, a
terminal as its output and how it ended: one lfg runs for the agent, or a command the agent ran
itself and reported in the call's `_meta`, as Codex does). The agent runs its own tools: lfg never
runs these calls, it shows them.

An agent's own notice sent as answer text (Codex's warnings, see `NOTICE`; a chunk Claude Code
marks `_meta.claudeCode.kind: "informational"`, see `informational`) is a `Status`, never answer
text: not the answer's first token, not counted in its rate or the run's calibration. What the
agent says about its session rather than its work (`usage_update`, its command list, its mode
and settings) is not a status per update: `usage_update` becomes `ContextUsed` (the gauges'
context and, with a cost, the agent-reported cost), the rest one `AgentDetails` whenever it
changed.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from acp import schema
from pydantic import ValidationError

from lfgtui.events import (
    COMPACTING,
    COMPACTION_ENDED,
    AgentCommand,
    AgentDetails,
    AgentProgress,
    AgentSetting,
    ContextUsed,
    Event,
    EventFactory,
    PlanStep,
    PlanUpdated,
    ReasoningDelta,
    Status,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolCallUpdated,
    ToolOutputDelta,
    ToolResult,
)
from lfgtui.run.agents.blocks import MessageBlocks
from lfgtui.run.agents.choices import Offered, current_name
from lfgtui.run.agents.limits import agent_limit
from lfgtui.run.agents.stable_updates import (
    CompactionSummaryChunk,
    CompactionUpdate,
    Malformed,
    Notice,
    PlanFile,
    PlanItems,
    PlanMarkdown,
    PlanRemoved,
    PlanUpdate,
    SessionMessage,
    SessionMessageChunk,
    SubagentUpdate,
    blocks_text,
    stable_update,
)
from lfgtui.run.agents.subagents import Children, ChildUpdate
from lfgtui.run.agents.terminals import OutputReader, Terminals
from lfgtui.run.agents.tool_output import (
    AgentTerminal,
    Coalescer,
    OutputDue,
    TerminalNews,
    reports_agent_terminal,
)

log = logging.getLogger(__name__)
ENDED = frozenset({"completed", "failed"})
PLAN_GLYPHS = {"completed": "✓", "in_progress": "▸", "pending": "○"}
NO_ENDING = "the agent did not say how this call ended"
NOTICE = re.compile(
    r"(?:Warning|Config warning|Heads up|Notice|Note): [^\n]+\n*|\*Context compacted[^\n]*\*\n*"
)
"""The agent's own words about the session, which it sends whole as answer text where the client
takes no ACP notices: Codex's `Warning: Model metadata for … not found …` when a model is outside
its catalogue, its config warnings, its `*Context compacted …*`, and the like (one line each)."""
NOTICE_SAYS = "the agent's notice: "
"""How the status an agent's notice becomes begins."""
DENIED = "denied: the person said no"
"""A call the person refused, that the agent left open (Gemini CLI sends nothing more about it)."""


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A chunk of an agent's answer (or of its thinking) that is plain text: most of what an agent
    sends, read without the SDK's models (see `session_update`)."""

    text: str
    message_id: str | None
    thought: bool = False
    notice: bool = False
    """The agent marked it as its own words, not the model's (`informational`)."""


CHUNKS = {"agent_message_chunk": False, "agent_thought_chunk": True}


def informational(meta: Any) -> bool:
    """Whether a chunk's `_meta` marks it as the agent's own notice: Claude Code sends its warnings
    (the auto mode's billing through a gateway, say) as message chunks with
    `"_meta": {"claudeCode": {"kind": "informational", "level": "warning"}}`, between the model's
    messages, recorded from claude-agent-acp 0.101.0 on 2026-11-26."""
    vendor = meta.get("claudeCode") if isinstance(meta, dict) else None
    return isinstance(vendor, dict) and vendor.get("kind") == "informational"


CHUNK_KEYS = frozenset({"sessionUpdate", "content", "messageId", "_meta"})
TEXT_KEYS = frozenset({"type", "text", "_meta"})


CHILD_CALL = "/"
"""Between a sub-agent's session id and its call's id, in the id its row has in the parent's pane."""


def child_call_id(session_id: str, call_id: str) -> str:
    """The id of sub-agent `session_id`'s call in the parent's pane: its own ids may be the parent's."""
    return f"{session_id}{CHILD_CALL}{call_id}"


@dataclass(frozen=True, slots=True)
class Unknown:
    """A session update of a kind neither the SDK nor `stable_updates` knows (a newer ACP's): kept
    as its kind, counted, and ignored, never fatal (`UpdateReader.ignored`)."""

    kind: str


SDK_KINDS = frozenset(
    {
        "user_message_chunk",
        "agent_message_chunk",
        "agent_thought_chunk",
        "tool_call",
        "tool_call_update",
        "plan",
        "available_commands_update",
        "current_mode_update",
        "config_option_update",
        "session_info_update",
        "usage_update",
    }
)
"""The update kinds the SDK's schema (v1.19) reads: one of them that does not validate is malformed,
any other kind unknown."""


def session_update(params: Any) -> Any | None:
    """The update a `session/update` notification's params carry: ACP's stable updates the SDK lacks
    as `stable_updates` types them (`Malformed` when one does not validate), a kind nobody knows as
    `Unknown`, the rest as the SDK reads them (its schema's `SessionNotification`), or None for
    params the SDK would drop as invalid (logged, as it logs them). A text chunk in its usual form
    (the fields the schema names, by their wire names, none but `_meta` that lfg ignores beyond
    those it reads) is a `TextChunk`, read here as the schema reads it: its text a string, a
    `messageId` that is not one dropped. Pydantic's validation of the schema's nested models costs
    more than the rest of lfg's work on an update before a pane."""
    update = params.get("update") if isinstance(params, dict) else None
    if isinstance(update, dict) and isinstance(params.get("sessionId"), str):
        kind, content = update.get("sessionUpdate"), update.get("content")
        thought = CHUNKS.get(kind) if isinstance(kind, str) else None
        if (
            thought is not None
            and isinstance(content, dict)
            and content.get("type") == "text"
            and type(text := content.get("text")) is str
            and update.keys() <= CHUNK_KEYS
            and content.keys() <= TEXT_KEYS
        ):
            message_id = update.get("messageId")
            notice = informational(update.get("_meta"))
            return TextChunk(text, message_id if isinstance(message_id, str) else None, thought, notice)
        stable = stable_update(update)
        if stable is not None:
            return stable
    try:
        return schema.SessionNotification.model_validate(params).update
    except ValidationError as exc:
        kind = update.get("sessionUpdate") if isinstance(update, dict) else None
        if isinstance(kind, str) and kind not in SDK_KINDS and isinstance(params.get("sessionId"), str):
            return Unknown(kind)
        log.warning("an agent's session/update that is not one: %s", exc)
        return None


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


def _location(location: schema.ToolCallLocation) -> str:
    return location.path if location.line is None else f"{location.path}:{location.line}"


def _tool_name(meta: dict[str, Any] | None) -> str | None:
    """The agent's own name for the tool, when it says (Claude Code's `_meta.claudeCode.toolName`)."""
    own = meta.get("claudeCode") if isinstance(meta, dict) else None
    name = own.get("toolName") if isinstance(own, dict) else None
    return name if isinstance(name, str) and name.strip() else None


DESCRIBING_AGENTS = frozenset({"codex-acp"})
"""Agents (by the package name their `initialize` gives, without its scope) whose calls' input is
their account of what ran, never the model's arguments: codex-acp shows a command Codex ran out of
the script its model wrote (`exec`), not the script, which Codex's token count holds."""


def describes_inputs(agent: schema.Implementation | None) -> bool:
    """Whether the agent's calls' input is its own account of them (`DESCRIBING_AGENTS`)."""
    return agent is not None and agent.name.rsplit("/", 1)[-1] in DESCRIBING_AGENTS


NAMED_ID = re.compile(r"([a-z][a-z0-9_]*?)__.")
"""A call id that leads with its tool's name and two underscores, as Gemini CLI names every call
(`read_file__…`): its titles name only what the call acts on (`README.md`)."""


def _id_tool(call_id: str) -> str | None:
    named = NAMED_ID.match(call_id)
    return named[1] if named else None


@dataclass
class _Call:
    """One tool call as the agent has described it so far: each `tool_call_update` merges into it."""

    title: str
    kind: str | None
    raw_input: Any = None
    locations: tuple[str, ...] = ()
    tool: str | None = None
    """The agent's own name for the tool, when it gives one."""
    id_tool: str | None = None
    """The tool's name as the call's id gives it (Gemini CLI's), shown before the title."""
    content: list[Any] = field(default_factory=list)
    raw_output: Any = None
    status: str | None = None
    agent_terminal: AgentTerminal | None = None
    """The output of a command the agent runs itself, as its updates' `_meta` streamed it."""

    def merge(self, update: schema.ToolCallStart | schema.ToolCallProgress) -> bool:
        """Take every field the update carries (one it leaves out keeps its value); whether what a
        row shows of the call changed. No serializing: an update per line of output stays cheap."""
        before = (self.name, self.kind, self.locations, self.written)
        changed = update.raw_input is not None and update.raw_input != self.raw_input
        if update.title is not None and update.title.strip():
            self.title = update.title
        if update.kind is not None:
            self.kind = update.kind
        if update.raw_input is not None:
            self.raw_input = update.raw_input
        if update.locations is not None:
            self.locations = tuple(_location(location) for location in update.locations)
        self.tool = _tool_name(update.field_meta) or self.tool
        if update.content is not None:
            self.content = list(update.content)
        if update.raw_output is not None:
            self.raw_output = update.raw_output
        return changed or before != (self.name, self.kind, self.locations, self.written)

    @property
    def written(self) -> str | None:
        """The text of a file the call creates, as its content's diff shows it (no text before)."""
        for item in self.content:
            if isinstance(item, schema.FileEditToolCallContent) and not item.old_text:
                return item.new_text
        return None

    @property
    def name(self) -> str:
        """The row's name as the agent's own UI reads it: `Write src/app.py`, `Bash ls -la`. A call
        whose input has not come yet reads as its tool; a command titled by itself (Claude Code's
        Bash) reads after its tool's name, as does every title of a call its id names
        (`read_file README.md`)."""
        title, tool = self.title.strip(), self.tool
        if tool and not self.raw_input:
            return tool
        if tool and self.kind == "execute" and not title.startswith(tool):
            return f"{tool} {title}".strip()
        if not tool and self.id_tool and not title.startswith(self.id_tool):
            return f"{self.id_tool} {title}".strip()
        return title or tool or self.kind or "tool"

    @property
    def arguments(self) -> dict[str, Any]:
        """The call's input as the agent sent it; from an agent that sends none (Gemini CLI), what
        it said of the call beyond the row's name instead: its title (the command, the file),
        locations, and the content of a file it creates (the input its token count holds, see
        `Metrics`)."""
        raw = self.raw_input
        if raw is not None:
            return raw if isinstance(raw, dict) else {"input": raw}
        title = self.title.strip()
        said: dict[str, Any] = {"title": title} if title and title != self.name else {}
        if self.locations:
            said["locations"] = list(self.locations)
        written = self.written
        return said if written is None else said | {"content": written}


EMPTY_DETAILS = AgentDetails(ticket="", attempt=0, seq=0, t=0.0)


def _details_fields(details: AgentDetails) -> dict[str, Any]:
    return {
        "commands": details.commands,
        "mode": details.mode,
        "settings": details.settings,
        "model": details.model,
    }


def settings_of(details: AgentDetails, options: Sequence[Any]) -> AgentDetails:
    """`details` with the agent's config options as they now stand: one of category `mode` is the
    mode, the others settings (a select as its value's name, a boolean as on or off); the current
    value of one of category `model` is the model the agent runs."""
    mode, model, settings = details.mode, details.model, []
    for option in options:
        if isinstance(option, schema.SessionConfigOptionSelect) and option.category == "mode":
            mode = option.current_value
        elif isinstance(option, schema.SessionConfigOptionSelect):
            settings.append(AgentSetting(option.name, current_name(option)))
            model = (option.current_value or None) if option.category == "model" else model
        elif isinstance(option, schema.SessionConfigOptionBoolean):
            settings.append(AgentSetting(option.name, "on" if option.current_value else "off"))
    return replace(details, mode=mode, settings=tuple(settings), model=model)


def offered_details(details: AgentDetails, offered: Offered) -> AgentDetails:
    """`details` with what the session said as it opened (and lfg's choices left it): its config
    options, else the current mode of its older `modes` and the model its older `models` run (a
    setting too, as a model option would be)."""
    if offered.modes is not None:
        details = replace(details, mode=offered.modes.current_mode_id)
    details = settings_of(details, offered.config_options)
    models = offered.models
    if details.model is not None or models is None or models.current is None:
        return details
    setting = AgentSetting("Model", models.name(models.current))
    return replace(details, model=models.current, settings=(*details.settings, setting))


@dataclass
class AgentView:
    """What an agent said about its session, kept by the session across its attempts (follow-ups):
    its details, its context's fill, and the cumulative cost it last reported."""

    details: AgentDetails = EMPTY_DETAILS
    context: tuple[int, int] | None = None
    cost: float | None = None
    currency_noted: bool = False
    message_ids: bool = False
    """The agent gives its messages ids (ACP `messageId`): a chunk without one is its own notice."""
    describes_inputs: bool = False
    """Its calls' input is its account of what ran, not the model's arguments (`describes_inputs`)."""
    children: Children = field(default_factory=Children)
    """The sub-agents the agent announced (`subagent_update`), each a record of its own: their own
    sessions' updates are not the parent's (see `AgentClient.take_update`)."""
    compactions: dict[str, str] = field(default_factory=dict)
    """Each compaction's status as last shown (`compaction_update` patches one entry per id)."""
    plans: dict[str, PlanItems | PlanMarkdown | PlanFile] = field(default_factory=dict)
    """The agent's plans by id (ACP plan operations: `plan_update` replaces one, `plan_removed`
    drops one), in the order they came: what the pane shows is all of them."""


@dataclass
class UpdateReader:
    """Turns one agent session's updates into events, remembering each tool call until it ends."""

    ev: EventFactory
    view: AgentView = field(default_factory=AgentView)
    spent_before: float = field(init=False)
    """The session's cost the agent had reported before this attempt (its share is the rest)."""
    shown: tuple[int, int, float | None] | None = None
    """The last `ContextUsed` emitted, as (used, size, cost): the same again is not news."""
    calls: dict[str, _Call] = field(default_factory=dict)
    ready: dict[str, ToolCallReady] = field(default_factory=dict)
    """Each call as shown now: what a permission request about it is asked as."""
    inputs: dict[str, Any] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)
    """Calls whose permission request the person answered no: their failure is shown as denied."""
    blocks: MessageBlocks = field(default_factory=MessageBlocks)
    terminals: Terminals | None = None
    """The session's terminals, whose output a call that embeds one shows."""
    wake: Callable[[str, float], None] | None = None
    """Asks for an `OutputDue(call_id)` in so many seconds (through the session's inbox): held output
    goes then. Without it, output goes as it comes."""
    output: Coalescer = field(init=False)
    readers: dict[tuple[str, str], OutputReader] = field(default_factory=dict)
    """Each (call, terminal) pair's place in the output of one of lfg's terminals the call embeds."""
    embedding: dict[str, list[str]] = field(default_factory=dict)
    """The calls that embed each of lfg's terminals."""
    details_unshown: bool = False
    """The details the session opened with are not shown yet (see `opened`)."""
    output_began: bool = False
    """Some of the turn's answer or thinking has come (an agent's notice is not output)."""
    working: bool = False
    """The turn's work has begun: output or a tool call (not a note: an agent's notice, its
    progress, its plan or its context)."""
    unknown: Counter[str] = field(default_factory=Counter)
    """The updates of kinds lfg does not know this attempt, by kind: said once at its end."""
    malformed: set[str] = field(default_factory=set)
    """The kinds of which a malformed update was logged (once each)."""
    writable: tuple[Path, ...] | None = None
    """Where the agent's box lets it write (None: it runs in none): a failed edit of a file outside
    is said to be the box's refusal (`_refused`), as codex-acp gives no reason for one."""

    def __post_init__(self) -> None:
        self.spent_before = self.view.cost or 0.0
        self.output = Coalescer(self.ev.clock, self.wake)

    def events(self, update: Any) -> list[Event]:
        """The events of one update; the turn's first that are not about the session bring the
        session's details after them, once (see `_details`; after, so that seqs and times go up)."""
        read = self._read(update)
        if read and not self.working and not isinstance(read[0], Status | ContextUsed):  # notes are no work
            self.working = True
            if self.details_unshown:
                return [*read, *self.unsaid()]
        return read

    def _read(self, update: Any) -> list[Event]:
        ev = self.ev
        if isinstance(update, schema.ToolCallStart | schema.ToolCallProgress) and not self._of_child(
            update.tool_call_id
        ):
            self.blocks.interrupt()  # a sub-agent's call (one it asks about) does not split the answer
        match update:
            case TextChunk(text=text, notice=True):
                return [self._said(text)]
            case TextChunk(text=text, message_id=message_id, thought=False):
                return self._answer(text, message_id)
            case TextChunk(text=text, message_id=message_id):
                return self._thought(text, message_id)
            case schema.AgentMessageChunk(content=block, field_meta=meta) if informational(meta):
                return [self._said(content_text(block))]
            case schema.AgentMessageChunk(content=block, message_id=message_id):
                return self._answer(content_text(block), message_id)
            case schema.AgentThoughtChunk(content=block, message_id=message_id):
                return self._thought(content_text(block), message_id)
            case schema.ToolCallStart():
                return self._started(update)
            case schema.ToolCallProgress():
                return self._progressed(update)
            case schema.AgentPlanUpdate(entries=entries):
                steps = tuple(PlanStep(e.content, e.status, e.priority) for e in entries)
                return [ev(PlanUpdated, message=plan_message(steps), steps=steps)]
            case schema.AvailableCommandsUpdate(available_commands=commands):
                offered = tuple(AgentCommand(c.name, c.description) for c in commands)
                return self._details(replace(self.view.details, commands=offered))
            case schema.CurrentModeUpdate(current_mode_id=mode):
                return self._details(replace(self.view.details, mode=mode))
            case schema.ConfigOptionUpdate(config_options=options):
                return self._details(settings_of(self.view.details, options))
            case schema.UsageUpdate():
                return self._context(update)
            case schema.SessionInfoUpdate(title=str(title)) if title.strip():
                return [ev(AgentProgress, message=f"session: {title}", title=title)]
            case TerminalNews(terminal_id=terminal_id):
                return self._terminal_news(terminal_id)
            case OutputDue(call_id=call_id):
                return self._sent(call_id, self.output.due(call_id))
            case Notice(title=title, description=description):
                return [self._said(f"{title}: {description}" if description else title)]
            case CompactionUpdate():
                return self._compaction(update)
            case SubagentUpdate():
                return self.view.children.announced(ev, update)
            case ChildUpdate(session_id=session_id, update=child_update):
                return self._child(session_id, child_update)
            case SessionMessage() | SessionMessageChunk() | CompactionSummaryChunk():
                return []  # between sessions, or a summary: never the parent's answer
            case PlanUpdate(plan=plan):
                self.view.plans[plan.plan_id] = plan
                return [self._plans()]
            case PlanRemoved(plan_id=plan_id):
                self.view.plans.pop(plan_id, None)
                return [self._plans()]
            case Unknown(kind=kind):
                if not self.unknown[kind]:
                    log.debug("an agent's session update of a kind lfg does not read: %s", kind)
                self.unknown[kind] += 1
            case Malformed(kind=kind, error=error):
                if kind not in self.malformed:
                    self.malformed.add(kind)
                    log.warning("an agent's %s that is not one (dropped): %s", kind, error)
        return []  # the person's own messages replayed by session/load: nothing to show

    def _of_child(self, call_id: str) -> bool:
        """Whether the call is a sub-agent's, as `child_call_id` names it."""
        session, sep, _ = call_id.partition(CHILD_CALL)
        return bool(sep) and self.view.children.known(session)

    def _compaction(self, update: CompactionUpdate) -> list[Event]:
        """One status per compaction and status: the context gauge drops with a completed one."""
        compaction_id, status = update.compaction_id, update.status
        if self.view.compactions.get(compaction_id) == status:
            return []
        self.view.compactions[compaction_id] = status
        summary = blocks_text(update.summary).strip()
        compacted, compaction = COMPACTION_ENDED
        said = {
            "in_progress": COMPACTING,
            "completed": f"{compacted}: the context gauge's drop is the compaction",
            "failed": f"{compaction} failed: {update.error or 'no reason given'}",
            "cancelled": f"{compaction} was cancelled",
        }.get(status, f"{compaction}: {status}")
        if status == "completed" and summary:
            said += f" ({len(summary)} characters of summary kept)"
        return [self.ev(Status, message=said)]

    def _child(self, session_id: str, update: Any) -> list[Event]:
        """An update of a sub-agent's own session: its text, its tool calls and its cost go to its
        record in the tree (`subagents.py`); the rest of what a session says is not shown."""
        ev, children = self.ev, self.view.children
        match update:
            case TextChunk(text=text, thought=False, notice=False):
                return children.text(ev, session_id, text)
            case schema.AgentMessageChunk(content=block, field_meta=meta) if not informational(meta):
                return children.text(ev, session_id, content_text(block))
            case schema.ToolCallStart(tool_call_id=call_id, title=title, status=status):
                return children.tool(ev, session_id, call_id, title, status or "pending")
            case schema.ToolCallProgress(tool_call_id=call_id, title=title, status=status):
                return children.tool(ev, session_id, call_id, title, status)
            case schema.UsageUpdate(cost=cost) if cost is not None and cost.currency.upper() == "USD":
                return children.cost(ev, session_id, cost.amount)
        return []

    def _plans(self) -> PlanUpdated:
        """Every plan the agent holds (`view.plans`), as one: the entries of those that have them as
        steps, the Markdown plans' text and a line per plan file as Markdown; its line names each
        plan (a Markdown plan by its first line)."""
        steps: list[PlanStep] = []
        texts: list[str] = []
        named: list[str] = []
        for plan in self.view.plans.values():
            if isinstance(plan, PlanItems):
                own = tuple(PlanStep(e.content, e.status, e.priority) for e in plan.entries)
                steps += own
                named.append(plan_message(own).removeprefix("plan: "))
            elif isinstance(plan, PlanMarkdown):
                texts.append(plan.content.strip())
                named.append(
                    next(
                        (line.strip().lstrip("# ") for line in plan.content.splitlines() if line.strip()), ""
                    )
                )
            else:
                texts.append(f"plan file: `{plan.uri}`")
                named.append(plan.uri)
        message = "plan: " + " | ".join(named) if named else "plan: removed"
        return self.ev(PlanUpdated, message=message, steps=tuple(steps), markdown="\n\n".join(texts))

    def ignored(self) -> list[Event]:
        """Once at the end of the attempt: the updates of kinds lfg does not read, by kind (ignored,
        never fatal: a newer agent may send what lfg's ACP does not know yet)."""
        if not self.unknown:
            return []
        kinds = ", ".join(f"{kind} x{n}" if n > 1 else kind for kind, n in sorted(self.unknown.items()))
        total = sum(self.unknown.values())
        noun = "update" if total == 1 else "updates"
        self.unknown.clear()
        return [self.ev(Status, message=f"ignored {total} agent {noun} lfg does not read yet: {kinds}")]

    def _said(self, text: str) -> Status:
        """The agent's own notice, as a status of its own."""
        return self.ev(Status, message=f"{NOTICE_SAYS}{text.strip()}")

    def _answer(self, text: str, message_id: str | None) -> list[Event]:
        if self._notice(text, message_id):
            return [self._said(text)]
        self.output_began = self.output_began or bool(text)
        self.view.message_ids = self.view.message_ids or message_id is not None
        return [self.ev(TextDelta, text=self.blocks.text(text, message_id))]

    def _thought(self, text: str, message_id: str | None) -> list[Event]:
        self.output_began = True
        return [self.ev(ReasoningDelta, text=self.blocks.thought(text, message_id))]

    def _notice(self, text: str, message_id: str | None) -> bool:
        """Whether the chunk is the agent's own notice, not the model's output: sent whole with no
        message id, in a notice's form (`NOTICE`), either before anything else of the turn or from an
        agent whose model's messages carry ids (Codex: its warnings are the only chunks without)."""
        if message_id is not None or NOTICE.fullmatch(text) is None:
            return False
        return not self.output_began or self.view.message_ids

    def opened(self, offered: Offered) -> None:
        """What the session opened with, once the ticket's choices were set (`offered_details`): what
        the agent runs even when the ticket chose nothing. It is shown with the agent's first word
        about its session (its command list, say), or by `unsaid` at the end of the turn when it says
        none, so that it is one detail, not two."""
        self.view.details = offered_details(self.view.details, offered)
        self.details_unshown = self.view.details != EMPTY_DETAILS

    def unsaid(self) -> list[Event]:
        """The details the session opened with, if nothing has shown them yet."""
        self.working = True
        return self._details(self.view.details) if self.details_unshown else []

    def carried(self) -> list[Event]:
        """What this session's agent said before this attempt (its details, how full its context
        is), so that each attempt's record is whole: a follow-up's agent need not say it again."""
        view, shown = self.view, []
        if view.details != EMPTY_DETAILS and not self.details_unshown:
            shown.append(self.ev(AgentDetails, **_details_fields(view.details)))
        if view.context is not None:
            shown.append(self.ev(ContextUsed, used=view.context[0], size=view.context[1]))
        return shown

    def _details(self, details: AgentDetails) -> list[Event]:
        """One `AgentDetails` when what the agent offers changed, none for the same list again.
        Before the turn's work begins they are held, to be shown whole with it: an agent describes
        its session in several updates as it opens (Codex: its settings, then 26 ms later its
        commands), which are one line in the pane and the history, not two."""
        if details == self.view.details and not self.details_unshown:
            return []
        self.view.details = details
        if not self.working:
            self.details_unshown = True
            return []
        self.details_unshown = False
        return [self.ev(AgentDetails, **_details_fields(details))]

    def _context(self, usage: schema.UsageUpdate) -> list[Event]:
        """The context's fill, in US dollars what this attempt cost, and the account's limit when the
        agent says it (`limits.py`): the agent reports its session's cumulative cost, so the attempt's
        is that less what it had reported before (all of it when the count went down: a new process
        counts afresh)."""
        view, cost, events = self.view, None, []
        if usage.cost is not None and usage.cost.currency.upper() == "USD":
            total = usage.cost.amount
            before = self.spent_before
            cost = total - before if total >= before else total
            view.cost = total
        elif usage.cost is not None and not view.currency_noted:
            view.currency_noted = True
            note = f"the agent reports its cost in {usage.cost.currency}: it is not counted in max_cost_usd"
            events.append(self.ev(Status, message=note))
        limit = agent_limit(usage.field_meta, time.time())
        shown = (usage.used, usage.size, cost)
        if shown == self.shown and limit is None:
            return events
        self.shown = shown
        view.context = (usage.used, usage.size)
        return [*events, self.ev(ContextUsed, used=usage.used, size=usage.size, cost_usd=cost, limit=limit)]

    def _started(self, start: schema.ToolCallStart) -> list[Event]:
        call_id = start.tool_call_id
        call = self.calls[call_id] = _Call(start.title, start.kind, id_tool=_id_tool(call_id))
        call.merge(start)
        self.inputs[call_id] = call.raw_input
        name, arguments = call.name, call.arguments
        started = self.ev(ToolCallStarted, call_id=call_id, name=name)
        ready = self.ready[call_id] = self.ev(
            ToolCallReady,
            call_id=call_id,
            name=name,
            arguments=arguments,
            raw_arguments=json.dumps(arguments, ensure_ascii=False),
            model_input_chars=self._model_input_chars(call),
        )
        live = self._live(call_id, call, start.field_meta)
        return [started, ready, *live, *self._ending(call_id, start.status)]

    def _progressed(self, progress: schema.ToolCallProgress) -> list[Event]:
        call_id = progress.tool_call_id
        call = self.calls.get(call_id)
        if call is None:  # an update for a call never announced: show it from here on
            start = schema.ToolCallStart(
                session_update="tool_call",
                tool_call_id=call_id,
                title=progress.title or "",
                kind=progress.kind,
                raw_input=progress.raw_input,
                locations=progress.locations,
                field_meta=progress.field_meta,
            )
            return self._started(start) + self._progressed(progress)
        updated = self._updated(call_id, call) if call.merge(progress) else []
        live = self._live(call_id, call, progress.field_meta)
        return [*updated, *live, *self._ending(call_id, progress.status)]

    def _updated(self, call_id: str, call: _Call) -> list[Event]:
        """The call's row as it now reads: emitted only when that changed, so a call's stream of
        output updates costs no event until it ends."""
        name, arguments, kind, locations = call.name, call.arguments, call.kind, call.locations
        raw_arguments = json.dumps(arguments, ensure_ascii=False)
        model_input_chars = self._model_input_chars(call)
        self.inputs[call_id] = call.raw_input
        self.ready[call_id] = replace(
            self.ready[call_id],
            name=name,
            arguments=arguments,
            raw_arguments=raw_arguments,
            model_input_chars=model_input_chars,
        )
        updated = self.ev(
            ToolCallUpdated,
            call_id=call_id,
            name=name,
            arguments=arguments,
            raw_arguments=raw_arguments,
            kind=kind,
            locations=locations,
            model_input_chars=model_input_chars,
        )
        return [updated]

    def _model_input_chars(self, call: _Call) -> int | None:
        """None when the call's row is the model's input; else, the row being the agent's account of
        the call, how many of its characters are the model's: an agent that sends no input (Gemini
        CLI) said what the call is and the content of a file it creates, which is the model's."""
        if call.raw_input is None:
            return len(call.written or "")
        return 0 if self.view.describes_inputs else None

    def _live(self, call_id: str, call: _Call, meta: Any) -> list[Event]:
        """The output the call's command brought with this update: the agent's own command's, in the
        update's `_meta`, and that of lfg's terminals the call embeds (one it embeds for the first
        time shows all it has so far)."""
        chunk = ""
        if reports_agent_terminal(meta):
            own = call.agent_terminal = call.agent_terminal or AgentTerminal()
            chunk = own.take(meta)
        events = self._stream(call_id, chunk)
        for terminal_id in self._embedded(call):
            watching = self.embedding.setdefault(terminal_id, [])
            if call_id not in watching:
                watching.append(call_id)
                events += self._stream(call_id, self._taken(call_id, terminal_id))
        return events

    def _embedded(self, call: _Call) -> list[str]:
        """The ids of lfg's terminals the call's content embeds."""
        terminals = self.terminals
        if terminals is None:
            return []
        embedded = (item for item in call.content if isinstance(item, schema.TerminalToolCallContent))
        return [item.terminal_id for item in embedded if terminals.any(item.terminal_id) is not None]

    def _taken(self, call_id: str, terminal_id: str) -> str:
        """The output of lfg's terminal `terminal_id` that call `call_id` has not shown yet."""
        terminal = self.terminals.any(terminal_id) if self.terminals is not None else None
        if terminal is None:
            return ""
        return self.readers.setdefault((call_id, terminal_id), OutputReader()).take(terminal.tail)

    def _terminal_news(self, terminal_id: str) -> list[Event]:
        """One of lfg's terminals has new output: each running call that embeds it shows it."""
        events: list[Event] = []
        for call_id in self.embedding.get(terminal_id, ()):
            if self.calls[call_id].status not in ENDED:
                events += self._stream(call_id, self._taken(call_id, terminal_id))
        return events

    def _stream(self, call_id: str, text: str) -> list[Event]:
        """More output of the call: shown now, or held for a moment."""
        return self._sent(call_id, self.output.add(call_id, text)) if text else []

    def _sent(self, call_id: str, text: str) -> list[Event]:
        return [self.ev(ToolOutputDelta, call_id=call_id, text=text)] if text else []

    def _ending(self, call_id: str, status: str | None) -> list[Event]:
        """The call's result once it ended, after the last of its output held back."""
        call = self.calls[call_id]
        if status not in ENDED or call.status in ENDED:
            return []
        call.status = status
        for terminal_id in self._embedded(call):
            self.output.hold(call_id, self._taken(call_id, terminal_id))
        held = self._sent(call_id, self.output.end(call_id))
        parts = [self._content_text(call, item) for item in call.content]
        terminal_shown = any(isinstance(item, schema.TerminalToolCallContent) for item in call.content)
        if call.agent_terminal is not None and not terminal_shown:
            own = call.agent_terminal.shown(call.raw_output)
            parts = [own, *parts] if own else parts
        if not parts and call.raw_output is not None:
            parts = [call.raw_output if isinstance(call.raw_output, str) else json.dumps(call.raw_output)]
        output = "\n".join(part.rstrip("\n") for part in parts)
        if status == "failed" and call_id in self.denied:
            output = f"denied: {output}" if output else DENIED
        elif status == "failed" and (refused := self._refused(call)):
            output = f"{output}\n{refused}" if output else refused
        return [*held, self.ev(ToolResult, call_id=call_id, output=output, is_error=status == "failed")]

    def _refused(self, call: _Call) -> str:
        """Why the box refused the failed call's edits, where a file it edits lies outside the places
        the box lets the agent write; "" where none does (or there is no box)."""
        if self.writable is None:
            return ""
        edited = [item.path for item in call.content if isinstance(item, schema.FileEditToolCallContent)]
        outside = [p for p in edited if not _inside(p, self.writable)]
        if not outside:
            return ""
        places = ", ".join(str(place) for place in self.writable)
        return f"refused by the sandbox: {', '.join(outside)} is outside the places it may write ({places})"

    def _content_text(self, call: _Call, item: Any) -> str:
        """An item of a call's content; a terminal as its output: one of lfg's, else the agent's own
        command's as its updates streamed it."""
        if isinstance(item, schema.TerminalToolCallContent):
            shown = self.terminals.shown(item.terminal_id) if self.terminals is not None else None
            if shown is None and call.agent_terminal is not None:
                shown = call.agent_terminal.shown(call.raw_output)
            if shown is not None:
                return shown
        return tool_content_text(item)

    def unfinished(self) -> list[Event]:
        """A failed result for every call the agent left open when its turn ended."""
        open_calls = [call_id for call_id, call in self.calls.items() if call.status not in ENDED]
        for call_id in open_calls:
            self.calls[call_id].status = "failed"
        return [
            self.ev(ToolResult, call_id=c, output=DENIED if c in self.denied else NO_ENDING, is_error=True)
            for c in open_calls
        ]


def _inside(path: str, folders: Sequence[Path]) -> bool:
    """Whether `path` (as the agent named it: `..` taken away first) lies in one of `folders` (a
    relative one, in its working folder, is taken to)."""
    normal = Path(os.path.normpath(path))
    return not normal.is_absolute() or any(normal.is_relative_to(folder) for folder in folders)
