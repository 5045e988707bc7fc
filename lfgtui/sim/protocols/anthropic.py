"""Anthropic Messages streaming, as api.anthropic.com sends it: named events around content blocks."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from lfgtui.sim.reasoning_rules import ANTHROPIC_OMITTED, opaque_reasoning, thinking_signature
from lfgtui.sim.scenario import NO_PROMPT_CACHE, PromptCache, Scenario, SimCall
from lfgtui.sim.wire import (
    BadRequest,
    FrameShapes,
    OneCallPerRequest,
    Piece,
    PieceKind,
    SimRequest,
    SimUsage,
    calls_answered,
    conversation_tag,
    estimate_input_tokens,
    sse,
    wants_stream,
    with_sent,
)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}

START_USAGE_PLACES = {
    "input_tokens": "input_tokens",
    "cache_read_tokens": "cache_read_input_tokens",
    "cache_write_tokens": "cache_creation_input_tokens",
}
"""Where each count of `Scenario.sent_usage` but the output goes: message_start's usage (the output
goes in message_delta's; the Messages API reports no reasoning count)."""
DELTA_USAGE_PLACES = {"output_tokens": "output_tokens"}

SAMPLING_PARAMETERS = ("temperature", "top_p", "top_k")
NO_SAMPLING_VERSION = "2026-10-21"  # the API version from which any sampling parameter is refused


