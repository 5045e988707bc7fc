"""A ticket pane: header, streamed Markdown answer, thinking, tool log, errors and gauges.

A `TicketPane` is what one ticket is doing, kept whether or not it is on screen: events are applied
to it as they arrive, cheaply (text is appended, counters move). Its widgets, a `PaneView`, exist
only while the run screen shows it: a run of thousands of tickets mounts the few panes in view, not
thousands (Textual restyles and lays out every mounted widget). `render_frame`, which the app's frame
clock calls for dirty panes in view, brings the view up to date with the pane; a view built when a
pane scrolls into view shows everything the pane holds.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from lfgtui.alerts.states import Standing, State
from lfgtui.conversation import turns_before
from lfgtui.cost.metrics import Metrics
from lfgtui.events import (
    AGENT_STATE_CHANGED,
    COMPACTING,
    COMPACTION_ENDED,
    FOLDER_SETTINGS,
    FORKED_AT,
    PAUSED,
    WHERE_IT_RUNS,
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
    PlanStep,
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
from lfgtui.formats import OUTCOME_GLYPHS, plural, waited
from lfgtui.inert import inert, revealed
from lfgtui.providers.models import figures_said
from lfgtui.tickets.ticket import Ticket
from lfgtui.ui.drawing.palette import Palette, colours
from lfgtui.ui.markdown.live import LiveMarkdown, Mark
from lfgtui.ui.markdown.plain_lines import TextLine
from lfgtui.ui.widgets.agent_detail import AgentDetail
from lfgtui.ui.widgets.gauges import SPARK_SAMPLES, gauge_text, since_start
from lfgtui.ui.widgets.subagents import SubagentLog, Subagents
from lfgtui.ui.widgets.tool_log import (
    ToolCalls,
    ToolLog,
    ToolState,
    approval_notice,
    approval_request,
    folded,
    with_question,
)

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
NOTICE_LINES = 3
"""The most lines a pane's notice shows (its `max-height` in app.tcss): an approval that needs more
is shown whole in a screen of its own before `y` counts."""
LINES_EVERY = 5
"""Frames between redraws of the header, gauges and notice while only tokens arrive (4 a second
at 20 fps): numbers people read. Counted in frames, not seconds, so a frozen test clock still
sees them drawn."""


class PaneState(StrEnum):
    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    APPROVAL = "approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


GLYPHS = {PaneState.WAITING: "·", PaneState.QUEUED: "…", PaneState.APPROVAL: "?"} | {
    PaneState(outcome.value): glyph for outcome, glyph in OUTCOME_GLYPHS.items()
}


UNDER_WAY = frozenset({PaneState.WAITING, PaneState.QUEUED, PaneState.RUNNING, PaneState.APPROVAL})
RUNNING = frozenset({PaneState.RUNNING, PaneState.APPROVAL, PaneState.QUEUED})


class Streamed:
    """Text that arrives in pieces (an answer, its reasoning), kept whole for whichever view shows it.

    A view remembers how many characters it has taken and takes only the rest (`tail`), so a token
    costs the same however long the text is. `ends` are the lengths at which an attempt ended (its
    Markdown closed there); `clears` counts how often it started afresh (a retry)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.length = 0
        self.ends: list[int] = []
        self.clears = 0

    @property
    def source(self) -> str:
        """All of the text since the last `clear()`."""
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def append(self, text: str) -> None:
        if text:
            self._parts.append(text)
            self.length += len(text)

    def finish(self) -> None:
        self.ends.append(self.length)

    def clear(self) -> None:
        self._parts.clear()
        self.length = 0
        self.ends.clear()
        self.clears += 1

    def tail(self, start: int) -> str:
        """The text from character `start` on, joining only the pieces it spans."""
        need = self.length - start
        if need <= 0:
            return ""
        pieces: list[str] = []
        got = 0
        for part in reversed(self._parts):
            pieces.append(part)
            got += len(part)
            if got >= need:
                break
        text = "".join(reversed(pieces))
        return text[len(text) - need :]

    def endswith(self, suffix: str) -> bool:
        return self.length >= len(suffix) and self.tail(self.length - len(suffix)) == suffix

    def new_paragraph(self) -> None:
        """What comes next (a new model call's output) starts a paragraph of its own, not glued on."""
        if self.length and not self.endswith("\n\n"):
            self.append("\n\n")


@dataclass
class Reader:
    """How much of a `Streamed` one view's `LiveMarkdown` has taken."""

    clears: int
    taken: int = 0
    ends: int = 0

    def take(self, text: Streamed, into: LiveMarkdown) -> None:
        """Hand `into` what it has not taken yet, closing the Markdown where an attempt ended."""
        if self.clears != text.clears:
            into.clear()
            self.clears, self.taken, self.ends = text.clears, 0, 0
        for end in text.ends[self.ends :]:
            into.append(text.tail(self.taken)[: end - self.taken])
            self.taken = end
            into.finish()
        self.ends = len(text.ends)
        if self.taken < text.length:
            into.append(text.tail(self.taken))
            self.taken = text.length


@dataclass(frozen=True)
class ShownTurn:
    """One of the person's turns as the pane's transcript shows it: the ticket's prompt (whose words
    the pane does not repeat), a follow-up or queued turn (quoted under a rule), a steer that landed."""

    text: str
    """Its words as sent (shown inert wherever they are shown)."""
    start: int
    """Where in the body its words begin (the prompt: where its answer begins)."""
    end: int
    """Where its words end and its answer begins."""


