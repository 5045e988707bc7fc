"""The OpenAI Responses API over the official SDK: typed events, reasoning summaries, function calls.

Nothing depends on what the server stores (`store: false`): a response with reasoning in it is kept
as the output items it ended with (`OutputItems`: each item as its `output_item.done` gave it, with
the reasoning's `encrypted_content` and each message's `phase`) and sent back as they came in the
calls after it. OpenAI refuses a reasoning item without the item that followed it ("Item 'rs_…' of
type 'reasoning' was provided without its required following item"), and a model that loses its
reasoning between tool calls does the work again (OpenAI's reasoning guide and Responses API
reference, read 2026-11-26).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from openai._models import construct_type
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionToolCall,
    ResponseIncompleteEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseReasoningItem,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningTextDeltaEvent,
    ResponseRefusalDeltaEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
)

from lfgtui.events import (
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    ReasoningDelta,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
)
from lfgtui.providers.base import (
    AssistantMessage,
    ModelCall,
    ProviderConfig,
    ProviderError,
    ToolResultMessage,
    UserMessage,
    parse_tool_arguments,
)
from lfgtui.providers.errors import classify
from lfgtui.providers.openai_chat import cache_tokens, openai_client
from lfgtui.providers.quota import quota_seen, refused_quota
from lfgtui.providers.reasoning import OPENAI_REASONING, effort_of, reasons
from lfgtui.providers.usage import UsageCheck
from lfgtui.turns import RESPONSES, ProviderTurn, source_of

INCOMPLETE_REASONS = {"max_output_tokens": "max_tokens", "content_filter": "content_filter"}
"""An incomplete response's `incomplete_details.reason` in lfg's names (run/stops.py)."""


@dataclass
class OutputItems:
    """A response's output items as each `output_item.done` gave them, by output index: kept (`turn`)
    when one is reasoning or a message with a `phase`, what the next call must send back as it came."""

    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    opaque: bool = False

    def done(self, index: int, item: Any) -> None:
        match item:
            case ResponseReasoningItem():
                self.opaque = True
            case ResponseOutputMessage(phase=phase) if phase is not None:
                self.opaque = True
        self.items[index] = item.model_dump(mode="json", exclude_none=True)

    def turn(self, provider: str, model: str) -> ProviderTurn | None:
        if not self.opaque:
            return None
        items = [item for _, item in sorted(self.items.items())]
        body = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
        return ProviderTurn(RESPONSES, source_of(provider, model), body)


@dataclass
class _FunctionCall:
    call_id: str
    name: str
    fragments: list[str] = field(default_factory=list)
    ready: bool = False


@dataclass
class FunctionCalls:
    """Function-call items keyed by `output_index`; the model's `call_id` is our call id.

    A call is ready at its `output_item.done`; any still open when the response ends is made ready
    then. The done item's arguments are the final word: whatever they add to the streamed fragments
    is sent as one last fragment, so the fragments add up to the raw arguments.
    """

    ev: EventFactory
    calls: dict[int, _FunctionCall] = field(default_factory=dict)

    def added(self, index: int, item: ResponseFunctionToolCall) -> list[Event]:
        call_id = item.call_id or item.id or f"call_{index}"
        self.calls[index] = _FunctionCall(call_id, item.name)
        events: list[Event] = [self.ev(ToolCallStarted, call_id=call_id, name=item.name)]
        return events + self.delta(index, item.arguments or "")

    def delta(self, index: int, fragment: str) -> list[Event]:
        call = self.calls.get(index)
        if call is None or call.ready or not fragment:
            return []
        call.fragments.append(fragment)
        return [self.ev(ToolCallArgsDelta, call_id=call.call_id, fragment=fragment)]

    def done(self, index: int, item: ResponseFunctionToolCall) -> list[Event]:
        events = [] if index in self.calls else self.added(index, item)
        call = self.calls[index]
        if call.ready:
            return events
        streamed = "".join(call.fragments)
        final = item.arguments or streamed
        if final.startswith(streamed):
            events += self.delta(index, final.removeprefix(streamed))
        return events + self._ready(call, final)

    def finish(self) -> list[Event]:
        """`ToolCallReady` for every call not yet ready, in output order."""
        events: list[Event] = []
        for _, call in sorted(self.calls.items()):
            if not call.ready:
                events += self._ready(call, "".join(call.fragments))
        return events

    def _ready(self, call: _FunctionCall, raw: str) -> list[Event]:
        call.ready = True
        arguments, error = parse_tool_arguments(raw)
        return [
            self.ev(
                ToolCallReady,
                call_id=call.call_id,
                name=call.name,
                arguments=arguments,
                raw_arguments=raw,
                error=error,
            )
        ]


def responses_input(call: ModelCall, provider: str) -> list[dict[str, Any]]:
    """The conversation as Responses input items (the system prompt goes in `instructions`). An answer
    `provider`'s model gave with reasoning goes back as the items it came in; any other is rebuilt
    from its text and function calls (turns.py)."""
    items: list[dict[str, Any]] = []
    for message in call.messages:
        match message:
            case UserMessage(text=text):
                items.append({"role": "user", "content": text})
            case AssistantMessage(turn=turn) if turn is not None and turn.sendable(
                RESPONSES, provider, call.model
            ):
                items += json.loads(turn.body)
            case AssistantMessage(text=text, tool_calls=tool_calls):
                if text:
                    items.append({"role": "assistant", "content": text})
                items += [
                    {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.raw_arguments}
                    for c in tool_calls
                ]
            case ToolResultMessage(call_id=call_id, output=output):
                items.append({"type": "function_call_output", "call_id": call_id, "output": output})
    return items


def usage_events(check: UsageCheck, response: Response) -> list[Event]:
    """The final usage a finished response carries (the Responses API sends no running counts),
    each count checked."""
    usage = response.usage
    if usage is None:
        return []
    details = getattr(usage, "output_tokens_details", None)
    cache_read, cache_write = cache_tokens(
        check, "usage.input_tokens_details", getattr(usage, "input_tokens_details", None)
    )
    return check.events(
        input_tokens=check.count("usage.input_tokens", getattr(usage, "input_tokens", None)),
        output_tokens=check.count("usage.output_tokens", getattr(usage, "output_tokens", None)),
        reasoning_tokens=check.count(
            "usage.output_tokens_details.reasoning_tokens", getattr(details, "reasoning_tokens", None)
        ),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def conversation_key(call: ModelCall) -> str | None:
    """What the calls of one conversation share (its model, system prompt and first message, hashed),
    as `prompt_cache_key`: OpenAI and xAI route requests with one key to the same cache, so each call
    of a tool loop or follow-up finds the prefix the one before left (OpenAI's prompt-caching guide,
    xAI's best-practices guide, read 2026-11-26)."""
    first = next((m.text for m in call.messages if isinstance(m, UserMessage)), None)
    if first is None:
        return None
    said = json.dumps([call.model, call.system, first], ensure_ascii=False)
    return "lfg-" + hashlib.sha256(said.encode()).hexdigest()[:32]


@functools.cache
def warm_event_parser() -> None:
    """Build the SDK's parser for the stream-event union now, not on the first event.

    The first parse costs about half a second of CPU; paid mid-stream, it would show up as a stall
    in the first ticket's tokens per second.
    """
    construct_type(type_=ResponseStreamEvent, value={"type": "response.in_progress", "sequence_number": 0})


class OpenAIResponsesProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._client = openai_client(config)
        self._create = self._client.responses.create  # reached now: see openai_client
        warm_event_parser()

    def _request(self, call: ModelCall) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": call.model,
            "input": responses_input(call, self.config.name),
            "stream": True,
            "store": False,
        }
        settings = call.reasoning.over(self.config.reasoning)
        effort = effort_of(settings)
        if effort != "none" and reasons(call.model):
            request["include"] = ["reasoning.encrypted_content"]  # to send back: nothing is stored
        openai = OPENAI_REASONING.match(call.model) is not None
        if effort is not None or openai:
            reasoning: dict[str, str] = {} if effort is None else {"effort": effort}
            if openai and effort != "none" and settings.show_thinking is not False:
                reasoning["summary"] = "auto"
            request["reasoning"] = reasoning
        if key := conversation_key(call):
            request["prompt_cache_key"] = key
        if call.system:
            request["instructions"] = call.system
        if call.tools:
            # The API defaults to strict schemas, which reject most hand-written ones; ask for plain.
            request["tools"] = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    "strict": False,
                }
                for t in call.tools
            ]
        if call.max_tokens is not None:
            request["max_output_tokens"] = call.max_tokens
        if call.temperature is not None:
            request["temperature"] = call.temperature
        return request

    async def stream(self, call: ModelCall, ev: EventFactory) -> AsyncIterator[Event]:
        calls = FunctionCalls(ev)
        output = OutputItems()
        stop_reason: str | None = None
        try:
            stream = await self._create(**self._request(call))
            if (quota := quota_seen(ev, self.config.name, stream.response.headers)) is not None:
                yield quota
            async with stream:
                async for event in stream:
                    match event:
                        case ResponseTextDeltaEvent() | ResponseRefusalDeltaEvent() if event.delta:
                            yield ev(TextDelta, text=event.delta)
                        case ResponseReasoningSummaryTextDeltaEvent() | ResponseReasoningTextDeltaEvent() if (
                            event.delta
                        ):
                            yield ev(ReasoningDelta, text=event.delta)
                        case ResponseOutputItemAddedEvent(item=ResponseFunctionToolCall() as item):
                            for out in calls.added(event.output_index, item):
                                yield out
                        case ResponseFunctionCallArgumentsDeltaEvent(output_index=index, delta=fragment):
                            for out in calls.delta(index, fragment):
                                yield out
                        case ResponseOutputItemDoneEvent(item=ResponseFunctionToolCall() as item):
                            output.done(event.output_index, item)
                            for out in calls.done(event.output_index, item):
                                yield out
                        case ResponseOutputItemDoneEvent(item=item):
                            output.done(event.output_index, item)
                        case (
                            ResponseCompletedEvent(response=response)
                            | ResponseIncompleteEvent(response=response)
                        ):
                            for out in calls.finish():
                                yield out
                            for out in usage_events(UsageCheck(ev), response):
                                yield out
                            stop_reason = _stop_reason(event, bool(calls.calls))
                        case ResponseFailedEvent(response=response):
                            message = response.error.message if response.error else "the response failed"
                            raise ProviderError(ErrorInfo(ErrorKind.STREAM_ERROR, message))
                        case ResponseErrorEvent(message=message):
                            raise ProviderError(ErrorInfo(ErrorKind.STREAM_ERROR, message))
        except ProviderError:
            raise
        except Exception as exc:
            if (quota := refused_quota(ev, self.config.name, exc)) is not None:
                yield quota  # what a 429 says is left, and when it resets: the limiter waits for it
            raise ProviderError(classify(exc, call.model)) from exc
        if stop_reason is None:
            raise ProviderError(ErrorInfo(ErrorKind.CONNECTION, "the stream ended before the model finished"))
        yield ev(CallEnded, stop_reason=stop_reason, turn=output.turn(self.config.name, call.model))

    async def aclose(self) -> None:
        await self._client.close()


def _stop_reason(event: ResponseCompletedEvent | ResponseIncompleteEvent, called_tools: bool) -> str:
    """An incomplete response says why (usually the output token limit); a complete one stops, calls,
    or refused (a message of its output holds a `refusal` content part, whose text was the answer)."""
    if isinstance(event, ResponseIncompleteEvent):
        details = event.response.incomplete_details
        reason = details.reason if details else None
        return INCOMPLETE_REASONS.get(reason or "", reason or "incomplete")
    if any(
        getattr(part, "type", None) == "refusal"
        for item in event.response.output or ()
        if getattr(item, "type", None) == "message"
        for part in getattr(item, "content", None) or ()
    ):
        return "refusal"
    return "tool_calls" if called_tools else "stop"
