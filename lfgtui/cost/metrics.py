"""One reducer over events: TTFT, tokens, tokens per second, chunk counts.

The gauges, the history rows and the reports all read these numbers, so they are computed once,
here, from event timestamps only. Every method is O(1) per event: this sits on the per-token path.

What is measured, for a model API and a coding agent alike:

- TTFT runs from the request (an agent's prompt) to its first output with a visible character: an
  empty or blank chunk is not output yet. A one-chunk answer directly followed by thinking is the
  agent's own notice (a warning it prints before the model speaks), not the model's first token.
- tok/s is the tokens that streamed over the time they streamed: output is cut into stretches of one
  kind (answer, thinking, tool-call arguments) that tool calls running and approvals interrupt, and
  each stretch counts from its first chunk to its last. A call's input an agent sends whole is
  output too, at the moment it arrives: its model wrote it since the output before it, so the
  stretch runs on to it (`Metrics._whole_input`), and a reported count is then rated over the time
  all it holds took, `counted - worth * unstreamed_chars` (`tokens_streamed`), whatever the calls
  wrote (a long file of code read Claude Code 13 % low when split off by characters). So the time
  an agent's tools run, or it waits for the person, is never in the rate. A stretch whose chunks all
  arrived within `MIN_STREAM_S` (one burst, like an error text an agent relays whole) has no rate
  of its own and counts for nothing.
  The tokens over that time are lfg's estimate of the chunks that arrived in it until the count is
  reported (the request's characters so far at `RequestSent.tokens_per_char`, which the run's
  `OutputCalibration` learnt from the model's earlier counts: cost/tokens.py); then the characters
  that arrived in it at the reported count's tokens per character, per request `reported *
  streamed_chars / (chars + whole_chars)`: `chars` are every chunk's characters, `whole_chars`
  those of the tool-call input an agent sent whole (`ToolCallReady`, `ToolCallUpdated` without
  argument fragments), which its count includes though it never streamed. That split assumes the
  input has the output's tokens per character, so a rate with such input is an estimate
  (`rate_estimated`), as one on lfg's own count is. An agent that shows a call only as its account
  of it (the command Codex ran, out of the script its model wrote; what Gemini CLI said of it:
  `ToolCallReady.model_input_chars`) has input in its count that lfg never saw: `whole_chars` takes
  only the part of the account that is the model's (a file's content), the count then only bounds
  a character's worth (`reported / (chars + whole_chars)`), and the characters that streamed count
  at the calibrated worth the count came with (`Usage.tokens_per_char`: the run may have learnt it
  since the request left) within that bound, an estimate too. Such a count teaches the calibration
  nothing.
- Thinking is counted apart from the rate once the count says how much of it is thinking
  (`Usage.reasoning_tokens`): the rest of the count (`reported - reasoning_tokens`) is rated by the
  characters of the rest alone, over the time the rest streamed, as `reported * streamed_chars /
  (chars + whole_chars)` is with the thinking's characters and time left out of each. A model's
  hidden reasoning (OpenAI's, whose thinking never streams or streams as a short summary) is most
  of its count: spread over the visible text's time, 3,000 unseen tokens made a true 25 tok/s read
  1,525. Gemini CLI's count leaves its thoughts out (`reasoning_tokens` 0): the same rule. One rule
  for every wire: the rate is of the visible output over the time it streamed, never the thinking's
  time. A count that does not say how much is thinking (None) is split by characters; one that
  holds thinking that never streamed, or streamed as a summary (`output_unseen`: Anthropic's), rates
  the visible characters at lfg's calibrated worth, and its thinking is the count less those
  (estimated): over the summary's sparse chunks, a true 24.6 tok/s read 0.9. The thinking is
  shown on its own (`thinking_tokens`: the count's, else lfg's estimate) with the time before each
  request's first output that is not thinking (`thinking_s`); the cost is of the whole count,
  thinking included.
- A count cut short is partial: a coding agent takes a steer mid-answer by cutting that model call
  off (Claude Code), and its count leaves out the part it cut (a true 25 tok/s read 3.01 as that
  count over the whole time). A request a steer went into while its output streamed (`Steered`,
  `RequestMetrics.cut`) has its streamed characters rated at lfg's calibrated worth, its tokens the
  larger of the count and lfg's estimate, all marked estimated; the calibration learns nothing
  from it.

Output times count in whole milliseconds from the attempt's start (its `AttemptStarted`, else its
first event), as the history keeps them, never before the output before them nor their request;
stretches are measured in those whole ms, as integers. So a resumed or replayed attempt (its events
rebuilt from the history, on a clock that starts at 0) reads the same rate and TTFT as the live one
did (on a clock that started hours before), to the last digit: measured in seconds on the two
clocks, a stretch of exactly `MIN_STREAM_MS` could count on one and not the other. An attempt
queued on a broker starts when a worker takes it: the wait is before its start, in no measure.

Each event type's part is one handler in `METRICS` (an `events.Translation`), found by the event's
exact type; the types it leaves alone say why.

A coding agent that reports its cost (ACP `usage_update`) is taken at its word: that cost replaces
lfg's price-based one for the attempt, exact and marked as the agent's (`cost_by_agent`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lfgtui.cost.cache import hit_rate, miss_cause, said_cache
from lfgtui.cost.tokens import TOKENS_PER_CHAR, OutputCalibration, tokens_in
from lfgtui.events import (
    LFG_CALL,
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
    ModelShare,
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

if TYPE_CHECKING:
    from lfgtui.cost.prices import PriceBook, Pricer

LIVE_WINDOW_S = 2.0
MIN_STREAM_MS = 25
"""A stretch of chunks that all arrived within this (whole ms) is one burst: a rate over it would be noise."""
MIN_STREAM_S = MIN_STREAM_MS / 1000
SEEN = 1
"""Tool input an agent sent whole, which lfg saw (`Stretch.whole`)."""
DESCRIBED = 2
"""Input of a call lfg saw only as the agent's account of it, which its count holds unseen."""
RATE_STEP_S = 0.5
"""The sparkline's step: one bar for each half second of an attempt's own timeline."""
RATE_STEPS = 64
"""How many steps an attempt keeps: more than any pane is wide enough to draw."""
PAUSES = (
    ToolCallStarted,
    ToolCallReady,
    ToolResult,
    ApprovalAsked,
    ApprovalAnswered,
    ElicitationAsked,
    ElicitationAnswered,
)
"""Events between which output stops streaming: a tool call runs, or the person is asked."""
NOTES = (
    Status,
    AttemptQueued,
    Retrying,
    Queued,
    AgentStarted,
    SessionOpened,
    AgentProgress,
    Stalled,
    PlanUpdated,
    SubagentToolCall,
)
"""Notes about the attempt: neither output nor a pause in it."""


def bare(call: ToolCallReady | ToolCallUpdated) -> bool:
    """Whether a coding agent's call is shown without its input yet (Claude Code's, announced as the
    model begins to write it)."""
    return call.model_input_chars is None and call.raw_arguments.strip() in ("", "{}")


