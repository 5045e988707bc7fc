"""The inbox: what a person on a phone needs of a served run, as one JSON snapshot and one small page.

`Inbox` is a sink of the run, beside the hub. It keeps each ticket's attention state with the one
state machine the TUI, NDJSON and the alerts use (alerts/states.py `Attentions`), the permission
requests open now with everything they ask, and the end of each ticket's latest answer. `snapshot`
lists the tickets as the TUI's `a` visits them: those that need the person (the longest waiting
first), then the ended ones nobody has read, then the rest. Per streamed token it counts and appends
to a bounded tail (`LastMessage`), nothing more.

Everything from an agent or the tickets file goes out `revealed` (inert.py): controls, carriage
returns and bidirectional controls become visible symbols, so a command cannot hide or reorder part
of itself; the page puts every string in the document as text, never as markup. On a run served
with `--control` the page also has a small new-ticket form (prompt, provider, model), which sends
`add-ticket` as any watcher does.

The page (inbox.html, inbox.css, inbox.js beside this module) is the one response served without
the token: a browser cannot put a header on a navigation, and the page holds nothing of the run.
The token travels in the address's fragment (`/inbox#token=…`), which a browser never sends to any
server or proxy; the page keeps it in the tab's `sessionStorage` and sends it as `Authorization:
Bearer` with every request for data or action, checked as every other request is (server.py). A page
of another site can neither read the answers nor send that header without a CORS preflight, which
this server never grants. The page's script and style are inline and allowed by their hashes alone
(`Content-Security-Policy`), so nothing else can run or load on it.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lfgtui.alerts.states import NEEDS_YOU, Attentions, LastMessage, Standing, State
from lfgtui.events import (
    DIFF_ARGUMENTS,
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
    HeldMessage,
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
from lfgtui.inert import json_text, revealed
from lfgtui.run.agents.elicitation import FormField, read_form
from lfgtui.run.steer_words import Composing
from lfgtui.tickets.ticket import Ticket

PAGE_PATH = "/inbox"
ANSWER_LINES = 12
"""Lines of a ticket's latest answer the inbox shows (at most `ANSWER_CHARS` of them)."""
ANSWER_CHARS = 1500
FOLLOWS_UP = frozenset({State.ASKED, State.UNREAD, State.DONE})
"""States in which a ticket's turn has ended as completed: it can take a follow-up."""
REST_ORDER = {
    state: n
    for n, state in enumerate(
        (State.WORKING, State.STALLED, State.WAITING, State.FAILED, State.CANCELLED, State.DONE)
    )
}
"""How the tickets that need nobody are listed: the ones at work first."""
_HERE = Path(__file__).parent
Composes = Callable[[str], Composing | None]
"""What a message sent to a ticket now would be (run/steer_words.py): what Enter sends at first,
`"steer"` (its turn takes one) or `"queue"` (its next turn), and what it does in each, in words; None
(it is not running: no composer)."""


