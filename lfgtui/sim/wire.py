"""The contract between the sim server's player and the per-protocol encoders.

The player turns a scenario's answer to one model call into `Piece`s and paces them; an encoder
turns each piece into the exact Server-Sent-Event bytes its provider would send. Encoders are
stateful per response: they open and close content blocks as the pieces change kind.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from json.encoder import encode_basestring
from typing import Any, Protocol, runtime_checkable

from lfgtui.sim.scenario import Echoes, Scenario, SimCall, split_tokens


class PieceKind(StrEnum):
    REASONING = "reasoning"
    TEXT = "text"
    TOOL_START = "tool_start"
    TOOL_ARGS = "tool_args"
    TOOL_END = "tool_end"
    TOOL_RESULT = "tool_result"  # only the agent protocol reports tool results itself


TOKEN_KINDS = frozenset({PieceKind.REASONING, PieceKind.TEXT, PieceKind.TOOL_ARGS})


@dataclass(frozen=True, slots=True)
class Piece:
    kind: PieceKind
    text: str = ""
    tool_index: int = -1
    tool_name: str = ""
    call: int = 0
    custom: bool = False  # a freeform tool's call: its argument pieces are raw input (see SimToolCall)
    tokens: int = 1
    """How many tokens it stands for: more than one when several arrive together (a Gemini thought)."""

    @property
    def is_token(self) -> bool:
        return self.kind in TOKEN_KINDS


@dataclass(frozen=True, slots=True)
class SimRequest:
    """What the player needs to know about an incoming request, whatever its protocol."""

    model: str
    call_index: int = 0
    include_usage: bool = True
    input_tokens: int = 0
    resume_after: int | None = None  # the agent protocol's Last-Event-ID
    stream: bool = True  # False: the whole answer as one JSON body, as the API answers `stream: false`
    json_output: bool = False  # the request asks for JSON output (see `json_answer`)
    json_schema: Any = None  # ... shaped by this schema, when it gives one
    thinking_omitted: bool = False
    """Anthropic: the thinking is signed but not shown (`display: "omitted"`, or the model's default)."""
    conversation: str = ""
    """Anthropic: the conversation's tag (`conversation_tag`), in its tool calls' ids."""


@dataclass(frozen=True, slots=True)
class SimUsage:
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int


@dataclass(frozen=True, slots=True)
class Replay:
    """How much of the reasoning state a request's earlier answers carried came back: of `expected`
    answers that had some, `returned` came back whole. Responses: of `phased` assistant messages
    that went out with a `phase`, `phased_back` came back with it."""

    expected: int
    returned: int
    phased: int = 0
    phased_back: int = 0

    @property
    def whole(self) -> bool:
        return self.returned == self.expected and self.phased_back == self.phased


class BadRequest(ValueError):
    """A request the sim refuses with HTTP 400, as the real API would; `param` and `code` go in an
    OpenAI-style error body where the real API names them."""

    param: str | None = None
    code: str | None = None

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        if param is not None:
            self.param = param
        if code is not None:
            self.code = code


class Stalled(Exception):
    """A request the real server accepts and then never answers (Ollama, sent a field it chokes on):
    the sim sends nothing, as its stall fault does. `replay` is what the request carried back."""

    def __init__(self, replay: Replay) -> None:
        super().__init__("stalled")
        self.replay = replay


class Encoder(Protocol):
    def open(self) -> list[bytes]:
        """Frames sent before the first token (message start, role chunk, ...)."""
        ...

    def piece(self, piece: Piece) -> list[bytes]: ...

    def finish(self, usage: SimUsage) -> list[bytes]:
        """Frames that close the stream normally."""
        ...

    def error_event(self, message: str) -> list[bytes]:
        """An in-band error inside the 200 stream, in the provider's own shape."""
        ...

    def malformed(self) -> bytes:
        """A chunk whose JSON is cut off, as a broken proxy might deliver it."""
        ...

    def unseen(self) -> list[bytes]:
        """Frames that keep the stream alive while the model works unseen (thinking it does not show):
        Anthropic's `ping`; [] where the wire has none."""
        ...


class WireProtocol(Protocol):
    """One provider API the sim serves: how to read its requests and write its responses."""

    path: str
    ratelimit: str
    """Whose rate-limit headers it sends (sim/quota.py): "openai", "anthropic", or "" for none."""

    def parse_request(self, body: dict[str, Any], headers: dict[str, str]) -> SimRequest: ...

    def plan(self, scenario: Scenario, request: SimRequest) -> list[Piece]: ...

    def encoder(self, scenario: Scenario, request: SimRequest) -> Encoder: ...

    def error_body(self, status: int, message: str) -> dict[str, Any]: ...

    def complete(self, scenario: Scenario, request: SimRequest, usage: SimUsage) -> dict[str, Any]:
        """The whole answer as the API's non-streaming response body, for a request `parse_request`
        marked `stream=False` (the agent protocol always streams, so it has none)."""
        ...


@dataclass(frozen=True, slots=True)
class SocketCall:
    """A model call asked for on a WebSocket; a warm-up (`generate` false) gets an empty response."""

    request: SimRequest
    generate: bool = True
    conversation: dict[str, Any] | None = None
    """The message as the API reads it, its `input` the whole conversation the socket continues
    (the earlier response's too), which a scenario's echoes quote; None: the message itself."""


class SocketState(Protocol):
    """One WebSocket's state in a protocol's socket mode (the Responses API's): what each message
    asks for, and the answers a later message may continue from."""

    def call(self, message: dict[str, Any], headers: dict[str, str]) -> SocketCall | None:
        """The model call a message asks for; None for a message that needs no answer. Raises
        BadRequest (its `code`, if any, goes in the error event)."""
        ...

    def encoder(self, scenario: Scenario, request: SimRequest) -> Encoder:
        """The encoder of the answer to the call just read."""
        ...

    def answered(self) -> None:
        """That answer went out whole (or ended by `interrupted`): later messages may continue from it."""
        ...

    def interrupts(self, message: dict[str, Any]) -> bool:
        """Whether `message` stops the answer streaming now (the Responses API's `response.interrupt`),
        read the moment it comes, mid-answer: the server then ends that answer with `interrupted`.
        False for any other message, answered in turn by `call`. Raises BadRequest for an interrupt
        that names no answer of this socket or asks for what the API does not do."""
        ...

    def interrupted(self, usage: SimUsage) -> list[bytes]:
        """The events that end the answer `interrupts` stopped (`usage`: what it had generated)."""
        ...

    def error_event(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """An HTTP error as the socket carries it: an event with the status and the error body."""
        ...


@runtime_checkable
class SocketProtocol(WireProtocol, Protocol):
    """A wire protocol that also streams over a WebSocket opened on its path."""

    def socket_state(self) -> SocketState: ...


def wants_stream(body: dict[str, Any]) -> bool:
    """The body's `stream` flag; absent means a non-streaming request, as the APIs read it."""
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream: Input should be a valid boolean")
    return stream


def calls_answered(messages: list[Any]) -> int:
    """How many model calls a chat-style conversation already holds the answers of: the index of the
    next one."""
    return sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")


def conversation_tag(messages: list[Any]) -> str:
    """Six hex digits naming a conversation by its first message's text, the same for each of its
    requests: what keeps one conversation's tool call ids apart from another's (a coding agent's
    sub-agent is a conversation of its own, whose first call's ids would otherwise be its parent's)."""
    first = messages[0] if messages else None
    content = first.get("content") if isinstance(first, dict) else None
    if isinstance(content, list):
        content = "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    text = content if isinstance(content, str) else ""
    return hashlib.sha256(text.encode()).hexdigest()[:6]


class OneCallPerRequest:
    """For the model APIs: each request gets the answer to the model call its conversation has reached."""

    def plan(self, scenario: Scenario, request: SimRequest) -> list[Piece]:
        pieces = plan_call(scenario.call(request.call_index), request.call_index, scenario.chunk_chars)
        return summarised(pieces, scenario.thought_tokens)


def summarised(pieces: list[Piece], thought_tokens: int) -> list[Piece]:
    """`pieces` with their thinking standing for `thought_tokens` in all (none: as they are), spread
    evenly over its pieces, so that each summary chunk is due when its share of the thinking is."""
    thoughts = [index for index, piece in enumerate(pieces) if piece.kind is PieceKind.REASONING]
    if thought_tokens <= 0 or not thoughts:
        return pieces
    share, extra = divmod(max(thought_tokens, len(thoughts)), len(thoughts))
    out = list(pieces)
    for order, index in enumerate(thoughts):
        out[index] = replace(pieces[index], tokens=share + (1 if order < extra else 0))
    return out


def plan_call(answer: SimCall, call_index: int = 0, chunk_chars: int = 0) -> list[Piece]:
    """The pieces of one model call: reasoning, then text, then each tool call's argument fragments
    (after the thinking that goes before that call, if any)."""
    reasoning, text = split_tokens(answer.reasoning, chunk_chars), split_tokens(answer.text, chunk_chars)
    pieces = [Piece(PieceKind.REASONING, tok, call=call_index) for tok in reasoning]
    pieces += [Piece(PieceKind.TEXT, tok, call=call_index) for tok in text]
    for index, call in enumerate(answer.tool_calls):
        thought = split_tokens(call.reasoning, chunk_chars)
        pieces += [Piece(PieceKind.REASONING, tok, tool_index=index, call=call_index) for tok in thought]
        common = {"tool_index": index, "tool_name": call.name, "call": call_index, "custom": call.custom}
        pieces.append(Piece(PieceKind.TOOL_START, **common))
        pieces += [Piece(PieceKind.TOOL_ARGS, frag, **common) for frag in _fragments(call.arguments)]
        pieces.append(Piece(PieceKind.TOOL_END, **common))
    return pieces


def _fragments(arguments: str, size: int = 6) -> list[str]:
    """Argument JSON in small fragments, as models stream it."""
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


LONE_SURROGATE = "\ud800"
"""Half of a UTF-16 pair alone: JSON writes it as the escape `\\ud800` (as JavaScript's `JSON.stringify`
does), which Python reads back as this one character, and no UTF-8 text can hold it."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(text: str) -> bytes:
    """`text` (JSON) as UTF-8; a lone surrogate, which JSON only holds inside a string, as its escape."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", text).encode()


def sse(data: dict[str, Any] | str, event: str | None = None, event_id: str | None = None) -> bytes:
    """One Server-Sent Event frame; dicts are written as compact JSON like the real APIs do."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    head += f"id: {event_id}\n" if event_id is not None else ""
    return _utf8(f"{head}data: {payload}\n\n")


HOLES = tuple(f"lfgsimhole{index}{secrets.token_hex(6)}" for index in range(2))
"""Stand-ins for a frame's changing values: each is JSON-encoded as itself in quotes, and no model name
or text will hold one by chance."""


@dataclass(frozen=True, slots=True)
class _Shape:
    """A frame split where its changing values go: `parts[0]`, a value, `parts[1]`, ... `order[i]` is
    the index (in the caller's order) of the value that goes after `parts[i]`."""

    parts: tuple[bytes, ...]
    order: tuple[int, ...]


class FrameShapes:
    """Per-token frames encoded from shapes made once per stream, so that only their text is escaped
    per token (with `json.dumps`'s own escaping, `encode_basestring`: the bytes are the same).

    A frame's shape is its encoder's frame built with `HOLES` for its changing values (a str is written
    as JSON text, an int as a number) and split there; a frame whose holes do not each appear exactly
    once (a model name holding one, say) is built whole every time instead.
    """

    def __init__(self) -> None:
        self._shapes: dict[Hashable, _Shape | None] = {}

    def frame(self, key: Hashable, build: Callable[..., bytes], *values: str | int) -> bytes:
        """`build(*values)`, the frame of shape `key`; `build` makes frames of that one shape."""
        try:
            shape = self._shapes[key]
        except KeyError:
            shape = self._shapes[key] = _shape(build(*HOLES[: len(values)]), len(values))
        if shape is None:
            return build(*values)
        parts = shape.parts
        if len(parts) == 2:  # the usual case: one text hole
            return parts[0] + _json_value(values[0]) + parts[1]
        out = [parts[0]]
        for index, part in zip(shape.order, parts[1:], strict=True):
            out += (_json_value(values[index]), part)
        return b"".join(out)


def _json_value(value: str | int) -> bytes:
    if isinstance(value, str):
        return _utf8(encode_basestring(value))
    return b"%d" % value


def _shape(frame: bytes, holes: int) -> _Shape | None:
    quoted = [f'"{hole}"'.encode() for hole in HOLES[:holes]]
    if any(frame.count(hole) != 1 for hole in quoted):
        return None
    order = tuple(sorted(range(holes), key=lambda index: frame.index(quoted[index])))
    parts, rest = [], frame
    for index in order:
        head, _, rest = rest.partition(quoted[index])
        parts.append(head)
    return _Shape((*parts, rest), order)


def sse_data(frame: bytes) -> str:
    """The data of an SSE frame `sse` wrote (its `data:` lines joined), as a socket sends it alone.
    Split at line feeds only, as SSE does: JSON leaves U+2028, U+2029 and U+0085 unescaped."""
    lines = frame.decode().split("\n")
    return "\n".join(line[len("data: ") :] for line in lines if line.startswith("data: "))


def with_sent(usage: dict[str, Any], values: Mapping[str, Any], places: Mapping[str, str]) -> dict[str, Any]:
    """`usage` with each value of `values` (by `SENT_USAGE` field) put at its wire field's place,
    `places[field]` (a dotted path into `usage`); a field the wire format has no place for is left out."""
    for name, value in values.items():
        place = places.get(name)
        if place is None:
            continue
        *parents, last = place.split(".")
        target = usage
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return usage


def count_usage(pieces: list[Piece], request: SimRequest) -> SimUsage:
    """Usage as the sim reports it: the tokens its token pieces stand for."""
    reasoning = sum(p.tokens for p in pieces if p.kind is PieceKind.REASONING)
    output = sum(p.tokens for p in pieces if p.is_token)
    return SimUsage(input_tokens=request.input_tokens, output_tokens=output, reasoning_tokens=reasoning)


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """A rough prompt size (4 characters a token) for the usage the sim reports."""
    return max(1, len(repr(body)) // 4)


TOOL_RESULT_TYPES = ("tool_result", "function_call_output", "custom_tool_call_output")
"""The content blocks (Anthropic) and input items (Responses) that carry a tool's result."""


def echoes(body: dict[str, Any]) -> Echoes:
    """The first and last user messages, the answers and the tool results of a request's
    conversation, whichever of the chat, Anthropic and Responses shapes it has (`messages`, or
    `input`; the agent protocol's: `prompt`), for a scenario to quote."""
    items = body.get("messages", body.get("input", body.get("prompt")))  # `prompt`: the agent protocol's
    if isinstance(items, str):
        return Echoes(prompt=items, opening=items)
    prompt, results, opening, answers = "", [], None, []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("role") == "assistant":
            answers.append(_text(item.get("content")))
        elif item.get("role") == "tool":
            results.append(_text(item.get("content")))
        elif item.get("type") in TOOL_RESULT_TYPES:
            results.append(_text(item.get("output")))
        elif item.get("role") == "user":
            content = item.get("content")
            blocks = content if isinstance(content, list) else []
            results += [
                _text(b.get("content"))
                for b in blocks
                if isinstance(b, dict) and b.get("type") in TOOL_RESULT_TYPES
            ]
            said = _text(
                [b for b in blocks if not (isinstance(b, dict) and b.get("type") in TOOL_RESULT_TYPES)]
                if blocks
                else content
            )
            prompt = said or prompt
            opening = said if opening is None else opening
    return Echoes(prompt=prompt, results=tuple(results), opening=opening or "", answers=tuple(answers))


def _text(content: Any) -> str:
    """A message's text: a string, or the `text` of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""
