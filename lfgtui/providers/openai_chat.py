"""OpenAI Chat Completions over the official SDK; also xAI, Ollama, vLLM, OpenRouter, LM Studio.

What a server adds to the standard answer to carry its model's reasoning (`ChatExtras`) goes back
with the answer in the calls after it, under the names the server used and only to it: DeepSeek's
and Kimi's `reasoning_content` ("The `reasoning_content` in the thinking mode must be passed back to
the API", DeepSeek's thinking-mode guide), OpenRouter's `reasoning_details`, and each tool call's
`extra_content` (Gemini's OpenAI endpoint puts its `thought_signature` there, and refuses a function
call without it: Google's thought-signatures page). Ollama, which names its reasoning `reasoning`,
never gets a `reasoning_content` (read 2026-11-26).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import openai

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
from lfgtui.providers.clients import http_client, timeouts
from lfgtui.providers.errors import classify
from lfgtui.providers.quota import quota_seen, refused_quota
from lfgtui.providers.reasoning import chat_effort, chat_thinking
from lfgtui.providers.sdk_parsing import ValidatingClient
from lfgtui.providers.usage import UsageCheck
from lfgtui.turns import CHAT, ProviderTurn, source_of

STOP_REASONS = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "max_tokens",
    "content_filter": "content_filter",
}
"""Chat Completions' finish reasons in lfg's names (run/stops.py); an answer that came as
`delta.refusal` text ends `refusal`, whatever its finish reason (`stop`) says."""


@dataclass
class _PartialCall:
    index: int
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    started: bool = False
    extra: dict[str, Any] | None = None
    """What the server sent with the call beyond the standard fields (`extra_content`), to send back."""


@dataclass
class ToolCallAccumulator:
    """Rebuilds streamed tool calls keyed by `index`.

    The id and name are set once; argument fragments are appended; a new id at a known index starts
    a new call; a call that arrives whole in one chunk works the same way.
    """

    ev: EventFactory
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    done: list[_PartialCall] = field(default_factory=list)
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each finished call's `extra_content` (and any other field of the server's own), by call id."""

    def delta(
        self,
        index: int,
        call_id: str | None,
        name: str | None,
        fragment: str | None,
        extra: dict[str, Any] | None = None,
    ) -> list[Event]:
        events: list[Event] = []
        partial = self.calls.get(index)
        if partial is not None and call_id and partial.id and call_id != partial.id:
            self.done.append(partial)
            partial = None
        if partial is None:
            partial = self.calls[index] = _PartialCall(index)
        if call_id and not partial.id:
            partial.id = call_id
        if name and not partial.name:
            partial.name = name
        if fragment:
            partial.arguments.append(fragment)
        if extra:
            partial.extra = {**(partial.extra or {}), **extra}
        if not partial.started and partial.name:
            partial.started = True
            partial.id = partial.id or f"call_{index}_{len(self.done)}"
            events.append(self.ev(ToolCallStarted, call_id=partial.id, name=partial.name))
            if partial.arguments:
                events.append(
                    self.ev(ToolCallArgsDelta, call_id=partial.id, fragment="".join(partial.arguments))
                )
        elif partial.started and fragment:
            events.append(self.ev(ToolCallArgsDelta, call_id=partial.id, fragment=fragment))
        return events

    def finish(self) -> list[Event]:
        """`ToolCallReady` for every call, in the order the model made them."""
        calls = self.done + sorted(self.calls.values(), key=lambda c: c.index)
        self.calls, self.done = {}, []
        events: list[Event] = []
        for call in calls:
            raw = "".join(call.arguments)
            arguments, error = parse_tool_arguments(raw)
            call_id = call.id or f"call_{call.index}"
            if call.extra:
                self.extras[call_id] = call.extra
            events.append(
                self.ev(
                    ToolCallReady,
                    call_id=call_id,
                    name=call.name,
                    arguments=arguments,
                    raw_arguments=raw,
                    error=error if call.name else "the model sent a tool call without a name",
                )
            )
        return events