class Tally:
    """A run screen's panes counted by state as their states change, so that the summary bar, the
    GC pacer never walk thousands of panes: `running` holds the panes under way (streaming, waiting
    for approval or queued for their provider), in the order they started; `stalled` the panes whose
    coding agent has gone quiet mid-turn; `needs_you` the panes that need the person
    (alerts/states.py)."""

    def __init__(self) -> None:
        self.panes: list[TicketPane] = []
        self.counts: Counter[PaneState] = Counter()
        self.running: dict[TicketPane, None] = {}
        self.stalled: dict[TicketPane, None] = {}
        self.needs_you: dict[TicketPane, None] = {}

    def add(self, pane: TicketPane) -> None:
        self.panes.append(pane)
        self.counts[pane.state] += 1

    def moved(self, pane: TicketPane, old: PaneState, new: PaneState) -> None:
        self.counts[old] -= 1
        self.counts[new] += 1
        if new in RUNNING:
            self.running[pane] = None
        else:
            self.running.pop(pane, None)

    @property
    def finished(self) -> bool:
        """Every pane has ended (or never will run)."""
        return not any(self.counts[state] for state in UNDER_WAY)

    def attended(self, pane: TicketPane, standing: Standing) -> None:
        """`pane`'s attention state changed to `standing`."""
        if standing.needs_you:
            self.needs_you[pane] = None
        else:
            self.needs_you.pop(pane, None)

    def last_end(self, default: float) -> float:
        """When the last attempt ended (asked once, when every pane has ended)."""
        return max((p.ended_at for p in self.panes if p.ended_at is not None), default=default)


