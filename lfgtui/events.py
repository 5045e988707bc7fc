"""The one event vocabulary every provider speaks and every consumer reads.

Data flows one way: adapters turn a provider stream into these events; the UI, the history and
the headless output only ever read them, each through one `Translation` table. Each event is
stamped with the ticket, the attempt, a per-attempt sequence number and the monotonic time at which
it was observed. What the run itself finds out (a tournament's check results, its verdicts) goes out
the same way, as `RunFact` events, counted per run rather than per attempt.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from functools import cache
from typing import Any, Generic, TypeVar

from lfgtui.outcome import Outcome
from lfgtui.surrogates import mended, mended_fields, said
from lfgtui.turns import ProviderTurn


class ErrorKind(StrEnum):
    """What went wrong, in terms a user can act on."""

    AUTH = "auth"  # 401/403: the key is missing, wrong or lacks access
    NOT_FOUND = "not_found"  # 404: unknown model or endpoint
    BAD_REQUEST = "bad_request"  # 400/422: e.g. context too long
    RATE_LIMITED = "rate_limited"  # 429
    SERVER = "server"  # 5xx
    OVERLOADED = "overloaded"  # Anthropic 529 / overloaded_error
    CONNECTION = "connection"  # refused, reset, dropped mid-stream, DNS
    TIMEOUT = "timeout"  # no byte within the idle timeout
    STREAM_ERROR = "stream_error"  # an in-band error event inside a 200 stream
    MALFORMED = "malformed"  # a chunk that is not valid for the protocol
    MAX_CALLS = "max_calls"  # the model was still calling tools when the ticket's max_calls ran out
    OUTPUT_LIMIT = "output_limit"  # the attempt streamed more than the ticket's max_output_chars
    STOPPED = "stopped"  # an older lfg's: a coding agent ended its turn early (now `refused`, `max_tokens`)
    REFUSED = "refused"  # the model declined to answer (stop reason `refusal`); what it said is kept
    CONTENT_FILTER = "content_filter"  # the provider's content filter stopped the answer
    CONTEXT_WINDOW = "context_window"  # the conversation filled the model's context window
    MAX_TOKENS = "max_tokens"  # the answer was cut at its output token limit; what arrived is kept
    BUDGET = "budget"  # the ticket's or the run's max_cost_usd, or its lead's lead_budget_usd, was reached
    WORKTREE = "worktree"  # isolation = "worktree" could not give the ticket a worktree
    SANDBOX = "sandbox"  # the ticket asked for a sandbox that cannot be made here: it did not run
    DISK = "disk"  # the disk a boxed ticket wrote on fell under [run] disk_reserve_mb; it held the most there
    INTERNAL = "internal"  # a bug in lfg itself; the ticket ends, the rest of the run goes on

    @classmethod
    def _missing_(cls, value: object) -> ErrorKind | None:
        """`max_turns`, what `max_calls` was called before: an older lfg's events still read."""
        return cls.MAX_CALLS if value == "max_turns" else None