@dataclass
class Stretch:
    """Output of one kind that streamed without a pause: where a rate can be measured."""

    answer: bool | None
    """True for the answer, False for thinking, None for tool-call arguments."""
    first: int
    """Its first chunk's time, in whole ms since the attempt's start (see the module's docstring)."""
    last: int
    """Its last chunk's, likewise."""
    first_tokens: int
    tokens: int
    first_chars: int
    chars: int
    chunks: int = 1
    whole: int = 0
    """What tool input an agent sent whole is in it (`Metrics._whole_input`): none (0), input lfg saw
    (`SEEN`), or (also) input of a call lfg saw only as the agent's account of it (`DESCRIBED`)."""
    first_whole: bool = False
    """Its first chunk is such input: that input came at no time of its own."""
    called: bool = False
    """A tool call was announced in it: an answer of one chunk before it is the model's, no notice."""
    held: int = 0
    """Tool input (as `whole` says it) that came within `MIN_STREAM_MS` of the output before it,
    held out of it: more input later in it places it (Claude Code sends a call's first argument at
    its announcement, the rest once written), or it came at no time of its own."""
    held_chars: int = 0
    placed: int = -1
    """The time of the tool input last placed in it: input within `MIN_STREAM_MS` after that, and
    no output between, came with it (Claude Code gives a call's first argument, then, a moment
    later, the whole input), and is placed with it as the history's one rebuilt call is."""

    @property
    def streamed(self) -> bool:
        """Whether the chunks came over time, not all at once."""
        return self.chunks > 1 and self.last - self.first >= MIN_STREAM_MS


