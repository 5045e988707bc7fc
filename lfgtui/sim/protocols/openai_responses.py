"""OpenAI Responses API streaming, as api.openai.com sends it: typed events with sequence numbers.

Each output (reasoning summary, message, function call) is an item with its own id and
`output_index`, opened by `response.output_item.added` and closed by `response.output_item.done`;
the stream ends with `response.completed` carrying the whole response, usage included.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from lfgtui.sim.protocols.openai_chat import openai_error_body
from lfgtui.sim.reasoning_rules import OPENAI_REASONING, message_phase, sealed_reasoning
from lfgtui.sim.scenario import NO_PROMPT_CACHE, PromptCache, Scenario
from lfgtui.sim.wire import (
    BadRequest,
    FrameShapes,
    OneCallPerRequest,
    Piece,
    PieceKind,
    SimRequest,
    SimUsage,
    SocketCall,
    estimate_input_tokens,
    sse,
    wants_stream,
    with_sent,
)

OBFUSCATION_PAD = "Xq7mZ2vLp9RtW4kN"  # the API pads some deltas to 16 characters against length side channels


def obfuscation(delta: str) -> str:
    """The `obfuscation` field real deltas carry: padding that brings the delta to a multiple of 16."""
    return OBFUSCATION_PAD[: 16 - len(delta) % 16]


def is_assistant_item(item: Any) -> bool:
    """An input item the model produced: an assistant message, a tool call or its reasoning."""
    if not isinstance(item, dict):
        return False
    kind = item.get("type", "message")
    produced = ("function_call", "custom_tool_call", "reasoning")
    return kind in produced or (kind == "message" and item.get("role") == "assistant")


def calls_answered_in(items: list[Any]) -> int:
    """How many model calls the input already holds the answers of: each maximal run of assistant
    items is the answer to one."""
    answered, in_answer = 0, False
    for item in items:
        assistant = is_assistant_item(item)
        if assistant and not in_answer:
            answered += 1
        in_answer = assistant
    return answered


class OpenAIResponsesProtocol(OneCallPerRequest):
    path = "/v1/responses"
    ratelimit = "openai"

    def parse_request(self, body: dict[str, Any], headers: dict[str, str]) -> SimRequest:
        model, items = body.get("model"), body.get("input")
        if not isinstance(model, str) or not model:
            raise BadRequest("you must provide a model parameter")
        if not isinstance(items, str | list):
            raise BadRequest("'input' must be a string or an array of input items")
        stream = wants_stream(body)
        call = calls_answered_in(items) if isinstance(items, list) else 0
        return SimRequest(
            model=model, call_index=call, input_tokens=estimate_input_tokens(body), stream=stream
        )

    def encoder(self, scenario: Scenario, request: SimRequest) -> OpenAIResponsesEncoder:
        answer = scenario.call(request.call_index)
        phase = message_phase(bool(answer.tool_calls)) if OPENAI_REASONING.match(request.model) else None
        return OpenAIResponsesEncoder(
            request, scenario.prompt_cache, scenario.usage_values, answer.stop_reason, phase
        )

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return openai_error_body(status, message)

    def complete(self, scenario: Scenario, request: SimRequest, usage: SimUsage) -> dict[str, Any]:
        """The `response` object `response.completed` would carry: the stream's items, whole."""
        encoder = self.encoder(scenario, request)
        for piece in self.plan(scenario, request):
            encoder.piece(piece)
        return encoder.completed(usage)

    def socket_state(self) -> ResponsesSocket:
        return ResponsesSocket(self)


class PreviousResponseNotFound(BadRequest):
    code = "previous_response_not_found"


INTERRUPT_MODES = ("discard_partial_items",)
"""The `mode`s a `response.interrupt` may ask for: the items still streaming are dropped, those done
are kept (the only mode Codex sends, and the only one any client of it is seen to)."""


