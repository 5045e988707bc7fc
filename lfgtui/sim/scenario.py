"""Scenario files for the built-in offline provider: what the sim says, how fast, and how it fails.

A scenario is a TOML file whose stem is the model name a ticket asks for: what the model answers
to each model call (`[[call]]`, in order) and the faults it meets. Options may follow the name after
a colon, e.g. `long-answer:tokens_per_s=200,ttft_ms=100,repeat=20`; `usage_FIELD=JSON` makes the usage
report any JSON value in a field, as a faulty provider might (`hello:usage_output_tokens=NaN`). Files
written before the model calls got their name say `[[turn]]` and a fault's `turn`; they are read as
`call`.

A call's text and reasoning may echo the request (`Echoes`): `{{ result.N }}` is the Nth tool result
the conversation carries (from 1), `{{ result.N.inline }}` the same with its lines joined by `, `,
`{{ prompt }}` the last user message and `{{ prompt.last_line }}` its last non-blank line, and
`{{ ranking }}` (`{{ ranking.reversed }}`) a tournament judge's JSON ranking of the contestants the
first user message lists (sim/ranking.py). So a scripted agent describes the folder lfg's tools
really listed, a ticket quotes the one it depends on, and the sim judges a tournament.
The agent protocols (whose agent runs no real tools) quote the results the script gives.

A scenario's `[elicit]` (`message`, and `schema`: the JSON Schema of a form) makes the sim ACP agent
ask the client that question (ACP `elicitation/create`, form mode) before its first model call;
`{{ elicitation }}` in its text is then the answer (`accepted: {...}` with the content as JSON,
`declined`, `cancelled`, or `not asked: ...` when the client offers no forms). Other protocols leave
both alone.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import platformdirs

from lfgtui.sim.ranking import ranking


class ScenarioError(ValueError):
    """A scenario file or model name that cannot be used; the message names the file and field."""


FAULT_MESSAGE = "simulated failure"
"""What a fault says when its scenario gives no `message`."""


class FaultKind(StrEnum):
    HTTP = "http"  # answer the request with an HTTP error status instead of a stream
    DROP = "drop"  # close the connection abruptly mid-stream
    STALL = "stall"  # stop sending anything, keep the connection open
    ERROR_EVENT = "error_event"  # an in-band error event inside the 200 stream
    MALFORMED = "malformed"  # a chunk whose JSON is broken
    SURROGATE = "surrogate"
    """A text chunk holding a lone surrogate (JSON's `"\\ud800"`), which JSON allows and UTF-8 cannot
    encode: the stream goes on after it, as a model that split a character's UTF-16 halves would."""


@dataclass(frozen=True, slots=True)
class SimToolCall:
    name: str
    arguments: str  # the exact JSON text the model "writes", which may be deliberately invalid
    result: str = ""  # what the agent protocol reports as the tool's output
    custom: bool = False
    """A freeform tool's call (the Responses API's custom tools, as Codex's `exec` and `apply_patch`
    take their input): `arguments` is its raw input text, not JSON."""
    reasoning: str = ""
    """Thinking just before this call: Claude 5.5 models think between tool calls where earlier
    models wrote text, so the Messages API has a thinking block before this tool_use."""

    @property
    def json_object(self) -> dict[str, Any] | None:
        """The arguments as the JSON object a wire format carries (none written: an empty one), or
        None when they are no such object: not JSON, not an object, or numbers JSON has not (`NaN`,
        `Infinity`, `1e999`, which Python reads as infinite). The sim's own reading, not lfg's."""
        if not self.arguments.strip():
            return {}
        try:
            value = json.loads(self.arguments)
            json.dumps(value, allow_nan=False)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class SimCall:
    """What the model answers to one model call. The request carrying the tool results of call N
    gets the answer of call N+1."""

    reasoning: str = ""
    text: str = ""
    tool_calls: tuple[SimToolCall, ...] = ()
    redacted: bool = False
    """Anthropic: the safety systems sealed part of the thinking, so a `redacted_thinking` block
    (opaque `data`, verifiable by the sim) comes first."""
    stop_reason: str = ""
    """How the call ends, one of `STOP_REASONS` in each wire format's own shape ("": as it would
    anyway, calling tools or not). Its text is what arrived before it: for a `refusal`, the refusal."""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    call: int = 0
    after_tokens: int = 0
    status: int = 500
    retry_after: float | str | None = None  # seconds, or an HTTP-date sent as it is
    message: str = FAULT_MESSAGE
    times: int | None = None  # only the first N requests that reach this fault; None means always


@dataclass(frozen=True, slots=True)
class PromptCache:
    """What the provider's prompt cache did for each request, as the usage reports it: tokens read from
    it and written to it, on top of the prompt's own (estimated) size."""

    read: int = 0
    write: int = 0


NO_PROMPT_CACHE = PromptCache()


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str = ""
    ttft_ms: float = 300.0
    tokens_per_s: float = 50.0
    keepalive_ms: float = 0.0  # send SSE comment heartbeats this often while the stream is idle
    repeat: int = 1  # repeat each call's text this many times (long answers at a chosen rate)
    chunk_chars: int = 0  # stream text in pieces of this many characters instead of word tokens (0)
    thought_tokens: int = 0
    """The tokens each call's thinking stands for (0: a token a word): its text is then the summary a
    summarising API shows (Anthropic's `display: "summarized"`, Responses' reasoning summary), a few
    sparse chunks paced over the time the whole thinking takes, and the usage counts it whole."""
    endless: bool = (
        False  # past the script, repeat the last call with its tool calls (a model that never stops)
    )
    calls: tuple[SimCall, ...] = (SimCall(text="Hello from the lfg simulator."),)
    faults: tuple[Fault, ...] = ()
    cache_read_tokens: int = 0  # the prompt cache each request's usage reports (see PromptCache)
    cache_write_tokens: int = 0
    late_tool_input: int = 0
    """1: the sim ACP agent announces each tool call bare (no title, no input) and gives its title,
    kind, locations and input in later `tool_call_update`s, as Claude Code does."""
    ratelimit_requests: int = 0
    ratelimit_tokens: int = 0
    """The account's quota of requests and of tokens (prompt and answer) a window (0: none), counted
    over every request of this scenario and told in the provider's rate-limit headers (sim/quota.py)."""
    ratelimit_window_ms: float = 60_000.0
    ratelimit_retry_after: int = 1
    """0: a 429 past the quota names its reset only in the rate-limit headers, with no Retry-After."""
    ratelimit_spent: int = 0
    """1: each window starts spent, as if other clients of the account took it all: every request
    meets the 429 (its headers and Retry-After naming the window's end) until the window ends."""
    gateway: int = 0
    """1: answer as a LiteLLM proxy in front of the provider relays it: the rate-limit headers and the
    Retry-After (of the quota's 429s and of a fault's) each only under `llm_provider-`."""
    prompt_caching: int = 0
    """1: the sim caches each request's prefix as the real APIs do (sim/prompt_cache.py): a later
    request with the same model, system prompt and tools reads it, one that changed them writes it."""
    sent_usage: tuple[tuple[str, str], ...] = ()
    """(field of `SENT_USAGE`, JSON text): values the usage reports in place of the sim's counts."""
    elicit: str = ""
    """JSON text of the question the sim ACP agent asks first (`{"message": ..., "schema": {...}}`),
    from the file's `[elicit]`; "" asks none."""
    variants: tuple[str, ...] = ()
    """Other scenarios this one plays in turn (a file's `variants`, which then needs no [[call]]): each
    new conversation is answered as the next of them, round robin, and each later call as the one
    whose answers the conversation carries (sim/server.py), so `attempts = N` of one model take
    different paths, as real attempts do."""

    @property
    def usage_values(self) -> dict[str, Any]:
        """The values `sent_usage` sends, by field, as the client's JSON parser will read them."""
        return {name: json.loads(text) for name, text in self.sent_usage}

    @property
    def prompt_cache(self) -> PromptCache:
        return PromptCache(read=self.cache_read_tokens, write=self.cache_write_tokens)

    def echoing(self, echoes: Echoes) -> Scenario:
        """This scenario with its calls' placeholders filled from a request's `echoes`; a request that
        carries no tool results (the agent protocols, whose agent runs no real tools) gets the
        results its script gives."""
        if not any("{{" in call.text or "{{" in call.reasoning for call in self.calls):
            return self
        if not echoes.results:
            scripted = tuple(tool.result for call in self.calls for tool in call.tool_calls)
            echoes = replace(echoes, results=scripted)
        calls = tuple(
            replace(call, text=echoes.fill(call.text), reasoning=echoes.fill(call.reasoning))
            for call in self.calls
        )
        return replace(self, calls=calls)

    def call(self, index: int) -> SimCall:
        """The answer to model call `index`; past the script, the last one (its tool calls only if
        endless)."""
        if index < len(self.calls):
            call = self.calls[index]
        else:
            call = self.calls[-1] if self.endless else replace(self.calls[-1], tool_calls=())
        if self.repeat > 1:
            call = replace(call, text=call.text * self.repeat)
        return call


OPTION_TYPES: dict[str, type] = {
    "ttft_ms": float,
    "tokens_per_s": float,
    "keepalive_ms": float,
    "repeat": int,
    "chunk_chars": int,
    "thought_tokens": int,
    "cache_read_tokens": int,
    "cache_write_tokens": int,
    "late_tool_input": int,
    "ratelimit_requests": int,
    "ratelimit_tokens": int,
    "ratelimit_window_ms": float,
    "ratelimit_retry_after": int,
    "ratelimit_spent": int,
    "gateway": int,
    "prompt_caching": int,
}
FILE_ONLY_TYPES: dict[str, type] = {"endless": bool}
STOP_REASONS = ("refusal", "pause_turn", "max_tokens", "content_filter", "model_context_window_exceeded")
"""How a scenario's call may end besides as it would anyway (`SimCall.stop_reason`). Each wire format
sends it in its own shape: Anthropic's `stop_reason` says each as it is; Chat Completions sends a
refusal as `delta.refusal` (finish reason `stop`), `content_filter` as it is and the two limits as
`length`; the Responses API a refusal as a `refusal` content part and the rest as an incomplete
response (`content_filter`, else `max_output_tokens`). `pause_turn` is Anthropic's alone (the OpenAI
wires end the call as they would anyway)."""
SENT_USAGE = ("input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens", "cache_write_tokens")
"""The usage fields a model name may set to any JSON value with `usage_FIELD=JSON`: each wire format
sends it in its own field for that count (Anthropic reports no reasoning count)."""
OLD_CALL = "turn"
"""What a scenario file called `call` (a `[[call]]` table, a fault's `call`) before model calls got
their name; still read."""

_TOKEN = re.compile(r"\s*[^\s]{1,8}|\s+")


_ECHO = re.compile(
    r"\{\{ *(result\.([1-9][0-9]*)(\.inline)?|prompt(\.last_line)?|ranking(\.reversed)?) *\}\}"
)


@dataclass(frozen=True, slots=True)
class Echoes:
    """What of a request a scenario's text may quote: the first and last user messages and the tool
    results."""

    prompt: str = ""
    results: tuple[str, ...] = ()
    opening: str = ""
    """The conversation's first user message (a judge's: the contestants, however often it was asked)."""
    answers: tuple[str, ...] = ()
    """The text of each answer the conversation carries (the model's earlier calls), in order."""

    def fill(self, text: str) -> str:
        """`text` with each placeholder replaced (a result the conversation lacks: empty)."""
        return _ECHO.sub(self._value, text) if "{{" in text else text

    def _value(self, match: re.Match[str]) -> str:
        if match.group(1).startswith("ranking"):
            return ranking(self.opening or self.prompt, reverse=match.group(5) is not None)
        if match.group(2) is not None:
            number = int(match.group(2))
            result = self.results[number - 1] if number <= len(self.results) else ""
            return (
                ", ".join(line for line in result.splitlines() if line.strip()) if match.group(3) else result
            )
        if match.group(4):
            return next((line for line in reversed(self.prompt.splitlines()) if line.strip()), "")
        return self.prompt


def split_tokens(text: str, chunk_chars: int = 0) -> list[str]:
    """Cut text into token-sized pieces (a word with its leading space, long words in 8-char cuts),
    or with `chunk_chars` into pieces of that many characters (huge answers in few chunks)."""
    if chunk_chars > 0:
        return [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)]
    return _TOKEN.findall(text)