@dataclass
class RequestMetrics:
    """Timings and counts of one request and its response; a retry is a new request of the same
    model `call`."""

    request_sent: float
    call: int = 0
    input_estimate: int | None = None
    """lfg's estimate of the prompt, for the cost until the provider reports `input_tokens` (once
    the request is `charged`: a request never answered costs nothing)."""
    tokens_per_char: float | None = None
    """What lfg counts a character of the output as until the count is reported (None: a quarter)."""
    counted_per_char: float | None = None
    """What lfg's calibration said a character is worth when a coding agent's count came
    (`Usage.tokens_per_char`; None: what it said when the request left, `tokens_per_char`)."""
    first_reasoning: float | None = None
    first_text: float | None = None
    first_token: float | None = None
    first_answer: float | None = None
    """Its first output that is not thinking (answer text or tool-call arguments): thinking ends there."""
    last_token: float | None = None
    chunks: int = 0
    estimated_tokens: int = 0
    reported_tokens: int | None = None
    input_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    ended: bool = False
    usage_seen: bool = False
    """The provider reported usage for it (any count): it costs what that says."""
    stretch: Stretch | None = None
    """The output streaming now, until a pause or another kind of output ends it."""
    chars: int = 0
    """The characters of every output chunk."""
    streamed_ms: int = 0
    """The time the stretches ended so far streamed (each from its first chunk to its last), in ms."""
    streamed_estimate: int = 0
    """lfg's estimate of the tokens that arrived over `streamed_ms`: each stretch's after its first chunk."""
    streamed_chars: int = 0
    """The characters that arrived over `streamed_ms`, likewise."""
    whole: dict[str, int] = field(default_factory=dict)
    """The characters of each tool call's input the agent sent whole, never as argument fragments:
    its reported count includes them though they never streamed."""
    whole_chars: int = 0
    """The sum of `whole`."""
    fragmented: set[str] = field(default_factory=set)
    """The calls whose arguments streamed as fragments: their input is in `chars` already."""
    described: set[str] = field(default_factory=set)
    """The calls lfg saw only as the agent's account of them (`ToolCallReady.model_input_chars`):
    their input, which the reported count holds, reached lfg in part at most."""
    output_unseen: bool = False
    """Its count holds output that never streamed, how much unsaid (`Usage.output_unseen`)."""
    calibrated: bool = False
    """Its reported count went into the run's `OutputCalibration` already."""
    models: tuple[ModelShare, ...] = ()
    """How its reported counts split by the model that answered, when the source says (`Usage.models`)."""
    thought_chars: int = 0
    """The characters of the thinking chunks (in `chars`)."""
    streamed_thought_chars: int = 0
    """Those that arrived over `streamed_ms` (in `streamed_chars`)."""
    streamed_thought_ms: int = 0
    """The part of `streamed_ms` the thinking streamed."""
    streamed_thought_estimate: int = 0
    """The part of `streamed_estimate` that is thinking."""
    cache_prefix: tuple[str, ...] = ()
    """Digests of its model, system prompt and tools (`RequestSent.cache_prefix`)."""
    cut: bool = False
    """A steer went into it while its output streamed: a coding agent cuts that model call off to take
    it (Claude Code), and its count leaves out the part it cut, so the count is partial
    (`Metrics._steered`)."""
    unplaced: int = 0
    """Tool input an agent sent whole that came at no time of its own (a call with no output
    streaming before it), as `Stretch.whole` says it: its tokens are split off the count by
    characters, or, for input lfg never saw, the characters that streamed are rated at what lfg's
    calibration says they are worth (`tokens_streamed`)."""

    @property
    def output_tokens(self) -> int:
        """The reported count, else lfg's estimate; of a `cut` request, the larger: its count leaves
        out output that streamed."""
        reported = self.reported_tokens
        if reported is None:
            return self.estimated_tokens
        return max(reported, self.estimated_tokens) if self.cut else reported

    @property
    def estimated(self) -> bool:
        """Whether its count is lfg's estimate: none was reported, or the one reported is partial."""
        return self.reported_tokens is None or self.cut

    @property
    def cost_known(self) -> bool:
        """Whether the provider reported both counts a price needs (else the cost is estimated)."""
        return not self.estimated and self.input_tokens is not None

    @property
    def charged(self) -> bool:
        """Whether it costs anything: the provider reported usage for it, output streamed (estimated
        until the usage comes, or for good if it never does), or its call ended whole. One refused
        (a 401, a 500) or never sent (a refused connection, a name that does not resolve) has none
        of these: it costs $0, however often it was tried, and takes nothing from a budget."""
        return self.usage_seen or self.chunks > 0 or self.ended or self.whole_chars > 0

    def cost(self, pricer: Pricer) -> float:
        """USD for this request, from the provider's usage or, until it comes, our estimate; $0 for
        one that was never answered (see `charged`)."""
        if not self.charged:
            return 0.0
        input_tokens = self.input_tokens if self.input_tokens is not None else self.input_estimate
        return pricer.cost(
            input_tokens=input_tokens or 0,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens or 0,
            cache_write_tokens=self.cache_write_tokens or 0,
        )

    def end_stretch(self) -> Stretch | None:
        """End the stretch streaming now (a pause, another kind of output); returns it."""
        stretch, self.stretch = self.stretch, None
        if stretch is not None and stretch.whole and (stretch.first_whole or not stretch.streamed):
            self.unplaced = max(self.unplaced, stretch.whole)
        if stretch is not None and stretch.held:  # no input came after it: it came at no time of its own
            self.unplaced = max(self.unplaced, stretch.held)
        if stretch is not None and stretch.streamed:
            self.streamed_ms += stretch.last - stretch.first
            self.streamed_estimate += stretch.tokens - stretch.first_tokens
            self.streamed_chars += stretch.chars - stretch.first_chars
            if stretch.answer is False:
                self.streamed_thought_chars += stretch.chars - stretch.first_chars
                self.streamed_thought_ms += stretch.last - stretch.first
                self.streamed_thought_estimate += stretch.tokens - stretch.first_tokens
        return stretch

    def tool_input(self, call_id: str, raw_arguments: str, model_input_chars: int | None) -> None:
        """A call's input as the agent shows it now; counted when it came whole, as far as it is the
        model's (of an account of the call, `model_input_chars`; none of lfg's own row for a write
        or command the agent asked of lfg, `LFG_CALL`)."""
        if call_id in self.fragmented or call_id.startswith(LFG_CALL):
            return
        chars = len(raw_arguments) if model_input_chars is None else model_input_chars
        self.whole_chars += chars - self.whole.get(call_id, 0)
        self.whole[call_id] = chars
        if model_input_chars is None:
            self.described.discard(call_id)
        else:
            self.described.add(call_id)

    @property
    def streaming_s(self) -> float:
        """The time visible output streamed: every stretch's first chunk to its last, bursts, pauses
        and thinking left out (thinking shown as a summary streams sparse chunks over the whole time
        the model thinks, or none at all: rated with the answer, it read 0.9 tok/s for a true 24.6)."""
        stretch = self.stretch
        streamed = stretch is not None and stretch.streamed and stretch.answer is not False
        streaming = stretch.last - stretch.first if streamed and stretch is not None else 0
        return (self.streamed_ms - self.streamed_thought_ms + streaming) / 1000

    @property
    def thinking_apart(self) -> bool:
        """The reported count says how much of it is thinking (`reasoning_tokens`; 0 for Gemini CLI's,
        which leaves its thoughts out): the rate is of the rest alone, its tokens over its characters
        and its time. Thinking that never streamed, or streamed only as a summary, then never
        inflates the rate."""
        return self.reasoning_tokens is not None and self.reported_tokens is not None

    @property
    def counted_tokens(self) -> int | None:
        """The reported count's tokens that `counted_chars` hold: all of them, or without the thinking
        when the count says how much of it that is (`thinking_apart`); None until it is reported."""
        reported = self.reported_tokens
        if reported is None:
            return None
        return max(0, reported - self.reasoning_tokens) if self.reasoning_tokens else reported

    @property
    def thinking_tokens(self) -> int:
        """The thinking its count holds: as the count says (`reasoning_tokens`; 0 for Gemini CLI's,
        which leaves its thoughts out); for a count that holds thinking it does not split out
        (`output_unseen`: Anthropic's, its thinking summarised or omitted), the count less lfg's
        estimate of the visible output; else lfg's estimate of the thinking that streamed."""
        if self.reasoning_tokens is not None:
            return self.reasoning_tokens
        if self.output_unseen and self.reported_tokens is not None:
            visible = self.chars - self.thought_chars + self.whole_chars
            return max(0, self.reported_tokens - round(visible * self._per_char))
        return tokens_in(self.thought_chars, self.tokens_per_char)

    @property
    def thinking_estimated(self) -> bool:
        """Whether `thinking_tokens` is lfg's estimate: thinking streamed or the count holds some, and
        no count said how much."""
        return self.reasoning_tokens is None and (self.thought_chars > 0 or self.output_unseen)

    @property
    def thinking_s(self) -> float:
        """The time it thought: from the request to its first output that is not thinking (0 when it
        did not think, or nothing but thinking came yet)."""
        if self.first_answer is None or not (self.reasoning_tokens or self.thought_chars):
            return 0.0
        return max(0.0, self.first_answer - self.request_sent)

    @property
    def tokens_streamed(self) -> float:
        """The tokens that arrived over `streaming_s`: lfg's estimate of them, or once the count is
        reported, the characters that did at the reported count's tokens per character (over all it
        counts: the chunks and any tool input an agent sent whole). A count that holds input lfg
        never saw (`described`) says only how much a character is worth at most: the characters are
        worth what the run's calibration said when the count came (`counted_per_char`), else when
        the request left (`tokens_per_char`), within that."""
        stretch = self.stretch
        streaming = stretch is not None and stretch.streamed and stretch.answer is not False
        if self.reported_tokens is None:
            streamed_tokens = self.streamed_estimate - self.streamed_thought_estimate
            return streamed_tokens + (stretch.tokens - stretch.first_tokens if streaming and stretch else 0)
        streamed = self.streamed_chars - self.streamed_thought_chars
        streamed += stretch.chars - stretch.first_chars if streaming and stretch is not None else 0
        if self.output_unseen or self.unplaced == DESCRIBED or self.cut:
            return self._per_char * streamed
        unstreamed = self._counted - streamed  # each stretch's first chunk, bursts, input at no time
        return max(0.0, (self.counted_tokens or 0) - self._per_char * unstreamed)

    @property
    def _per_char(self) -> float:
        """What a character of the reported count is worth (see `tokens_streamed`): what lfg's
        calibration says for a `cut` count, which leaves out part of what streamed."""
        calibrated = self.tokens_per_char if self.counted_per_char is None else self.counted_per_char
        calibrated = TOKENS_PER_CHAR if calibrated is None else calibrated
        if self.cut:
            return calibrated
        counted = self._counted
        if not counted:
            return 0.0
        per_char = (self.counted_tokens or 0) / counted
        if self.described or self.output_unseen:
            per_char = min(per_char, calibrated)
        return per_char

    @property
    def counted_chars(self) -> int | None:
        """The characters the reported count holds, by lfg's account (see `tokens_streamed`); None
        when it holds input lfg never saw, whose characters no one knows, or leaves out what was cut."""
        return None if self.described or self.output_unseen or self.cut else self._counted

    @property
    def _counted(self) -> int:
        """The characters of `counted_tokens` that lfg saw: the chunks' and the tool input sent whole
        (the model's part of an account of a call), the thinking's left out when the count's is."""
        return self.chars + self.whole_chars - (self.thought_chars if self.thinking_apart else 0)

    @property
    def rate_split(self) -> bool:
        """Whether the reported count was split between what streamed and tool input that came at no
        time of its own: by characters (input sent whole) or by the calibration (input never seen,
        thinking never shown, or a count that leaves out what was cut), so the rate is an estimate."""
        return self.reported_tokens is not None and (bool(self.unplaced) or self.output_unseen or self.cut)


