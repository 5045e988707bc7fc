"""The Gemini API (generativelanguage), as Gemini CLI and the google-genai SDKs call it.

The model is in the path, not the body: `/v1beta/models/MODEL:streamGenerateContent?alt=sse` streams
`GenerateContentResponse`s as Server-Sent Events, `:generateContent` answers one, `:countTokens`
counts a prompt. Every chunk is a whole response holding only what is new: a model call's thoughts
are one text part marked `thought` (Gemini sends each thought summary whole, and Gemini CLI shows
each part as a thought of its own), a function call arrives whole in one part, and the last chunk
carries the finish reason and the usage. A request whose `generationConfig` asks for JSON
(`responseMimeType: application/json`, Gemini CLI's router and other side calls) is answered with
JSON: the scenario's text when it is JSON, else the plainest value its schema allows
(`sim/json_answer.py`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from itertools import takewhile
from typing import Any
from urllib.parse import unquote

from lfgtui.sim.json_answer import json_answer
from lfgtui.sim.scenario import Scenario, SimCall
from lfgtui.sim.wire import (
    BadRequest,
    FrameShapes,
    Piece,
    PieceKind,
    SimRequest,
    SimUsage,
    plan_call,
    with_sent,
)

ROUTE = re.compile(r"/(v1beta|v1alpha|v1)/models/(?P<model>[^/]+):(?P<method>[A-Za-z]+)")
METHODS = ("generateContent", "streamGenerateContent", "countTokens")

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

USAGE_PLACES = {
    "input_tokens": "promptTokenCount",
    "output_tokens": "candidatesTokenCount",
    "reasoning_tokens": "thoughtsTokenCount",
    "cache_read_tokens": "cachedContentTokenCount",
}
"""Where each count of `Scenario.sent_usage` goes in `usageMetadata` (Gemini reports no cache writes)."""


def gemini_error_body(status: int, message: str) -> dict[str, Any]:
    """The error object Google APIs put in a non-200 body (and in an SSE frame mid-stream)."""
    name = STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": name}}


def _frame(data: dict[str, Any]) -> bytes:
    """One SSE frame as the Gemini API writes it: `data:` only, CRLF line ends."""
    return b"data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\r\n\r\n"


def gemini_route(path: str) -> GeminiProtocol | None:
    """The protocol for a Gemini API path, or None when the path is not one."""
    match = ROUTE.fullmatch(path)
    if match is None or match["method"] not in METHODS:
        return None
    return GeminiProtocol(unquote(match["model"]), match["method"])


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _whole_thoughts(pieces: list[Piece]) -> list[Piece]:
    """The call's reasoning (its first pieces) as one piece standing for all its tokens."""
    thoughts = list(takewhile(lambda p: p.kind is PieceKind.REASONING, pieces))
    if len(thoughts) < 2:
        return pieces
    whole = replace(thoughts[0], text="".join(p.text for p in thoughts), tokens=len(thoughts))
    return [whole, *pieces[len(thoughts) :]]


