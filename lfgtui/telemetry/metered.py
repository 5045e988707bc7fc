"""The run's metrics at its boundaries, for whichever instruments record them: OpenTelemetry's
(`meters.py`, `--otel`) or Prometheus's (`prometheus.py`, `/metrics` on `--serve` and `lfg serve`).

`Metered` is a sink: it notes each attempt's provider and model when it starts, counts the tickets
running, queued for their provider's limits and waiting for a person, and when a request or an
attempt ends it hands the figures the run's metrics book has for it to the instruments. The
per-token events are in `METERED.ignored`, so a token costs it one dict lookup. Light: it imports
neither OpenTelemetry nor prometheus-client.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lfgtui.events import (
    BY_LFG,
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
    ErrorKind,
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
from lfgtui.providers.kinds import KINDS

if TYPE_CHECKING:
    from lfgtui.cost.metrics import Metrics, MetricsBook, RequestMetrics
    from lfgtui.run import Run

Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Labels:
    """What an attempt's metrics are recorded by."""

    provider: str
    """lfg's name for the provider (`[providers.NAME]`)."""
    genai_provider: str
    """The provider as the GenAI conventions name it (`ProviderKind.telemetry_name`)."""
    model: str


def genai_provider(provider: str, kinds: Mapping[str, str]) -> str:
    """`gen_ai.provider.name` of lfg's provider `provider`, by its kind (`kinds`: provider → kind): the
    well-known name of the kind's wire, else the provider's name in lfg (a coding agent, lfg's own
    agent protocol)."""
    kind = KINDS.get(kinds.get(provider, ""))
    return (kind.telemetry_name if kind is not None else None) or provider


class Instruments(Protocol):
    """What records the metrics: OpenTelemetry's meters or Prometheus's."""

    def request_ended(self, labels: Labels, request: RequestMetrics, ended: float) -> None:
        """A request answered or failed, at `ended`."""
        ...

    def attempt_ended(self, labels: Labels | None, outcome: str, metrics: Metrics | None) -> None:
        """An attempt ended (`labels` None: it was skipped and never started)."""
        ...

    def rate_limited(self, labels: Labels) -> None:
        """A request met a 429 and its provider pauses."""
        ...


class Counted(Protocol):
    """What the tickets' gauges count: a run's `Tally`, or several runs' as one (runs.py)."""

    @property
    def running(self) -> Collection[Key]: ...

    @property
    def queued(self) -> Collection[Key]: ...

    @property
    def waiting(self) -> Collection[Key]: ...


@dataclass
class Tally:
    """How many tickets are running, queued for their provider's limits, or waiting for a person."""

    running: set[Key] = field(default_factory=set)
    queued: set[Key] = field(default_factory=set)
    waiting: dict[Key, int] = field(default_factory=dict)
    """Per attempt, the approvals it waits for."""


class Metered:
    """The sink (see the module's docstring). `kinds` maps each provider to its kind."""

    def __init__(self, book: MetricsBook, kinds: Mapping[str, str]) -> None:
        self.book = book
        self.kinds = kinds
        self.instruments: list[Instruments] = []
        self.tally = Tally()
        self.labels: dict[Key, Labels] = {}
        self.requesting: set[Key] = set()
        """The attempts with a request sent and not yet answered."""

    def __call__(self, event: Event) -> None:
        handler = METERED.handlers.get(type(event))
        if handler is not None:
            handler(self, event)

    def request_ended(self, event: Event) -> None:
        key = (event.ticket, event.attempt)
        if key not in self.requesting:
            return
        self.requesting.discard(key)
        metrics = self.book.attempts.get(key)
        labels = self.labels.get(key)
        if metrics is None or not metrics.requests or labels is None:
            return
        for instruments in self.instruments:
            instruments.request_ended(labels, metrics.requests[-1], event.t)


def provider_kinds(run: Run) -> dict[str, str]:
    """Each of the run's providers' kind, by its name."""
    return {name: config.kind for name, config in run.providers.configs.items()}


def metered(run: Run) -> Metered:
    """The sink for `run`, reading its metrics book; its instruments are added by who wants them."""
    return Metered(run.book, provider_kinds(run))


def _started(sink: Metered, event: AttemptStarted) -> None:
    key = (event.ticket, event.attempt)
    sink.labels[key] = Labels(event.provider, genai_provider(event.provider, sink.kinds), event.model)
    sink.tally.running.add(key)


