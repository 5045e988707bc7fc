"""The sink `--otel` adds to a run: its events as spans in the OpenTelemetry GenAI conventions.

Each attempt is a trace whose root is an `invoke_agent TICKET` span (a retry's or a follow-up's
linked to the ticket's attempt before it); each request (a model call
sent, or sent again after a failure; a coding agent's prompt) is a `chat MODEL` span under it, and
each tool call (lfg's tools and a coding agent's alike) an `execute_tool NAME` span. Spans open and
close only at those boundaries: the per-token events are in `SPANS.ignored`, so a token costs this
sink one dict lookup. What a span says of tokens, TTFT, rate and cost is read from the run's
metrics book when it ends (the metrics are `metered.py`'s, a sink of their own). Prompts, answers,
tool arguments and output go on the spans only with `capture_content`.

A coding agent's prompt carries its `chat` span's W3C trace context in its `_meta` (`traceparent`,
the root keys ACP's meta-propagation RFD names; `Telemetry.trace_context`, which `--otel` gives the
run), so an agent that traces itself nests its spans under lfg's.

Events are timed by the run's monotonic clock; a span's times are those, moved onto the wall clock
once, when the sink is made.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Link, Span, SpanContext, SpanKind, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

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
from lfgtui.telemetry import names
from lfgtui.telemetry.metered import genai_provider, provider_kinds

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

    from lfgtui.cost.metrics import Metrics
    from lfgtui.run import Run

Key = tuple[str, int]


@dataclass
class AttemptSpans:
    """The spans of one attempt that are open."""

    agent: Span
    attributes: dict[str, str]
    """Provider and model: what its metrics are recorded by."""
    chat: Span | None = None
    tools: dict[str, Span] = field(default_factory=dict)
    children: dict[str, Span] = field(default_factory=dict)
    """Each running sub-agent's span, by its session id: a child of the attempt's."""


class Telemetry:
    """The sink (see the module's docstring)."""

    def __init__(self, run: Run, tracer: Tracer, capture_content: bool) -> None:
        self.run = run
        self.tracer = tracer
        self.kinds = provider_kinds(run)
        self.capture_content = capture_content
        self.attempts: dict[Key, AttemptSpans] = {}
        self.latest: dict[str, tuple[int, SpanContext]] = {}
        """Each ticket's latest attempt and its span: a retry's or a follow-up's trace links to it."""
        wall, mono = time.time_ns(), run.clock()
        self.wall_ns: Callable[[float], int] = lambda t: wall + int((t - mono) * 1e9)

    def __call__(self, event: Event) -> None:
        handler = SPANS.handlers.get(type(event))
        if handler is not None:
            handler(self, event)

    def trace_context(self, ticket: str, attempt: int) -> dict[str, str]:
        """The W3C trace context (`traceparent`, and `tracestate` when there is one) of the attempt's
        open request span, else of its root: what a coding agent's prompt carries so the agent's own
        spans are its children. Empty for an attempt without spans."""
        spans = self.attempts.get((ticket, attempt))
        if spans is None:
            return {}
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, set_span_in_context(spans.chat or spans.agent))
        return carrier

    def metrics(self, event: Event) -> Metrics | None:
        return self.run.book.attempts.get((event.ticket, event.attempt))

    def content(self, span: Span, name: str, value: Any) -> None:
        """Put content on a span, as JSON unless it is text already, only when it is to be captured."""
        if self.capture_content:
            span.set_attribute(
                name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            )


def _started(sink: Telemetry, event: AttemptStarted) -> None:
    key = (event.ticket, event.attempt)
    metric_attributes = {
        names.PROVIDER: genai_provider(event.provider, sink.kinds),
        names.LFG_PROVIDER: event.provider,
        names.REQUEST_MODEL: event.model,
    }
    earlier = sink.latest.get(event.ticket)
    span = sink.tracer.start_span(
        f"invoke_agent {event.ticket}",
        kind=SpanKind.INTERNAL,
        start_time=sink.wall_ns(event.t),
        links=[] if earlier is None else [Link(earlier[1], {names.ATTEMPT: earlier[0]})],
        attributes={
            names.OPERATION: "invoke_agent",
            **metric_attributes,
            names.AGENT_NAME: event.ticket,
            names.RUN_ID: sink.run.run_id,
            names.TICKET_ID: event.ticket,
            names.ATTEMPT: event.attempt,
        },
    )
    sink.attempts[key] = AttemptSpans(span, metric_attributes)
    sink.latest[event.ticket] = (event.attempt, span.get_span_context())


