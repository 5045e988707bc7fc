"""Which attention state each ticket of a run is in, derived from the run's events alone (never from
what a pane shows), so the TUI, NDJSON, the alerts and the history agree on it.

A ticket is in exactly one `State` at a time. Two of them need the person (`NEEDS_YOU`): a permission
request is open (`APPROVAL`), or the agent asked them something (`ASKED`): certainly while its
question as a form is open (ACP elicitation, shown as "asked you"), or inferred when the turn ended on
a question to them (shown as "asked?": `ends_on_question`, a small rule documented in
docs/guides/attention.md). An ended
ticket is also *unread* until the person looks at it (zooms it, opens its diff, scrolls its answer to
the end): a completed one is then `UNREAD` rather than `DONE`; a failed one stays `FAILED`, marked
`unread`.

`Attentions` is the one state machine: `apply(event)` returns the standings that changed, each once,
in order. It keeps O(1) work per streamed token: a bounded tail of the agent's last message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from lfgtui.events import (
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
    Event,
    Holding,
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
from lfgtui.outcome import Outcome


class State(StrEnum):
    """A ticket's attention state; the value is what NDJSON and the history say."""

    WAITING = "waiting"
    """Not started: on its `depends_on` (named in `Standing.detail`), for its turn, or on a broker
    for a worker (`AttemptQueued`: its detail is "a worker")."""
    WORKING = "working"
    APPROVAL = "approval"
    """A permission request is open: the person must allow or deny it."""
    ASKED = "asked"
    """The agent's question as a form is open ("asked you"), or the turn ended on a question to the
    person (inferred: "asked?")."""
    UNREAD = "unread"
    """Completed, not yet looked at."""
    DONE = "done"
    STALLED = "stalled"
    FAILED = "failed"
    CANCELLED = "cancelled"
    """Cancelled, skipped (a dependency did not complete) or interrupted (lfg stopped)."""


NEEDS_YOU = frozenset({State.APPROVAL, State.ASKED})
"""The states in which the ticket cannot go on without the person: counted, timed and alerted."""

LABELS = {
    State.WAITING: "waiting",
    State.WORKING: "working",
    State.APPROVAL: "needs approval",
    State.ASKED: "asked?",
    State.UNREAD: "done, unread",
    State.DONE: "done",
    State.STALLED: "stalled",
    State.FAILED: "failed",
    State.CANCELLED: "cancelled",
}
"""How people read each state."""

ASKED_FOR_CERTAIN = "asked you"
"""How people read `ASKED` when the agent's question as a form is open: certain, so no "?"."""

TAIL = 2000
"""Characters of the agent's last message kept to decide whether it ends on a question."""


@dataclass
class LastMessage:
    """The end of a message as it streams, at least its last `TAIL` characters: chunks kept as they
    come and joined only once past twice that, so a token costs its own length, not the tail's."""

    chunks: list[str] = field(default_factory=list)
    size: int = 0

    def add(self, text: str) -> None:
        self.chunks.append(text)
        self.size += len(text)
        if self.size > 2 * TAIL:
            kept = "".join(self.chunks)[-TAIL:]
            self.chunks, self.size = [kept], len(kept)

    def text(self) -> str:
        return "".join(self.chunks)[-TAIL:]


QUESTION_MARKS = ("?", "\uff1f", "\u061f")
"""`?`, the full-width question mark (U+FF1F) and the Arabic one (U+061F)."""

CLOSERS = "*_`'\")]}\u00bb\u201d\u2019 "
"""What may follow a question's mark on its line: Markdown emphasis, closing quotes and brackets."""

FENCES = ("```", "~~~")


def ends_on_question(message: str) -> bool:
    """Whether an agent's last message ends on a question to the person: its last non-blank line,
    with Markdown emphasis, closing quotes and brackets taken off its end, ends with a question mark,
    and that line is prose (not inside or closing a fenced code block, not indented code, not a
    quote)."""
    lines = [line for line in message.splitlines() if line.strip()]
    if not lines:
        return False
    last = lines[-1]
    fences = sum(1 for line in lines if line.lstrip().startswith(FENCES))
    if fences % 2 or last.lstrip().startswith(FENCES) or last.startswith(("    ", "\t")):
        return False
    line = last.strip()
    if line.startswith(">"):
        return False
    return line.rstrip(CLOSERS).endswith(QUESTION_MARKS)