@dataclass
class RateHistory:
    """The tokens that arrived in each `RATE_STEP_S` of an attempt, by the events' own times.

    The sparkline is drawn from it, not from samples a view takes while it watches: so a view that
    opens late (`lfg attach`, a browser tab, a resumed or replayed run) draws the same rates as one
    that watched from the first token, and a finished attempt keeps the shape of its last seconds.
    """

    counts: deque[int] = field(default_factory=lambda: deque(maxlen=RATE_STEPS))
    newest: int | None = None
    """The step `counts[-1]` is, counted from t = 0."""

    def add(self, t: float, tokens: int) -> None:
        step = int(t // RATE_STEP_S)
        if step == self.newest:  # most tokens: the newest step, which is `counts[-1]`
            self.counts[-1] += tokens
            return
        if self.newest is None or step > self.newest:
            gap = RATE_STEPS if self.newest is None else min(step - self.newest, RATE_STEPS)
            self.counts.extend([0] * gap)
            self.newest = step
        back = self.newest - step
        if back < len(self.counts):  # an event older than the newest step lands in its own step
            self.counts[-1 - back] += tokens

    def rates(self, until: float, n: int, ended: bool = False) -> list[float]:
        """The rate over the `LIVE_WINDOW_S` that ended with each of the last `n` steps completed by
        `until`: the live gauge's number, as it stood at each step. The step `until` falls in counts
        as complete when the attempt has `ended` then: nothing more will come in it."""
        last = int(until // RATE_STEP_S) - (0 if ended else 1)
        window = round(LIVE_WINDOW_S / RATE_STEP_S)
        kept = len(self.counts)
        newest = last if self.newest is None else self.newest

        def count(step: int) -> int:
            back = newest - step
            return self.counts[-1 - back] if 0 <= back < kept else 0

        return [
            sum(count(s) for s in range(step - window + 1, step + 1)) / LIVE_WINDOW_S
            for step in range(last - n + 1, last + 1)
        ]


@dataclass
class Metrics:
    """Metrics of one attempt, fed every event of it through `apply`."""

    requests: list[RequestMetrics] = field(default_factory=list)
    pricer: Pricer | None = None
    """The price of the attempt's model; None when none is known (its cost is then unknown)."""
    provider: str | None = None
    """The attempt's provider, as its `AttemptStarted` named it."""
    model: str = ""
    """Its model, likewise."""
    history: RateHistory = field(default_factory=RateHistory)
    context: ContextUsed | None = None
    """How full a coding agent's context window is, as it last reported it."""
    agent_cost_usd: float | None = None
    """What the attempt cost by the coding agent's own count, when it reports one."""
    subagents: dict[str, SubagentChanged] = field(default_factory=dict)
    """Each of a coding agent's sub-agents as it last stood, by its session id: their tokens and
    cost roll up into the attempt's (`subagent_tokens`, `cost_usd`)."""
    model_pricers: dict[str, Pricer | None] = field(default_factory=dict)
    """The price of each model its requests' counts name (`RequestMetrics.models`), by name."""
    t0: float | None = None
    """When the attempt started (until then, when its first event came): output times count in whole
    milliseconds from it."""
    kept_ms: int = 0
    """The last output's time as the history keeps it: whole ms since `t0` (see `_token`)."""
    live: bool = True
    """Whether it keeps what only a live view reads: the live gauge's window (`live_tokens_per_s`,
    which trims it) and the sparkline's steps (`history`). The history writer's do not: it stores
    neither, and never reads the window, which would grow by a token's entry for the whole run."""
    before: tuple[RequestMetrics, ...] = ()
    """The last request of the ticket's attempt before this one (a follow-up's, a retry's): what a
    first request's cache miss is told against."""
    _window: deque[tuple[float, int]] = field(default_factory=deque, repr=False)
    _window_tokens: int = 0

    def apply(self, event: Event) -> None:
        """One event of the attempt, through `METRICS`: one dict lookup by its exact type."""
        if self.t0 is None:
            self.t0 = event.t
        apply = _HANDLERS.get(type(event))
        if apply is not None:
            apply(self, event)

    def apply_run(self, deltas: Sequence[TextDelta | ReasoningDelta]) -> None:
        """Deltas of one kind that follow one another in the attempt, nothing else between: the same
        as `apply` of each (tests/cost/test_metrics_runs.py), the history writer's way to take a
        batch's run of them (history/recorder.py `_continue`) at a fraction of the cost per token."""
        i, n = 0, len(deltas)
        while i < n:
            i = self._stream(deltas, i)
            if i < n:  # one it cannot take as a continuation: a new stretch, a first token
                self.apply(deltas[i])
                i += 1

    def _stream(self, deltas: Sequence[TextDelta | ReasoningDelta], start: int) -> int:
        """`_token` for each delta from `start` on while they continue the streaming stretch of their
        kind with every first token of that kind seen, with the fields they change kept in locals;
        returns the index of the first one it did not take (`len(deltas)` for none)."""
        requests, t0 = self.requests, self.t0
        if not requests or t0 is None:
            return start
        request = requests[-1]
        stretch = request.stretch
        answer = type(deltas[start]) is TextDelta
        if (
            stretch is None
            or stretch.answer is not answer
            or request.first_token is None
            or (request.first_text if answer else request.first_reasoning) is None
        ):
            return start
        per_char = TOKENS_PER_CHAR if request.tokens_per_char is None else request.tokens_per_char
        live, window, history = self.live, self._window, self.history
        counts, add = history.counts, history.add
        kept = self.kept_ms
        estimated, chars, chunks, window_tokens = (
            request.estimated_tokens,
            request.chars,
            request.chunks,
            self._window_tokens,
        )
        stretch_tokens, stretch_chars, stretch_chunks = stretch.tokens, stretch.chars, stretch.chunks
        streamed = chars
        last = stretch.last
        for delta in deltas[start:] if start else deltas:
            text = delta.text
            if not text:  # an empty chunk is no output
                continue
            ms = round((delta.t - t0) * 1000)  # as `_token` keeps it
            if ms < kept:
                ms = kept
            kept = last = ms
            chars += len(text)
            tokens = round(chars * per_char) - estimated  # `tokens_in` of the request's characters
            estimated += tokens
            chunks += 1
            stretch_tokens += tokens
            stretch_chunks += 1
            if not live:
                continue
            t = t0 + ms / 1000
            window.append((t, tokens))
            window_tokens += tokens
            if int(t // RATE_STEP_S) == history.newest:  # `RateHistory.add`'s usual case
                counts[-1] += tokens
            else:
                add(t, tokens)
        self.kept_ms = kept
        if chunks != request.chunks:
            stretch.last = last
            request.last_token = t0 + last / 1000
            request.estimated_tokens, request.chars, request.chunks = estimated, chars, chunks
            stretch.tokens, stretch.chunks = stretch_tokens, stretch_chunks
            stretch.chars = stretch_chars + chars - streamed
            if not answer:
                request.thought_chars += chars - streamed
            self._window_tokens = window_tokens
        return len(deltas)

    def _started(self, event: AttemptStarted) -> None:
        self.t0 = event.t

    def _request(self, event: RequestSent) -> None:
        """A request: its output comes no earlier than it, in the whole ms output times count in
        (rounded up: its first token is never before it)."""
        self.kept_ms = max(self.kept_ms, math.ceil((event.t - (self.t0 or 0.0)) * 1000))
        self.requests.append(
            RequestMetrics(
                request_sent=event.t,
                call=event.call,
                input_estimate=event.input_estimate,
                tokens_per_char=event.tokens_per_char,
                cache_prefix=event.cache_prefix,
            )
        )

    def _text(self, event: TextDelta) -> None:
        self._token(event.t, event.text, True)

    def _reasoning(self, event: ReasoningDelta) -> None:
        self._token(event.t, event.text, False)

    def _tool_arguments(self, event: ToolCallArgsDelta) -> None:
        if self.requests:
            self.requests[-1].fragmented.add(event.call_id)
        self._token(event.t, event.fragment, answer=None)

    def _announced(self, event: ToolCallStarted) -> None:
        """A call begins: output goes on (its arguments stream next, or come whole with it or later),
        the stretch streaming now running on to it; lfg's own row for what an agent asked of it is a
        pause (the call runs)."""
        if event.call_id.startswith(LFG_CALL):
            self._paused(event)
        else:
            self._announcement(event.t)

    def _tool_ready(self, event: ToolCallReady) -> None:
        """A complete call: one whose arguments streamed as fragments, or lfg's own row, ends the
        output before its run; input that came whole is output at the call's time (`_whole_input`)."""
        request = self.requests[-1] if self.requests else None
        if request is None or event.call_id in request.fragmented or event.call_id.startswith(LFG_CALL):
            self._paused(event)
            if request is not None:
                request.tool_input(event.call_id, event.raw_arguments, event.model_input_chars)
            return
        if bare(event):  # announced bare: its input to come
            self._announcement(event.t)
            return
        before = request.whole_chars
        request.tool_input(event.call_id, event.raw_arguments, event.model_input_chars)
        seen = SEEN if event.model_input_chars is None else DESCRIBED
        self._whole_input(event.t, max(0, request.whole_chars - before), seen)

    def _tool_updated(self, event: ToolCallUpdated) -> None:
        """More of a call's input, as the agent shows it: while output streams (Claude Code announces
        a call bare and sends its input once the model wrote it), it is output at its time."""
        if not self.requests or bare(event):
            return  # named, not given its input yet
        request = self.requests[-1]
        before = request.whole_chars
        request.tool_input(event.call_id, event.raw_arguments, event.model_input_chars)
        grew = request.whole_chars - before
        if grew > 0 and request.stretch is not None:
            self._whole_input(event.t, grew, SEEN if event.model_input_chars is None else DESCRIBED)

    def _announcement(self, t: float) -> None:
        """A call announced before its input: the output streaming goes on through it; with none
        streaming (a model call that begins with a call), its input streams from here on, a stretch
        with nothing in its first chunk."""
        request = self.requests[-1] if self.requests else None
        if request is None:
            return
        if request.stretch is not None:
            request.stretch.called = True
            return
        ms = self._output_ms(t)
        request.stretch = Stretch(None, ms, ms, 0, 0, 0, 0, called=True)

    def _output_ms(self, t: float) -> int:
        """Output's time as `_token` keeps a chunk's: whole ms since the start, never before the last."""
        ms = round((t - (self.t0 or 0.0)) * 1000)
        if ms < self.kept_ms:
            ms = self.kept_ms
        self.kept_ms = ms
        return ms

    def _whole_input(self, t: float, chars: int, whole: int) -> None:
        """Tool input an agent sent whole (`whole` says whose: `Stretch.whole`): the model streamed
        it since the output before it, so the stretch streaming now runs on to it, its characters in
        it (after thinking, a stretch of its own from the thinking's end). Tokens over the time they
        streamed, then, whatever the tools wrote: no split of the count between text and input by
        characters, whose worth differs (prose, code, JSON). Input that came at no time of its own
        (with no output streaming before it, where it starts a stretch as its first chunk, or within
        `MIN_STREAM_MS` of that output with no more input after it: `Stretch.held`) stays out of the
        stretch (`RequestMetrics.unplaced`); input within it of input placed came with that
        (`Stretch.placed`)."""
        request = self.requests[-1] if self.requests else None
        if request is None:
            return
        ms = self._output_ms(t)
        tokens = tokens_in(chars, request.tokens_per_char)
        stretch = request.stretch
        if (
            whole
            and stretch is not None
            and ms - stretch.last < MIN_STREAM_MS
            and stretch.last != stretch.placed
        ):
            stretch.held = max(stretch.held, whole)  # all at once with the output before it, so far
            stretch.held_chars += chars
            return
        if stretch is not None and stretch.answer is False:
            held, held_chars = stretch.held, stretch.held_chars  # the input's, not the thinking's
            stretch.held = stretch.held_chars = 0
            thought = request.end_stretch()
            last = thought.last if thought is not None else ms
            stretch = request.stretch = Stretch(
                None, last, last, 0, 0, 0, 0, held=held, held_chars=held_chars
            )
        if stretch is None:
            request.stretch = Stretch(
                None, ms, ms, tokens, tokens, chars, chars, whole=whole, first_whole=bool(whole), placed=ms
            )
            return
        if stretch.held:  # input held as it came at once: with this, the model wrote it all meanwhile
            chars += stretch.held_chars
            tokens = tokens_in(chars, request.tokens_per_char)
            whole = max(whole, stretch.held)
            stretch.held = stretch.held_chars = 0
        stretch.last = stretch.placed = ms
        stretch.chunks += 1
        stretch.tokens += tokens
        stretch.chars += chars
        stretch.whole = max(stretch.whole, whole)

    def _reported(self, event: Usage) -> None:
        if self.requests:
            self._usage(self.requests[-1], event)

    def _call_ended(self, _: CallEnded) -> None:
        if self.requests:
            self.requests[-1].ended = True

    def _context(self, event: ContextUsed) -> None:
        self.context = event
        if event.cost_usd is not None:
            self.agent_cost_usd = event.cost_usd

    def _subagent(self, event: SubagentChanged) -> None:
        self.subagents[event.child] = event

    def _steered(self, _: Steered) -> None:
        """The person's words went into the attempt. Between a tool loop's rounds no output streams;
        a coding agent takes one mid-answer by cutting that model call off, and reports no tokens
        for the part it cut: its count is then partial (`RequestMetrics.cut`), and what streamed is
        rated at lfg's calibrated worth, never at the cut count over the whole time. (A coding agent's
        steer is `Steered` once its turn has ended, after its `CallEnded`, or, for Claude Code, as
        the model message that read it begins, after what it cut; the moment it was handed over,
        mid-answer, is its `Holding.sent`: `_holding`. Histories from before kept it here.)"""
        self._cut()

    def _holding(self, event: Holding) -> None:
        """A steer handed to a coding agent while its answer streams (`Holding.sent`) cuts that call."""
        if event.sent:
            self._cut()

    def _cut(self) -> None:
        request = self.requests[-1] if self.requests else None
        if request is not None and request.stretch is not None and not request.ended:
            request.cut = True
            request.end_stretch()  # the next model call's wait for its first token is no streaming

    def _paused(self, _: Event) -> None:
        """Output stops streaming: a tool call runs, or the person is asked."""
        if self.requests:
            self.requests[-1].end_stretch()

    @staticmethod
    def _usage(request: RequestMetrics, usage: Usage) -> None:
        """Counts are cumulative: a count the provider reports replaces ours, one it leaves out stays."""
        request.usage_seen = True
        if usage.output_tokens is not None:
            request.reported_tokens = usage.output_tokens
        for name in ("input_tokens", "reasoning_tokens", "cache_read_tokens", "cache_write_tokens"):
            value = getattr(usage, name)
            if value is not None:
                setattr(request, name, value)
        if usage.models:
            request.models = usage.models
        if usage.tokens_per_char is not None:
            request.counted_per_char = usage.tokens_per_char
        if usage.output_unseen:
            request.output_unseen = True

    def _token(self, t: float, text: str, answer: bool | None) -> None:
        """One chunk of output: once per token, so its fields are read into locals once."""
        requests = self.requests
        if not requests or not text:  # an empty chunk is no output
            return
        request = requests[-1]
        # The history keeps a chunk's time in whole ms from the attempt's start, never before the
        # chunk before it: so do the stretches, and a resumed attempt's rate is the live one's.
        t0 = self.t0 or 0.0
        ms = round((t - t0) * 1000)
        if ms < self.kept_ms:
            ms = self.kept_ms
        self.kept_ms = ms
        t = t0 + ms / 1000
        chars = len(text)
        estimated = request.estimated_tokens
        tokens = tokens_in(request.chars + chars, request.tokens_per_char) - estimated
        stretch = request.stretch
        if stretch is not None and stretch.answer is answer:
            stretch.last = ms
            stretch.chunks += 1
            stretch.tokens += tokens
            stretch.chars += chars
        else:
            if stretch is not None:
                self._notice(request, request.end_stretch(), t0, thinking_next=answer is False)
            request.stretch = Stretch(answer, ms, ms, tokens, tokens, chars, chars)
        if request.first_token is None or (
            request.first_text is None
            if answer
            else request.first_reasoning is None
            if answer is False
            else request.first_answer is None
        ):  # only while one this chunk could be is missing: an answer without thinking never has that
            self._first(request, t, text, answer)
        request.last_token = t
        request.chunks += 1
        request.estimated_tokens = estimated + tokens
        request.chars += chars
        if answer is False:
            request.thought_chars += chars
        if self.live:
            self._window.append((t, tokens))
            self._window_tokens += tokens
            self.history.add(t, tokens)

    @staticmethod
    def _first(request: RequestMetrics, t: float, text: str, answer: bool | None) -> None:
        """Note the first output with a visible character, of any kind and of each."""
        if text.isspace():
            return
        if request.first_token is None:
            request.first_token = t
        if answer is False:
            if request.first_reasoning is None:
                request.first_reasoning = t
            return
        if request.first_answer is None:
            request.first_answer = t
        if answer is True and request.first_text is None:
            request.first_text = t

    @staticmethod
    def _notice(request: RequestMetrics, ended: Stretch | None, t0: float, thinking_next: bool) -> None:
        """An answer of one chunk that thinking follows at once is the agent's own notice: the
        model's first output is still to come."""
        if ended is None or ended.answer is not True or ended.chunks > 1 or ended.called or not thinking_next:
            return
        first = t0 + ended.first / 1000  # as `_token` noted it
        if request.first_text == first:
            request.first_text = None
        if request.first_token == first:
            request.first_token = None
        if request.first_answer == first:
            request.first_answer = None

    @property
    def chunks(self) -> int:
        return sum(r.chunks for r in self.requests)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.requests)

    @property
    def thinking_tokens(self) -> int:
        """Its requests' thinking (`RequestMetrics.thinking_tokens`): in `output_tokens` and the cost,
        never in the rate."""
        return sum(r.thinking_tokens for r in self.requests)

    @property
    def thinking_estimated(self) -> bool:
        """True when some of `thinking_tokens` is lfg's estimate of thinking that streamed."""
        return any(r.thinking_estimated for r in self.requests)

    @property
    def thinking_s(self) -> float:
        """The time its requests thought before their first output that is not thinking, summed."""
        return sum(r.thinking_s for r in self.requests)

    @property
    def input_tokens(self) -> int | None:
        known = [r.input_tokens for r in self.requests if r.input_tokens is not None]
        return sum(known) if known else None

    def cached_requests(self) -> list[RequestMetrics]:
        """The requests whose usage said what the provider's prompt cache read of their prompt."""
        return [r for r in self.requests if said_cache(r)]

    @property
    def cache_hit(self) -> float | None:
        """The share of the attempt's prompts read from the provider's prompt cache (`hit_rate`, of
        its requests whose usage said); None when none did. Read once a request ends, never per
        token."""
        return hit_rate(self.requests)

    @property
    def cache_miss(self) -> str | None:
        """Why the last request whose usage said read nothing from the prompt cache, as lfg can tell
        from its own requests (cost/cache.py): its model, system prompt or tools differ from the
        request before it (this attempt's, else the ticket's attempt before: `before`), or the time
        since that one passed the cache's lifetime; None for a hit, a first request, or a miss lfg
        cannot explain."""
        cached = self.cached_requests()
        if not cached or cached[-1].cache_read_tokens:
            return None
        last = cached[-1]
        position = self.requests.index(last)
        earlier = [r for r in (*self.before, *self.requests[:position]) if r.cache_prefix]
        if not earlier or not last.cache_prefix:
            return None
        previous = earlier[-1]
        idle = last.request_sent - (previous.last_token or previous.request_sent)
        return miss_cause(previous.cache_prefix, last.cache_prefix, idle)

    @property
    def cache_hit_last(self) -> float | None:
        """`cache_hit` of the last request whose usage said."""
        return hit_rate(self.cached_requests()[-1:])

    @property
    def subagent_tokens(self) -> int:
        """The output tokens of the attempt's sub-agents (estimated from their text: see
        `events.subagent_tokens`), apart from the attempt's own, whose rate they are no part of."""
        return sum(child.output_tokens for child in self.subagents.values())

    @property
    def cost_usd(self) -> float | None:
        """What the attempt cost so far: its requests (the agent's own count when it reports one)
        and what its sub-agents' own sessions reported; None when no price is known."""
        own = self._own_cost_usd()
        children = [child.cost_usd for child in self.subagents.values() if child.cost_usd is not None]
        return own if own is None or not children else own + sum(children)

    def _own_cost_usd(self) -> float | None:
        if self.agent_cost_usd is not None:
            return self.agent_cost_usd
        if self.pricer is None:
            return self._cost_by_model()
        return sum(request.cost(self.pricer) for request in self.requests)

    def _cost_by_model(self) -> float | None:
        """The cost of a coding agent's requests whose counts say which model answered (Gemini CLI's),
        each part at that model's price; None unless every request that answered says so and every
        model named has a known price."""
        answered = [request for request in self.requests if request.chunks or request.ended]
        if not answered or any(not request.models for request in answered):
            return None
        total = 0.0
        for share in (share for request in answered for share in request.models):
            pricer = self.model_pricers.get(share.model)
            if pricer is None:
                return None
            total += pricer.cost(input_tokens=share.input_tokens, output_tokens=share.output_tokens)
        return total

    @property
    def cost_estimated(self) -> bool:
        """True while a request's cost rests on our token estimate rather than the provider's usage."""
        if self.agent_cost_usd is not None:
            return False
        return any(not request.cost_known for request in self.requests if request.charged)

    @property
    def cost_by_agent(self) -> bool:
        """The cost is the coding agent's own report, not lfg's pricing of its tokens."""
        return self.agent_cost_usd is not None

    @property
    def tokens_estimated(self) -> bool:
        """True while any request's count is our estimate rather than the provider's usage."""
        return any(r.estimated for r in self.requests if r.chunks)

    @property
    def rate_estimated(self) -> bool:
        """True when `tokens_per_s` rests on an estimate: of the tokens, or of a reported count's
        split between what streamed and tool input an agent sent whole."""
        return any(r.estimated or r.rate_split for r in self.requests if r.chunks)

    def _ttft(self, pick: str) -> float | None:
        """From the request that answered the first model call: its retries (after a 429, a drop...)
        brought no output, and the wait for them is shown as retries, not folded into TTFT."""
        for request in self.requests:
            if request.call != self.requests[0].call:
                break
            first = getattr(request, pick)
            if first is not None:
                return first - request.request_sent
        return None

    @property
    def ttft_s(self) -> float | None:
        """Request sent to the first token of any kind, on the attempt's first model call."""
        return self._ttft("first_token")

    @property
    def ttft_text_s(self) -> float | None:
        return self._ttft("first_text")

    @property
    def ttft_reasoning_s(self) -> float | None:
        return self._ttft("first_reasoning")

    @property
    def tokens_per_s(self) -> float | None:
        """Output rate over the time output streamed (see the module's docstring): tools, approvals
        and the waits between model calls are left out, and so are bursts; None until one stretch
        streamed."""
        span = sum(r.streaming_s for r in self.requests)
        if span <= 0:
            return None
        return sum(r.tokens_streamed for r in self.requests) / span

    def live_tokens_per_s(self, now: float) -> float:
        """Tokens per second over the last couple of seconds, for the live gauge.

        While the window still reaches back to the first output, the rate counts as `tokens_per_s`
        does: the tokens after the first chunk over the time since it (that chunk came at no time),
        and none within `MIN_STREAM_S` of it. Counted whole over a few milliseconds, the first words,
        drawn as soon as they come, read as thousands of tokens a second."""
        cutoff = now - LIVE_WINDOW_S
        window = self._window
        while window and window[0][0] < cutoff:
            self._window_tokens -= window.popleft()[1]
        first = next((r.first_token for r in self.requests if r.first_token is not None), None)
        if not window or first is None or now - first < MIN_STREAM_S:
            return 0.0
        tokens = self._window_tokens
        for t, chunk_tokens in window:
            if t > first:
                break
            tokens -= chunk_tokens  # the first output (and any blank chunk before it)
        return tokens / min(LIVE_WINDOW_S, now - first)


METRICS: Translation[Callable[[Metrics, Any], None]] = Translation(
    "metrics",
    {
        AttemptStarted: Metrics._started,  # its start, after a wait on a broker: the zero of its times
        RequestSent: Metrics._request,
        TextDelta: Metrics._text,
        ReasoningDelta: Metrics._reasoning,
        ToolCallArgsDelta: Metrics._tool_arguments,
        Usage: Metrics._reported,
        CallEnded: Metrics._call_ended,
        ContextUsed: Metrics._context,
        **dict.fromkeys(PAUSES, Metrics._paused),
        ToolCallStarted: Metrics._announced,  # output goes on: its arguments, or its input whole
        ToolCallReady: Metrics._tool_ready,  # input that came whole is output; fragments ended
        ToolCallUpdated: Metrics._tool_updated,
        SubagentChanged: Metrics._subagent,  # a sub-agent's tokens and cost, rolled up
        Steered: Metrics._steered,  # mid-answer, it cuts the model call off: its count is partial
        Holding: Metrics._holding,  # a steer handed to a coding agent mid-answer: the same
    },
    {
        SubagentDelta: "a sub-agent's text is its own: its count comes whole with `SubagentChanged`",
        PromptSent: "what the attempt asks; its request (`RequestSent`) carries the estimate of its tokens",
        ToolOutputDelta: "a running command's output is the tool's, not the model's: it is no token",
        **dict.fromkeys(NOTES, "a note: neither output nor a pause in it"),
        WorktreeReady: "where the ticket works: neither output nor a pause in it",
        AgentDetails: "what an agent says about its session: nothing measured",
        SteerOffer: "what a turn takes from the person: nothing measured",
        DiffUpdated: "the worktree's size, not the model's output",
        AttemptEnded: "the attempt's end adds nothing to what its requests measured",
        QuotaSeen: "a provider's allowance, not the attempt's: `MetricsBook` keeps it per provider",
        RunFact: "the run's own finding (a check, a verdict), not the attempt's output",
    },
)
"""What the metrics take from each event type: output, the requests it belongs to, and the pauses
(a tool call runs, the person is asked) that cut it into stretches."""
_HANDLERS = METRICS.handlers
"""`METRICS.handlers`, looked up once per event without the attribute's lookup."""


@dataclass
class AgentUsage:
    """What one coding agent provider's sessions in a run said of themselves (ACP `usage_update`,
    as `ContextUsed`): the summary bar's view of that provider beside the API providers' quotas.
    Kept as those events come, never per token."""

    provider: str
    running: dict[tuple[str, int], ContextUsed] = field(default_factory=dict)
    """Each running attempt's context as it last reported it."""
    context: ContextUsed | None = None
    """The running attempts' fullest context (by share of its window), else the last one reported."""
    cost_usd: float | None = None
    """What the provider's attempts cost by the agents' own count; None until one reports a cost."""
    limited: ContextUsed | None = None
    """The last report that said the account's limit (`ContextUsed.limit`): the time it counts from."""
    limit_since: ContextUsed | None = None
    """The first report of the limit's current window: the burn of its share counts from it."""
    last: ContextUsed | None = None
    """The last report, of any attempt."""
    t: float = 0.0
    """When its sessions last reported (the events' clock)."""

    def reported(self, key: tuple[str, int], context: ContextUsed, cost_before: float | None) -> None:
        """An attempt's new report; `cost_before` is what its cost was by the agent's count before it."""
        self.running[key] = self.last = context
        self.context = self._fullest()
        self.t = context.t
        if context.limit is not None:
            if not self._same_window(context):
                self.limit_since = context
            self.limited = context
        if context.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + context.cost_usd - (cost_before or 0.0)

    def ended(self, key: tuple[str, int]) -> None:
        """An attempt ended: the fullest is of those still running, or the last report once none runs."""
        if self.running.pop(key, None) is not None:
            self.context = self._fullest() or self.last

    @property
    def sessions(self) -> int:
        """How many of the provider's attempts run and have reported their context."""
        return len(self.running)

    def limit_runs_out_at(self) -> float | None:
        """When the account's limit runs out (the events' clock) at the burn of its share since the
        window's first report, while it comes before the window resets; None when no burn is known."""
        first, last = self.limit_since, self.limited
        if first is None or last is None or first.limit is None or last.limit is None:
            return None
        before, now = first.limit.used, last.limit.used
        if before is None or now is None or not before < now < 1 or last.t <= first.t:
            return None
        at = last.t + (1 - now) * (last.t - first.t) / (now - before)
        resets = None if last.limit.reset_s is None else last.t + last.limit.reset_s
        return at if resets is None or at < resets else None

    def _same_window(self, context: ContextUsed) -> bool:
        """Whether `context`'s limit is of the window `limit_since` began: the same one, its share no
        lower, before its reset."""
        first, limit = self.limit_since, context.limit
        if first is None or first.limit is None or limit is None or first.limit.window != limit.window:
            return False
        if first.limit.used is None or limit.used is None or limit.used < first.limit.used:
            return False
        return first.limit.reset_s is None or context.t < first.t + first.limit.reset_s

    def _fullest(self) -> ContextUsed | None:
        return max(self.running.values(), key=lambda c: c.used / c.size if c.size else 0.0, default=None)


@dataclass
class MetricsBook:
    """Metrics for every attempt of a run, keyed by (ticket, attempt), fed from one event stream."""

    attempts: dict[tuple[str, int], Metrics] = field(default_factory=dict)
    prices: PriceBook | None = None
    """Where each attempt's price is looked up when it starts (None: costs are not known)."""
    quotas: dict[str, QuotaSeen] = field(default_factory=dict)
    """Each provider's allowance as its rate-limit headers last said it."""
    agents: dict[str, AgentUsage] = field(default_factory=dict)
    """Each coding agent provider's sessions as they reported themselves."""
    calibration: OutputCalibration = field(default_factory=OutputCalibration)
    """Tokens per character of each model's output, from its requests that reported their count: what
    the run's next requests of that model are estimated with (`RequestSent.tokens_per_char`)."""

    def __call__(self, event: Event) -> None:
        """One event, through `BOOK`: one dict lookup by its exact type, as a token's is in `METRICS`."""
        book = _BOOK_HANDLERS.get(type(event))
        if book is not None:
            book(self, event)

    def _attempt(self, event: Event) -> Metrics:
        key = (event.ticket, event.attempt)
        metrics = self.attempts.get(key)
        if metrics is None:
            metrics = self.attempts[key] = Metrics()
        metrics.apply(event)
        return metrics

    def _started(self, event: AttemptStarted) -> None:
        earlier = self.attempts.get((event.ticket, event.attempt - 1))
        metrics = self._attempt(event)
        if earlier is not None and earlier.requests:
            metrics.before = (earlier.requests[-1],)
        metrics.provider, metrics.model = event.provider, event.model
        if self.prices is not None:
            metrics.pricer = self.prices.pricer(event.provider, event.model)

    def _quota(self, event: QuotaSeen) -> None:
        self.quotas[event.provider] = event

    def _usage(self, event: Usage) -> None:
        """A count split by model also prices each model it names, once per attempt."""
        metrics = self._attempt(event)
        if self.prices is not None:
            for share in event.models:
                if share.model not in metrics.model_pricers:
                    metrics.model_pricers[share.model] = self.prices.answered_by(share.model)

    def _context(self, event: ContextUsed) -> None:
        key = (event.ticket, event.attempt)
        before = self.attempts[key].agent_cost_usd if key in self.attempts else None
        metrics = self._attempt(event)
        provider = metrics.provider
        if provider is not None:
            if provider not in self.agents:
                self.agents[provider] = AgentUsage(provider)
            self.agents[provider].reported(key, event, before)

    def _call_ended(self, event: CallEnded) -> None:
        self._calibrate(self._attempt(event))

    def _ended(self, event: AttemptEnded) -> None:
        metrics = self._attempt(event)
        if event.outcome is Outcome.COMPLETED:  # a coding agent's turn has no `CallEnded`
            self._calibrate(metrics)
        if metrics.provider in self.agents:
            self.agents[metrics.provider].ended((event.ticket, event.attempt))

    def _calibrate(self, metrics: Metrics) -> None:
        """Learn from the attempt's last request once its count is known for good: its call ended (a
        count reported before, like Anthropic's first, is no measure of the output)."""
        request = metrics.requests[-1] if metrics.requests else None
        if (
            request is None
            or request.calibrated
            or request.reported_tokens is None
            or metrics.provider is None
        ):
            return
        request.calibrated = True
        chars = request.counted_chars
        if chars is not None:  # a count with input lfg never saw says nothing of a character's worth
            self.calibration.learn(metrics.provider, metrics.model, request.counted_tokens or 0, chars)

    def cache_hit(self) -> float | None:
        """The share of the run's prompts the providers' prompt caches read: `Metrics.cache_hit` over
        every attempt's requests whose usage said; None when none did. Read with the run's totals,
        never per token."""
        return hit_rate(r for metrics in self.attempts.values() for r in metrics.requests)

    def cost_usd(self, tickets: Collection[str] | None = None) -> tuple[float | None, bool]:
        """What every priced attempt so far cost (None: no attempt has a price), and whether some of it
        is estimated or an attempt that made requests has no price; of `tickets`' attempts only, when
        given (a lead's and its tickets')."""
        total: float | None = None
        inexact = False
        for (ticket, _), metrics in self.attempts.items():
            if tickets is not None and ticket not in tickets:
                continue
            cost = metrics.cost_usd
            if cost is None:
                inexact = inexact or bool(metrics.requests)
            else:
                total = (total or 0.0) + cost
                inexact = inexact or metrics.cost_estimated
        return total, inexact


BOOK: Translation[Callable[[MetricsBook, Any], None]] = Translation(
    "metrics book",
    {
        **dict.fromkeys(
            [*METRICS.handlers, *(cls for cls in METRICS.ignored if cls is not RunFact)], MetricsBook._attempt
        ),
        AttemptStarted: MetricsBook._started,
        QuotaSeen: MetricsBook._quota,
        Usage: MetricsBook._usage,
        ContextUsed: MetricsBook._context,
        CallEnded: MetricsBook._call_ended,
        AttemptEnded: MetricsBook._ended,
    },
    {RunFact: METRICS.ignored[RunFact]},
)
"""What the book does with each event type: an attempt's event goes to its `Metrics` (which
`METRICS` decides for); an attempt's start also prices it; a call's end, and an attempt's, teach the
run's calibration what a character of that model's output counts for; a count split by model prices
each model it names; a provider's quota is kept per provider,
not per attempt, and so is what a coding agent's sessions report (context, cost) besides. Built
from `METRICS`, so a type `METRICS` has not decided is undecided here too."""
_BOOK_HANDLERS = BOOK.handlers
"""`BOOK.handlers`, looked up once per event without the attribute's lookup."""