class Inbox:
    """The run's tickets as the inbox shows them (see the module docstring). `clock` is the events'
    clock (the hub's), `t0` when the run began on it."""

    def __init__(self, tickets: Sequence[Ticket], clock: Callable[[], float], t0: float) -> None:
        self.tickets = {ticket.id: ticket for ticket in tickets}
        self.clock = clock
        self.attention = Attentions({ticket.id: ticket.depends_on for ticket in tickets}, t0)
        self.requests: dict[str, dict[str, ApprovalAsked | ElicitationAsked]] = {}
        """Each ticket's permission requests and questions open now, by call or elicitation id."""
        self.answers: dict[str, LastMessage] = {}
        """The end of what each ticket's latest attempt has written."""
        self.children: dict[str, dict[str, str]] = {}
        """Each ticket's sub-agents in its latest attempt: their states, by session id."""
        self.held: dict[str, tuple[HeldMessage, ...]] = {}
        """The messages each ticket holds for the person, unsent, in the order they go."""
        self.version = 0
        """Counts the changes: a snapshot with a higher one shows something new."""
        self._changed: asyncio.Future[None] | None = None

    def __call__(self, event: Event) -> None:
        moved = bool(self.attention.apply(event))
        handle = INBOX.handlers.get(type(event))
        if (handle is not None and handle(self, event)) or moved:
            self._change()

    def looked(self, ticket: str) -> None:
        """The person looked at the ticket in the TUI (`Run.readers`): an ended one is read."""
        if self.attention.looked(ticket) is not None:
            self._change()

    async def changed(self) -> None:
        """Wait for the next change."""
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._changed)

    def _change(self) -> None:
        self.version += 1
        if self._changed is not None:
            self._changed.set_result(None)
            self._changed = None

    def _started(self, event: AttemptStarted) -> bool:
        self.answers[event.ticket] = LastMessage()
        self.requests.pop(event.ticket, None)
        self.children.pop(event.ticket, None)
        return True

    def _child(self, event: SubagentChanged) -> bool:
        """A sub-agent started or changed state: the ticket's count of them changes (its text,
        calls and cost are the TUI's to show)."""
        children = self.children.setdefault(event.ticket, {})
        if children.get(event.child) == event.state:
            return False
        children[event.child] = event.state
        return True

    def _holding(self, event: Holding) -> bool:
        """What the ticket holds changed (a steer or a queued turn held, edited, taken back or sent)."""
        self.held[event.ticket] = event.held
        return True

    def _text(self, event: TextDelta) -> bool:
        self.answers.setdefault(event.ticket, LastMessage()).add(event.text)
        return True

    def _between(self, event: Event) -> bool:
        """A tool call or a new model call: what is written next starts a line of its own."""
        answer = self.answers.get(event.ticket)
        if answer is not None and answer.chunks and not answer.chunks[-1].endswith("\n"):
            answer.add("\n")
        return False

    def _asked(self, event: ApprovalAsked) -> bool:
        self.requests.setdefault(event.ticket, {})[event.call_id] = event
        return True

    def _answered(self, event: ApprovalAnswered) -> bool:
        return self.requests.get(event.ticket, {}).pop(event.call_id, None) is not None

    def _question(self, event: ElicitationAsked) -> bool:
        """An agent's question: open until answered, when someone can answer it (`waits`)."""
        if event.waits:
            self.requests.setdefault(event.ticket, {})[event.elicitation_id] = event
        return event.waits

    def _replied(self, event: ElicitationAnswered) -> bool:
        return self.requests.get(event.ticket, {}).pop(event.elicitation_id, None) is not None

    def _ended(self, event: AttemptEnded) -> bool:
        return self.requests.pop(event.ticket, None) is not None

    def snapshot(self, control: bool, ended: bool, composes: Composes | None = None) -> dict[str, Any]:
        """The inbox as the page reads it: `needs_you`, `unread` and `rest`, each a list of tickets in
        the order shown. `control`: the run takes answers and follow-ups; `ended`: nothing more will
        change; `composes`: what a message sent to a ticket now would be (its composer's Enter; None: the
        run takes none)."""
        now = self.clock()
        needs_you = self.attention.needs_you()
        unread = self.attention.unread()
        first = {standing.ticket for standing in (*needs_you, *unread)}
        order = {ticket: n for n, ticket in enumerate(self.attention.standings)}
        rest = sorted(
            (s for s in self.attention.standings.values() if s.ticket not in first),
            key=lambda s: (REST_ORDER.get(s.state, len(REST_ORDER)), order[s.ticket]),
        )
        return {
            "version": self.version,
            "control": control,
            "ended": ended,
            "needs_you": [self._item(s, now, control, composes, full=True) for s in needs_you],
            "unread": [self._item(s, now, control, composes, full=True) for s in unread],
            "rest": [self._item(s, now, control, composes, full=False) for s in rest],
        }

    def _item(
        self, standing: Standing, now: float, control: bool, composes: Composes | None, full: bool
    ) -> dict[str, Any]:
        """One ticket; `full`: with its open requests and the end of its answer."""
        ticket = self.tickets.get(standing.ticket)
        item: dict[str, Any] = {
            "ticket": standing.ticket,
            "title": revealed(ticket.title) if ticket is not None else "",
            "provider": revealed(ticket.provider) if ticket is not None else "",
            "state": standing.state.value,
            "label": revealed(standing.label),
            "needs_you": standing.state in NEEDS_YOU,
            "unread": standing.unread,
            "waited_s": round(max(now - standing.since, 0.0), 1),
            "detail": revealed(standing.detail),
            "follow_up": control and standing.state in FOLLOWS_UP and not self.requests.get(standing.ticket),
            "subagents": subagent_states(self.children.get(standing.ticket, {})),
            "held": [held(message) for message in self.held.get(standing.ticket, ())],
        }
        composer = composes(standing.ticket) if control and composes is not None else None
        item["compose"] = None if composer is None else composer.mode
        says = None if composer is None else {mode: revealed(words) for mode, words in composer.says.items()}
        item["compose_says"] = says
        if full:
            asked = self.requests.get(standing.ticket, {}).values()
            item["requests"] = [
                question(request, now, control)
                if isinstance(request, ElicitationAsked)
                else approval(request, now, control)
                for request in asked
            ]
            answer = self.answers.get(standing.ticket)
            item["answer"] = revealed(last_lines(answer.text())) if answer is not None else ""
        return item


def held(message: HeldMessage) -> dict[str, Any]:
    """A message the ticket holds: its id (what `edit-held` and `remove-held` name), whether it is a
    steer for this turn or a queued next turn, its words and who sent them."""
    text, by = revealed(message.text), revealed(message.by)
    return {"id": message.id, "steer": message.steer, "text": text, "by": by}


def subagent_states(children: Mapping[str, str]) -> dict[str, int]:
    """How many sub-agents a ticket's attempt has, and how many are in each state (`running`, `done`,
    `failed`, `idle`...), for the page's one line of them."""
    states: dict[str, int] = {"count": len(children)}
    for state in children.values():
        states[state] = states.get(state, 0) + 1
    return states