def _prompt(sink: Telemetry, event: PromptSent) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is not None:
        message = {"role": "user", "parts": [{"type": "text", "content": event.text}]}
        sink.content(spans.agent, names.INPUT_MESSAGES, [message])


def _steered(sink: Telemetry, event: Steered) -> None:
    """A steer is an event of the attempt's span, at its place; its words are content, as a prompt's."""
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is not None:
        spans.agent.add_event("lfg.steered", {"lfg.steered.by": event.by})
        message = {"role": "user", "parts": [{"type": "text", "content": event.text}]}
        sink.content(spans.agent, names.INPUT_MESSAGES, [message])


def _request(sink: Telemetry, event: RequestSent) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is None:
        return
    model = spans.attributes[names.REQUEST_MODEL]
    spans.chat = sink.tracer.start_span(
        f"chat {model}",
        context=set_span_in_context(spans.agent),
        kind=SpanKind.CLIENT,
        start_time=sink.wall_ns(event.t),
        attributes={names.OPERATION: "chat", **spans.attributes, names.CALL: event.call},
    )


def _end_chat(
    sink: Telemetry, spans: AttemptSpans, event: Event, error: str | None, why: str | None = None
) -> None:
    """End the attempt's open request span: its usage and TTFT from the metrics book."""
    if spans.chat is None:
        return
    chat, spans.chat = spans.chat, None
    metrics = sink.metrics(event)
    request = metrics.requests[-1] if metrics is not None and metrics.requests else None
    if request is not None:
        if request.input_tokens is not None:
            chat.set_attribute(names.INPUT_TOKENS, request.input_tokens)
        if request.chunks or request.reported_tokens is not None:
            chat.set_attribute(names.OUTPUT_TOKENS, request.output_tokens)
            chat.set_attribute(names.TOKENS_ESTIMATED, request.estimated)
        if request.cache_read_tokens is not None:
            chat.set_attribute(names.CACHE_READ_TOKENS, request.cache_read_tokens)
        if request.cache_write_tokens is not None:
            chat.set_attribute(names.CACHE_WRITE_TOKENS, request.cache_write_tokens)
        if request.first_token is not None:
            chat.set_attribute(names.TTFT, request.first_token - request.request_sent)
    if error is not None:
        chat.set_attribute(names.ERROR_TYPE, error)
        chat.set_status(StatusCode.ERROR, why)
    chat.end(sink.wall_ns(event.t))


def _retrying(sink: Telemetry, event: Retrying) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is not None:
        _end_chat(sink, spans, event, event.error.kind.value, event.error.describe())


def _call_ended(sink: Telemetry, event: CallEnded) -> None:
    spans = sink.attempts.get((event.ticket, event.attempt))
    if spans is None or spans.chat is None:
        return
    spans.chat.set_attribute(names.FINISH_REASONS, [event.stop_reason])
    state = sink.run.states.get(event.ticket)
    if sink.capture_content and state is not None:
        text = "".join(state.answer_parts)
        message = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
        sink.content(spans.chat, names.OUTPUT_MESSAGES, [message | {"finish_reason": event.stop_reason}])
    _end_chat(sink, spans, event, None)


def _tool_ready(sink: Telemetry, event: ToolCallReady) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is None:
        return
    span = sink.tracer.start_span(
        f"execute_tool {event.name}",
        context=set_span_in_context(spans.agent),
        kind=SpanKind.INTERNAL,
        start_time=sink.wall_ns(event.t),
        attributes={
            names.OPERATION: "execute_tool",
            names.TOOL_NAME: event.name,
            names.TOOL_CALL_ID: event.call_id,
            names.TOOL_TYPE: "function",
        },
    )
    sink.content(span, names.TOOL_ARGUMENTS, event.raw_arguments)
    spans.tools[event.call_id] = span


def _tool_updated(sink: Telemetry, event: ToolCallUpdated) -> None:
    spans = sink.attempts.get((event.ticket, event.attempt))
    if spans is None or (span := spans.tools.get(event.call_id)) is None:
        return
    span.update_name(f"execute_tool {event.name}")
    span.set_attribute(names.TOOL_NAME, event.name)
    sink.content(span, names.TOOL_ARGUMENTS, event.raw_arguments)