class ResponsesSocket:
    """One WebSocket in the Responses API's socket mode, as Codex uses it: each `response.create`
    message is a model call whose events come back as text messages. A message with
    `previous_response_id` continues the socket's last response, which the socket keeps (input and
    output, as the API keeps it in the connection's memory for `store: false`), so its `input` holds
    only the new items; `generate: false` warms up, answered by an empty response to continue from.

    `response.interrupt {response_id, mode: "discard_partial_items"}` stops the response streaming
    now (Codex sends it when the person steers its running turn): it ends with
    `response.interrupt.accepted`, `response.output_item.interrupted` for the item still open (dropped),
    and `response.incomplete` (`incomplete_details.reason: "interrupted"`) holding the items done,
    which a later message continues from. One naming the last response, which ended before the
    interrupt came, is let be: its end already settled it."""

    def __init__(self, protocol: OpenAIResponsesProtocol) -> None:
        self.protocol = protocol
        self.last_id: str | None = None
        self.last_items: list[Any] = []  # the last response's whole conversation: its input, then output
        self._items: list[Any] = []  # the call being answered: its whole input
        self._encoder: OpenAIResponsesEncoder | None = None
        self._streaming: str | None = None  # the id of the response streaming now, which an interrupt stops

    def interrupts(self, message: dict[str, Any]) -> bool:
        if message.get("type") != "response.interrupt":
            return False
        response_id, mode = message.get("response_id"), message.get("mode")
        if not isinstance(response_id, str) or not response_id:
            raise BadRequest("Missing required parameter: 'response_id'.", code="missing_required_parameter")
        if mode not in INTERRUPT_MODES:
            supported = ", ".join(f"'{m}'" for m in INTERRUPT_MODES)
            said = f"Invalid value: {str(mode)[:64]!r}. Supported values are: {supported}."
            raise BadRequest(said, code="invalid_value")
        if response_id == self._streaming:
            return True
        if response_id == self.last_id:  # it ended as the interrupt came: nothing to stop
            return False
        raise BadRequest(f"Response with id '{response_id[:64]}' not found.", code="response_not_found")

    def interrupted(self, usage: SimUsage) -> list[bytes]:
        assert self._encoder is not None
        return self._encoder.interrupted(usage)

    def call(self, message: dict[str, Any], headers: dict[str, str]) -> SocketCall | None:
        kind = message.get("type")
        if kind == "response.processed":  # Codex acknowledges a response it has handled
            return None
        if kind == "response.interrupt":  # one `interrupts` let be, its response ended already
            return None
        if kind != "response.create":
            raise BadRequest(f"unsupported message type: {kind!r}")
        items, previous, generate = message.get("input", []), message.get("previous_response_id"), True
        if not isinstance(items, list):
            raise BadRequest("'input' must be an array of input items")
        if previous is not None:
            if previous != self.last_id:
                raise PreviousResponseNotFound(f"Previous response with id '{previous}' not found.")
            items = self.last_items + items
        if "generate" in message:
            generate = message["generate"]
            if not isinstance(generate, bool):
                raise BadRequest("generate: Input should be a valid boolean")
        whole = {**message, "input": items}
        request = self.protocol.parse_request({**whole, "stream": True}, headers)
        self._items = items
        return SocketCall(request, generate, whole)

    def encoder(self, scenario: Scenario, request: SimRequest) -> OpenAIResponsesEncoder:
        self._encoder = self.protocol.encoder(scenario, request)
        self._streaming = self._encoder.id
        return self._encoder

    def answered(self) -> None:
        assert self._encoder is not None
        self.last_id, self.last_items = self._encoder.id, [*self._items, *self._encoder.output]
        self._streaming = None

    def error_event(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        error = openai_error_body(status, message)["error"]
        if code is not None:
            error["code"] = code
        event: dict[str, Any] = {"type": "error", "status": status, "error": error}
        if headers:
            event["headers"] = headers
        return event


USAGE_PLACES = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "reasoning_tokens": "output_tokens_details.reasoning_tokens",
    "cache_read_tokens": "input_tokens_details.cached_tokens",
    "cache_write_tokens": "input_tokens_details.cache_write_tokens",
}
"""Where each count of `Scenario.sent_usage` goes in a Responses usage."""


INCOMPLETE = {
    "content_filter": "content_filter",
    "max_tokens": "max_output_tokens",
    "model_context_window_exceeded": "max_output_tokens",
}
"""The scenario stop reasons a Responses answer ends incomplete for, and the `incomplete_details.reason`
it gives (the API has none of its own for a full context window)."""