def question_of(message: str) -> str:
    """The line a message ends on (what the "asked?" state quotes), as it came."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one ticket stands: its state since `since` (the monotonic time of the event that put it
    there), of which `attempt`, and `detail`: what it waits on (the tickets, the tool call), the
    question it ended on, or how it ended. `unread`: it has ended and the person has not looked at
    it yet. `previous`: the state before this change (equal to `state` when only the detail moved)."""

    ticket: str
    state: State
    since: float
    attempt: int = 0
    detail: str = ""
    unread: bool = False
    previous: State = State.WAITING
    inferred: bool = False
    """`ASKED` only from the end of the agent's last message (`ends_on_question`), not from a question
    it asked as a form."""

    @property
    def needs_you(self) -> bool:
        return self.state in NEEDS_YOU

    @property
    def entered(self) -> bool:
        """This change moved the ticket into its state (rather than changing its detail)."""
        return self.state is not self.previous

    @property
    def label(self) -> str:
        """`asked?`, `waiting on a, b`, `needs approval`..."""
        if self.state is State.WAITING and self.detail:
            return f"waiting on {self.detail}"
        if self.state is State.ASKED and not self.inferred:
            return ASKED_FOR_CERTAIN
        return LABELS[self.state]

    def as_json(self, t0: float) -> dict[str, Any]:
        """What NDJSON's `attention` line says (besides type, ticket, attempt and t)."""
        return {
            "state": self.state.value,
            "previous": self.previous.value,
            "needs_you": self.needs_you,
            "inferred": self.inferred,
            "unread": self.unread,
            "since": round(self.since - t0, 4),
            "detail": self.detail,
        }