def _tool_result(sink: Telemetry, event: ToolResult) -> None:
    spans = sink.attempts.get((event.ticket, event.attempt))
    if spans is None or (span := spans.tools.pop(event.call_id, None)) is None:
        return
    sink.content(span, names.TOOL_RESULT, event.output)
    if event.is_error:
        span.set_attribute(names.ERROR_TYPE, "tool_error")
        span.set_status(StatusCode.ERROR)
    span.end(sink.wall_ns(event.t))


def _approval_asked(sink: Telemetry, event: ApprovalAsked) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is not None:
        span = spans.tools.get(event.call_id, spans.agent)
        span.add_event("lfg.approval.asked", {names.TOOL_CALL_ID: event.call_id}, sink.wall_ns(event.t))


def _approval_answered(sink: Telemetry, event: ApprovalAnswered) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is not None:
        span = spans.tools.get(event.call_id, spans.agent)
        answer = {names.TOOL_CALL_ID: event.call_id, "lfg.approval.allowed": event.allowed}
        span.add_event("lfg.approval.answered", answer, sink.wall_ns(event.t))


def _question_asked(sink: Telemetry, event: ElicitationAsked) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is not None:
        asked = {"lfg.elicitation.id": event.elicitation_id, "lfg.elicitation.waits": event.waits}
        spans.agent.add_event("lfg.elicitation.asked", asked, sink.wall_ns(event.t))


def _question_answered(sink: Telemetry, event: ElicitationAnswered) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is not None:
        answer = {"lfg.elicitation.id": event.elicitation_id, "lfg.elicitation.action": event.action}
        spans.agent.add_event("lfg.elicitation.answered", answer, sink.wall_ns(event.t))


def _plan(sink: Telemetry, event: PlanUpdated) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is None:
        return
    done = sum(step.status == "completed" for step in event.steps)
    attributes: dict[str, Any] = {"lfg.plan.steps": len(event.steps), "lfg.plan.completed": done}
    if sink.capture_content:
        attributes["lfg.plan.entries"] = [step.content for step in event.steps]
        if event.markdown:
            attributes["lfg.plan.markdown"] = event.markdown
    spans.agent.add_event("lfg.plan", attributes, sink.wall_ns(event.t))


def _session(sink: Telemetry, event: SessionOpened) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is not None:
        spans.agent.set_attribute(names.CONVERSATION, event.session_id)


def _details(sink: Telemetry, event: AgentDetails) -> None:
    spans = sink.attempts.get((event.ticket, event.attempt))
    if spans is not None and event.model is not None:
        for span in (spans.agent, spans.chat):
            if span is not None:
                span.set_attribute(names.RESPONSE_MODEL, event.model)


def _diff(sink: Telemetry, event: DiffUpdated) -> None:
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is not None:
        diff = {
            "lfg.diff.added": event.added,
            "lfg.diff.removed": event.removed,
            "lfg.diff.files": event.files,
        }
        spans.agent.set_attributes(diff)


ENDED_CHILD = frozenset({"done", "failed"})


def _subagent(sink: Telemetry, event: SubagentChanged) -> None:
    """A sub-agent's span, under the attempt's: opened when it is announced, ended when it is done or
    failed, with its tokens and cost."""
    if (spans := sink.attempts.get((event.ticket, event.attempt))) is None:
        return
    span = spans.children.get(event.child)
    if span is None:
        if event.state in ENDED_CHILD:
            return
        span = spans.children[event.child] = sink.tracer.start_span(
            f"invoke_agent {event.task or 'sub-agent'}",
            context=set_span_in_context(spans.agent),
            kind=SpanKind.INTERNAL,
            start_time=sink.wall_ns(event.t),
            attributes={
                names.OPERATION: "invoke_agent",
                names.AGENT_NAME: event.task,
                names.SUBAGENT_SESSION: event.child,
            },
        )
    span.set_attribute(names.SUBAGENT_STATE, event.state)
    if event.state not in ENDED_CHILD:
        return
    span.set_attribute(names.OUTPUT_TOKENS, event.output_tokens)
    if event.cost_usd is not None:
        span.set_attribute(names.COST, event.cost_usd)
    if event.state == "failed":
        span.set_attribute(names.ERROR_TYPE, "failed")
        span.set_status(StatusCode.ERROR, event.message)
    span.end(sink.wall_ns(event.t))
    del spans.children[event.child]