@dataclass(frozen=True)
class GeminiProtocol:
    """One request's route: the model and the method its path names (any API version)."""

    model: str
    method: str
    ratelimit: str = ""  # the Gemini API sends no rate-limit headers

    def parse_request(self, body: dict[str, Any], headers: dict[str, str]) -> SimRequest:
        contents = body.get("contents")
        if self.method == "countTokens" and contents is None:
            contents = (body.get("generateContentRequest") or {}).get("contents")
        if not isinstance(contents, list) or not contents:
            raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
        answered = sum(1 for c in contents if isinstance(c, dict) and c.get("role") == "model")
        config = body.get("generationConfig")
        config = config if isinstance(config, dict) else {}
        json_output = config.get("responseMimeType") == "application/json"
        schema = config.get("responseJsonSchema", config.get("responseSchema"))
        return SimRequest(
            model=self.model,
            call_index=answered,
            input_tokens=max(1, len(repr(contents)) // 4),
            stream=self.method == "streamGenerateContent",
            json_output=json_output,
            json_schema=schema if json_output else None,
        )

    def answer(self, scenario: Scenario, request: SimRequest) -> SimCall:
        """The scenario's answer to the request's model call; JSON when the request asks for it."""
        answer = scenario.call(request.call_index)
        if not request.json_output or _is_json(answer.text):
            return answer
        return SimCall(text=json_answer(request.json_schema))

    def plan(self, scenario: Scenario, request: SimRequest) -> list[Piece]:
        """countTokens generates nothing: it is answered after the scenario's TTFT."""
        if self.method == "countTokens":
            return []
        answer = self.answer(scenario, request)
        return _whole_thoughts(plan_call(answer, request.call_index, scenario.chunk_chars))

    def encoder(self, scenario: Scenario, request: SimRequest) -> GeminiEncoder:
        return GeminiEncoder(scenario, request, scenario.usage_values)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return gemini_error_body(status, message)

    def complete(self, scenario: Scenario, request: SimRequest, usage: SimUsage) -> dict[str, Any]:
        if self.method == "countTokens":
            return {"totalTokens": request.input_tokens}
        return self.encoder(scenario, request).response(self.answer(scenario, request), usage)


class GeminiEncoder:
    """Each token is a chunk of its own; a function call is sent whole when its arguments end."""

    def __init__(
        self, scenario: Scenario, request: SimRequest, sent: Mapping[str, Any] | None = None
    ) -> None:
        self.scenario = scenario
        self.request = request
        self.sent = sent or {}
        self.id = f"sim{time.monotonic_ns():x}"
        self.shapes = FrameShapes()

    def _response(self, parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if finish is not None:
            candidate["finishReason"] = finish
        candidate["index"] = 0
        return {"candidates": [candidate], "modelVersion": self.request.model, "responseId": self.id}

    def _usage(self, usage: SimUsage) -> dict[str, Any]:
        """`candidatesTokenCount` leaves the thoughts out; the total counts them."""
        answer = usage.output_tokens - usage.reasoning_tokens
        metadata: dict[str, Any] = {
            "promptTokenCount": usage.input_tokens,
            "candidatesTokenCount": answer,
            "totalTokenCount": usage.input_tokens + usage.output_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.input_tokens}],
        }
        if usage.reasoning_tokens:
            metadata["thoughtsTokenCount"] = usage.reasoning_tokens
        cache = self.scenario.prompt_cache
        if cache.read:
            metadata["cachedContentTokenCount"] = cache.read
        return with_sent(metadata, self.sent, USAGE_PLACES)

    def response(self, answer: SimCall, usage: SimUsage) -> dict[str, Any]:
        """The non-streaming `GenerateContentResponse`: every part at once."""
        parts: list[dict[str, Any]] = []
        if answer.reasoning:
            parts.append({"text": answer.reasoning, "thought": True})
        if answer.text:
            parts.append({"text": answer.text})
        # arguments that are no JSON object go as `{}`: this format cannot carry broken JSON
        parts += [{"functionCall": {"name": c.name, "args": c.json_object or {}}} for c in answer.tool_calls]
        return {**self._response(parts, "STOP"), "usageMetadata": self._usage(usage)}

    def open(self) -> list[bytes]:
        return []

    def piece(self, piece: Piece) -> list[bytes]:
        match piece.kind:
            case PieceKind.REASONING:
                return [self.shapes.frame(PieceKind.REASONING, self._thought, piece.text)]
            case PieceKind.TEXT:
                return [self.shapes.frame(PieceKind.TEXT, self._text, piece.text)]
            case PieceKind.TOOL_END:
                call = self.scenario.call(piece.call).tool_calls[piece.tool_index]
                part = {"functionCall": {"name": call.name, "args": call.json_object or {}}}
                return [_frame(self._response([part]))]
        return []

    def _thought(self, text: str) -> bytes:
        return _frame(self._response([{"text": text, "thought": True}]))

    def _text(self, text: str) -> bytes:
        return _frame(self._response([{"text": text}]))

    def finish(self, usage: SimUsage) -> list[bytes]:
        """The last chunk: an empty text part, the finish reason and the whole usage."""
        return [_frame({**self._response([{"text": ""}], "STOP"), "usageMetadata": self._usage(usage)})]

    def error_event(self, message: str) -> list[bytes]:
        return [_frame(gemini_error_body(500, message))]

    def unseen(self) -> list[bytes]:
        return []  # every token of this wire is shown

    def malformed(self) -> bytes:
        return b'data: {"candidates":[{"content":{"parts":[{"te\r\n\r\n'