@dataclass
class ChatExtras:
    """The reasoning a Chat Completions server streamed under its own field names: its reasoning text
    under the one name it used, and OpenRouter's `reasoning_details` (their pieces merged by index, as
    OpenRouter's docs say to send them back)."""

    name: str | None = None
    pieces: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    """Each detail as it first came, but for its text fields, which `texts` holds in pieces: joined
    once, when the answer ends, never once a chunk."""
    texts: list[dict[str, list[str]]] = field(default_factory=list)

    def reasoning(self, name: str, text: str) -> None:
        if self.name is None:
            self.name = name
        if name == self.name:
            self.pieces.append(text)

    def detail(self, details: Any) -> None:
        for detail in details if isinstance(details, list) else ():
            if not isinstance(detail, dict):
                continue
            last = self.details[-1] if self.details else None
            if last is None or "index" not in detail or last.get("index") != detail["index"]:
                last = {key: value for key, value in detail.items() if not _text_field(key, value)}
                self.details.append(last)
                self.texts.append({})
            texts = self.texts[-1]
            for key, value in detail.items():
                if _text_field(key, value):
                    texts.setdefault(key, []).append(value)
                elif last.get(key) is None:
                    last[key] = value

    def turn(self, calls: dict[str, dict[str, Any]], provider: str, model: str) -> ProviderTurn | None:
        """What to add to the rebuilt answer when it goes back: `fields` on the message, `calls` on
        each tool call by id; None when the server added nothing."""
        fields: dict[str, Any] = {}
        if self.name is not None:
            fields[self.name] = "".join(self.pieces)
        if self.details:
            joined = zip(self.details, self.texts, strict=True)
            fields["reasoning_details"] = [
                {**detail, **{key: "".join(parts) for key, parts in texts.items()}}
                for detail, texts in joined
            ]
        if not fields and not calls:
            return None
        body = json.dumps({"fields": fields, "calls": calls}, ensure_ascii=False, separators=(",", ":"))
        return ProviderTurn(CHAT, source_of(provider, model), body)


def _text_field(key: str, value: Any) -> bool:
    """A field of a reasoning detail that streams in pieces (its text, summary, data), not its type or id."""
    return isinstance(value, str) and key not in ("type", "id", "format")


def chat_messages(call: ModelCall, provider: str) -> list[dict[str, Any]]:
    """The conversation in Chat Completions form. An answer `provider`'s model gave with reasoning
    fields of the server's own goes back with them (turns.py); any other without."""
    messages: list[dict[str, Any]] = []
    if call.system:
        messages.append({"role": "system", "content": call.system})
    for message in call.messages:
        match message:
            case UserMessage(text=text):
                messages.append({"role": "user", "content": text})
            case AssistantMessage(text=text, tool_calls=tool_calls, turn=turn):
                added: dict[str, Any] = {}
                if turn is not None and turn.sendable(CHAT, provider, call.model):
                    added = json.loads(turn.body)
                entry: dict[str, Any] = {
                    "role": "assistant",
                    "content": text or None,
                    **added.get("fields", {}),
                }
                if tool_calls:
                    per_call = added.get("calls", {})
                    entry["tool_calls"] = [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.raw_arguments},
                            **per_call.get(c.id, {}),
                        }
                        for c in tool_calls
                    ]
                messages.append(entry)
            case ToolResultMessage(call_id=call_id, output=output):
                messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
    return messages