class Attentions:
    """The attention states of one run's tickets, moved by its events.

    `depends_on`: each ticket's dependencies as the run knows them (a ticket first seen in an event
    is added, working). `t0`: when the run began, the `since` of the first `WAITING`."""

    def __init__(self, depends_on: Mapping[str, Iterable[str]] | None = None, t0: float = 0.0) -> None:
        self.depends_on = {ticket: tuple(deps) for ticket, deps in (depends_on or {}).items()}
        self.dependents: dict[str, list[str]] = {}
        """Each ticket's dependents, so an end looks at those only (a run may have thousands)."""
        for ticket, deps in self.depends_on.items():
            for dep in deps:
                self.dependents.setdefault(dep, []).append(ticket)
        self.standings: dict[str, Standing] = {}
        self.completed: set[str] = set()
        self._open: dict[str, set[str]] = {}
        """Each ticket's open permission requests (their call ids)."""
        self._questions: dict[str, dict[str, str]] = {}
        """Each ticket's open questions as forms (their ids, and what each asks)."""
        self._tail: dict[str, LastMessage] = {}
        """The end of each ticket's last message (text since its last tool call or model call)."""
        self._ended: dict[str, Standing] = {}
        """Each ended ticket's standing, until its next attempt: where an approval or a question the
        agent sent before its turn ended, asked after the end, leaves it once answered."""
        for ticket, deps in self.depends_on.items():
            self.standings[ticket] = Standing(ticket, State.WAITING, t0, detail=", ".join(deps))

    def add(self, ticket: str, t: float) -> Standing:
        """A ticket the run started after it began (a fork, a tournament's synthesis): waiting for its
        turn."""
        self.depends_on[ticket] = ()
        standing = self.standings[ticket] = Standing(ticket, State.WAITING, t)
        return standing

    def apply(self, event: Event) -> tuple[Standing, ...]:
        """Take one event; the standings it changed (the event's ticket, and those a finished
        dependency no longer holds up)."""
        handle = _HANDLERS.get(type(event))
        if handle is not None:
            return handle(self, event)
        standing = self.standings.get(event.ticket)
        if (
            standing is not None
            and standing.state is State.STALLED
            and type(event) not in OWN_MEASURES
            and not isinstance(event, RunFact)
        ):
            return self._move(event, State.WORKING)
        return ()

    def looked(self, ticket: str) -> Standing | None:
        """The person has looked at `ticket` (zoomed it, opened its diff, read its answer to the end):
        an unread ended ticket is read; its change, if any."""
        standing = self.standings.get(ticket)
        if standing is None or not standing.unread:
            return None
        state = State.DONE if standing.state is State.UNREAD else standing.state
        changed = replace(standing, state=state, unread=False, previous=standing.state)
        self.standings[ticket] = changed
        if ticket in self._ended:
            self._ended[ticket] = changed
        return changed

    def needs_you(self) -> list[Standing]:
        """The tickets that need the person, the longest-waiting first."""
        return sorted((s for s in self.standings.values() if s.needs_you), key=lambda s: s.since)

    def unread(self) -> list[Standing]:
        """The ended tickets not yet looked at (and needing nobody), the earliest first."""
        waiting = (s for s in self.standings.values() if s.unread and not s.needs_you)
        return sorted(waiting, key=lambda s: s.since)

    def _move(
        self, event: Event, state: State, detail: str = "", unread: bool = False, inferred: bool = False
    ) -> tuple[Standing, ...]:
        old = self.standings.get(event.ticket)
        previous = old.state if old is not None else State.WAITING
        if old is not None and (old.state, old.detail, old.unread, old.attempt, old.inferred) == (
            state,
            detail,
            unread,
            event.attempt,
            inferred,
        ):
            return ()
        since = old.since if old is not None and old.state is state else event.t
        new = Standing(event.ticket, state, since, event.attempt, detail, unread, previous, inferred)
        self.standings[event.ticket] = new
        return (new,)

    def _started(self, event: AttemptStarted | AttemptQueued) -> tuple[Standing, ...]:
        self._ended.pop(event.ticket, None)
        self._open.pop(event.ticket, None)
        self._questions.pop(event.ticket, None)
        self._tail[event.ticket] = LastMessage()
        self.completed.discard(event.ticket)
        queued = isinstance(event, AttemptQueued)  # on a broker, until a worker takes it
        return self._move(event, State.WAITING if queued else State.WORKING, "a worker" if queued else "")

    def _text(self, event: TextDelta) -> tuple[Standing, ...]:
        tail = self._tail.get(event.ticket)  # not setdefault: that would make a LastMessage per token
        if tail is None:
            tail = self._tail[event.ticket] = LastMessage()
        tail.add(event.text)
        return self._unstall(event)

    def _new_message(self, event: Event) -> tuple[Standing, ...]:
        """A tool call or a new model call: the message before it is not the last one."""
        self._tail[event.ticket] = LastMessage()
        return self._unstall(event)

    def _unstall(self, event: Event) -> tuple[Standing, ...]:
        standing = self.standings.get(event.ticket)
        if standing is not None and standing.state is State.STALLED:
            return self._move(event, State.WORKING)
        return ()

    def _asked(self, event: ApprovalAsked) -> tuple[Standing, ...]:
        self._open.setdefault(event.ticket, set()).add(event.call_id)
        return self._move(event, State.APPROVAL, event.name)

    def _answered(self, event: ApprovalAnswered) -> tuple[Standing, ...]:
        still = self._open.get(event.ticket, set())
        still.discard(event.call_id)
        standing = self.standings.get(event.ticket)
        if still or standing is None or standing.state is not State.APPROVAL:
            return ()
        return self._still_asked(event)

    def _question(self, event: ElicitationAsked) -> tuple[Standing, ...]:
        """A question as a form: the ticket asks the person (after any open permission request)."""
        if not event.waits:  # nobody can answer it: declined at once, nobody waits
            return ()
        self._questions.setdefault(event.ticket, {})[event.elicitation_id] = event.question
        if self._open.get(event.ticket):
            return ()
        return self._still_asked(event)

    def _question_answered(self, event: ElicitationAnswered) -> tuple[Standing, ...]:
        questions = self._questions.get(event.ticket, {})
        if questions.pop(event.elicitation_id, None) is None or self._open.get(event.ticket):
            return ()
        return self._still_asked(event)

    def _still_asked(self, event: Event) -> tuple[Standing, ...]:
        """No permission request is open: asked while a question is, else working, or as it ended
        where its attempt has."""
        questions = self._questions.get(event.ticket)
        if questions:
            return self._move(event, State.ASKED, next(iter(questions.values())))
        ended = self._ended.get(event.ticket)
        if ended is not None:
            return self._move(event, ended.state, ended.detail, ended.unread, ended.inferred)
        return self._move(event, State.WORKING)

    def _stalled(self, event: Stalled) -> tuple[Standing, ...]:
        if self._open.get(event.ticket) or self._questions.get(event.ticket):
            return ()
        return self._move(event, State.STALLED)

    def _ended(self, event: AttemptEnded) -> tuple[Standing, ...]:
        self._open.pop(event.ticket, None)
        self._questions.pop(event.ticket, None)
        last = self._tail.pop(event.ticket, None)
        message = "" if last is None else last.text()
        outcome = event.outcome
        if outcome is Outcome.COMPLETED:
            self.completed.add(event.ticket)
            if ends_on_question(message):
                changed = self._move(event, State.ASKED, question_of(message), unread=True, inferred=True)
            else:
                changed = self._move(event, State.UNREAD, unread=True)
        elif outcome is Outcome.FAILED:
            error = event.error.describe() if event.error is not None else ""
            changed = self._move(event, State.FAILED, error, unread=True)
        else:
            changed = self._move(event, State.CANCELLED, outcome.value)
        self._ended[event.ticket] = self.standings[event.ticket]
        return changed + self._released(event)

    def _released(self, event: Event) -> tuple[Standing, ...]:
        """The waiting tickets whose dependencies changed: what they still wait on."""
        changed: list[Standing] = []
        for ticket in self.dependents.get(event.ticket, ()):
            standing = self.standings[ticket]
            if standing.state is not State.WAITING or standing.attempt:  # (queued for a worker)
                continue
            detail = ", ".join(dep for dep in self.depends_on[ticket] if dep not in self.completed)
            if detail != standing.detail:
                changed.append(replace(standing, detail=detail, previous=State.WAITING))
                self.standings[ticket] = changed[-1]
        return tuple(changed)


