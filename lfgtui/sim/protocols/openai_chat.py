"""OpenAI Chat Completions streaming, as api.openai.com (and xAI, vLLM, Ollama, DeepSeek) send it.

Reasoning goes as the server the model name stands for sends it (`chat_flavour`): `reasoning_content`
(DeepSeek, Kimi, vLLM), Ollama's `reasoning`, or OpenRouter's `reasoning` with its `reasoning_details`
(the text, then its signature and an encrypted part once the reasoning ends). DeepSeek reports its
prompt cache in its own usage fields, `prompt_cache_hit_tokens` and `prompt_cache_miss_tokens`; Kimi
as a top-level `cached_tokens`, its stream's usage in the last chunk's `choices[0].usage`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from lfgtui.sim.reasoning_rules import (
    CHAT_THOUGHT_SIGNATURE,
    chat_flavour,
    openrouter_details,
    thought_signature,
)
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
    estimate_input_tokens,
    sse,
    wants_stream,
    with_sent,
)

USAGE_PLACES = {
    "input_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens",
    "reasoning_tokens": "completion_tokens_details.reasoning_tokens",
    "cache_read_tokens": "prompt_tokens_details.cached_tokens",
    "cache_write_tokens": "prompt_tokens_details.cache_write_tokens",
}
"""Where each count of `Scenario.sent_usage` goes in a Chat Completions usage."""

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_denied",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def openai_error_body(status: int, message: str) -> dict[str, Any]:
    """The error object OpenAI-style APIs put in a non-200 response body."""
    kind = ERROR_TYPES.get(status, "server_error")
    code = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}.get(status)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class OpenAIChatProtocol(OneCallPerRequest):
    path = "/v1/chat/completions"
    ratelimit = "openai"

    def parse_request(self, body: dict[str, Any], headers: dict[str, str]) -> SimRequest:
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            raise BadRequest("you must provide a model parameter")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("'messages' must be a non-empty array")
        stream = wants_stream(body)
        options = body.get("stream_options") or {}
        call = calls_answered(messages)
        return SimRequest(
            model=model,
            call_index=call,
            include_usage=bool(options.get("include_usage")) or not stream,
            input_tokens=estimate_input_tokens(body),
            stream=stream,
        )

    def encoder(self, scenario: Scenario, request: SimRequest) -> OpenAIChatEncoder:
        stop = scenario.call(request.call_index).stop_reason
        return OpenAIChatEncoder(request, scenario.prompt_cache, scenario.usage_values, stop)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return openai_error_body(status, message)

    def complete(self, scenario: Scenario, request: SimRequest, usage: SimUsage) -> dict[str, Any]:
        return self.encoder(scenario, request).completion(scenario.call(request.call_index), usage)


class OpenAIChatEncoder:
    def __init__(
        self,
        request: SimRequest,
        cache: PromptCache = NO_PROMPT_CACHE,
        sent: Mapping[str, Any] | None = None,
        stop: str = "",
    ) -> None:
        self.request = request
        self.cache = cache
        self.sent = sent or {}
        self.stop = stop  # the scenario's `stop_reason` for this call, "" for the usual
        self.refuses = stop == "refusal"  # the text goes as `delta.refusal`, as a refusal's does
        self.id = f"chatcmpl-sim{time.monotonic_ns():x}"
        self.created = int(time.time())
        self.saw_tool_call = False
        self.shapes = FrameShapes()
        self.flavour = chat_flavour(request.model)
        self.thought: list[str] = []  # OpenRouter: the reasoning so far, signed once it ends

    def _frame(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.request.model,
            "system_fingerprint": "fp_lfgsim",
            "choices": choices,
        }
        if self.request.include_usage:
            chunk["usage"] = usage
        return sse(chunk)

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return self._frame([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

    def open(self) -> list[bytes]:
        if self.refuses:
            return [self._chunk({"role": "assistant", "content": None, "refusal": ""})]
        return [self._chunk({"role": "assistant", "content": "", "refusal": None})]

    def piece(self, piece: Piece) -> list[bytes]:
        if piece.kind is PieceKind.REASONING:
            self.thought.append(piece.text)
            return [self.shapes.frame(PieceKind.REASONING, self._reasoning, piece.text)]
        return [*self._sign_reasoning(), *self._piece(piece)]

    def _sign_reasoning(self) -> list[bytes]:
        """OpenRouter: once the reasoning ends, its signature and the encrypted part, in a chunk of
        their own (merged by `index` into the text's detail)."""
        if self.flavour != "openrouter" or not self.thought:
            return []
        details = openrouter_details("".join(self.thought), self.request.call_index)
        self.thought = []
        details[0] = {**details[0], "text": ""}
        return [self._chunk({"reasoning_details": details})]

    def _piece(self, piece: Piece) -> list[bytes]:
        match piece.kind:
            case PieceKind.TEXT:
                return [self.shapes.frame(PieceKind.TEXT, self._text, piece.text)]
            case PieceKind.TOOL_START:
                self.saw_tool_call = True
                call_id = f"call_sim{piece.call}x{piece.tool_index}"
                call = {
                    "index": piece.tool_index,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": piece.tool_name, "arguments": ""},
                }
                if not self.flavour and CHAT_THOUGHT_SIGNATURE.match(self.request.model):  # Gemini's own
                    call["extra_content"] = {"google": {"thought_signature": thought_signature(call_id)}}
                return [self._chunk({"tool_calls": [call]})]
            case PieceKind.TOOL_ARGS:
                return [self.shapes.frame(PieceKind.TOOL_ARGS, self._arguments, piece.text, piece.tool_index)]
        return []

    def _text(self, text: str) -> bytes:
        return self._chunk({"refusal" if self.refuses else "content": text})

    def _reasoning(self, text: str) -> bytes:
        match self.flavour:
            case "ollama":
                return self._chunk({"reasoning": text})
            case "openrouter":
                detail = {"type": "reasoning.text", "text": text, "index": 0}
                return self._chunk({"reasoning": text, "reasoning_details": [detail]})
        return self._chunk({"reasoning_content": text})

    def _arguments(self, text: str, index: int) -> bytes:
        return self._chunk({"tool_calls": [{"index": index, "function": {"arguments": text}}]})

    def finish(self, usage: SimUsage) -> list[bytes]:
        finish_reason = self._finish_reason(self.saw_tool_call)
        if self.flavour == "kimi":  # its usage in the last choice, asked for or not
            last = {"index": 0, "delta": {}, "finish_reason": finish_reason, "usage": self._usage(usage)}
            return [*self._sign_reasoning(), self._frame([last]), sse("[DONE]")]
        frames = [*self._sign_reasoning(), self._chunk({}, finish_reason)]
        if self.request.include_usage:
            frames.append(self._frame([], self._usage(usage)))
        frames.append(sse("[DONE]"))
        return frames

    def _usage(self, usage: SimUsage) -> dict[str, Any]:
        """The prompt counts its cached tokens; their details are sent only when there are any, so a
        plain scenario's usage is the recorded shape (the API today always sends them)."""
        cache = self.cache
        prompt = usage.input_tokens + cache.read + cache.write
        tokens: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": usage.output_tokens,
            "total_tokens": prompt + usage.output_tokens,
        }
        if self.flavour == "deepseek":  # its own fields, always there (DeepSeek's context-caching guide)
            tokens["prompt_cache_hit_tokens"] = cache.read
            tokens["prompt_cache_miss_tokens"] = prompt - cache.read
        elif self.flavour == "kimi":
            tokens["cached_tokens"] = cache.read
        elif cache.read or cache.write:
            details = {"cached_tokens": cache.read, "audio_tokens": 0}
            if cache.write:
                details["cache_write_tokens"] = cache.write
            tokens["prompt_tokens_details"] = details
        tokens["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
        return with_sent(tokens, self.sent, USAGE_PLACES)

    def completion(self, answer: SimCall, usage: SimUsage) -> dict[str, Any]:
        """A `chat.completion`: the message whole, its tool calls with the ids the stream gives them;
        usage is always there, as in every non-streaming answer."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if self.refuses else answer.text or None,
            "refusal": answer.text if self.refuses else None,
            "annotations": [],
        }
        if answer.reasoning and self.flavour == "openrouter":
            message["reasoning"] = answer.reasoning
            message["reasoning_details"] = openrouter_details(answer.reasoning, self.request.call_index)
        elif answer.reasoning:
            message["reasoning" if self.flavour == "ollama" else "reasoning_content"] = answer.reasoning
        if answer.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_sim{self.request.call_index}x{index}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for index, call in enumerate(answer.tool_calls)
            ]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self._finish_reason(bool(answer.tool_calls)),
        }
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.request.model,
            "choices": [choice],
            "usage": self._usage(usage),
            "service_tier": "default",
            "system_fingerprint": "fp_lfgsim",
        }

    def _finish_reason(self, called_tools: bool) -> str:
        """The scenario's stop reason as Chat Completions says it (a refusal ends `stop`)."""
        if self.stop in ("max_tokens", "model_context_window_exceeded"):
            return "length"
        if self.stop == "content_filter":
            return "content_filter"
        return "tool_calls" if called_tools else "stop"

    def error_event(self, message: str) -> list[bytes]:
        return [sse({"error": {"message": message, "type": "server_error", "param": None, "code": None}})]

    def unseen(self) -> list[bytes]:
        return []  # every token of this wire is shown

    def malformed(self) -> bytes:
        return (
            b'data: {"id":"'
            + self.id.encode()
            + b'","object":"chat.completion.chunk","choices":[{"delta":\n\n'
        )
