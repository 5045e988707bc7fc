"""Any agent service that speaks the generic agent SSE protocol (docs/agent-protocol.md).

The agent runs its own tools, so one request streams the whole run: text, reasoning, each tool call
and its result, usage, done. lfg never runs these tools itself: a call the agent leaves without a
result is closed at `done` with an error result saying so, so the tool loop has nothing to run and
no local file or command is ever handed to a remote service. A dropped connection is resumed the
SSE way, by asking again with `Last-Event-ID`, rather than failed: nothing already shown is lost or
shown twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, TypeVar

import httpx2

from lfgtui.events import (
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    ReasoningDelta,
    Status,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
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
from lfgtui.providers.clients import http_client
from lfgtui.providers.errors import body_message, classify, classify_status
from lfgtui.providers.usage import UsageCheck

RECONNECT_DELAYS_S = (0.25, 0.5, 1.0)
NO_RESULT = "no result: the agent service did not report one (lfg does not run an agent service's tools)"
MAX_EVENT_BYTES = 64 * 1024 * 1024
"""One event may be this big: a tool result carries a whole file or command log (httpx2's default, 1 MiB,
fails a 1 MB tool output); a bigger event is reported as malformed rather than exhausting memory."""

T = TypeVar("T")


def agent_messages(call: ModelCall) -> list[dict[str, Any]]:
    """The conversation so far, in the protocol's plain role/content shape."""
    messages: list[dict[str, Any]] = []
    for message in call.messages:
        match message:
            case UserMessage(text=text):
                messages.append({"role": "user", "content": text})
            case AssistantMessage(text=text, tool_calls=tool_calls):
                entry: dict[str, Any] = {"role": "assistant", "content": text}
                if tool_calls:
                    entry["tool_calls"] = [
                        {"id": c.id, "name": c.name, "arguments": c.arguments} for c in tool_calls
                    ]
                messages.append(entry)
            case ToolResultMessage(call_id=call_id, name=name, output=output, is_error=is_error):
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call_id,
                        "name": name,
                        "content": output,
                        "is_error": is_error,
                    }
                )
    return messages


def agent_request(call: ModelCall) -> dict[str, Any]:
    """The request body: the last user message as `prompt`, the whole conversation as `messages`."""
    prompt = next((m.text for m in reversed(call.messages) if isinstance(m, UserMessage)), "")
    body: dict[str, Any] = {"model": call.model, "prompt": prompt, "messages": agent_messages(call)}
    if call.system is not None:
        body["system"] = call.system
    if call.max_tokens is not None:
        body["max_tokens"] = call.max_tokens
    if call.temperature is not None:
        body["temperature"] = call.temperature
    return body


def _malformed(event_type: str, problem: str) -> ProviderError:
    return ProviderError(ErrorInfo(ErrorKind.MALFORMED, f"the agent sent a {event_type!r} event {problem}"))


def _field(data: dict[str, Any], name: str, kind: type[T], default: T | None = None) -> T:
    """A field of the expected JSON type; null counts as missing; without a default it is required."""
    value = data.get(name)
    if value is None:
        value = default
    if not isinstance(value, kind):
        raise _malformed(data["type"], f"whose {name!r} is not a {kind.__name__}")
    return value