OWN_MEASURES = frozenset({DiffUpdated})
"""What lfg measures itself, not the agent: it does not end a stall."""

ATTENTION: Translation[Callable[[Attentions, Any], tuple[Standing, ...]]] = Translation(
    "attention states",
    {
        AttemptStarted: Attentions._started,
        AttemptQueued: Attentions._started,
        TextDelta: Attentions._text,
        RequestSent: Attentions._new_message,
        ToolCallStarted: Attentions._new_message,
        ToolCallReady: Attentions._new_message,
        ApprovalAsked: Attentions._asked,
        ApprovalAnswered: Attentions._answered,
        ElicitationAsked: Attentions._question,
        ElicitationAnswered: Attentions._question_answered,
        Stalled: Attentions._stalled,
        AttemptEnded: Attentions._ended,
    },
    {
        **dict.fromkeys(
            (
                PromptSent,
                Steered,
                Holding,
                ReasoningDelta,
                ToolCallArgsDelta,
                ToolCallUpdated,
                ToolOutputDelta,
                ToolResult,
                Status,
                Retrying,
                Queued,
                AgentStarted,
                SessionOpened,
                AgentProgress,
                PlanUpdated,
                WorktreeReady,
                ContextUsed,
                AgentDetails,
                SteerOffer,
                Usage,
                CallEnded,
                QuotaSeen,
                SubagentChanged,
                SubagentDelta,
                SubagentToolCall,
            ),
            "a ticket at work stays working (the event ends a stall); a sub-agent's finish is no news",
        ),
        DiffUpdated: "lfg's own measure of the worktree: it says nothing of the agent",
        RunFact: "the run's own finding (a check, a verdict) says nothing of the agent: no stall ends",
    },
)
"""The events that move a ticket's attention state; the others only end a stall."""
_HANDLERS = ATTENTION.handlers
"""`ATTENTION.handlers`, looked up once per event (a token's too) without the attribute's lookup."""