class TicketPane:
    """Everything one ticket is doing, for its latest attempt; `view` is its widgets while on screen."""

    def __init__(self, ticket: Ticket, tally: Tally, key: Callable[[str], str], standing: Standing) -> None:
        """`key`: the key of a run screen's binding (by id) as the person may have rebound it;
        `standing`: its attention state before its first event."""
        self.ticket = ticket
        self.standing = standing
        self.tally = tally
        self.key = key
        self._state = PaneState.WAITING
        self.attempt = 0
        self.provider = ticket.provider
        self.model = ticket.model
        self.model_figures = figures_said(ticket.model)
        """Where lfg's figures for the model (its output limit, thinking, efforts) come from when not
        its table: `~inferred` (its family's) or `catalogue` (the kept model catalogue's)."""
        self.metrics = Metrics()
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.ended_as: PaneState | None = None
        """How the attempt ended, while it has: what an approval or a question the agent sent before
        its turn's end, asked after it, leaves the pane in once answered."""
        self.error: ErrorInfo | None = None
        self.retries = 0
        self.retrying: Retrying | None = None
        self.queued: Queued | None = None
        """Why the next request waits (its provider's shared limits), while it does."""
        self.status_note = ""
        self.where_said: set[str] = set()
        """The lines of where and how the turn runs the transcript shows since its prompt (`_where`)."""
        self.moved_from = ""
        """When this attempt runs on another provider or model than the failed one before it (a
        fallback, run/failover.py): that one and why it failed, inert."""
        self.lost_note = ""
        """What a watcher of a run on the broker lost of the attempt (broker/gaps.py), inert."""
        self.agent_log: str | None = None
        """The file a coding agent's stderr goes to, for this attempt."""
        self.diff: DiffUpdated | None = None
        """What the ticket changed in its worktree (isolation = "worktree"), the latest measure; it
        outlives an attempt, since a retry works on in the same worktree."""
        self.branch: str | None = None
        self.landed: str | None = None
        """Where its change was last landed (`land`), for the header."""
        self.dirty = True
        self.lines_stale = True
        self.drawn_frame = 0
        """The app frame that last drew this pane: the longest-waiting pane is drawn first."""
        self.lines_frame = 0
        """The frame that last drew the header, gauges and notice."""
        self.urgent = True
        """Something a person waits on or acts on changed (its state: an answer's end, an approval,
        a question; its attention; a fold; its view just built): the next frame draws it whatever
        the pacing of streaming panes (app.py `paced`)."""
        self.awaiting_words = False
        """The attempt under way has shown no text or thinking yet (see `apply`)."""
        self.approval: ApprovalAsked | None = None
        """The call waiting for a person's answer, as the run asked it."""
        self.question: ElicitationAsked | None = None
        """The coding agent's question (a form) waiting for the person's answer, as the run asked it."""
        self.drafts: dict[str, dict[str, object]] = {}
        """What the person entered in a question's form and left undecided (Escape), by its id."""
        self.progress = ""
        """A coding agent's latest note on what it is doing (its session's title), shown while it works."""
        self._stalled: Stalled | None = None
        self.earlier_shown = False
        """The output on show is an earlier attempt's: it stays under a follow-up, and goes when the
        new attempt asks afresh."""
        self.body = Streamed()
        self.reasoning = Streamed()
        self.new_thought = False
        """A model call began since the last thinking: the next thinking starts a paragraph."""
        self.tools = ToolCalls()
        self.subagents = Subagents()
        """A coding agent's sub-agents, the tree under its answer (subagents.py)."""
        self.held: tuple[HeldMessage, ...] = ()
        """The person's messages the ticket holds, in the order they go: pending steers, then queued
        ones (run/steering.py), shown under the answer until each is sent."""
        self.unsent: tuple[HeldMessage, ...] = ()
        """What an attempt of the ticket that did not complete left unsent, still the ticket's (a retry
        or `lfg resume` offers them): shown under those held, marked unsent."""
        self.hold_note = ""
        """What the last change to what it holds said (a steer held for the next safe point or queued
        as the next turn, one sent, those not sent as an attempt ended, a watcher's edit refused):
        shown above the held messages while the ticket runs, or while an attempt left some unsent."""
        self.offer: SteerOffer | None = None
        """What the running turn takes from the person, as its run (a worker) said it: what the
        composer of a run watched from afar says Enter does. None until said, and once it ends."""
        self.plan_steps: tuple[PlanStep, ...] = ()
        self.plan_markdown = ""
        """The agent's Markdown plans (ACP plan operations), shown under its steps."""
        self.agent_details: AgentDetails | None = None
        """What a coding agent offers (mode, settings, commands), as it last said."""
        self.thinking_collapsed = True
        self.turns: list[ShownTurn] = []
        """The person's turns of the attempt shown, in order: what the turn cursor moves over."""
        self.picked: int | None = None
        """The turn (1-based, of `turns`) the person's cursor is on (`j`/`k`): `f` forks after it."""
        self.turns_before = 0
        """The turns of the ticket's conversation before those `turns` holds (a fork's transcript
        starts after the parent's it went on from): the cursor numbers its turns after these, across
        the whole conversation, as the fork dialog and `lfg fork --at` do."""
        self.view: PaneView | None = None
        tally.add(self)

    @property
    def state(self) -> PaneState:
        return self._state

    @state.setter
    def state(self, state: PaneState) -> None:
        if state is not self._state:
            self.tally.moved(self, self._state, state)
            self._state = state
            self.urgent = True

    @property
    def stalled(self) -> Stalled | None:
        """A coding agent gone quiet mid-turn, until its next event: the person may want to act."""
        return self._stalled

    @stalled.setter
    def stalled(self, stalled: Stalled | None) -> None:
        self._stalled = stalled
        if stalled is None:
            self.tally.stalled.pop(self, None)
        else:
            self.tally.stalled[self] = None
            self.urgent = True

    @property
    def shown(self) -> PaneView:
        """The widgets showing this pane: only a pane the run screen shows has them."""
        assert self.view is not None, f"pane {self.ticket.id} is not on screen"
        return self.view

    @property
    def header(self) -> TextLine:
        return self.shown.header

    @property
    def gauges(self) -> TextLine:
        return self.shown.gauges

    @property
    def notice(self) -> Static:
        return self.shown.notice

    @property
    def plan(self) -> Static:
        return self.shown.plan

    @property
    def agent(self) -> AgentDetail:
        return self.shown.agent

    @property
    def model_shown(self) -> str:
        """The model the header names: the one a coding agent reports it runs, when that is not
        the ticket's (the agent's own choice, a fallback), else the ticket's."""
        reported = self.agent_details.model if self.agent_details is not None else None
        if reported is None or reported.casefold() == self.model.casefold():
            return self.model
        return reported

    @property
    def on_screen(self) -> bool:
        """Whether its view is mounted, displayed and within the screen's region."""
        view = self.view
        return view is not None and view.display and view.is_on_screen

    @property
    def running(self) -> bool:
        """The attempt is under way: streaming, waiting for approval, or queued for its provider."""
        return self._state in RUNNING

    @property
    def live(self) -> bool:
        """Running, or waiting to start (what stops with the lead that added it)."""
        return self.running or self._state is PaneState.WAITING

    @property
    def needs_frame(self) -> bool:
        """Something to draw: a new event, or a body still re-laying itself out after a resize."""
        view = self.view
        if view is None:
            return self.dirty
        return self.dirty or view.body.dirty or (view.reasoning.dirty and view.thinking_open)

    @property
    def finished(self) -> bool:
        return self._state not in UNDER_WAY

    @property
    def needs_attention(self) -> bool:
        """It cannot go on without the person (a permission request, a question): alerts/states.py."""
        return self.standing.needs_you

    def attend(self, standing: Standing) -> None:
        """Its attention state changed (alerts/states.py `Attentions`, fed the same events)."""
        self.standing = standing
        self.tally.attended(self, standing)
        self.dirty = self.lines_stale = self.urgent = True

    def land(self, label: str) -> None:
        """Its change was landed (`M`, `lfg land`): the header says where, `label` as the history's
        `LandingRow.label` says it (ours; the branch and remote names in it are made inert)."""
        self.landed = inert(label)
        self.dirty = self.lines_stale = self.urgent = True

    def lose(self, text: str) -> None:
        """Say, until the next attempt, that what shows of this one is not whole."""
        self.lost_note = inert(text)
        self.dirty = self.lines_stale = self.urgent = True

    def pick_turn(self, step: int, conversation: tuple[str, ...] | None) -> bool:
        """Move the turn cursor `step` turns (its first move picks the last turn, nearest the answer's
        end); False when the transcript shows no turn to pick. `conversation`: the user turns of the
        ticket's settled conversation where the run is held here, which number the shown ones."""
        if not self.turns:
            return False
        if conversation is not None:
            earlier = turns_before(conversation, [turn.text for turn in self.turns])
            self.turns_before = self.turns_before if earlier is None else earlier
        last = len(self.turns)
        self.picked = last if self.picked is None else min(max(self.picked + step, 1), last)
        self.dirty = self.lines_stale = self.urgent = True
        return True

    def unpick(self) -> None:
        """Leave turn-picking: the transcript as it was."""
        if self.picked is not None:
            self.picked = None
            self.dirty = self.lines_stale = self.urgent = True

    def turn_mark(self) -> Mark | None:
        """The picked turn's words marked on the transcript, and the turns a fork after it leaves out
        dimmed (None: no turn picked)."""
        if self.picked is None:
            return None
        turn = self.turns[self.picked - 1]
        after = self.turns[self.picked] if self.picked < len(self.turns) else None
        return Mark((turn.start, turn.end), None if after is None else after.start)

    def apply(self, event: Event, metrics: Metrics) -> bool:
        """Take one event of this ticket; `metrics` is the attempt's shared reducer. True when it
        brought the attempt's first words (text or thinking), the moment a person waits for: the
        caller draws the pane at once rather than on its next frame."""
        waiting = self.awaiting_words
        self.metrics = metrics
        self.dirty = True
        if self.stalled is not None and not isinstance(event, DiffUpdated):  # lfg's own measure
            self.stalled = None
            self.lines_stale = True
        apply = PANE.handlers.get(kind := type(event))
        if apply is not None:
            apply(self, event)
        if kind not in STREAMED:
            self.lines_stale = True
        return waiting and not self.awaiting_words

    def _text(self, event: TextDelta) -> None:
        self.body.append(inert(event.text))
        if self.awaiting_words:
            self._first_words()

    def _first_words(self) -> None:
        """The header and gauges change with them (time to first token), drawn with the words."""
        self.awaiting_words = False
        self.lines_stale = self.urgent = True

    def _reasoning(self, event: ReasoningDelta) -> None:
        if self.awaiting_words:
            self._first_words()
        if self.new_thought:  # a new model call's thinking: a paragraph of its own, once it comes
            self.new_thought = False
            self.reasoning.new_paragraph()
        self.reasoning.append(inert(event.text))

    def _subagent(self, event: SubagentChanged) -> None:
        """A sub-agent started, changed or finished: its row, never an alert (it is the parent's work)."""
        self.subagents.changed(event)

    def _subagent_text(self, event: SubagentDelta) -> None:
        self.subagents.text(event)

    def _subagent_call(self, event: SubagentToolCall) -> None:
        self.subagents.tool(event)

    def _tool_output(self, event: ToolOutputDelta) -> None:
        self.tools.stream(event.call_id, event.text)

    def _request(self, event: RequestSent) -> None:
        self.retrying = self.queued = None
        if self.state is PaneState.QUEUED:
            self.state = PaneState.RUNNING
        self.body.new_paragraph()
        self.new_thought = True

    def _started(self, event: AttemptStarted) -> None:
        if event.attempt == self.attempt and self.state is PaneState.QUEUED and self.started_at is None:
            self.state, self.started_at, self.status_note = PaneState.RUNNING, event.t, ""
            return  # its worker took the attempt it showed queued
        self._new_attempt(event.attempt, event.provider, event.model, event.t)

    def _queued_for_worker(self, event: AttemptQueued) -> None:
        """A new attempt waiting on a broker for a worker: its clock starts when one takes it."""
        self._new_attempt(event.attempt, event.provider, event.model, None)
        self.state = PaneState.QUEUED
        self.status_note = inert(event.message)

    def _prompt(self, event: PromptSent) -> None:
        self._asked(event.text, event.continues)

    def _steered(self, event: Steered) -> None:
        """A steer landed: a user turn in the transcript, at its place between the rounds."""
        quoted = "\n".join(f"> {line}" for line in inert(event.text).splitlines())
        by = MARKDOWN_MARKS.sub(r"\\\g<0>", inert(event.by))
        self.body.new_paragraph()
        start = self.body.length
        self.body.append(f"*steer from {by}:*\n\n{quoted}\n\n")
        self.turns.append(ShownTurn(event.text, start, self.body.length))

    def _holding(self, event: Holding) -> None:
        self.held, self.unsent = event.held, event.unsent
        self.status_note = self.hold_note = inert(event.message)

    def _offer(self, event: SteerOffer) -> None:
        self.offer = event

    def _tool_ready(self, event: ToolCallReady) -> None:
        self.tools.add(event.call_id, event.name, event.arguments, event.t)

    def _tool_updated(self, event: ToolCallUpdated) -> None:
        self.tools.describe(event.call_id, event.name, event.arguments)

    def _tool_result(self, event: ToolResult) -> None:
        self.tools.finish(event.call_id, event.output, event.is_error, event.t)

    def _retrying(self, event: Retrying) -> None:
        self.retries += 1
        self.retrying = event

    def _agent_started(self, event: AgentStarted) -> None:
        self.agent_log = event.log
        self.status_note = inert(event.message)

    def _diff(self, event: DiffUpdated) -> None:
        self.diff = event

    def _queued(self, event: Queued) -> None:
        self.queued = event
        self.state = PaneState.QUEUED

    def _worktree(self, event: WorktreeReady) -> None:
        self.branch = event.branch
        self.status_note = inert(event.message)
        self._where(event.message)

    def _where(self, message: str) -> None:
        """Where and how the turn runs (its worktree, what it was given, its sandbox): an entry at
        the top of the turn, once (each attempt of a follow-up says them again); a command's output,
        as code."""
        if message in self.where_said:
            return
        self.where_said.add(message)
        head, _, rest = message.partition("\n")
        self._entry(head)
        if rest:
            self._shown_as_code(rest, "text")

    def _agent_details(self, event: AgentDetails) -> None:
        self.agent_details = event

    def _plan(self, event: PlanUpdated) -> None:
        self.plan_steps, self.plan_markdown = event.steps, event.markdown

    def _approval(self, event: ApprovalAsked) -> None:
        self.approval = event
        self.state = PaneState.APPROVAL
        self.tools.set_state(event.call_id, ToolState.WAITING)

    def _stalled(self, event: Stalled) -> None:
        self.stalled = event

    def _question(self, event: ElicitationAsked) -> None:
        self.status_note = inert(event.message)
        if event.waits:
            self.question = event
            self.state = PaneState.APPROVAL

    def _question_answered(self, event: ElicitationAnswered) -> None:
        self.status_note = inert(event.message)
        self.drafts.pop(event.elicitation_id, None)
        if self.question is None or self.question.elicitation_id != event.elicitation_id:
            return
        self.question = None
        if self.state is PaneState.APPROVAL and self.approval is None:
            self.state = self.ended_as or PaneState.RUNNING

    def _progress(self, event: AgentProgress) -> None:
        self.progress = inert(event.title)

    def _approval_answered(self, event: ApprovalAnswered) -> None:
        self._answered(event.call_id)
        self.status_note = inert(event.message)

    def _status(self, event: Status) -> None:
        self.status_note = inert(event.message)
        if event.message == COMPACTING:  # while it lasts, as the agent's notes on its work are
            self.progress = event.message
        elif event.message.startswith(COMPACTION_ENDED):
            self._compacted(event.message)
        elif event.message.startswith((*FOLDER_SETTINGS, FORKED_AT)):
            self._entry(event.message)
        elif event.message.startswith(WHERE_IT_RUNS):
            self._where(event.message)
        elif event.message.startswith(AGENT_STATE_CHANGED):
            head, _, diff = event.message.partition("\n")
            self.status_note = inert(head)
            self._entry(head)
            self._shown_as_code(diff)

    def _compacted(self, message: str) -> None:
        """A compaction of the agent's context ended: an entry of its own in the transcript, where it
        happened (after the follow-up that asked for it, amid a turn it interrupted), which says
        the context gauge's drop is the compaction; never its summary, which is no answer."""
        if self.progress == COMPACTING:
            self.progress = ""
        self._entry(message)

    def _shown_as_code(self, text: str, language: str = "diff") -> None:
        """Text from outside (a diff, a command's output) as a block of code in the transcript, inert,
        its fence longer than any run of backticks in it."""
        shown = inert(text)
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", shown)), default=0))
        self.body.append(f"{fence}{language}\n{shown}\n{fence}\n\n")

    def _entry(self, message: str) -> None:
        """A status as an entry of its own in the transcript, where it was said, inert."""
        said = MARKDOWN_MARKS.sub(r"\\\g<0>", inert(message))
        self.body.new_paragraph()
        self.body.append(f"*{said}*\n\n")

    def _ended(self, event: AttemptEnded) -> None:
        self._clear_earlier()  # an attempt that ended before it asked anything
        self.state = self.ended_as = PaneState(event.outcome.value)
        self.error = event.error
        self.ended_at = event.t
        self.retrying = self.queued = self.offer = None
        self.approval = None
        self.question = None
        self.tools.turn_ended()
        self.drafts.clear()
        self.body.finish()
        self.reasoning.finish()

    def _asked(self, prompt: str, continues: int | None) -> None:
        """A follow-up is quoted under the output it continues; a fresh prompt clears an earlier
        attempt's output."""
        if continues is None:
            self._clear_earlier()
            self.where_said = set()
            self.turns = [ShownTurn(prompt, self.body.length, self.body.length)]
            self.picked, self.turns_before = None, 0
            return
        self.earlier_shown = False
        quoted = "\n".join(f"> {line}" for line in inert(prompt).splitlines())
        start = self.body.length
        self.body.append(f"\n\n---\n\n{quoted}\n\n")
        self.turns.append(ShownTurn(prompt, start, self.body.length))

    def _clear_earlier(self) -> None:
        if not self.earlier_shown:
            return
        self.earlier_shown = False
        self.turns, self.picked, self.turns_before = [], None, 0  # their places in the body cleared
        self.body.clear()
        self.reasoning.clear()
        self.tools.clear()
        self.subagents.clear()
        self.plan_steps, self.plan_markdown = (), ""
        self.agent_details = None
        self.agent_log = None

    def _new_attempt(self, attempt: int, provider: str, model: str, t: float | None) -> None:
        self.earlier_shown = self.attempt > 0
        failed, elsewhere = self.error, (provider, model) != (self.provider, self.model)
        moved = failed is not None and elsewhere
        self.moved_from = (
            inert(f"{self.provider}/{self.model}: {failed.describe()}") if failed and moved else ""
        )
        self.attempt, self.provider, self.model = attempt, provider, model
        self.model_figures = figures_said(model)
        self.state = PaneState.RUNNING
        self.awaiting_words = True
        self.started_at, self.ended_at, self.ended_as = t, None, None
        self.error, self.retries, self.retrying, self.status_note = None, 0, None, ""
        self.lost_note = ""
        self.progress = ""
        self.unsent = ()  # the new attempt's first `Holding` says them again, if still the ticket's

    def _answered(self, call_id: str) -> None:
        if self.approval is None or self.approval.call_id != call_id:
            return
        self.approval = None
        if self.state is PaneState.APPROVAL and self.question is None:
            self.state = self.ended_as or PaneState.RUNNING
        self.tools.set_state(call_id, ToolState.RUNNING)

    def approval_shown(self) -> tuple[Text, bool] | None:
        """The pending approval as the notice shows it, and whether that is all of it (None: none)."""
        if self.approval is None:
            return None
        view = self.shown
        call = self.approval
        yes, no = self.key("pane.approve"), self.key("pane.deny")
        palette = self.palette
        attention = palette.attention
        question = with_question(approval_request(call.name, call.arguments, palette), yes, no, attention)
        width = view.notice.content_region.width or view.content_region.width
        if width <= 0:
            return question, False
        lines = list(question.wrap(view.app.console, width))
        return approval_notice(question, lines, NOTICE_LINES, yes, no, attention, width)

    def render_frame(self, now: float, frame: int) -> None:
        """Draw what changed since the last frame into the view; the Markdown body repaints only its
        live tail.

        The header, gauges and notice redraw on a state change, else a few times a second. The
        one-line header and gauges never change size, so they repaint without a layout pass; the
        notice, whose height varies, is re-laid out only when its text changes.
        """
        view = self.shown
        self.dirty = self.running
        self.urgent = False
        self.drawn_frame = frame
        view.catch_up()
        view.body.flush()
        view.show_turn()
        if view.thinking_open:
            view.reasoning.flush()
        if not self.lines_stale and frame - self.lines_frame < LINES_EVERY:
            return
        self.lines_stale = False
        self.lines_frame = frame
        live = self.metrics.live_tokens_per_s(now) if self.running else (self.metrics.tokens_per_s or 0.0)
        end = self.ended_at if self.ended_at is not None else now
        elapsed = None if self.started_at is None else end - self.started_at
        header = self._header(now)
        if view.changed("header", header):
            view.header.update(header)
        width, running = view.gauges.size.width, self.running
        ended = self.ended_at is not None
        rates = self.metrics.history.rates(end, SPARK_SAMPLES, ended=ended)
        samples = rates if self.started_at is None else since_start(rates, end, self.started_at, ended)
        gauges = gauge_text(self.metrics, live, samples, elapsed, width, running, self.palette.running)
        if view.changed("gauges", gauges):
            view.gauges.update(gauges)
        view.subagents.show()  # a few times a second at most, never per token of a child's text
        notice = self._notice(now)
        if view.changed("notice", notice):
            view.notice.update(notice)
            view.notice.display = bool(notice)
            view.notice.set_class(self.state is PaneState.FAILED, "-error")

    def _header(self, now: float) -> Text:
        spinning = self.state is PaneState.RUNNING
        glyph = SPINNER[int(now * 10) % len(SPINNER)] if spinning else GLYPHS[self.state]
        text = Text.assemble((f"{glyph} ", f"bold {self._state_style()}"), (self.ticket.id, "bold"))
        text.append_text(self._attention_tag(now))
        if self.ticket.title != self.ticket.id:  # an untitled ticket's title is its id
            text.append(f" {inert(self.ticket.title)}")
        if self.ticket.fork_of is not None:
            text.append(f"  fork of {inert(self.ticket.fork_of[0])}", "dim")
        if self.landed is not None:
            text.append(f"  {self.landed}", self.palette.good)
        text.append(f"  {inert(self.provider)}/{inert(self.model_shown)}", "dim")
        if self.model_figures and self.agent_details is None:  # a coding agent's limits are its own
            text.append(f" {self.model_figures}", "dim italic")
        mode = self.agent_details.mode if self.agent_details is not None else None
        if mode:  # the person's approval mode, as the agent reports it
            text.append(f"  mode {inert(mode)}", "dim")
        if self.attempt > 1:
            text.append(f"  attempt {self.attempt}", "dim")
        if self.diff is not None and not self.diff.files:
            text.append("  no changes yet", "dim")
        elif self.diff is not None:
            text.append("  ")
            text.append(f"+{self.diff.added}", self.palette.good)
            text.append(f" \u2212{self.diff.removed}", self.palette.bad)
            text.append(f" {plural(self.diff.files, 'file')}", "dim")
        return text

    def _attention_tag(self, now: float) -> Text:
        """What the ticket's attention state adds to the header: how long it has needed the person
        (`needs you · 14 min`, `asked? · 2 min`), that it is unread, or what it waits on."""
        standing = self.standing
        palette = self.palette
        if standing.needs_you:
            what = standing.label if standing.state is State.ASKED else "needs you"
            return Text(f" {what} · {waited(now - standing.since)}", f"bold reverse {palette.attention}")
        if standing.unread and standing.state is State.UNREAD:
            return Text(" unread", f"bold {palette.good}")
        if standing.state is State.WAITING and standing.detail:
            return Text(f" {inert(standing.label)}", "dim")
        return Text()

    def _picked_notice(self) -> Text:
        """Which turn the cursor is on, its first words, and the keys that act on it."""
        assert self.picked is not None
        words = " ".join(inert(self.turns[self.picked - 1].text).split())
        before = self.turns_before
        keys = (
            f"{self.key('pane.fork')}: fork after it · {self.key('pane.turn_up')}/"
            f"{self.key('pane.turn_down')}: earlier/later · {self.key('pane.turn_done')}: done"
        )
        return Text.assemble(
            (f"▸ turn {before + self.picked} of {before + len(self.turns)}", "bold reverse"),
            f"  {keys}\n",
            words,
        )

    def _state_style(self) -> str:
        palette = self.palette
        return {
            PaneState.COMPLETED: palette.good,
            PaneState.FAILED: palette.bad,
            PaneState.APPROVAL: palette.attention,
            PaneState.CANCELLED: palette.waiting,
        }.get(self.state, palette.running)

    @property
    def palette(self) -> Palette:
        return colours(self.shown.app)

    def _notice(self, now: float) -> Text | str:
        shown = self.approval_shown()
        if shown is not None:
            return shown[0]
        if self.question is not None:
            view = self.shown
            width = view.notice.content_region.width or view.content_region.width
            question = revealed(self.question.question)  # what it asks, in the order it runs: bidi shown
            asks = Text(f"asks you: {question}", f"bold {self.palette.attention}")
            hint = f"{self.key('pane.answer')}: answer its form"
            return with_hint(asks, hint, width, view.app.console)
        if self.picked is not None:
            return self._picked_notice()
        if self.retrying is not None:
            return Text(retry_text(self.retrying, now), self.palette.waiting)
        if self.stalled is not None:
            stalled = self.stalled
            idle = stalled.idle_s + max(0.0, now - stalled.t)
            left = f"fails at {stalled.limit_s:g} s (idle_timeout_s), {self.key('pane.cancel')}: cancel"
            return Text(f"stalled for {idle:.0f} s: no update from the agent; {left}", self.palette.attention)
        if self.queued is not None:  # after a retry's own countdown: its pause is the same wait
            until, why = self.queued.until, COUNTED_DOWN.split(self.queued.message, 1)[0]
            left = "" if until is None else f", goes in {math.ceil(max(0.0, until - now))} s"
            if self.queued.reason == PAUSED:
                left = f"; {self.key('pane.resume')}: resume"
            return Text(f"{inert(why)}{left}", self.palette.waiting)
        if self.state is PaneState.QUEUED and self.status_note:  # on a broker, until a worker takes it
            return Text(self.status_note, self.palette.waiting)
        if self.error is not None:
            retries = f" · after {plural(self.retries, 'retry', 'retries')}" if self.retries else ""
            failed = Text(f"✗ {inert(self.error.describe())}{retries}", f"bold {self.palette.bad}")
            view = self.shown
            width = view.notice.content_region.width or view.content_region.width
            return with_hint(failed, f"{self.key('pane.retry')}: retry", width, view.app.console)
        if self.lost_note:
            return Text(f"⚠ {self.lost_note}", self.palette.waiting)
        if self.state is PaneState.SKIPPED and self.status_note:
            return Text(self.status_note, "dim")
        if self.running and self.progress:
            return Text(f"▸ {self.progress}", "dim")
        if self.moved_from:
            return Text(f"↪ fell back after {self.moved_from}", "dim")
        return ""