def approval(request: ApprovalAsked, now: float, control: bool) -> dict[str, Any]:
    """An open permission request: the tool, everything it asks (`fields`) and how long it has
    waited. `kind` names what the page shows it with (`question`'s is another)."""
    return {
        "kind": "approval",
        "call": request.call_id,
        "tool": revealed(request.name),
        "waited_s": round(max(now - request.t, 0.0), 1),
        "fields": fields(request.arguments),
        "answerable": control,
    }


def question(asked: ElicitationAsked, now: float, control: bool) -> dict[str, Any]:
    """An agent's open question: its message and its form's fields as the page builds its inputs
    (lfgtui/run/agents/elicitation.py reads the schema, as for the TUI's form). `name` and a choice's `value`
    are sent back as the agent gave them; everything shown is revealed. However big the schema (one
    from an old history or a peer never passed `entering`), `read_form` cuts it to fit, so a poll
    stays small. `answerable`: the form can be accepted here (declining and cancelling need only
    `control`); what is sent is checked against the form by the run (run/approvals.py `unfit`)."""
    form = read_form(asked.form)
    return {
        "kind": "elicitation",
        "call": asked.elicitation_id,
        "question": revealed(asked.question),
        "title": revealed(form.title),
        "description": revealed(form.description),
        "waited_s": round(max(now - asked.t, 0.0), 1),
        "fields": [form_field(field) for field in form.fields],
        "problems": [revealed(problem) for problem in form.problems],
        "control": control,
        "answerable": control and form.answerable,
    }


def form_field(field: FormField) -> dict[str, Any]:
    default = field.default if isinstance(field.default, str | bool | int | float) else None
    return {
        "name": field.name,
        "label": revealed(field.label),
        "kind": field.kind.value,
        "required": field.required,
        "description": revealed(field.description),
        "bounds": revealed(field.bounds()),
        "choices": [{"value": c.value, "title": revealed(c.title or c.value)} for c in field.choices],
        "max_length": field.max_length,
        "default": revealed(default) if isinstance(default, str) else default,
        "problem": revealed(field.problem),
    }


def fields(arguments: Mapping[str, Any], depth: int = 0) -> list[dict[str, Any]]:
    """Every argument in full, one entry each (`key`, `text`, `depth`, and `diff` for a unified
    diff): a nested object is its key with an empty text, its own arguments one level deeper."""
    out: list[dict[str, Any]] = []
    for key, value in arguments.items():
        name = revealed(str(key))
        if isinstance(value, dict) and value:
            out.append({"key": name, "text": "", "depth": depth, "diff": False})
            out += fields(value, depth + 1)
            continue
        if isinstance(value, str):
            text = value
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            text = ", ".join(value)
        else:
            text = json_text(value)
        out.append({"key": name, "text": revealed(text), "depth": depth, "diff": key in DIFF_ARGUMENTS})
    return out


def last_lines(text: str) -> str:
    """The last `ANSWER_LINES` lines of `text`, at most `ANSWER_CHARS` of it."""
    lines = text.rstrip().splitlines()[-ANSWER_LINES:]
    return "\n".join(lines)[-ANSWER_CHARS:]


INBOX: Translation[Callable[[Inbox, Any], bool]] = Translation(
    "the inbox",
    {
        AttemptStarted: Inbox._started,
        TextDelta: Inbox._text,
        RequestSent: Inbox._between,
        ToolCallStarted: Inbox._between,
        ApprovalAsked: Inbox._asked,
        ApprovalAnswered: Inbox._answered,
        ElicitationAsked: Inbox._question,
        ElicitationAnswered: Inbox._replied,
        AttemptEnded: Inbox._ended,
        SubagentChanged: Inbox._child,
        Holding: Inbox._holding,
    },
    {
        **dict.fromkeys(
            (
                AttemptQueued,
                PromptSent,
                Steered,
                ReasoningDelta,
                ToolCallArgsDelta,
                ToolCallReady,
                ToolCallUpdated,
                ToolOutputDelta,
                ToolResult,
                Status,
                Retrying,
                Queued,
                AgentStarted,
                SessionOpened,
                AgentProgress,
                Stalled,
                PlanUpdated,
                WorktreeReady,
                ContextUsed,
                AgentDetails,
                SteerOffer,
                DiffUpdated,
                Usage,
                CallEnded,
                QuotaSeen,
                SubagentDelta,
                SubagentToolCall,
            ),
            "the inbox shows it only as the attention state it moves (Attentions)",
        ),
        RunFact: "the inbox is what needs the person; a verdict is the run screen's and the watchers'",
    },
)
"""What the inbox keeps of each event beside its attention state."""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


@functools.cache
def page() -> tuple[bytes, dict[str, str]]:
    """The inbox page and the headers it is served with: its inline script and style, and nothing
    else, allowed to run (by their hashes); requests only to this server; no frame, form target or
    base address."""
    script = (_HERE / "inbox.js").read_text(encoding="utf-8")
    style = (_HERE / "inbox.css").read_text(encoding="utf-8")
    html = (_HERE / "inbox.html").read_text(encoding="utf-8")
    body = html.replace("/*STYLE*/", style).replace("/*SCRIPT*/", script)
    policy = (
        f"default-src 'none'; script-src {_hash(script)}; style-src {_hash(style)}; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    return body.encode(), headers