class OpenAIResponsesEncoder:
    """Keeps the one open output item and the finished ones, which `response.completed` repeats."""

    def __init__(
        self,
        request: SimRequest,
        cache: PromptCache = NO_PROMPT_CACHE,
        sent: Mapping[str, Any] | None = None,
        stop: str = "",
        phase: str | None = None,
    ) -> None:
        self.request = request
        self.cache = cache
        self.sent = sent or {}
        self.phase = phase  # each message's `phase` (GPT-5.4 on, GPT-6), None where the model has none
        self.refuses = stop == "refusal"  # the message's text is a `refusal` content part
        self.incomplete = INCOMPLETE.get(stop)  # why the answer ends incomplete, if it does
        self.tag = f"sim{time.monotonic_ns():x}"
        self.id = f"resp_{self.tag}"
        self.created_at = int(time.time())
        self.seq = 0
        self.output: list[dict[str, Any]] = []
        self.item: dict[str, Any] | None = None  # the open output item, as `output_item.done` will show it
        self.text: list[str] = []  # the open item's text (summary, message text or arguments) so far
        self.shapes = FrameShapes()

    def _event(self, kind: str, **fields: Any) -> bytes:
        frame = sse({"type": kind, "sequence_number": self.seq, **fields}, event=kind)
        self.seq += 1
        return frame

    def _delta(self, kind: str, delta: str, obfuscated: bool, **fields: Any) -> bytes:
        """A token's `kind` delta event in the open item, from a shape made once per item (and per
        `obfuscation`, which has one of 16 values for the deltas that carry it)."""
        assert self.item is not None
        padding = {"obfuscation": obfuscation(delta)} if obfuscated else {}
        key = (kind, self.item["id"], *padding.values())

        def build(seq: int, text: str) -> bytes:
            event = {"type": kind, "sequence_number": seq, **self._at(), **fields, "delta": text, **padding}
            return sse(event, event=kind)

        frame = self.shapes.frame(key, build, self.seq, delta)
        self.seq += 1
        return frame

    def _response(self, status: str, usage: SimUsage | None = None, error: Any = None) -> dict[str, Any]:
        """The `response` object as created/in_progress/completed/failed carry it."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": None if status != "incomplete" else {"reason": self.incomplete},
            "instructions": None,
            "max_output_tokens": None,
            "max_tool_calls": None,
            "model": self.request.model,
            "output": list(self.output),
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "prompt_cache_key": None,
            "prompt_cache_retention": None,
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default",
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": None if usage is None else self._usage(usage),
            "user": None,
            "metadata": {},
        }

    def _usage(self, usage: SimUsage) -> dict[str, Any]:
        """The input counts its cached tokens; `cache_write_tokens` is sent only when there are any, so a
        plain scenario's usage is the recorded shape."""
        cache = self.cache
        prompt = usage.input_tokens + cache.read + cache.write
        details = {"cached_tokens": cache.read}
        if cache.write:
            details["cache_write_tokens"] = cache.write
        tokens = {
            "input_tokens": prompt,
            "input_tokens_details": details,
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": prompt + usage.output_tokens,
        }
        return with_sent(tokens, self.sent, USAGE_PLACES)

    @property
    def _index(self) -> int:
        """The open item's `output_index`: items are numbered in the order they open."""
        return len(self.output)

    def _add(self, item: dict[str, Any]) -> list[bytes]:
        self.item, self.text = item, []
        return [self._event("response.output_item.added", output_index=self._index, item=item)]

    def _close(self) -> list[bytes]:
        """Finish the open item with its `.done` events and move it to the output."""
        item = self.item
        if item is None:
            return []
        text, at = "".join(self.text), self._at()
        frames: list[bytes] = []
        if item["type"] == "reasoning":
            part = {"type": "summary_text", "text": text}
            frames.append(
                self._event("response.reasoning_summary_text.done", **at, summary_index=0, text=text)
            )
            frames.append(
                self._event("response.reasoning_summary_part.done", **at, summary_index=0, part=part)
            )
            done = {**item, "summary": [part]}
        elif item["type"] == "message" and self.refuses:
            part = {"type": "refusal", "refusal": text}
            frames.append(self._event("response.refusal.done", **at, content_index=0, refusal=text))
            frames.append(self._event("response.content_part.done", **at, content_index=0, part=part))
            done = {**item, "status": "completed", "content": [part]}
        elif item["type"] == "message":
            part = {"type": "output_text", "annotations": [], "text": text}
            frames.append(self._event("response.output_text.done", **at, content_index=0, text=text))
            frames.append(self._event("response.content_part.done", **at, content_index=0, part=part))
            done = {**item, "status": "incomplete" if self.incomplete else "completed", "content": [part]}
        elif item["type"] == "custom_tool_call":
            frames.append(self._event("response.custom_tool_call_input.done", **at, input=text))
            done = {**item, "status": "completed", "input": text}
        else:
            frames.append(self._event("response.function_call_arguments.done", **at, arguments=text))
            done = {**item, "status": "completed", "arguments": text}
        frames.append(self._event("response.output_item.done", output_index=self._index, item=done))
        self.output.append(done)
        self.item = None
        return frames

    def _at(self) -> dict[str, Any]:
        """Where a delta goes: the open item's id and `output_index`."""
        assert self.item is not None
        return {"item_id": self.item["id"], "output_index": self._index}

    def _ensure(self, kind: str) -> list[bytes]:
        """Close the open item unless it is of `kind`, then open one of that kind."""
        if self.item is not None and self.item["type"] == kind:
            return []
        frames = self._close()
        item_id = f"{'rs' if kind == 'reasoning' else 'msg'}_{self.tag}{self._index}"
        if kind == "reasoning":
            sealed = sealed_reasoning(item_id)
            frames += self._add(
                {"id": item_id, "type": "reasoning", "encrypted_content": sealed, "summary": []}
            )
            part = {"type": "summary_text", "text": ""}
            frames.append(
                self._event("response.reasoning_summary_part.added", **self._at(), summary_index=0, part=part)
            )
        else:
            message = {
                "id": item_id,
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            }
            if self.phase is not None:
                message["phase"] = self.phase
            frames += self._add(message)
            part = (
                {"type": "refusal", "refusal": ""}
                if self.refuses
                else {"type": "output_text", "annotations": [], "text": ""}
            )
            frames.append(
                self._event("response.content_part.added", **self._at(), content_index=0, part=part)
            )
        return frames

    def open(self) -> list[bytes]:
        return [
            self._event("response.created", response=self._response("in_progress")),
            self._event("response.in_progress", response=self._response("in_progress")),
        ]

    def piece(self, piece: Piece) -> list[bytes]:
        frames: list[bytes] = []
        match piece.kind:
            case PieceKind.REASONING:
                frames += self._ensure("reasoning")
                frames.append(
                    self._delta("response.reasoning_summary_text.delta", piece.text, True, summary_index=0)
                )
            case PieceKind.TEXT:
                frames += self._ensure("message")
                kind = "response.refusal.delta" if self.refuses else "response.output_text.delta"
                frames.append(self._delta(kind, piece.text, False, content_index=0))
            case PieceKind.TOOL_START:
                frames += self._close()
                call_id, name = f"call_sim{piece.call}x{piece.tool_index}", piece.tool_name
                if piece.custom:  # a freeform tool: its input is raw text
                    item_id, call = f"ctc_{self.tag}{self._index}", {"type": "custom_tool_call", "input": ""}
                else:
                    item_id, call = f"fc_{self.tag}{self._index}", {"type": "function_call", "arguments": ""}
                frames += self._add(
                    {"id": item_id, **call, "status": "in_progress", "call_id": call_id, "name": name}
                )
            case PieceKind.TOOL_ARGS:
                kind = "custom_tool_call_input" if piece.custom else "function_call_arguments"
                frames.append(self._delta(f"response.{kind}.delta", piece.text, True))
            case PieceKind.TOOL_END:
                frames += self._close()
        if piece.is_token:
            self.text.append(piece.text)
        return frames

    def finish(self, usage: SimUsage) -> list[bytes]:
        """`response.completed`, or `response.incomplete` for an answer the scenario ends so."""
        frames = self._close()
        status = "incomplete" if self.incomplete else "completed"
        frames.append(self._event(f"response.{status}", response=self._response(status, usage)))
        return frames

    def interrupted(self, usage: SimUsage) -> list[bytes]:
        """The client interrupted the answer (`response.interrupt`, discard_partial_items): accepted,
        the open item dropped, and `response.incomplete` with the items done."""
        frames = [self._event("response.interrupt.accepted", response_id=self.id)]
        if self.item is not None:
            at = {"item_id": self.item["id"], "output_index": self._index}
            frames.append(self._event("response.output_item.interrupted", response_id=self.id, **at))
            self.item, self.text = None, []
        self.incomplete = "interrupted"
        frames.append(self._event("response.incomplete", response=self._response("incomplete", usage)))
        return frames

    def completed(self, usage: SimUsage) -> dict[str, Any]:
        """The finished response, every item closed."""
        self._close()
        return self._response("incomplete" if self.incomplete else "completed", usage)

    def error_event(self, message: str) -> list[bytes]:
        """The `error` event, then `response.failed` with the same error, as the API sends them."""
        error = {"type": "server_error", "code": "server_error", "message": message, "param": None}
        failed = self._response("failed", error={"code": "server_error", "message": message})
        return [self._event("error", error=error), self._event("response.failed", response=failed)]

    def unseen(self) -> list[bytes]:
        return []  # every token of this wire is shown

    def malformed(self) -> bytes:
        head = f'{{"type":"response.output_text.delta","sequence_number":{self.seq},"item_id":"msg_{self.tag}'
        self.seq += 1
        return b"event: response.output_text.delta\ndata: " + head.encode() + b'","delta":\n\n'
