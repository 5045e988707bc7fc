"""Anthropic Messages over the official SDK: text, thinking and tool_use content blocks.

A message with thinking in it (thinking blocks with their signatures, redacted thinking) is kept as
the content blocks it streamed, in their order (`ContentBlocks`), and sent back exactly so in the
calls after it: the API refuses a tool loop whose last assistant message lost its thinking or had it
changed or moved ("thinking or redacted_thinking blocks in the latest assistant message cannot be
modified"; Anthropic's thinking and troubleshooting-thinking pages, read 2026-11-26).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
from anthropic.types import (
    InputJSONDelta,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    RedactedThinkingBlock,
    SignatureDelta,
    TextBlock,
    ThinkingBlock,
    ThinkingDelta,
    ToolUseBlock,
)
from anthropic.types import TextDelta as AnthropicTextDelta

from lfgtui.events import (
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    ReasoningDelta,
    Status,
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
from lfgtui.providers.models import max_output_tokens
from lfgtui.providers.quota import quota_seen, refused_quota
from lfgtui.providers.reasoning import ANTHROPIC_ADAPTIVE, BETWEEN_TOOLS
from lfgtui.providers.sdk_parsing import ValidatingClient
from lfgtui.providers.usage import UsageCheck
from lfgtui.turns import ANTHROPIC, ProviderTurn, source_of

DEFAULT_MAX_TOKENS = 8192
"""What a call asks for when neither the ticket nor lfg's model table (providers/models.py) says the
model's output limit: the Messages API requires `max_tokens`, and thinking counts towards it, so a
known model gets its whole limit rather than an answer cut off after its thinking."""


STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "max_tokens",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
    "model_context_window_exceeded": "model_context_window_exceeded",
}
"""The Messages API's stop reasons in lfg's names (run/stops.py says what each does to the attempt)."""


def anthropic_messages(call: ModelCall, provider: str) -> list[dict[str, Any]]:
    """The conversation in Messages form; the tool results of one model call go back as one user
    message, and a user turn right after them (a steer, run/steering.py) as a text block after the
    `tool_result` blocks of that message: the API wants them first in the user turn after a
    `tool_use` and any text after them (Anthropic's "Handle tool calls" page, read 2026-11-27). An
    answer `provider`'s model gave with thinking goes back as the blocks it came in; any other is
    rebuilt from its text and tool calls (turns.py)."""
    messages: list[dict[str, Any]] = []
    for message in call.messages:
        match message:
            case UserMessage(text=text) if messages and _tool_results(messages[-1]):
                messages[-1]["content"].append({"type": "text", "text": text})  # a steer: after the results
            case UserMessage(text=text):
                messages.append({"role": "user", "content": text})
            case AssistantMessage(turn=turn) if turn is not None and turn.sendable(
                ANTHROPIC, provider, call.model
            ):
                messages.append({"role": "assistant", "content": json.loads(turn.body)})
            case AssistantMessage(text=text, tool_calls=tool_calls):
                content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
                content += [
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in tool_calls
                ]
                messages.append({"role": "assistant", "content": content})
            case ToolResultMessage(call_id=call_id, output=output, is_error=is_error):
                block = {
                    "type": "tool_result",
                    "tool_use_id": call_id,
                    "content": output,
                    "is_error": is_error,
                }
                previous = messages[-1] if messages else None
                if previous and previous["role"] == "user" and isinstance(previous["content"], list):
                    previous["content"].append(block)
                else:
                    messages.append({"role": "user", "content": [block]})
    return messages


def _tool_results(message: dict[str, Any]) -> bool:
    """Whether `message` is the user message that carries a model call's tool results."""
    content = message["content"]
    return message["role"] == "user" and isinstance(content, list) and content[0]["type"] == "tool_result"


REDACTED = "thinking redacted by the provider: kept encrypted, and sent back as it came"
"""What the pane says of a `redacted_thinking` block, whose content no one can read."""
CACHED = {"type": "ephemeral"}


def cached_prefix(request: dict[str, Any]) -> None:
    """Mark the prompt's prefix for Anthropic's prompt cache in a tool loop, where each call sends the
    last one's whole prompt again: the tools and system (the stable part, a breakpoint on the last
    tool) and the conversation so far (a breakpoint on the last block of the last message, which
    moves on with each call), so each call reads what the one before wrote, at a tenth of the input
    price. Two of the four breakpoints the API allows; a prefix below the model's minimum is simply
    not cached (Anthropic's prompt-caching page, read 2026-11-26)."""
    request["tools"][-1] = {**request["tools"][-1], "cache_control": CACHED}
    last = request["messages"][-1]
    content = last["content"]
    if isinstance(content, str):
        blocks: list[dict[str, Any]] = [{"type": "text", "text": content}] if content else []
    else:
        blocks = list(content)
    if blocks:
        blocks[-1] = {**blocks[-1], "cache_control": CACHED}
        request["messages"][-1] = {**last, "content": blocks}


def prompt_tokens(check: UsageCheck, usage: Any) -> tuple[int | None, int | None, int | None]:
    """(whole prompt, cache reads, cache writes), each checked; the prompt is None without
    `input_tokens`. Anthropic counts cache writes and cache reads apart from `input_tokens`, so the
    whole prompt is their sum.

    `usage` is None when the stream has none: the SDK builds stream events without validating them, so
    a `usage` the types require but the server left out (compatible proxies, the docs' own examples)
    arrives as None rather than as an error.
    """
    uncached = check.count("usage.input_tokens", getattr(usage, "input_tokens", None))
    read = check.count("usage.cache_read_input_tokens", getattr(usage, "cache_read_input_tokens", None))
    write = check.count(
        "usage.cache_creation_input_tokens", getattr(usage, "cache_creation_input_tokens", None)
    )
    if uncached is None:
        return None, None, None
    return uncached + (read or 0) + (write or 0), read, write


@dataclass
class _ToolBlock:
    id: str
    name: str
    fragments: list[str] = field(default_factory=list)


@dataclass
class ContentBlocks:
    """A streamed message's content blocks as the API would take them back: each block's start, what
    its deltas add (text and thinking as lists of pieces, joined once at the end), and its
    signature. Kept only when the message thinks (`turn`): a message of text and tool calls alone is
    rebuilt from them as well."""

    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    pieces: dict[int, list[str]] = field(default_factory=dict)
    thinks: bool = False

    def start(self, index: int, block: Any) -> None:
        match block:
            case ThinkingBlock(thinking=thinking, signature=signature):
                self.thinks = True
                self.blocks[index] = {"type": "thinking", "thinking": "", "signature": signature}
                self.pieces[index] = [thinking] if thinking else []
            case RedactedThinkingBlock(data=data):
                self.thinks = True
                self.blocks[index] = {"type": "redacted_thinking", "data": data}
            case TextBlock(text=text):
                self.blocks[index] = {"type": "text", "text": ""}
                self.pieces[index] = [text] if text else []
            case ToolUseBlock(id=call_id, name=name):
                self.blocks[index] = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            case _:  # a server tool's block, and whatever comes next: as it came
                self.blocks[index] = block.model_dump(mode="json", exclude_none=True)

    def piece(self, index: int, text: str) -> None:
        pieces = self.pieces.get(index)
        if pieces is not None:
            pieces.append(text)

    def signed(self, index: int, signature: str) -> None:
        block = self.blocks.get(index)
        if block is not None:
            block["signature"] = block.get("signature", "") + signature

    def tool_input(self, index: int, arguments: dict[str, Any]) -> None:
        if index in self.blocks:
            self.blocks[index]["input"] = arguments

    def turn(self, provider: str, model: str) -> ProviderTurn | None:
        """The blocks in their order, when the message thought; None when text and tool calls say it all."""
        if not self.thinks:
            return None
        content = []
        for index, block in sorted(self.blocks.items()):
            if index in self.pieces:
                key = "thinking" if block["type"] == "thinking" else "text"
                block = {**block, key: "".join(self.pieces[index])}
            content.append(block)
        body = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        return ProviderTurn(ANTHROPIC, source_of(provider, model), body)


@dataclass
class MessageReader:
    """Turns the raw events of one streamed message into ours, remembering what they said so far.

    Only `tool_use` blocks are tracked by index, so the JSON of any other block (a server tool's input)
    is never shown as text. The output count of message_start is not reported: it counts the tokens
    before any content, so taken as the answer's it would hide the estimate whenever message_delta
    brings no usage.
    """

    ev: EventFactory
    tools: dict[int, _ToolBlock] = field(default_factory=dict)
    content: ContentBlocks = field(default_factory=ContentBlocks)
    check: UsageCheck = field(init=False)
    prompt_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    stop_reason: str | None = None
    finished: bool = False

    def __post_init__(self) -> None:
        self.check = UsageCheck(self.ev)

    def handle(self, event: RawMessageStreamEvent) -> list[Event]:
        ev = self.ev
        match event:
            case RawMessageStartEvent(message=message):
                self._prompt(message.usage)
                return self._usage(output_tokens=None)
            case RawContentBlockDeltaEvent(index=index, delta=AnthropicTextDelta(text=text)) if text:
                self.content.piece(index, text)
                return [ev(TextDelta, text=text)]
            case RawContentBlockDeltaEvent(index=index, delta=ThinkingDelta(thinking=text)) if text:
                self.content.piece(index, text)
                return [ev(ReasoningDelta, text=text)]
            case RawContentBlockDeltaEvent(index=index, delta=SignatureDelta(signature=signature)):
                self.content.signed(index, signature)
            case RawContentBlockStartEvent(index=index, content_block=block):
                self.content.start(index, block)
                if isinstance(block, ToolUseBlock):
                    self.tools[index] = _ToolBlock(block.id, block.name)
                    return [ev(ToolCallStarted, call_id=block.id, name=block.name)]
                if isinstance(block, RedactedThinkingBlock):
                    return [ev(Status, message=REDACTED)]
            case RawContentBlockDeltaEvent(index=index, delta=InputJSONDelta(partial_json=fragment)) if (
                fragment and index in self.tools
            ):
                tool = self.tools[index]
                tool.fragments.append(fragment)
                return [ev(ToolCallArgsDelta, call_id=tool.id, fragment=fragment)]
            case RawContentBlockStopEvent(index=index) if index in self.tools:
                tool = self.tools.pop(index)
                raw = "".join(tool.fragments)
                arguments, error = parse_tool_arguments(raw)
                self.content.tool_input(index, arguments)
                return [
                    ev(
                        ToolCallReady,
                        call_id=tool.id,
                        name=tool.name,
                        arguments=arguments,
                        raw_arguments=raw,
                        error=error,
                    )
                ]
            case RawMessageDeltaEvent(delta=delta, usage=usage):
                if delta.stop_reason is not None:
                    self.stop_reason = STOP_REASONS.get(delta.stop_reason, delta.stop_reason)
                said = refusal_details(ev, delta.stop_details)
                if usage is None:
                    return said
                self._prompt(usage)
                output = self.check.count("usage.output_tokens", getattr(usage, "output_tokens", None))
                return said + self._usage(output)
            case RawMessageStopEvent():
                self.finished = True
        return []

    def _prompt(self, usage: Any) -> None:
        """The prompt's counts, all three from the usage that gives its `input_tokens` (message_delta's
        are cumulative and may repeat or update message_start's), so the cached parts never exceed it."""
        prompt, read, write = prompt_tokens(self.check, usage)
        if prompt is None:
            return
        self.prompt_tokens, self.cache_read_tokens, self.cache_write_tokens = prompt, read, write

    def _usage(self, output_tokens: int | None) -> list[Event]:
        """A `Usage` only when some count is known (without one, the metrics keep their own
        estimate), after a status for each value ignored."""
        return self.check.events(
            input_tokens=self.prompt_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            output_unseen=self.content.thinks,
        )


def refusal_details(ev: EventFactory, details: Any) -> list[Event]:
    """What a refusal's `stop_details` say of it (its policy category, its explanation), as a status;
    nothing when it says nothing."""
    if details is None:
        return []
    category, explanation = getattr(details, "category", None), getattr(details, "explanation", None)
    if not category and not explanation:
        return []
    said = f" ({category})" if category else ""
    return [ev(Status, message="the model refused" + said + (f": {explanation}" if explanation else ""))]


class AnthropicClient(ValidatingClient, anthropic.AsyncAnthropic):
    """The official async client, parsing events through pydantic-core first (see sdk_parsing)."""


def anthropic_client(config: ProviderConfig, max_body: int | None = None) -> anthropic.AsyncAnthropic:
    """The SDK's client for a provider; its adapter reaches `messages` when it is made (see
    openai_chat.openai_client). `max_body` caps each answer's size (`http_client`)."""
    return AnthropicClient(
        api_key=config.api_key or "not-needed",
        base_url=config.base_url,
        timeout=timeouts(config),
        max_retries=0,
        default_headers=config.headers,
        http_client=http_client(config, max_body),
    )


class AnthropicProvider:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._client = anthropic_client(config)
        self._create = self._client.messages.create  # reached now: see openai_client

    def _request(self, call: ModelCall) -> dict[str, Any]:
        """The request body. `temperature` is never sent: from API version 2026-10-21, which SDK 2.x
        sends, any sampling parameter is a 400 on every model, and the SDK no longer accepts one.
        """
        request: dict[str, Any] = {
            "model": call.model,
            "messages": anthropic_messages(call, self.config.name),
            "max_tokens": call.max_tokens or max_output_tokens(call.model) or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if call.system:
            request["system"] = call.system
        if call.tools:
            request["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in call.tools
            ]
            cached_prefix(request)
        settings = call.reasoning.over(self.config.reasoning)
        if settings.thinking == "off":
            request["thinking"] = {
                "type": "between_tools" if BETWEEN_TOOLS.search(call.model) else "disabled"
            }
        elif settings.thinking == "adaptive" or ANTHROPIC_ADAPTIVE.search(call.model):
            display = "omitted" if settings.show_thinking is False else "summarized"
            request["thinking"] = {"type": "adaptive", "display": display}
        if settings.effort is not None:
            request["output_config"] = {"effort": settings.effort}
        return request

    async def stream(self, call: ModelCall, ev: EventFactory) -> AsyncIterator[Event]:
        message = MessageReader(ev)
        try:
            stream = await self._create(**self._request(call))
            if (quota := quota_seen(ev, self.config.name, stream.response.headers)) is not None:
                yield quota
            async with stream:
                async for event in stream:
                    for out in message.handle(event):
                        yield out
        except Exception as exc:
            if (quota := refused_quota(ev, self.config.name, exc)) is not None:
                yield quota  # what a 429 says is left, and when it resets: the limiter waits for it
            raise ProviderError(classify(exc, call.model)) from exc
        if not message.finished:
            raise ProviderError(ErrorInfo(ErrorKind.CONNECTION, "the stream ended before the model finished"))
        turn = message.content.turn(self.config.name, call.model)
        yield ev(CallEnded, stop_reason=message.stop_reason or "stop", turn=turn)

    async def aclose(self) -> None:
        await self._client.close()