def _check_keys(where: str, table: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ScenarioError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _tool_call(where: str, table: dict[str, Any]) -> SimToolCall:
    _check_keys(where, table, {"name", "arguments", "arguments_raw", "input", "result", "reasoning"})
    if "name" not in table:
        raise ScenarioError(f"{where}: missing field 'name'")
    if "input" in table and ({"arguments", "arguments_raw"} & set(table)):
        raise ScenarioError(f"{where}: input is a freeform tool's whole input; give it without arguments")
    if "input" in table:
        arguments = str(table["input"])
    elif "arguments_raw" in table:
        arguments = str(table["arguments_raw"])
    else:
        arguments = json.dumps(table.get("arguments", {}))
    return SimToolCall(
        name=str(table["name"]),
        arguments=arguments,
        result=str(table.get("result", "")),
        custom="input" in table,
        reasoning=str(table.get("reasoning", "")),
    )


def _renamed(where: str, table: dict[str, Any]) -> dict[str, Any]:
    """The table with `turn`, the old name of `call`, read as `call`; both at once is an error."""
    if OLD_CALL not in table:
        return table
    if "call" in table:
        raise ScenarioError(f"{where}: {OLD_CALL} is the old name of call, which is set too; keep only call")
    return {("call" if key == OLD_CALL else key): value for key, value in table.items()}


def _call(where: str, table: dict[str, Any]) -> SimCall:
    _check_keys(where, table, {"reasoning", "text", "tool_call", "stop_reason", "redacted"})
    tool_calls = tuple(
        _tool_call(f"{where}.tool_call[{i}]", call) for i, call in enumerate(table.get("tool_call", []))
    )
    stop_reason = table.get("stop_reason", "")
    if stop_reason and stop_reason not in STOP_REASONS:
        raise ScenarioError(f"{where}.stop_reason: must be one of {', '.join(STOP_REASONS)}")
    return SimCall(
        reasoning=str(table.get("reasoning", "")),
        text=str(table.get("text", "")),
        tool_calls=tool_calls,
        stop_reason=stop_reason,
        redacted=_typed(f"{where}.redacted", table.get("redacted", False), bool),
    )


def _fault(where: str, table: dict[str, Any]) -> Fault:
    table = _renamed(where, table)
    _check_keys(where, table, {"kind", "call", "after_tokens", "status", "retry_after", "message", "times"})
    try:
        kind = FaultKind(table.get("kind", ""))
    except ValueError:
        kinds = ", ".join(k.value for k in FaultKind)
        raise ScenarioError(f"{where}.kind: must be one of {kinds}") from None
    return Fault(
        kind=kind,
        call=int(table.get("call", 0)),
        after_tokens=int(table.get("after_tokens", 0)),
        status=int(table.get("status", 500)),
        retry_after=_retry_after(table.get("retry_after")),
        message=str(table.get("message", FAULT_MESSAGE)),
        times=int(table["times"]) if "times" in table else None,
    )


def _retry_after(value: Any) -> float | str | None:
    """A fault's Retry-After: a number of seconds, or a string (an HTTP-date) sent as written."""
    return value if value is None or isinstance(value, str) else float(value)


def _typed(where: str, value: Any, kind: type) -> Any:
    """A TOML value checked against the field's type (ints are fine where numbers are wanted)."""
    if kind is bool:
        ok, wanted = isinstance(value, bool), "true or false"
    else:
        allowed = int if kind is int else int | float
        ok, wanted = isinstance(value, allowed) and not isinstance(value, bool), kind.__name__
    if not ok:
        raise ScenarioError(f"{where}: expected {wanted}, got {value!r}")
    return kind(value)


def parse_scenario(name: str, text: str, source: str) -> Scenario:
    """Build a scenario from TOML text; errors name `source` and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    data = _renamed(source, data)
    _check_keys(
        source, data, {"description", "call", "fault", "variants", "elicit", *OPTION_TYPES, *FILE_ONLY_TYPES}
    )
    variants = data.get("variants", [])
    if not isinstance(variants, list) or not all(isinstance(v, str) and v for v in variants):
        raise ScenarioError(f"{source}: variants: expected a list of scenario names")
    calls = tuple(_call(f"{source}: call[{i}]", c) for i, c in enumerate(data.get("call", [])))
    if not calls and not variants:
        raise ScenarioError(f"{source}: a scenario needs at least one [[call]] (or its variants)")
    faults = tuple(_fault(f"{source}: fault[{i}]", f) for i, f in enumerate(data.get("fault", [])))
    types = OPTION_TYPES | FILE_ONLY_TYPES
    options = {key: _typed(f"{source}: {key}", data[key], types[key]) for key in types if key in data}
    return Scenario(
        name=name,
        description=str(data.get("description", "")),
        elicit=_elicit(f"{source}: elicit", data.get("elicit")),
        calls=calls or Scenario.calls,
        faults=faults,
        variants=tuple(variants),
        **options,
    )


def _elicit(where: str, table: Any) -> str:
    """The `[elicit]` table as JSON text: a `message` and a `schema` table (the form's JSON Schema)."""
    if table is None:
        return ""
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table with message and schema")
    _check_keys(where, table, {"message", "schema"})
    if not isinstance(table.get("message"), str) or not isinstance(table.get("schema"), dict):
        raise ScenarioError(f"{where}: needs a message (text) and a schema (a table)")
    return json.dumps({"message": table["message"], "schema": table["schema"]})


def user_scenario_dir() -> Path:
    return Path(platformdirs.user_config_dir("lfgtui")) / "scenarios"


@dataclass
class ScenarioLibrary:
    """The built-in scenarios plus any in `extra_dirs` (later directories win on a name clash)."""

    extra_dirs: tuple[Path, ...] = field(default_factory=lambda: (user_scenario_dir(),))

    def _files(self) -> Iterator[tuple[str, Traversable, str]]:
        """Each scenario file's name, the file and where it is said to be from, unread: the sim asks
        for every request, and only the one it plays is read (each request sees the folders as they
        are now, so a scenario written meanwhile is played)."""
        for entry in resources.files("lfgtui.sim").joinpath("scenarios").iterdir():
            if entry.name.endswith(".toml"):
                yield entry.name.removesuffix(".toml"), entry, f"built-in {entry.name}"
        for folder in self.extra_dirs:
            if folder.is_dir():
                for path in sorted(folder.glob("*.toml")):
                    yield path.stem, path, str(path)

    def names(self) -> list[str]:
        return sorted({name for name, _, _ in self._files()})

    def resolve(self, model: str) -> Scenario:
        """The scenario a model name asks for, with any `:key=value,...` options applied."""
        name, _, option_text = model.partition(":")
        found = None
        for stem, file, source in self._files():
            if stem == name:
                found = (file, source)
        if found is None:
            raise ScenarioError(f"unknown sim model {name!r}; available: {', '.join(self.names())}")
        file, source = found
        try:
            text = file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{source}: cannot be read as UTF-8 text ({exc})") from None
        scenario = parse_scenario(name, text, source)
        return replace(scenario, **_parse_options(model, option_text)) if option_text else scenario


def _parse_options(model: str, text: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    sent: dict[str, str] = {}
    usage_keys = [f"usage_{name}" for name in SENT_USAGE]
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if sep and key in usage_keys:
            try:
                json.loads(value)
            except ValueError:
                raise ScenarioError(
                    f"model {model!r}: option {key} needs a JSON value, got {value!r}"
                ) from None
            sent[key.removeprefix("usage_")] = value
            continue
        if not sep or key not in OPTION_TYPES:
            names = ", ".join([*OPTION_TYPES, *usage_keys])
            raise ScenarioError(f"model {model!r}: bad option {item!r}; options are {names} as key=value")
        try:
            options[key] = OPTION_TYPES[key](value)
        except ValueError:
            raise ScenarioError(f"model {model!r}: option {key} needs a number, got {value!r}") from None
    if sent:
        options["sent_usage"] = tuple(sent.items())
    return options