def anthropic_error_body(status: int, message: str) -> dict[str, Any]:
    """The error object the Messages API puts in a non-200 response body."""
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def check_tool_results(messages: list[Any]) -> None:
    """Refuse a conversation whose answer with `tool_use` blocks is not followed by a user message
    that opens with a `tool_result` for each, as the Messages API does: text (a steer) may follow
    the results in that message, never precede them (Anthropic's "Handle tool calls" page)."""
    for n, message in enumerate(messages[:-1]):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list) or message.get("role") != "assistant":
            continue
        asked = [b.get("id") for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
        following = messages[n + 1].get("content") if isinstance(messages[n + 1], dict) else None
        answered = set()
        for block in following if isinstance(following, list) else ():
            if not (isinstance(block, dict) and block.get("type") == "tool_result"):
                break  # the results come first: one after other content does not count
            answered.add(block.get("tool_use_id"))
        if missing := [str(call) for call in asked if call not in answered]:
            raise BadRequest(
                f"messages.{n + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message."
            )


def tool_use_id(request: SimRequest, call: int, index: int) -> str:
    """A tool call's id: its model call's and its own index in it, and its conversation's tag (as the
    API's ids are, each conversation's are its own; none for a request that names no conversation)."""
    tag = f"_{request.conversation}" if request.conversation else ""
    return f"toolu_sim{call}x{index}{tag}"


def _event(data: dict[str, Any]) -> bytes:
    """Every Messages frame names its event twice: in the `event:` line and in `type`."""
    return sse(data, event=data["type"])


class AnthropicProtocol(OneCallPerRequest):
    path = "/v1/messages"
    ratelimit = "anthropic"

    def parse_request(self, body: dict[str, Any], headers: dict[str, str]) -> SimRequest:
        model, messages, max_tokens = body.get("model"), body.get("messages"), body.get("max_tokens")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: Field required")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: Field required")
        if max_tokens is None:
            raise BadRequest("max_tokens: Field required")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise BadRequest("max_tokens: Input should be a valid integer greater than or equal to 1")
        stream = wants_stream(body)
        sampling = [key for key in SAMPLING_PARAMETERS if key in body]
        if sampling and headers.get("anthropic-version", "") >= NO_SAMPLING_VERSION:
            raise BadRequest(f"{sampling[0]}: Extra inputs are not permitted")
        check_tool_results(messages)
        call = calls_answered(messages)
        thinking = body.get("thinking")
        display = thinking.get("display") if isinstance(thinking, dict) else None
        omitted = display == "omitted" or (display is None and ANTHROPIC_OMITTED.search(model) is not None)
        return SimRequest(
            model=model,
            call_index=call,
            input_tokens=estimate_input_tokens(body),
            stream=stream,
            thinking_omitted=omitted,
            conversation=conversation_tag(messages),
        )

    def encoder(self, scenario: Scenario, request: SimRequest) -> AnthropicEncoder:
        answer = scenario.call(request.call_index)
        redacted = opaque_reasoning(request.call_index) if answer.redacted else ""
        return AnthropicEncoder(
            request, scenario.prompt_cache, scenario.usage_values, answer.stop_reason, redacted
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return anthropic_error_body(status, message)

    def complete(self, scenario: Scenario, request: SimRequest, usage: SimUsage) -> dict[str, Any]:
        return self.encoder(scenario, request).message(scenario.call(request.call_index), usage)


class AnthropicEncoder:
    """Opens a content block whenever the piece kind (or the tool call) changes, closing the last one."""

    def __init__(
        self,
        request: SimRequest,
        cache: PromptCache = NO_PROMPT_CACHE,
        sent: Mapping[str, Any] | None = None,
        stop: str = "",
        redacted: str = "",
    ) -> None:
        self.request = request
        self.cache = cache
        self.sent = sent or {}
        self.stop = stop  # the scenario's `stop_reason` for this call, "" for the usual
        self.redacted = redacted  # the `data` of the redacted thinking block the answer opens with
        self.id = f"msg_sim{time.monotonic_ns():x}"
        self.index = -1  # the index of the open content block
        self.open_kind: PieceKind | None = None
        self.pinged = False
        self.saw_tool_call = False
        self.shapes = FrameShapes()
        self.thinking: list[str] = []  # the open thinking block's, for its signature
        self.thought_of = -1  # the tool call the last thinking went before (-1: the answer's own)
        self.omitted = request.thinking_omitted

    def _block(self, kind: PieceKind, block: dict[str, Any]) -> list[bytes]:
        """Open a block of `kind` unless one is open already; the first block is followed by a ping."""
        if self.open_kind is kind:
            return []
        frames = self._stop_block()
        self.index += 1
        self.open_kind = kind
        frames.append(_event({"type": "content_block_start", "index": self.index, "content_block": block}))
        if not self.pinged:
            self.pinged = True
            frames.append(_event({"type": "ping"}))
        return frames

    def _stop_block(self) -> list[bytes]:
        """Close the open block; a thinking block gets its signature just before it closes."""
        frames: list[bytes] = []
        if self.open_kind is PieceKind.REASONING:
            signature = thinking_signature("".join(self.thinking))
            self.thinking = []
            frames.append(self._delta({"type": "signature_delta", "signature": signature}))
        if self.open_kind is not None:
            frames.append(_event({"type": "content_block_stop", "index": self.index}))
            self.open_kind = None
        return frames

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event({"type": "content_block_delta", "index": self.index, "delta": delta})

    def _token(self, kind: str, field: str, text: str) -> bytes:
        """A token's delta (`kind` with its text in `field`), from the shape of the open block's."""
        return self.shapes.frame(
            (kind, self.index), lambda hole: self._delta({"type": kind, field: hole}), text
        )

    def message(self, answer: SimCall, usage: SimUsage) -> dict[str, Any]:
        """The non-streaming `message`: the blocks the stream would build, in its order and with its
        ids, and the whole usage. A tool call whose arguments are no JSON object has `{}` as its input:
        this wire format cannot carry broken JSON outside a stream."""
        content: list[dict[str, Any]] = []
        if self.redacted:
            content.append({"type": "redacted_thinking", "data": self.redacted})
        if answer.reasoning:
            content.append(self._thinking(answer.reasoning))
        if answer.text:
            content.append({"type": "text", "text": answer.text, "citations": None})
        for index, call in enumerate(answer.tool_calls):
            if call.reasoning:
                content.append(self._thinking(call.reasoning))
            content.append(
                {
                    "type": "tool_use",
                    "id": tool_use_id(self.request, self.request.call_index, index),
                    "name": call.name,
                    "caller": {"type": "direct"},
                    "input": call.json_object or {},
                }
            )
        message = self._message_head()
        message["content"] = content
        message.update(self._stop(bool(answer.tool_calls)))
        message["usage"]["output_tokens"] = usage.output_tokens
        message["usage"] = with_sent(
            message["usage"], self.sent, {**START_USAGE_PLACES, **DELTA_USAGE_PLACES}
        )
        return message

    def _thinking(self, thinking: str) -> dict[str, Any]:
        """A whole thinking block, its text left out when the display is omitted."""
        shown = "" if self.omitted else thinking
        return {"type": "thinking", "thinking": shown, "signature": thinking_signature(thinking)}

    def open(self) -> list[bytes]:
        """Anthropic's `input_tokens` is only the uncached part of the prompt; cache writes and reads are
        counted apart. Redacted thinking comes whole, in one block before the rest."""
        frames = [_event({"type": "message_start", "message": self._message_head()})]
        if self.redacted:
            self.index, self.pinged = 0, True
            block = {"type": "redacted_thinking", "data": self.redacted}
            frames += [
                _event({"type": "content_block_start", "index": 0, "content_block": block}),
                _event({"type": "ping"}),
                _event({"type": "content_block_stop", "index": 0}),
            ]
        return frames

    def _message_head(self) -> dict[str, Any]:
        """The message as message_start carries it: no content yet, the usage at the start."""
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.request.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": with_sent(
                {
                    "input_tokens": self.request.input_tokens,
                    "cache_creation_input_tokens": self.cache.write,
                    "cache_read_input_tokens": self.cache.read,
                    "output_tokens": 1,
                    "service_tier": "standard",
                },
                self.sent,
                START_USAGE_PLACES,
            ),
        }

    def piece(self, piece: Piece) -> list[bytes]:
        match piece.kind:
            case PieceKind.REASONING:
                block = {"type": "thinking", "thinking": "", "signature": ""}
                # the thinking before a tool call is a block of its own, even right after other thinking
                opened = self._stop_block() if piece.tool_index != self.thought_of else []
                self.thought_of = piece.tool_index
                opened += self._block(PieceKind.REASONING, block)
                self.thinking.append(piece.text)
                if self.omitted:  # signed, but not shown
                    return opened
                return [*opened, self._token("thinking_delta", "thinking", piece.text)]
            case PieceKind.TEXT:
                block = {"type": "text", "text": ""}
                return [*self._block(PieceKind.TEXT, block), self._token("text_delta", "text", piece.text)]
            case PieceKind.TOOL_START:
                self.saw_tool_call = True
                block = {
                    "type": "tool_use",
                    "id": tool_use_id(self.request, piece.call, piece.tool_index),
                    "name": piece.tool_name,
                    "caller": {"type": "direct"},
                    "input": {},
                }
                delta = {"type": "input_json_delta", "partial_json": ""}
                return [*self._block(PieceKind.TOOL_START, block), self._delta(delta)]
            case PieceKind.TOOL_ARGS:
                return [self._token("input_json_delta", "partial_json", piece.text)]
            case PieceKind.TOOL_END:
                return self._stop_block()
        return []

    def finish(self, usage: SimUsage) -> list[bytes]:
        """Usage in message_delta is cumulative: the whole answer's output tokens, not the tail's."""
        delta = {**self._stop(self.saw_tool_call), "stop_sequence": None}
        output = with_sent({"output_tokens": usage.output_tokens}, self.sent, DELTA_USAGE_PLACES)
        return [
            *self._stop_block(),
            _event({"type": "message_delta", "delta": delta, "usage": output}),
            _event({"type": "message_stop"}),
        ]

    def _stop(self, called_tools: bool) -> dict[str, Any]:
        """The stop reason, and for a refusal its `stop_details` (here naming no policy category). The
        Messages API has no content filter of its own: its safety classifiers end an answer `refusal`."""
        stop = {"content_filter": "refusal"}.get(self.stop, self.stop) or (
            "tool_use" if called_tools else "end_turn"
        )
        if stop != "refusal":
            return {"stop_reason": stop}
        details = {"type": "refusal", "category": None, "explanation": None}
        return {"stop_reason": stop, "stop_details": details}

    def error_event(self, message: str) -> list[bytes]:
        return [_event({"type": "error", "error": {"type": "overloaded_error", "message": message}})]

    def unseen(self) -> list[bytes]:
        """A `ping`: the Messages API's keep-alive ("event streams may also include any number of
        ping events", its streaming page), sent while omitted thinking streams nothing else."""
        return [_event({"type": "ping"})]

    def malformed(self) -> bytes:
        index = max(self.index, 0)
        return (
            b"event: content_block_delta\n"
            b'data: {"type":"content_block_delta","index":%d,"delta":{"type":"te\n\n' % index
        )
