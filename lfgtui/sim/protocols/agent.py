"""The generic agent SSE protocol (docs/agent-protocol.md): an agent service that runs its own tools.

One request plays every model call of a scenario as a single stream, an agent's whole run. Events
are numbered from 1 in a fixed order, so a client that lost the connection and reconnects with
`Last-Event-ID` gets exactly the events after the last one it saw: the encoder still walks every
piece but writes only those.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lfgtui.sim.scenario import SENT_USAGE, Scenario, SimToolCall
from lfgtui.sim.wire import (
    BadRequest,
    Piece,
    PieceKind,
    SimRequest,
    SimUsage,
    estimate_input_tokens,
    plan_call,
    sse,
    with_sent,
)

PARAGRAPH = "\n\n"


def _last_event_id(headers: dict[str, str]) -> int | None:
    """The id the client saw last (headers arrive lower-cased); None for a fresh stream."""
    value = headers.get("last-event-id", "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise BadRequest(f"Last-Event-ID {value!r} is not an event id this agent sent")
    return int(value)


def tool_call_id(call: int, index: int) -> str:
    return f"call_{call}_{index}"


def wire_arguments(call: SimToolCall) -> dict[str, Any] | str:
    """A JSON object when the model wrote one, else its raw text as a string, as the protocol says."""
    arguments = call.json_object
    return call.arguments if arguments is None else arguments


class AgentProtocol:
    path = "/agent"
    ratelimit = ""

    def parse_request(self, body: dict[str, Any], headers: dict[str, str]) -> SimRequest:
        model, prompt = body.get("model"), body.get("prompt")
        if not isinstance(model, str) or not model:
            raise BadRequest("'model' must be a non-empty string")
        if not isinstance(prompt, str):
            raise BadRequest("'prompt' must be a string")
        return SimRequest(
            model=model, input_tokens=estimate_input_tokens(body), resume_after=_last_event_id(headers)
        )

    def plan(self, scenario: Scenario, request: SimRequest) -> list[Piece]:
        """Every model call in order; each one's tool results follow its tool calls, as the agent ran
        them.

        Text (and reasoning) of later calls starts a new paragraph, as an agent separates messages.
        """
        pieces: list[Piece] = []
        for index in range(len(scenario.calls)):
            answer = scenario.call(index)
            kinds = {piece.kind for piece in pieces}
            if PieceKind.TEXT in kinds and answer.text:
                answer = replace(answer, text=PARAGRAPH + answer.text)
            if PieceKind.REASONING in kinds and answer.reasoning:
                answer = replace(answer, reasoning=PARAGRAPH + answer.reasoning)
            pieces += plan_call(answer, index, scenario.chunk_chars)
            pieces += [
                Piece(PieceKind.TOOL_RESULT, call.result, tool_index=i, tool_name=call.name, call=index)
                for i, call in enumerate(answer.tool_calls)
            ]
        return pieces

    def encoder(self, scenario: Scenario, request: SimRequest) -> AgentEncoder:
        return AgentEncoder(scenario, request)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"message": message}}


class AgentEncoder:
    """Numbers every event; events at or before the client's `Last-Event-ID` are not written."""

    def __init__(self, scenario: Scenario, request: SimRequest) -> None:
        self.scenario = scenario
        self.resume_after = request.resume_after or 0
        self.last_id = 0

    def _event(self, data: dict[str, Any]) -> list[bytes]:
        self.last_id += 1
        if self.last_id <= self.resume_after:
            return []
        return [sse(data, event_id=str(self.last_id))]

    def open(self) -> list[bytes]:
        return self._event({"type": "status", "message": "agent started"})

    def piece(self, piece: Piece) -> list[bytes]:
        """Argument fragments are not sent: a call goes out whole at TOOL_END.

        A call whose arguments are not a JSON object could not have run, so its result is an error.
        """
        match piece.kind:
            case PieceKind.TEXT:
                return self._event({"type": "token", "text": piece.text})
            case PieceKind.REASONING:
                return self._event({"type": "reasoning", "text": piece.text})
            case PieceKind.TOOL_END:
                call = self.scenario.call(piece.call).tool_calls[piece.tool_index]
                return self._event(
                    {
                        "type": "tool_call",
                        "id": tool_call_id(piece.call, piece.tool_index),
                        "name": call.name,
                        "arguments": wire_arguments(call),
                    }
                )
            case PieceKind.TOOL_RESULT:
                call = self.scenario.call(piece.call).tool_calls[piece.tool_index]
                return self._event(
                    {
                        "type": "tool_result",
                        "id": tool_call_id(piece.call, piece.tool_index),
                        "output": piece.text,
                        "is_error": isinstance(wire_arguments(call), str),
                    }
                )
        return []

    def finish(self, usage: SimUsage) -> list[bytes]:
        """The prompt counts its cached tokens; the cache counts are sent only when there are any."""
        cache = self.scenario.prompt_cache
        tokens = {
            "input_tokens": usage.input_tokens + cache.read + cache.write,
            "output_tokens": usage.output_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        }
        if cache.read:
            tokens["cache_read_tokens"] = cache.read
        if cache.write:
            tokens["cache_write_tokens"] = cache.write
        sent = with_sent(tokens, self.scenario.usage_values, {name: name for name in SENT_USAGE})
        return [
            *self._event({"type": "usage", **sent}),
            *self._event({"type": "done", "stop_reason": "stop"}),
        ]

    def error_event(self, message: str) -> list[bytes]:
        return self._event({"type": "error", "message": message})

    def unseen(self) -> list[bytes]:
        return []  # every token of this wire is shown

    def malformed(self) -> bytes:
        return b'data: {"type":"token","te\n\n'