MARKDOWN_MARKS = re.compile(r"[\\`*_\[\]<>#|~]")
"""What Markdown reads as markup: escaped in an entry of lfg's own in the transcript (an agent's
words in it, a compaction's error, are shown as they are)."""
COUNTED_DOWN = re.compile(r", (?:resumes|its quota resets) in ")
"""Where a `Queued` message says the wait it had when it was sent: the pane counts it down instead."""


def retry_text(retry: Retrying, now: float) -> str:
    """What failed and when the retry goes: whole seconds rounded up, so a wait still under way never
    reads `in 0s`; `now` once it is due."""
    left = math.ceil(max(0.0, retry.delay_s - (now - retry.t)))
    when = f"retrying in {left}s" if left else "retrying now"
    return f"{inert(retry.error.describe())} — {when} ({retry.retry}/{retry.max_retries})"


def with_hint(text: Text, hint: str, width: int, console: Console, room: int = NOTICE_LINES) -> Text:
    """`text` and a key's hint after it, within `room` lines of `width`: the hint never split over
    two lines (on a line of its own when the last line has no room for it) and never cut off (the
    text is cut short, marked `…`, when it leaves no line for the hint)."""
    tail = f"  {hint}"
    if width <= 0:
        return Text.assemble(text, (tail, "dim"))
    lines = text.wrap(console, width)
    if len(lines) <= room and lines[-1].cell_len + len(tail) <= width:
        return Text.assemble(text, (tail, "dim"))
    if len(lines) < room:
        return Text.assemble(text, "\n", (hint, "dim"))
    last = lines[room - 1]
    last.truncate(max(0, width - len(tail) - 1))
    last.rstrip()
    return Text.assemble(Text("\n").join([*lines[: room - 1], last]), "…", (tail, "dim"))