def _queued(sink: Metered, event: Queued) -> None:
    sink.tally.queued.add((event.ticket, event.attempt))


def _request(sink: Metered, event: RequestSent) -> None:
    key = (event.ticket, event.attempt)
    sink.tally.queued.discard(key)
    sink.requesting.add(key)


def _retrying(sink: Metered, event: Retrying) -> None:
    sink.request_ended(event)
    labels = sink.labels.get((event.ticket, event.attempt))
    if labels is not None and event.error.kind is ErrorKind.RATE_LIMITED:
        for instruments in sink.instruments:
            instruments.rate_limited(labels)


def _call_ended(sink: Metered, event: CallEnded) -> None:
    sink.request_ended(event)


def _approval_asked(sink: Metered, event: ApprovalAsked | ElicitationAsked) -> None:
    key = (event.ticket, event.attempt)
    sink.tally.waiting[key] = sink.tally.waiting.get(key, 0) + 1


def _approval_answered(sink: Metered, event: ApprovalAnswered | ElicitationAnswered) -> None:
    key = (event.ticket, event.attempt)
    if (left := sink.tally.waiting.get(key, 0) - 1) > 0:
        sink.tally.waiting[key] = left
    else:
        sink.tally.waiting.pop(key, None)


def _question_asked(sink: Metered, event: ElicitationAsked) -> None:
    """An agent's question waits for a person as an approval does (unless nobody can answer it)."""
    if event.waits:
        _approval_asked(sink, event)


def _question_answered(sink: Metered, event: ElicitationAnswered) -> None:
    if event.by != BY_LFG:
        _approval_answered(sink, event)


def _ended(sink: Metered, event: AttemptEnded) -> None:
    key = (event.ticket, event.attempt)
    sink.request_ended(event)  # a cancel or a failure ends it mid-request
    sink.tally.running.discard(key)
    sink.tally.queued.discard(key)
    sink.tally.waiting.pop(key, None)
    labels = sink.labels.pop(key, None)
    metrics = sink.book.attempts.get(key) if labels is not None else None
    for instruments in sink.instruments:
        instruments.attempt_ended(labels, event.outcome.value, metrics)


PER_TOKEN = "streamed output, a token or a chunk at a time: nothing is done per token"
NOT_COUNTED = "not a figure the metrics count"
METERED: Translation[Callable[[Metered, Any], None]] = Translation(
    name="telemetry.metered.METERED",
    handlers={
        AttemptStarted: _started,
        Queued: _queued,
        RequestSent: _request,
        Retrying: _retrying,
        CallEnded: _call_ended,
        ApprovalAsked: _approval_asked,
        ApprovalAnswered: _approval_answered,
        ElicitationAsked: _question_asked,
        ElicitationAnswered: _question_answered,
        AttemptEnded: _ended,
    },
    ignored={
        TextDelta: PER_TOKEN,
        ReasoningDelta: PER_TOKEN,
        ToolCallArgsDelta: PER_TOKEN,
        ToolOutputDelta: PER_TOKEN,
        SubagentDelta: PER_TOKEN,
        SubagentChanged: "a sub-agent's tokens and cost reach the attempt's through the metrics book",
        SubagentToolCall: NOT_COUNTED,
        Usage: "read from the metrics book when the request ends",
        ContextUsed: "an agent's cost is read from the metrics book when the attempt ends",
        QuotaSeen: "the metrics book keeps each provider's latest; the gauges read it there",
        PromptSent: NOT_COUNTED,
        Steered: NOT_COUNTED,
        Holding: NOT_COUNTED,
        ToolCallStarted: NOT_COUNTED,
        ToolCallReady: NOT_COUNTED,
        ToolCallUpdated: NOT_COUNTED,
        ToolResult: NOT_COUNTED,
        PlanUpdated: NOT_COUNTED,
        SessionOpened: NOT_COUNTED,
        AgentDetails: NOT_COUNTED,
        SteerOffer: NOT_COUNTED,
        DiffUpdated: NOT_COUNTED,
        Status: NOT_COUNTED,
        AttemptQueued: "a wait on a broker, before the attempt starts: its worker counts the attempt",
        AgentStarted: NOT_COUNTED,
        AgentProgress: NOT_COUNTED,
        Stalled: NOT_COUNTED,
        WorktreeReady: NOT_COUNTED,
        RunFact: "a tournament's check or verdict is the run's finding, not a provider's work",
    },
)
