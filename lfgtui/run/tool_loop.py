"""The tool loop: a model call, then each complete tool call runs, results go back, next call.

Agent services (the `sse` protocol) run their own tools and stream the results; those calls are
not run again here. The loop ends when no tool call is left to run (completed), when a call fails
(failed, partial output kept), when a call's stop reason ends the attempt early (a refusal, a content
filter, a full context window, the output token limit: failed with that kind, output kept; see
run/stops.py), or when `max_calls` model calls have been made while the model still wants tools. A
paused turn (`pause_turn`) is sent back as it is for the model to go on, a model call of its own.
Nothing a model sends can crash it: an unknown tool, bad arguments or a refused approval become
error results the model sees. Nor can it stream forever: past `max_output_chars` (text, reasoning,
tool arguments and a service's tool results, over every call of the attempt) the stream is closed
and the attempt fails, keeping what arrived.

Between a round's tool results and the next model call the person's steers, when any are held
(`inbox`, run/steering.py), go in as user turns (`Steered`): the one safe point of a tool loop.

Each answer goes back to the model in the next call as its provider said it, reasoning state and
all (turns.py). An earlier conversation's answers from another provider or model (a fork or a
follow-up on another model, a fallback) go back as their text and tool calls only, and the attempt
says so first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

from lfgtui.conversation import Conversation
from lfgtui.cost.tokens import OutputCalibration
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    Holding,
    Outcome,
    ReasoningDelta,
    Status,
    Steered,
    SteerOffer,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolResult,
)
from lfgtui.formats import plural
from lfgtui.providers.base import AssistantMessage, Message, ModelCall, Provider, ProviderError
from lfgtui.run.calls import run_call
from lfgtui.run.ratelimit import ProviderLimiter
from lfgtui.run.retry import RetryPolicy
from lfgtui.run.steering import Inbox
from lfgtui.run.stops import STOP, ended_early, paused
from lfgtui.tickets.ticket import DEFAULT_MAX_CALLS, DEFAULT_MAX_OUTPUT_CHARS
from lfgtui.tools.base import ToolOutcome
from lfgtui.tools.toolbox import Toolbox
from lfgtui.turns import source_of

NO_TOOLS = "error: this run offers no tools"


@dataclass(frozen=True, slots=True)
class AttemptTask:
    """What to ask: the first model call (model, system, prompt, tool specs, limits), how many model
    calls the attempt may make and how much it may stream."""

    call: ModelCall
    max_calls: int = DEFAULT_MAX_CALLS
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS


async def run_tool_loop(
    provider: Provider,
    task: AttemptTask,
    ev: EventFactory,
    toolbox: Toolbox | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    transcript: list[Message] | None = None,
    limiter: ProviderLimiter | None = None,
    calibration: OutputCalibration | None = None,
    inbox: Inbox | None = None,
) -> AsyncIterator[Event]:
    """One attempt, framed by `AttemptStarted` and `AttemptEnded`.

    Cancellation is the caller's: cancelling the consuming task closes the stream (and its HTTP
    connection); the caller then records the `cancelled` outcome. `transcript`, when given, receives
    the whole conversation (the task's messages, each answer, each tool result: conversation.py), so
    a completed attempt can be continued. `limiter`, when given, holds every model call to the provider's
    limits shared with the run's other tickets; `calibration`, when given, is what the run learnt of
    each model's tokens per character, which each request's live estimate uses. `inbox`, when given,
    holds the person's steers, sent at each safe point; it is `steerable` while the loop runs with tools.
    """
    if inbox is None:
        inbox = Inbox()
    inbox.steerable = toolbox is not None
    try:
        async for event in _tool_loop(
            provider, task, ev, toolbox, policy, sleep, transcript, limiter, calibration, inbox
        ):
            yield event
    finally:
        inbox.steerable = False


async def _tool_loop(
    provider: Provider,
    task: AttemptTask,
    ev: EventFactory,
    toolbox: Toolbox | None,
    policy: RetryPolicy | None,
    sleep: Callable[[float], Awaitable[None]],
    transcript: list[Message] | None,
    limiter: ProviderLimiter | None,
    calibration: OutputCalibration | None,
    inbox: Inbox,
) -> AsyncIterator[Event]:
    yield ev(AttemptStarted, provider=provider.config.name, model=task.call.model)
    yield ev(
        SteerOffer,
        agent=f"{provider.config.name}/{task.call.model}",
        coding_agent=False,
        steers=inbox.steerable,
    )
    policy = policy or RetryPolicy(max_retries=provider.config.max_retries)
    conversation = Conversation([] if transcript is None else transcript)
    conversation.messages.extend(task.call.messages)
    if note := reasoning_left_behind(conversation.messages, source_of(provider.config.name, task.call.model)):
        yield ev(Status, message=note)
    streamed = 0
    stop = STOP
    for call_index in range(task.max_calls):
        ready: list[ToolCallReady] = []
        ran_remotely: set[str] = set()
        stop = STOP
        call = replace(task.call, messages=tuple(conversation.so_far()))
        try:
            calling = run_call(provider, call, ev, call_index, policy, sleep, limiter, calibration)
            async with contextlib.aclosing(calling) as stream:
                async for event in stream:
                    conversation.add(event)
                    if type(event) is TextDelta:  # a token: only its length to count
                        streamed += len(event.text)
                    else:
                        match event:
                            case ToolCallReady():
                                ready.append(event)
                            case ToolResult(call_id=call_id):
                                ran_remotely.add(call_id)
                            case CallEnded(stop_reason=stop_reason):
                                stop = stop_reason
                        streamed += streamed_chars(event)
                    yield event
                    if streamed > task.max_output_chars:
                        break
        except ProviderError as exc:
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=exc.info)
            return
        if streamed > task.max_output_chars:
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=output_limit(task.max_output_chars))
            return
        if (early := ended_early(stop, task.call.max_tokens)) is not None:  # run/stops.py
            yield ev(AttemptEnded, outcome=Outcome.FAILED, error=early)
            return
        if paused(stop):  # sent back as it is, running no tool, for the model to go on
            continue
        for tool_call in ready:
            if tool_call.call_id not in ran_remotely:
                outcome = ToolOutcome(NO_TOOLS, is_error=True)
                if toolbox is not None:
                    outcome = await toolbox.execute(tool_call)
                result = ev(
                    ToolResult, call_id=tool_call.call_id, output=outcome.output, is_error=outcome.is_error
                )
                conversation.add(result)
                yield result
        if all(c.call_id in ran_remotely for c in ready):
            ended = ev(AttemptEnded, outcome=Outcome.COMPLETED)
            conversation.add(ended)
            yield ended
            return
        # a safe point: the round's results are in, no call is out, and another call follows
        if call_index + 1 < task.max_calls and (taken := inbox.take_steers()):
            for held in taken:
                steered = ev(Steered, text=held.text, by=held.by)
                conversation.add(steered)
                yield steered
            sent = f"{len(taken)} steer(s) sent after round {call_index + 1}'s tool results"
            yield ev(Holding, message=sent, held=tuple(inbox.held))
    still = "its turn was paused (pause_turn)" if paused(stop) else "the model was still calling tools"
    message = f"stopped after {plural(task.max_calls, 'model call')} (max_calls) while {still}"
    yield ev(AttemptEnded, outcome=Outcome.FAILED, error=ErrorInfo(ErrorKind.MAX_CALLS, message))


def reasoning_left_behind(messages: list[Message], to: str) -> str | None:
    """What to say when answers of the conversation carry reasoning state of a provider and model
    other than `to`, which the calls to `to` cannot send back; None when there are none."""
    sources = {
        m.turn.source for m in messages if isinstance(m, AssistantMessage) and m.turn and m.turn.source != to
    }
    if not sources:
        return None
    return (
        f"reasoning of {', '.join(sorted(sources))} was not carried over to {to}: "
        "it gets the earlier answers' text and tool calls only"
    )


def streamed_chars(event: Event) -> int:
    """What an event adds to the attempt's output, as counted against `max_output_chars`: text,
    reasoning, tool-call arguments and tool results an agent reports."""
    match event:
        case TextDelta(text=text) | ReasoningDelta(text=text):
            return len(text)
        case ToolCallArgsDelta(fragment=fragment):
            return len(fragment)
        case ToolResult(output=output):
            return len(output)
    return 0


def output_limit(limit: int) -> ErrorInfo:
    return ErrorInfo(
        ErrorKind.OUTPUT_LIMIT,
        f"stopped: the attempt streamed more than {limit:,} characters (max_output_chars); "
        "what arrived is kept",
    )