STREAMED = frozenset({TextDelta, ReasoningDelta, ToolOutputDelta, SubagentDelta})
"""Events that only append to the pane's text: its header, gauges and notice stay as they were."""

PANE: Translation[Callable[[TicketPane, Any], None]] = Translation(
    "pane",
    {
        TextDelta: TicketPane._text,
        ReasoningDelta: TicketPane._reasoning,
        ToolOutputDelta: TicketPane._tool_output,
        SubagentChanged: TicketPane._subagent,
        SubagentDelta: TicketPane._subagent_text,
        SubagentToolCall: TicketPane._subagent_call,
        RequestSent: TicketPane._request,
        AttemptStarted: TicketPane._started,
        AttemptQueued: TicketPane._queued_for_worker,
        PromptSent: TicketPane._prompt,
        Steered: TicketPane._steered,
        Holding: TicketPane._holding,
        SteerOffer: TicketPane._offer,
        ToolCallReady: TicketPane._tool_ready,
        ToolCallUpdated: TicketPane._tool_updated,
        ToolResult: TicketPane._tool_result,
        Retrying: TicketPane._retrying,
        AgentStarted: TicketPane._agent_started,
        DiffUpdated: TicketPane._diff,
        Queued: TicketPane._queued,
        WorktreeReady: TicketPane._worktree,
        AgentDetails: TicketPane._agent_details,
        PlanUpdated: TicketPane._plan,
        ApprovalAsked: TicketPane._approval,
        Stalled: TicketPane._stalled,
        AgentProgress: TicketPane._progress,
        ApprovalAnswered: TicketPane._approval_answered,
        ElicitationAsked: TicketPane._question,
        ElicitationAnswered: TicketPane._question_answered,
        Status: TicketPane._status,
        SessionOpened: TicketPane._status,
        AttemptEnded: TicketPane._ended,
    },
    dict.fromkeys(
        (ToolCallStarted, ToolCallArgsDelta, Usage, CallEnded, ContextUsed),
        "the gauges show it from the attempt's metrics, redrawn with the pane's lines; a call's row"
        " waits for the call complete",
    )
    | {
        QuotaSeen: "a provider's quota is the summary bar's (run_controller.py), not one ticket's",
        RunFact: "the run's, not one pane's: the controller hands it to the verdict screen's `NEWS`",
    },
)
"""What each event does to a pane (every one but `STREAMED` also redraws its lines)."""