def chat_usage(check: UsageCheck, usage: Any) -> list[Event]:
    """The events of a chunk's usage, each count checked. xAI counts reasoning outside
    `completion_tokens`: when the total says so, it is added to the output. Cache reads are
    `prompt_tokens_details.cached_tokens` (OpenAI, xAI, OpenRouter, vLLM, Gemini's OpenAI layer),
    and a vendor's own top-level field: DeepSeek's `prompt_cache_hit_tokens`, Kimi's `cached_tokens`
    (read 2026-11-27: each vendor's usage or caching page; Kimi's chat reference as quoted by pi
    #8075 and promptfoo #10132); where more than one comes, the largest, so that a proxy's bare 0
    beside the vendor's count hides nothing. Ollama reports no cache. `usage` is the SDK's object,
    or the plain dict Kimi streams as `choices[0].usage`."""
    prompt = check.count("usage.prompt_tokens", _field(usage, "prompt_tokens"))
    completion = check.count("usage.completion_tokens", _field(usage, "completion_tokens"))
    total = check.count("usage.total_tokens", _field(usage, "total_tokens"))
    details = _field(usage, "completion_tokens_details")
    reasoning = check.count(
        "usage.completion_tokens_details.reasoning_tokens", _field(details, "reasoning_tokens")
    )
    if reasoning and completion is not None and total == (prompt or 0) + completion + reasoning:
        completion += reasoning
    cache_read, cache_write = cache_tokens(
        check, "usage.prompt_tokens_details", _field(usage, "prompt_tokens_details")
    )
    for own in VENDOR_CACHE_READS:
        hits = check.count(f"usage.{own}", _field(usage, own))
        if hits is not None:
            cache_read = hits if cache_read is None else max(cache_read, hits)
    return check.events(
        input_tokens=prompt,
        output_tokens=completion,
        reasoning_tokens=reasoning,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


VENDOR_CACHE_READS = ("prompt_cache_hit_tokens", "cached_tokens")
"""The top-level usage fields in which a vendor reports its cache reads: DeepSeek's, Kimi's."""


def _field(value: Any, name: str) -> Any:
    """Field `name` of what the SDK parsed (an extra field a compatible server adds included), or of
    a plain dict the SDK left unparsed; None when absent."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def cache_tokens(check: UsageCheck, where: str, details: Any) -> tuple[int | None, int | None]:
    """(cache reads, cache writes) from the prompt's token details (`where`) of Chat Completions or
    Responses; None where the server did not say. On the SDK's lenient path a field a compatible
    server left out is absent rather than None."""
    read = check.count(f"{where}.cached_tokens", _field(details, "cached_tokens"))
    write = check.count(f"{where}.cache_write_tokens", _field(details, "cache_write_tokens"))
    return read, write


class OpenAIClient(ValidatingClient, openai.AsyncOpenAI):
    """The official async client, parsing chunks through pydantic-core first (see sdk_parsing)."""


def openai_client(config: ProviderConfig, max_body: int | None = None) -> openai.AsyncOpenAI:
    """The SDK's client for a provider. The SDK imports a resource's module (with its types) the first
    time its client reaches it (`client.chat.completions`: about 18 ms): each adapter reaches its own
    when it is made, which the worker does before the first request, so that import is not timed.
    `max_body` caps each answer's size (`http_client`)."""
    return OpenAIClient(
        api_key=config.api_key or "not-needed",
        base_url=config.base_url,
        timeout=timeouts(config),
        max_retries=0,
        default_headers=config.headers,
        http_client=http_client(config, max_body),
    )


REASONING_FIELDS = ("reasoning_content", "reasoning")


def _reasoning(delta: Any, extras: ChatExtras) -> str | None:
    """The reasoning text of compatible servers (`reasoning_content`, `reasoning`), which the SDK does
    not declare, noted in `extras` with OpenRouter's `reasoning_details`: read from the model's
    extras, because `getattr` on a pydantic model raises inside for every absent name (4.6 µs a
    chunk, measured, on the per-token path)."""
    extra = delta.model_extra or {}
    if (details := extra.get("reasoning_details")) is not None:
        extras.detail(details)
    for name in REASONING_FIELDS:
        value = extra.get(name, delta.__dict__.get(name))
        if isinstance(value, str) and value:
            extras.reasoning(name, value)
            return value
    return None


class OpenAIChatProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._client = openai_client(config)
        self._create = self._client.chat.completions.create  # reached now: see openai_client

    def _request(self, call: ModelCall) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": call.model,
            "messages": chat_messages(call, self.config.name),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if call.tools:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in call.tools
            ]
        if call.max_tokens is not None:
            official = self.config.base_url is None or "api.openai.com" in self.config.base_url
            request["max_completion_tokens" if official else "max_tokens"] = call.max_tokens
        if call.temperature is not None:
            request["temperature"] = call.temperature
        reasoning = call.reasoning.over(self.config.reasoning)
        effort = chat_effort(call.model, reasoning, bool(call.tools))
        if effort is not None:
            request["reasoning_effort"] = effort
        if (thinking := chat_thinking(call.model, reasoning)) is not None:
            request["extra_body"] = {"thinking": thinking}  # a field the SDK does not declare
        return request

    async def stream(self, call: ModelCall, ev: EventFactory) -> AsyncIterator[Event]:
        tools = ToolCallAccumulator(ev)
        extras = ChatExtras()
        usage = UsageCheck(ev)
        stop_reason: str | None = None
        refused = False
        try:
            stream = await self._create(**self._request(call))
            if (quota := quota_seen(ev, self.config.name, stream.response.headers)) is not None:
                yield quota
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        for event in chat_usage(usage, chunk.usage):
                            yield event
                    for choice in chunk.choices:
                        delta = choice.delta
                        if reasoning_text := _reasoning(delta, extras):
                            yield ev(ReasoningDelta, text=reasoning_text)
                        if delta.content:
                            yield ev(TextDelta, text=delta.content)
                        if delta.refusal:  # the model's refusal, shown as its answer
                            refused = True
                            yield ev(TextDelta, text=delta.refusal)
                        for tc in delta.tool_calls or ():
                            fn = tc.function
                            for event in tools.delta(
                                tc.index,
                                tc.id,
                                fn.name if fn else None,
                                fn.arguments if fn else None,
                                tc.model_extra,
                            ):
                                yield event
                        if choice.finish_reason:
                            stop_reason = STOP_REASONS.get(choice.finish_reason, choice.finish_reason)
                            if (kimis := (choice.model_extra or {}).get("usage")) is not None:
                                for event in chat_usage(usage, kimis):  # Kimi streams it here
                                    yield event
                            for event in tools.finish():
                                yield event
        except ProviderError:
            raise
        except Exception as exc:
            if (quota := refused_quota(ev, self.config.name, exc)) is not None:
                yield quota  # what a 429 says is left, and when it resets: the limiter waits for it
            raise ProviderError(classify(exc, call.model)) from exc
        if stop_reason is None:
            raise ProviderError(ErrorInfo(ErrorKind.CONNECTION, "the stream ended before the model finished"))
        turn = extras.turn(tools.extras, self.config.name, call.model)
        stop_reason = "refusal" if refused and stop_reason == "stop" else stop_reason
        yield ev(CallEnded, stop_reason=stop_reason, turn=turn)

    async def aclose(self) -> None:
        await self._client.close()