def _ended(sink: Telemetry, event: AttemptEnded) -> None:
    """Close what the attempt left open (a cancel or a failure ends it mid-request or mid-tool), then
    its span, with what the metrics book says of it."""
    spans = sink.attempts.pop((event.ticket, event.attempt), None)
    if spans is None:  # skipped: its dependencies did not complete, so it never started
        return
    failed = event.outcome is not Outcome.COMPLETED
    error = (event.error.kind.value if event.error is not None else event.outcome.value) if failed else None
    why = event.error.describe() if event.error is not None else None
    _end_chat(sink, spans, event, error, why)
    end = sink.wall_ns(event.t)
    for tool in spans.tools.values():
        tool.set_attribute(names.ERROR_TYPE, error or "unfinished")
        tool.set_status(StatusCode.ERROR, "the attempt ended before the tool's result")
        tool.end(end)
    for child in spans.children.values():  # a background sub-agent the parent left running
        child.set_attribute(names.SUBAGENT_STATE, "unfinished")
        child.end(end)
    agent = spans.agent
    metrics = sink.metrics(event)
    agent.set_attribute(names.OUTCOME, event.outcome.value)
    if metrics is not None:
        _measured(agent, metrics)
    state = sink.run.states.get(event.ticket)
    if state is not None and event.outcome is Outcome.COMPLETED:
        message = {"role": "assistant", "parts": [{"type": "text", "content": state.answer}]}
        sink.content(agent, names.OUTPUT_MESSAGES, [message])
    if error is not None:
        agent.set_attribute(names.ERROR_TYPE, error)
        agent.set_status(StatusCode.ERROR, why)
    agent.end(end)


def _measured(span: Span, metrics: Metrics) -> None:
    """An attempt's figures, as the metrics book has them."""
    figures = {
        names.TTFT: metrics.ttft_s,
        names.TOKENS_PER_S: metrics.tokens_per_s,
        names.COST: metrics.cost_usd,
        names.INPUT_TOKENS: metrics.input_tokens,
        names.OUTPUT_TOKENS: metrics.output_tokens if metrics.requests else None,
        names.CACHE_HIT: metrics.cache_hit,
        names.CACHE_MISS: metrics.cache_miss,
    }
    span.set_attributes({name: value for name, value in figures.items() if value is not None})


PER_TOKEN = "streamed output, a token or a chunk at a time: nothing is done per token"
SPANS: Translation[Callable[[Telemetry, Any], None]] = Translation(
    name="telemetry.spans.SPANS",
    handlers={
        AttemptStarted: _started,
        PromptSent: _prompt,
        Steered: _steered,
        RequestSent: _request,
        Retrying: _retrying,
        CallEnded: _call_ended,
        ToolCallReady: _tool_ready,
        ToolCallUpdated: _tool_updated,
        ToolResult: _tool_result,
        ApprovalAsked: _approval_asked,
        ApprovalAnswered: _approval_answered,
        ElicitationAsked: _question_asked,
        ElicitationAnswered: _question_answered,
        PlanUpdated: _plan,
        SessionOpened: _session,
        AgentDetails: _details,
        DiffUpdated: _diff,
        SubagentChanged: _subagent,
        AttemptEnded: _ended,
    },
    ignored={
        TextDelta: PER_TOKEN,
        ReasoningDelta: PER_TOKEN,
        ToolCallArgsDelta: PER_TOKEN,
        SubagentDelta: PER_TOKEN,
        SubagentToolCall: "a sub-agent's own call: its span's tokens and state say what it did",
        ToolOutputDelta: "a running tool's output as it comes; its ToolResult holds it whole",
        ToolCallStarted: "the call's span opens when it is complete (ToolCallReady) and can run",
        Usage: "read from the metrics book when the request's span ends",
        ContextUsed: "an agent's cost is read from the metrics book when the attempt's span ends",
        Status: "a note for people, not a boundary",
        AttemptQueued: "a wait on a broker: the attempt's span opens when a worker starts it",
        AgentStarted: "the agent's process: its log is a path on this machine",
        AgentProgress: "a title for the pane",
        Holding: "the person's messages waiting: a steer's event marks the span once it is sent",
        SteerOffer: "what the composer says Enter does; a steer's event marks the span once it is sent",
        Stalled: "a pane's state; a stall that lasts ends the attempt, which its span says",
        WorktreeReady: "a path on this machine",
        Queued: "a wait for the provider's limits: the metrics count it (metered.py)",
        QuotaSeen: "the provider's allowance: a gauge of the metrics (meters.py)",
        RunFact: "a tournament's check or verdict comes after the attempts' spans have ended",
    },
)