class PaneView(Vertical, can_focus=True):
    """The widgets of one `TicketPane` while the run screen shows it; built from the pane, so a pane
    scrolled back into view shows everything it holds, and dropped when it scrolls away."""

    def __init__(self, pane: TicketPane) -> None:
        super().__init__(classes="pane")  # no id: a ticket id may hold "." or "@", which ids may not
        self.pane = pane
        self.header = TextLine(id="header", classes="pane-header")
        self.body = LiveMarkdown(classes="pane-body")
        self.reasoning = LiveMarkdown(classes="pane-reasoning")
        collapsed = pane.thinking_collapsed
        self.thinking = Collapsible(
            self.reasoning, title="thinking", collapsed=collapsed, classes=folded("thinking", collapsed)
        )
        self.thinking.display = False
        self.tools = ToolLog(pane.tools)
        self.subagents = SubagentLog(pane.subagents)
        self.plan = Static(id="plan", classes="pane-plan")
        self.agent = AgentDetail(pane.ticket.mcp_servers)
        self.notice = Static(id="notice", classes="pane-notice")
        self.held = Static(id="held", classes="pane-held")
        """The messages the ticket holds (`held_text`): mounted in the foot once there are any."""
        self.gauges = TextLine(id="gauges", classes="pane-gauges")
        self.foot = Vertical(classes="pane-foot")
        """Docked: a crowded small pane clips its plan, not these."""
        self._shown: dict[str, object] = {
            "plan": (),
            "agent": None,
            "notice": "",
            "held": (),
            "turn": (None, 0),
        }
        """What each line shows (see `changed`): built empty, so a pane's first draw lays out nothing
        (an update of a widget of `height: auto` lays out the whole screen)."""
        self._body = Reader(pane.body.clears)
        self._reasoning = Reader(pane.reasoning.clears)
        pane.dirty = pane.lines_stale = pane.urgent = True

    def compose(self) -> ComposeResult:
        """The thinking, the agent's details and the tool log are mounted once there is some
        (`place`): most panes never show them, and 11 widgets fewer make a pane's mount a third as
        dear (64 panes mount while their first tokens arrive)."""
        yield self.header
        yield self.body
        yield self.plan
        if self.agent.servers:
            yield self.agent
        with self.foot:
            yield self.notice
            yield self.gauges

    def on_mount(self) -> None:
        self.plan.display = False
        self.notice.display = False

    def place(self, widget: Widget) -> None:
        """Mount `widget` (the thinking, the agent's details or the tool log), unless it is, at its
        place among the pane's widgets."""
        if widget.parent is not None:
            return
        order = [
            self.header,
            self.thinking,
            self.body,
            self.plan,
            self.agent,
            self.tools,
            self.subagents,
            self.foot,
        ]
        after = order[order.index(widget) + 1 :]
        self.mount(widget, before=next(w for w in after if w.parent is not None))

    def on_resize(self, event: Resize) -> None:
        """The gauges are laid out for the pane's width: draw them again at the new one."""
        self.pane.dirty = self.pane.lines_stale = True

    def on_descendant_focus(self) -> None:
        self._focus_inside()

    def on_descendant_blur(self) -> None:
        self._focus_inside()

    def _focus_inside(self) -> None:
        """`-focus-inside` while one of the pane's widgets (a fold's title) has the focus: the pane's
        border shows it as when the pane has it. Textual's `:focus-within` did, at the cost of a
        restyle of every widget of both panes on every focus change, on top of the restyle Textual
        gives the widget that takes or loses the focus (the pane itself, mostly): each twice."""
        focused = self.screen.focused
        self.set_class(focused is not None and self in focused.ancestors, "-focus-inside")

    def on_collapsible_expanded(self, event: Collapsible.Expanded) -> None:
        self._folded(event.collapsible)

    def on_collapsible_collapsed(self, event: Collapsible.Collapsed) -> None:
        self._folded(event.collapsible)

    @property
    def thinking_open(self) -> bool:
        """The thinking is on show (there is some, unfolded): only then is its text drawn."""
        return self.thinking.display and not self.thinking.collapsed

    def _folded(self, collapsible: Collapsible) -> None:
        """A click (or `t`) folded or unfolded the tool log or the thinking: the pane remembers it
        (and draws an unfolded thinking's text on the next frame)."""
        self.pane.dirty = self.pane.urgent = True
        if collapsible is self.tools:
            self.pane.tools.collapsed = collapsible.collapsed
        elif collapsible is self.thinking:
            self.pane.thinking_collapsed = collapsible.collapsed
        elif collapsible is self.subagents:
            self.pane.subagents.collapsed = collapsible.collapsed

    def changed(self, line: str, content: object) -> bool:
        """Whether `line` must be redrawn to show `content` (remembered as shown)."""
        if self._shown.get(line) == content:
            return False
        self._shown[line] = content
        return True

    def catch_up(self) -> None:
        """Take in what the pane got since the last frame: text, tool calls, the plan, attention."""
        pane = self.pane
        thinking = bool(pane.reasoning.length)
        if thinking:
            self.place(self.thinking)
        self._body.take(pane.body, self.body)
        self._reasoning.take(pane.reasoning, self.reasoning)
        if self.thinking.display != thinking:
            self.thinking.display = thinking
        if pane.tools.rows:
            self.place(self.tools)
        self.tools.show()
        if self.tools.collapsed != pane.tools.collapsed:
            self.tools.collapsed = pane.tools.collapsed
        if pane.subagents.children:  # mounted with the first child; drawn at the lines' pace
            self.place(self.subagents)
        note = pane.hold_note if pane.running or pane.unsent else ""
        if self.changed("held", (pane.held, pane.unsent, note)):
            if self.held.parent is None:
                self.foot.mount(self.held, before=self.notice)
            self.held.update(held_text(pane.held, pane.unsent, note))
            self.held.display = bool(pane.held or pane.unsent or note)
        if self.changed("plan", (pane.plan_steps, pane.plan_markdown)):
            self.plan.update(plan_view(pane.plan_steps, pane.plan_markdown))
            self.plan.display = bool(pane.plan_steps or pane.plan_markdown)
        if self.changed("agent", pane.agent_details):
            if pane.agent_details is None:
                self.agent.clear()
            else:
                self.place(self.agent)
                self.agent.show(pane.agent_details)
        self.set_class(pane.needs_attention, "-attention")

    def show_turn(self) -> None:
        """Mark the picked turn on the body once it changed (a pick, or a turn arrived), after the
        body's flush: the mark finds the body's blocks, and its scroll to the turn is not undone."""
        pane = self.pane
        if self.changed("turn", (pane.picked, len(pane.turns))):
            self.body.mark(pane.turn_mark())