RETRYABLE_KINDS = frozenset(
    {
        ErrorKind.RATE_LIMITED,
        ErrorKind.SERVER,
        ErrorKind.OVERLOADED,
        ErrorKind.CONNECTION,
        ErrorKind.TIMEOUT,
    }
)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A classified provider failure; `message` is the provider's own words when it gave any."""

    kind: ErrorKind
    message: str
    status: int | None = None
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def describe(self) -> str:
        status = f"HTTP {self.status} " if self.status else ""
        return f"{status}{self.kind.value}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    ticket: str
    attempt: int
    seq: int
    t: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFact(Event):
    """An event of the run rather than of one attempt's stream: a tournament's check result or its
    verdict (contest.py `FACTS`), said by the run (scheduler.py `Run.tell`) to every sink, after the
    event being fanned out then. `ticket` is what it is about (a contestant, a tournament), `attempt`
    the attempt it is about (0: none), `seq` counts the run's facts, not an attempt's events. Not
    one of `event_types()`: a translation decides each fact (`untranslated`), or leaves them all by
    ignoring `RunFact`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptStarted(Event):
    """The attempt starts where it runs: its wall time counts from here, and so do the times the
    history keeps of it. One per attempt (one that ends before it could start says only its end)."""

    provider: str
    model: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptSent(Event):
    """What the attempt asks, right after `AttemptStarted`: the ticket's prompt with its dependencies'
    answers filled in or, when `continues` names an earlier attempt, the follow-up sent after that
    attempt's whole conversation (a retry of a follow-up asks it again)."""

    text: str
    continues: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Steered(Event):
    """The person's words put into the running attempt at its next safe point (run/steering.py):
    after a round's tool results, before the next model call, as a user turn at that place in the
    conversation. `by`: who sent it ("you" at the terminal, a watcher's address)."""

    text: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSent(Event):
    """A request left for the provider: model call `call` (counted from 0 within the attempt), sent
    for the first time or again after a failure (a retry is a new request of the same call).
    `input_estimate` is lfg's estimate of the prompt's tokens: what a cost counts until the provider
    reports the input it charged. `tokens_per_char` is what lfg counts a character of the output as
    until the provider reports its count: learnt from the model's earlier requests in the run (None:
    none reported yet, a quarter token); on the event, so that every view estimates alike."""

    call: int
    input_estimate: int | None = None
    tokens_per_char: float | None = None
    cache_prefix: tuple[str, ...] = ()
    """Digests of what a provider's prompt cache keys the prompt's prefix on (its model, system prompt
    and tools: cost/cache.py), so that a miss can say which changed; () where lfg does not know."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta(Event):
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReasoningDelta(Event):
    text: str


LFG_CALL = "lfg-"
"""How the ids of the rows lfg shows for what a coding agent asks of lfg itself begin (a file it
writes through lfg, a command in lfg's terminal): lfg's calls, not the model's, whose input the
agent's token count does not include."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStarted(Event):
    call_id: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallArgsDelta(Event):
    call_id: str
    fragment: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallReady(Event):
    """A complete tool call. `error` is set when the model's arguments were not a JSON object.
    `model_input_chars` is set when the arguments are a coding agent's account of the call (the
    command Codex ran, what Gemini CLI said of it), not the model's input: it is how many of their
    characters are the model's own (the content of a file Gemini CLI writes, as its diff shows it).
    The rest of that input, which the agent's token count holds, lfg never saw (cost/metrics.py)."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    error: str | None = None
    model_input_chars: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallUpdated(Event):
    """A coding agent's call shown before as `ToolCallReady`, now as the agent means it: a later
    `tool_call_update` gave it a title, input, kind or locations it lacked (Claude Code announces a
    call bare and names it only then). Everything shown of the call replaces what was; `kind` is the
    agent's ACP tool kind, `locations` the files it touches (`path` or `path:line`);
    `model_input_chars` as `ToolCallReady`'s."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    kind: str | None = None
    locations: tuple[str, ...] = ()
    model_input_chars: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolOutputDelta(Event):
    """More output of a tool call still running (a command a coding agent runs, in lfg's terminal or
    its own), appended to the call's row as it comes: coalesced where it comes from, a few a second
    at most. Its `ToolResult` carries the whole output, which is what the history keeps."""

    call_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult(Event):
    call_id: str
    output: str
    is_error: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Status(Event):
    """A human-readable note about the stream: a retry, a reconnect, a provider status line."""

    message: str


COMPACTING = "the agent is compacting its context"
"""A coding agent's `Status` while it compacts its context (ACP `compaction_update`, in progress)."""
COMPACTION_ENDED = ("the agent compacted its context", "the agent's compaction of its context")
"""How a coding agent's `Status` begins when a compaction of its context ended (completed, failed,
cancelled): the pane shows it as an entry of its own where it happened, and since it is a plain
`Status` the history keeps it at its place and gives it back as one (run/agents/updates.py says them)."""
FOLDER_SETTINGS = (
    "the work folder holds agent settings",
    "the agent's settings in the work folder changed",
)
"""How a coding agent's `Status` begins that names the work folder's own agent settings, as the
session opens or when one changed during a turn (run/agents/folder_settings.py): the pane keeps it as
an entry of its own where it was said, as it does a compaction's end, so a later status line does
not take its place."""
WHERE_IT_RUNS = (".worktreeinclude: ", "setup: ", "sandbox bwrap: ", "sandbox docker: ", "sandbox podman: ")
"""How the `Status` lines begin that say, as an attempt starts (run/local.py `_started`), what its
new worktree was given (worktrees/include.py `lines`, run/prepare.py `run_setup`) and what its sandbox
allows (tools/sandbox.py and tools/containers.py `allows`): the pane keeps each, with its worktree's
line (`WorktreeReady`), as an entry at the top of the turn, as the headless lines and the history
say them, so a person sees whether the box is on."""
AGENT_STATE_CHANGED = "the agent changed its own settings in its sandbox"
"""How the `Status` begins that says, after a boxed coding agent's attempt, what it changed in its
ticket's copy of its own state (run/agents/agent_state.py): that line, then the diff. The pane keeps
it as an entry of its own."""
FORKED_AT = "forked at turn "
"""How the `Status` begins that says a fork was cut at an earlier turn of its parent's conversation
(run/fork.py `cut_said`), and what it starts from: the pane keeps it as an entry of its own."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Retrying(Status):
    """A failed request will be sent again after `delay_s`; `retry` counts from 1."""

    error: ErrorInfo
    retry: int
    max_retries: int
    delay_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Queued(Status):
    """A request waits for its provider's shared limits (see ratelimit.py) before it is sent.

    `reason` is "concurrency", "requests_per_minute", "tokens_per_minute", "rate_limited" (a 429
    paused the provider), "quota_requests" or "quota_tokens" (its headers said none is left), or
    `PAUSED` (it left the line, on_quota = "pause", until the person resumes it); `until` is the
    monotonic time it may go, when known. A `RequestSent` follows when it goes.
    """

    reason: str
    until: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptQueued(Status):
    """The attempt waits on a broker for a worker (`lfg run --broker`): its work entry is on the
    broker, and `message` says what it waits for. It comes before the attempt's `AttemptStarted`,
    which is the worker's, when the worker takes it, so the attempt's wall time and TTFT count from
    the worker's real start, never from the wait. Not to be confused with `Queued`, a request waiting
    for its provider's limits inside a started attempt."""

    provider: str
    model: str


PAUSED = "paused"
"""The `Queued.reason` of a call that left its provider's line until the person resumes it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStarted(Status):
    """A coding agent's process started; `log` is the file its stderr goes to."""

    log: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOpened(Status):
    """A coding agent's session is open: `session_id` is what a later `session/load` resumes;
    `loaded` says it was an earlier session loaded rather than a new one."""

    session_id: str
    loaded: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentProgress(Status):
    """A coding agent's own note on what its session is about (ACP `session_info_update`: Codex
    names its thread so), which the pane shows while the agent works."""

    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Stalled(Status):
    """A coding agent has sent nothing for `idle_s` while its prompt is outstanding and nothing waits
    for the person; at `limit_s` (its provider's `idle_timeout_s`) the attempt fails as `timeout`.
    The attempt's next event from the agent ends the stall."""

    idle_s: float
    limit_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalAsked(Status):
    """A tool call waits for a person's yes or no; `arguments` is everything they approve (for a
    coding agent's request, more than the call's own input: its changes and what yes picks)."""

    call_id: str
    name: str
    arguments: dict[str, Any]


DIFF_ARGUMENTS = frozenset({"changes"})
"""The `ApprovalAsked.arguments` that hold a unified diff: a coding agent's edits, as its request
shows them (run/agents/client.py)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalAnswered(Status):
    """The answer to an `ApprovalAsked`, and `by` whom: "you" at the terminal, a watcher's address."""

    call_id: str
    allowed: bool
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ElicitationAsked(Status):
    """A coding agent asks the person to fill in a form (ACP `elicitation/create`, form mode):
    `question` is its message, `form` the requested JSON Schema as it sent it (read by
    lfgtui/run/agents/elicitation.py, never trusted). `waits`: someone can answer it; False when nobody can (a
    headless run), and the `ElicitationAnswered` that follows at once declines it, saying why."""

    elicitation_id: str
    question: str
    form: dict[str, Any]
    waits: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ElicitationAnswered(Status):
    """The answer to an `ElicitationAsked`: `action` is ACP's `accept` (with the form's `content`),
    `decline` or `cancel`; `by` whom ("you" at the terminal, "lfg" when nobody could answer)."""

    elicitation_id: str
    action: str
    content: dict[str, Any] | None = None
    by: str


BY_LFG = "lfg"
"""`ElicitationAnswered.by` when lfg itself declined the question: nobody could answer it."""
BY_AGENT = "the agent"
"""`ApprovalAnswered.by` / `ElicitationAnswered.by` when the agent withdrew its request before anyone
answered it (ACP `$/cancel_request`): nothing is answered, the prompt leaves the pane."""


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One entry of an agent's plan: what, and pending / in_progress / completed."""

    content: str
    status: str
    priority: str = "medium"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanUpdated(Status):
    """An agent's whole plan, replacing the one before; `message` is its one-line form, so whatever
    shows or records a status shows or records the plan. An agent of ACP's plan operations may hold
    several plans by id: `steps` are the entries of those that have them, `markdown` the text of
    the Markdown plans (and a line for each plan file), in the order the plans came."""

    steps: tuple[PlanStep, ...]
    markdown: str = ""


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """A message the person sent a running ticket, not sent yet: a steer (`steer`, for the next safe
    point of this turn) or queued (sent as the ticket's next turn once this one ends); `id` names it
    for an edit or a removal, `by` who sent it."""

    id: int
    text: str
    steer: bool
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SteerOffer(Event):
    """What the attempt's running turn takes from the person (run/steering.py), said once its turn
    begins: `agent` is who runs the turn, as the person knows it (a coding agent by the title or name
    its `initialize` answer gives, lfg's own tool loop as `provider/model`); `coding_agent` says which
    of the two; `steers`, whether a steer goes into this turn (the agent advertised ACP steering, or
    the tool loop runs with tools and so has a safe point between rounds); `keeps_for_answer`,
    whether a steer sent while the agent waits on the person's answer to its request, or while a
    tool call it began has not run, is kept until it has gone on (Claude Code's adapter:
    agents/session/steering.py; the name is older than the second). A message queued
    is held by lfg for every turn alike and sent as the next one, so it needs no word here. A
    coordinated run's worker says it through the broker, and the coordinator's composer reads it there."""

    agent: str
    coding_agent: bool
    steers: bool
    keeps_for_answer: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Holding(Status):
    """The messages a running ticket holds for the person, in the order they go (run/steering.py),
    said whole each time they change; `message` says what changed (and who changed it). `unsent`:
    the messages this change took out unsent because the turn did not complete (cancelled, failed,
    lfg stopped), kept in the history so that `lfg resume` offers them again. `sent`: the steers this
    change handed to a coding agent's running turn, which the agent took without saying when its
    model reads them: each is recorded as `Steered` once the turn's prompt is answered (by then the
    model has read it), never where it was sent."""

    held: tuple[HeldMessage, ...] = ()
    unsent: tuple[HeldMessage, ...] = ()
    sent: tuple[HeldMessage, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubagentChanged(Status):
    """A coding agent's sub-agent (an ACP child session its `subagent_update` announced) started,
    changed or finished: its whole record as it stands, `message` its line for a timeline. Sent when
    its task, state or cost changes, never per token. `child` is its session id; `task` what the
    parent asked of it (the agent's title for it); `state` `running`, `idle`, `done` or `failed`;
    `output_tokens` estimated from its text so far (cost/tokens.py `tokens_in`: agents report no count
    of a child session's own); `cost_usd` what its own
    session reported it cost (None: nothing), rolled up into the parent's (cost/metrics.py). A
    child's finish is no moment to alert anyone: it is the parent's work."""

    child: str
    task: str
    state: str
    output_tokens: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubagentDelta(Event):
    """More of a sub-agent's own text as it streams (`child` its session id): its row in the parent's
    pane, never the parent's answer."""

    child: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SubagentToolCall(Status):
    """A sub-agent's own tool call began or changed state (`pending`, `in_progress`, `completed`,
    `failed`): a row of the child's tool log, `message` its line for a timeline."""

    child: str
    call_id: str
    title: str
    state: str


@dataclass(frozen=True, slots=True)
class AgentLimit:
    """A limit of a coding agent's account as the agent reports it with its usage: Claude Code's
    `_claude/rateLimit` (a claude.ai subscription's window: `five_hour`, `seven_day`...). ACP itself
    has no such field; this is the one agent that sends one."""

    window: str
    """Which window (`five_hour`, `seven_day`...); empty when the agent did not say."""
    status: str
    """`allowed`, `allowed_warning` (close to the limit) or `rejected` (the limit is reached)."""
    used: float | None = None
    """The share of the window used, from 0 to 1, when the agent says."""
    reset_s: float | None = None
    """Seconds after the event's `t` at which the window resets, when the agent says."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextUsed(Event):
    """How full a coding agent's context window is, as it reports it (ACP `usage_update`): `used` of
    `size` tokens. `cost_usd` is what this attempt cost by the agent's own count (the session's
    cumulative cost it reports, less what it had reported before this attempt), when it reports one
    in US dollars: it replaces lfg's price-based cost and counts toward `max_cost_usd`. `limit`: the
    account's limit, when the update says one (`AgentLimit`)."""

    used: int
    size: int
    cost_usd: float | None = None
    limit: AgentLimit | None = None


@dataclass(frozen=True, slots=True)
class AgentCommand:
    """One of a coding agent's slash commands: `/name`, and what it does."""

    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class AgentSetting:
    """One of a coding agent's session settings as it now stands: its label and current value."""

    name: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentDetails(Event):
    """What a coding agent offers in its session, whole, emitted only when it changed: its slash
    commands, the mode it is in and its settings (ACP config options: model, thought level...).
    Shown once, in the pane's agent detail and the history, never as a status per update. `model`
    is the model the agent reports it runs (its model option's current value, or its session's
    current model), which the pane's header shows when it is not the ticket's."""

    commands: tuple[AgentCommand, ...] = ()
    mode: str | None = None
    settings: tuple[AgentSetting, ...] = ()
    model: str | None = None

    def summary(self) -> str:
        """One line for people: `mode plan · model Opus · 25 commands`."""
        parts = [] if self.mode is None else [f"mode {self.mode}"]
        parts += [f"{setting.name} {setting.value}" for setting in self.settings]
        count = len(self.commands)
        parts += [f"{count} command{'' if count == 1 else 's'}"] if count else []
        return " · ".join(parts) or "nothing offered"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorktreeReady(Status):
    """The ticket works in a git worktree of its own: `path`, on `branch`, started from commit `base`."""

    path: str
    branch: str
    base: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffUpdated(Event):
    """What the ticket changed in its worktree so far, against the commit it started from; the last
    one of an attempt carries the whole unified diff as `text` (None on the ones before)."""

    added: int
    removed: int
    files: int
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ModelShare:
    """The part of a reported count that one model answered: a coding agent's turn may call several
    models, each at its own price (Gemini CLI's `_meta.quota.model_usage`)."""

    model: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage(Event):
    """Token usage of the current request so far, as the provider reported it (cumulative).

    `input_tokens` is the whole prompt; `cache_read_tokens` and `cache_write_tokens` are the parts of
    it read from or written to the provider's prompt cache (priced apart). `reasoning_tokens` are part
    of `output_tokens`. `models`: how the counts split by the model that answered, when the source
    says (a coding agent's; an API's model is the request's). `tokens_per_char`: what lfg's
    calibration said a character of the model's output is worth when a coding agent's count came
    (`RequestSent.tokens_per_char` is what it said when the request left, often nothing yet), which
    a count holding tool input lfg never saw is rated with (cost/metrics.py); on the event, so that
    every view rates alike.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    models: tuple[ModelShare, ...] = ()
    tokens_per_char: float | None = None
    output_unseen: bool = False
    """The output count holds output that never streamed and says not how much (Anthropic's holds a
    thinking model's whole thinking, shown summarised or not at all): the characters that did stream
    are worth at most what lfg's calibration says, so hidden thinking never inflates tok/s."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaSeen(Event):
    """What a provider's rate-limit headers said of its account's allowance when a request's answer
    began (OpenAI's `x-ratelimit-*`, Anthropic's `anthropic-ratelimit-*`, and the OpenAI-compatible
    servers that send them): requests and tokens left of the window's `limit`, and the seconds after
    this event's `t` at which each allowance is whole again. Each is None when the headers did not say."""

    provider: str
    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset_s: float | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(Event):
    """A model call's stream ended whole; `stop_reason` is the provider's reason, normalised
    (run/stops.py): whether the attempt goes on, completes or ends early is the tool loop's to say.
    `turn`: the call's whole output in its provider's own terms, when it holds parts the next call
    must send back as they came (reasoning state: see turns.py); None when the visible text and tool
    calls say it all."""

    stop_reason: str
    turn: ProviderTurn | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptEnded(Event):
    outcome: Outcome
    error: ErrorInfo | None = None


E = TypeVar("E", bound=Event)
H = TypeVar("H")


def event_types() -> tuple[type[Event], ...]:
    """Every event type of an attempt's stream this module defines, walked down from `Event`
    (subclasses of subclasses too; not `RunFact`, whose facts are contest.py's `FACTS`).
    The module's own name for a class picks it: `Event.__subclasses__()` also lists, alive, the class
    each `@dataclass(slots=True)` replaced."""
    module = vars(sys.modules[__name__])

    def below(cls: type[Event]) -> list[type[Event]]:
        return [found for sub in cls.__subclasses__() for found in (sub, *below(sub))]

    return tuple(
        cls for cls in below(Event) if module.get(cls.__name__) is cls and not issubclass(cls, RunFact)
    )


@dataclass(frozen=True)
class Translation(Generic[H]):
    """How one consumer (the history, the NDJSON, a pane...) turns events into its own terms: the
    handler of each event type it acts on, found by the event's exact type (one dict lookup per
    event), and the types it leaves alone, each with why. tests/test_translations.py fails, naming
    the translation and the type, for an event type one of them neither handles nor ignores."""

    name: str
    handlers: Mapping[type[Event], H]
    ignored: Mapping[type[Event], str]
    """Each type left alone and the reason."""

    def untranslated(self, types: Iterable[type[Event]]) -> list[type[Event]]:
        """Those of `types` this translation neither handles nor ignores; a fact of the run is decided
        too where the translation ignores `RunFact` (what only reads attempts leaves every fact alone)."""
        facts = RunFact in self.ignored
        return [
            cls
            for cls in types
            if cls not in self.handlers
            and cls not in self.ignored
            and not (facts and issubclass(cls, RunFact))
        ]


@dataclass
class EventFactory:
    """Stamps events for one attempt: ticket, attempt, the next sequence number and the time."""

    ticket: str
    attempt: int
    clock: Callable[[], float] = time.monotonic
    _seq: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    mends: bool = True
    """Whether text UTF-8 cannot hold is mended here (surrogates.py); False only in the provider
    worker's child, whose events the parent mends as it adopts them, once their pieces are joined
    (a pair's two halves then make their character) and under their ticket's name."""

    def __call__(self, cls: type[E], **fields: Any) -> E:
        """An event of this attempt; text that UTF-8 cannot hold is mended here, where every event of
        an attempt is made (surrogates.py)."""
        if self.mends:
            mended_fields(fields, lambda: f"{self.ticket} attempt {self.attempt}: {cls.__name__}")
        return cls(ticket=self.ticket, attempt=self.attempt, seq=next(self._seq), t=self.clock(), **fields)

    def adopt(self, observed: Observed) -> Event:
        """An event observed elsewhere (the provider worker) as the next of this attempt; its time is kept.

        Filled through its slots (`_slot_setters`), not its frozen `__init__`, which sets each field
        through `object.__setattr__`: a token's event costs about half as much that way."""
        cls, t, values = observed
        (ticket, attempt, seq, at), own = _slot_setters(cls)
        if len(own) != len(values):
            raise ValueError(f"{cls.__name__} has {len(own)} fields of its own, not {len(values)}")
        event = object.__new__(cls)
        ticket(event, self.ticket)
        attempt(event, self.attempt)
        seq(event, next(self._seq))
        at(event, t)
        for setter, value in zip(own, values, strict=True):
            if (type(value) is not str or not value.isascii()) and (new := mended(value)) is not value:
                said(f"{self.ticket} attempt {self.attempt}: {cls.__name__}", value)
                value = new
            setter(event, value)
        return event


Observed = tuple[type[Event], float, tuple[Any, ...]]
"""An event without its ticket, attempt and sequence number: (type, time, its own fields). What
the provider worker sends: plain tuples pickle and unpickle about ten times faster than the
dataclasses, and the parent stamps each one in a single construction."""


@cache
def payload_fields(cls: type[Event]) -> tuple[str, ...]:
    """An event type's own fields, in order: all but the stamp every event carries."""
    return tuple(f.name for f in fields(cls) if f.name not in _STAMP)


_STAMP = frozenset(f.name for f in fields(Event))

Setter = Callable[[Event, Any], None]


@cache
def _slot_setters(cls: type[Event]) -> tuple[tuple[Setter, Setter, Setter, Setter], tuple[Setter, ...]]:
    """The slot setters of an event type's stamp (ticket, attempt, seq, t) and of its own fields in
    order. Setting a frozen event's slots directly is only for `adopt`, on an event not yet seen by
    anyone; events have no `__post_init__` for it to skip (tests/test_events.py checks both)."""
    ticket, attempt, seq, t = (getattr(cls, name).__set__ for name in ("ticket", "attempt", "seq", "t"))
    return (ticket, attempt, seq, t), tuple(getattr(cls, name).__set__ for name in payload_fields(cls))


def observed(event: Event) -> Observed:
    return type(event), event.t, tuple(getattr(event, name) for name in payload_fields(type(event)))


JOINED = frozenset({TextDelta, ReasoningDelta})
"""The events whose pieces are joined when they come together (`joined`)."""
JOINED_WITHIN_S = 0.001
"""Pieces this close in time are one: the metrics measure in whole milliseconds."""


def joined(first: Observed, then: Observed) -> Observed | None:
    """Two pieces of one text (an answer's, or its thinking's) that arrived within a millisecond (one
    read off the network, parsed into several events), as one event at the first one's time; None
    for any other pair. The provider worker sends such pieces as one, so the run's work per stream
    grows with the reads, not with the tokens each brings, while every time the metrics read (to
    the millisecond) stays what it was, and the history still gets every character."""
    kind = first[0]
    if kind is not then[0] or kind not in JOINED or then[1] - first[1] > JOINED_WITHIN_S:
        return None
    return kind, first[1], (first[2][0] + then[2][0],)