def _raw_arguments(value: Any) -> str:
    """Arguments as JSON text: an object is written out, a string is taken as the model wrote it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def agent_events(data: Any, ev: EventFactory) -> list[Event]:
    """The events one decoded `data` payload stands for.

    An `error` event or a payload of the wrong shape raises `ProviderError`. Unknown types give no
    events, so an agent may send its own kinds of events without breaking older clients.
    """
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProviderError(ErrorInfo(ErrorKind.MALFORMED, "the agent sent an event without a string 'type'"))
    match data["type"]:
        case "token":
            return [ev(TextDelta, text=_field(data, "text", str))]
        case "reasoning":
            return [ev(ReasoningDelta, text=_field(data, "text", str))]
        case "status":
            return [ev(Status, message=_field(data, "message", str))]
        case "tool_call":
            call_id, name = _field(data, "id", str), _field(data, "name", str)
            raw = _raw_arguments(data.get("arguments"))
            arguments, error = parse_tool_arguments(raw)
            return [
                ev(ToolCallStarted, call_id=call_id, name=name),
                ev(
                    ToolCallReady,
                    call_id=call_id,
                    name=name,
                    arguments=arguments,
                    raw_arguments=raw,
                    error=error,
                ),
            ]
        case "tool_result":
            return [
                ev(
                    ToolResult,
                    call_id=_field(data, "id", str),
                    output=_field(data, "output", str),
                    is_error=_field(data, "is_error", bool, False),
                )
            ]
        case "usage":
            check = UsageCheck(ev)
            return check.events(
                input_tokens=check.count("input_tokens", data.get("input_tokens")),
                output_tokens=check.count("output_tokens", data.get("output_tokens")),
                reasoning_tokens=check.count("reasoning_tokens", data.get("reasoning_tokens")),
                cache_read_tokens=check.count("cache_read_tokens", data.get("cache_read_tokens")),
                cache_write_tokens=check.count("cache_write_tokens", data.get("cache_write_tokens")),
            )
        case "done":
            return [ev(CallEnded, stop_reason=_field(data, "stop_reason", str, "stop"))]
        case "error":
            message = body_message(data, "the agent reported an error")
            code = data.get("code")
            raise ProviderError(ErrorInfo(ErrorKind.STREAM_ERROR, f"{message} ({code})" if code else message))
    return []


def _decode(data: str) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ProviderError(classify(exc)) from exc


def _sequence(event_id: str) -> int | None:
    return int(event_id) if event_id.isascii() and event_id.isdigit() else None


def _replayed(event_id: str, resumed_after: str) -> bool:
    """An event the client already has, from a server that ignored `Last-Event-ID` and started over."""
    seen, current = _sequence(resumed_after), _sequence(event_id)
    return seen is not None and current is not None and current <= seen


async def _check_response(response: httpx2.Response) -> None:
    """Raise for an HTTP error status, or for a success that is not an event stream."""
    if not response.is_success:
        text = (await response.aread()).decode("utf-8", errors="replace")
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            body = None
        fallback = text.strip()[:300] or response.reason_phrase
        raise ProviderError(classify_status(response.status_code, body, fallback, response.headers))
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "text/event-stream":
        raise ProviderError(
            ErrorInfo(
                ErrorKind.MALFORMED,
                f"expected an event stream (text/event-stream), got {content_type or 'no content type'!r}",
                status=response.status_code,
            )
        )


class AgentSSEProvider:
    """`config.base_url` is the full URL of the agent's stream endpoint."""

    def __init__(
        self, config: ProviderConfig, reconnect_delays_s: tuple[float, ...] = RECONNECT_DELAYS_S
    ) -> None:
        if not config.base_url:
            raise ValueError(
                f"provider {config.name!r}: an agent (sse) provider needs base_url, its stream URL"
            )
        self.config = config
        self.url = config.base_url
        self.reconnect_delays_s = reconnect_delays_s
        self._client = http_client(config)

    def _headers(self, last_id: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        if last_id:
            headers["Last-Event-ID"] = last_id
        return headers

    async def stream(self, call: ModelCall, ev: EventFactory) -> AsyncIterator[Event]:
        """Stream the agent's run, reconnecting after a drop while each reconnect brings progress.

        `attempt` counts reconnects in a row that brought no new event, so a long run survives
        several unrelated drops but a connection that dies at the same place gives up.
        """
        body = agent_request(call)
        last_id, attempt = "", 0
        unanswered: dict[str, None] = {}  # tool calls the agent has not reported a result for, in order
        while True:
            resumed_after = last_id
            try:
                async with self._client.sse(
                    self.url,
                    method="POST",
                    json=body,
                    headers=self._headers(last_id),
                    max_event_size=MAX_EVENT_BYTES,
                ) as source:
                    await _check_response(source.response)
                    async for message in source:
                        if _replayed(message.id, resumed_after):
                            continue
                        last_id = message.id
                        for event in agent_events(_decode(message.data), ev):
                            match event:
                                case ToolCallReady(call_id=call_id):
                                    unanswered[call_id] = None
                                case ToolResult(call_id=call_id):
                                    unanswered.pop(call_id, None)
                                case CallEnded():
                                    for call_id in unanswered:
                                        yield ev(ToolResult, call_id=call_id, output=NO_RESULT, is_error=True)
                            yield event
                            if isinstance(event, CallEnded):
                                return
                lost = ErrorInfo(ErrorKind.CONNECTION, "the stream ended before the agent said it was done")
            except httpx2.TransportError as exc:
                lost = classify(exc)
                if lost.kind is not ErrorKind.CONNECTION:
                    raise ProviderError(lost) from exc
            if not last_id:
                raise ProviderError(lost)
            attempt = 1 if last_id != resumed_after else attempt + 1
            limit = len(self.reconnect_delays_s)
            if attempt > limit:
                raise ProviderError(
                    replace(lost, message=f"{lost.message} (gave up after {limit} reconnects)")
                )
            yield ev(Status, message=f"connection lost; reconnecting ({attempt}/{limit})")
            await asyncio.sleep(self.reconnect_delays_s[attempt - 1])

    async def aclose(self) -> None:
        await self._client.aclose()