HELD_SHOWN = 3
"""The held messages a pane lists; more are counted on one line."""


def held_text(held: tuple[HeldMessage, ...], unsent: tuple[HeldMessage, ...] = (), note: str = "") -> Text:
    """The messages a ticket holds, one line each in the order they go: a steer waiting for the next
    safe point, then each queued turn (inert: the person's words, or a watcher's); then those an
    attempt that did not complete left unsent, which a retry or a resume offers. Each is numbered by
    its id (`#3`), as the composer, the held-message question, the inbox page and the served API's
    `held` name it: one number for one message wherever it is shown. `note` (inert already), what
    the last change said, comes first, dim."""
    lines = [Text(f"↳ {' '.join(note.split())}", "dim")] if note else []
    for message in held[:HELD_SHOWN]:
        first = " ".join(inert(message.text).split())
        if message.steer:
            lines.append(
                Text.assemble(
                    (f"#{message.id} ⧗ steer", "bold"), f" from {inert(message.by)}: ", (first, "italic")
                )
            )
        else:
            lines.append(
                Text.assemble((f"#{message.id} queued", "bold"), f" from {inert(message.by)}: ", first)
            )
    if len(held) > HELD_SHOWN:
        lines.append(Text(f"… {len(held) - HELD_SHOWN} more held", "dim"))
    for message in unsent[:HELD_SHOWN]:
        kind = "steer" if message.steer else "queued"
        first = " ".join(inert(message.text).split())
        lines.append(
            Text.assemble((f"#{message.id} ✗ unsent", "bold"), f" {kind} from {inert(message.by)}: ", first)
        )
    if unsent:
        more = f"{len(unsent) - HELD_SHOWN} more unsent; " if len(unsent) > HELD_SHOWN else ""
        offers = "a retry (r), a follow-up once it completed (i), or lfg resume offers them"
        lines.append(Text(f"{more}kept for the ticket: {offers}", "dim"))
    for line in lines:
        line.no_wrap, line.overflow = True, "ellipsis"
    return Text("\n").join(lines)


PLAN_STYLES = {"completed": ("✓", "dim"), "in_progress": ("▸", "bold"), "pending": ("○", "")}


def plan_view(steps: tuple[PlanStep, ...], markdown: str) -> RenderableType:
    """An agent's plans: its steps, then its Markdown plans (made inert, links not followed)."""
    if not markdown:
        return plan_text(steps)
    shown = Markdown(inert(markdown), hyperlinks=False)
    return Group(plan_text(steps), shown) if steps else shown


def plan_text(steps: tuple[PlanStep, ...]) -> Text:
    """An agent's plan, one step a line: done ones dimmed, the current one bold."""
    lines = []
    for step in steps:
        glyph, style = PLAN_STYLES.get(step.status, ("?", ""))
        lines.append(Text(f"{glyph} {inert(step.content)}", style))
    return Text("\n").join(lines)
