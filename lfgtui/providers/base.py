"""What every provider adapter shares: the conversation it is given, the failure it raises.

An adapter streams one model call. It yields events as they arrive and, on a failure, raises
`ProviderError` after whatever it already yielded, so the caller keeps the partial output.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from lfgtui.turns import ProviderTurn

if TYPE_CHECKING:  # config/load.py reads provider configs: it need not make every event class
    from lfgtui.events import ErrorInfo, ErrorKind, Event, EventFactory


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: its name, what it does, and a JSON schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str


@dataclass(frozen=True, slots=True)
class UserMessage:
    text: str


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    """One model call's answer. `turn`, when the provider said parts that must come back verbatim
    (turns.py), is the whole answer as it said it: an adapter of its wire sends that instead of
    rebuilding the answer from `text` and `tool_calls`, when the call goes to the same provider and
    model."""

    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    turn: ProviderTurn | None = None


@dataclass(frozen=True, slots=True)
class ToolResultMessage:
    call_id: str
    name: str
    output: str
    is_error: bool = False


Message = UserMessage | AssistantMessage | ToolResultMessage


@dataclass(frozen=True, slots=True)
class Reasoning:
    """How much a model reasons and whether the person sees it (`effort`, `thinking`,
    `show_thinking` on a ticket, `[defaults]` or a provider), each None where nothing was said: the
    model's own default. An adapter puts them in its wire's terms (providers/reasoning.py)."""

    effort: str | None = None
    """As the model's API names it: `low`, `medium`, `high`, ... (`none`: no reasoning at all)."""
    thinking: str | None = None
    """`adaptive` (the model decides how much) or `off`."""
    show_thinking: bool | None = None
    """Whether the model is asked for its thinking to show (None: yes, where the API can say)."""

    def over(self, other: Reasoning) -> Reasoning:
        """These settings, each one left unset taken from `other` (a ticket's over its provider's)."""
        return Reasoning(
            self.effort if self.effort is not None else other.effort,
            self.thinking if self.thinking is not None else other.thinking,
            self.show_thinking if self.show_thinking is not None else other.show_thinking,
        )


@dataclass(frozen=True, slots=True)
class ModelCall:
    """Everything one request to a model needs, independent of the wire protocol."""

    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    reasoning: Reasoning = field(default_factory=Reasoning)


MAX_PRICE_PER_MTOK = 1_000_000
"""The highest price lfg takes, in USD per million tokens (a dollar a token): far above any model's,
and low enough that a typo (`1e308`) is refused rather than printed as 300 digits."""


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A provider's own prices in USD per million tokens (`[providers.NAME] prices`), used instead of
    the price database; cache reads and writes cost what input costs unless given."""

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """A coding agent's own settings (a provider of kind `acp`): how it is started, what it is
    given, how it logs in. Kept apart from what every provider has, so that a model API's config
    carries none of them."""

    command: tuple[str, ...] = ()
    """Its command line; `{model}` is replaced by the ticket's model."""
    env: tuple[str, ...] = ()
    """Environment variables it gets besides the safe allowlist (its keys)."""
    install: str | None = None
    """Built-in agents only: what to install when its command is missing."""
    auth_method: str | None = None
    """The ACP auth method lfg asks for before a session (None: the agent's own login, else the
    first method whose variables are set once the agent asks to log in)."""
    auth_vars: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Built-in agents only: the variables each of its auth methods reads (any one of them logs it
    in), for agents that do not list them in `initialize` (Codex names none)."""
    login: str | None = None
    """Built-in agents only: the command a person runs to log in, quoted when it asks to."""
    model_env: str | None = None
    """Its own variable for the model, set to the ticket's model at start."""
    mcp_start_env: str | None = None
    """Its own variable for how long it gives an MCP server to start, in milliseconds (Claude Code's
    `MCP_TIMEOUT`, 30 s unset): when lfg gives its session MCP servers (a lead's door, the ticket's
    `mcp_servers`) and the person's environment sets none, lfg sets it to `MCP_START_MS`, so that a
    server still starting on a busy machine is connected, not dropped with its tools."""
    mode: str | None = None
    """The session mode lfg sets when a ticket names none: the person's approval mode, so for the
    built-in agents the one where the agent asks before it edits or runs anything (None: `default`
    where the agent offers it; see run/agents/choices.py)."""
    yes_mode: str | None = None
    """The mode lfg sets instead under `--yes` (None: `--yes` leaves the mode as above, the agent
    asks, and lfg answers yes to each request, recorded as any approval)."""
    nice: int = 10
    """How much lower than lfg's its CPU priority is (0 to 19; 0: as lfg's), so that busy agents
    leave the UI its share."""
    unsandboxed_modes: tuple[str, ...] | None = None
    """Built-in agents only: for an agent that runs each command in a sandbox of its own (Codex's
    bubblewrap), the modes in which it does not; None for one that never does. A boxed ticket in any
    other mode needs a box that sandbox can start in (tools/nesting.py), else it fails at start."""


class OnQuota(StrEnum):
    """What a ticket does when its provider holds its request for a quota (a 429's pause, a quota its
    headers said is spent): wait for the reset, move to its next fallback link, or pause until the
    person resumes it (run/calls.py)."""

    WAIT = "wait"
    FALLBACK = "fallback"
    PAUSE = "pause"


MAX_HOLD_S = 600.0
"""The longest anything a provider says holds its requests, unless its `max_hold_s` says otherwise: a
429's Retry-After, a rate-limit header's reset (`run/ratelimit.py`). Ten minutes: past a window of a
minute or an hour's quota nothing is worth holding a run for, and a broken header must not stop it."""


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """How to reach one provider. `api_key` is resolved from `api_key_env` and never written anywhere."""

    name: str
    kind: str
    base_url: str | None = None
    api_key_env: str | None = None
    api_key: str | None = field(default=None, repr=False)
    default_model: str | None = None
    ask_model: str | None = None
    """The model `lfg ask` uses when none is named (None: `default_model`): `ask` gives the model no
    tools, so a provider whose default model calls tools names one that answers a plain question
    (the sim's: `hello`)."""
    headers: dict[str, str] = field(default_factory=dict)
    connect_timeout_s: float = 10.0
    idle_timeout_s: float = 60.0
    max_retries: int = 2
    agent: AgentSettings = field(default_factory=AgentSettings)
    """How lfg starts and logs in a coding agent (kind `acp`); left empty for a model API."""
    max_concurrency: int | None = None
    """Model calls of this provider streaming at once, over every ticket of the run (None: no limit)."""
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    """Shared by every ticket of the provider: a token bucket refilled over each minute."""
    max_hold_s: float = MAX_HOLD_S
    """The longest a pause or a quota's reset the provider states holds its requests (`MAX_HOLD_S`)."""
    prices: PriceOverride | None = None
    fallback: tuple[str, ...] = ()
    """Where its tickets go when it fails in a way more waiting will not fix soon ("provider/model",
    in order), unless a ticket names its own `fallback` (run/failover.py)."""
    on_quota: OnQuota | None = None
    """What its tickets do when it holds their requests for a quota, unless a ticket says its own."""
    reasoning: Reasoning = field(default_factory=Reasoning)
    """Its models' reasoning settings, under any a ticket gives (`effort`, `thinking`, `show_thinking`)."""

    def with_agent(self, **changes: Any) -> ProviderConfig:
        """This provider with some of its coding agent's settings changed."""
        return replace(self, agent=replace(self.agent, **changes))


class ProviderError(Exception):
    """A classified failure of one model call."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.describe())
        self.info = info


class Provider(Protocol):
    """One wire protocol, bound to one configured endpoint."""

    config: ProviderConfig

    def stream(self, call: ModelCall, ev: EventFactory) -> AsyncIterator[Event]:
        """Stream one model call as events; raise `ProviderError` on failure."""
        ...

    async def aclose(self) -> None: ...


def parse_tool_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Parse a model's tool-call arguments; an empty string means no arguments.

    Returns the arguments and, when they are not a JSON object, an error for the model to see.
    Only finite numbers are valid: `NaN` and `Infinity` (which Python's json accepts but JSON does
    not) and numbers too big for a float (`1e999`) would make a timeout expire at once and reach
    `lfg run --json` output that strict parsers reject.
    """
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except ValueError as exc:  # JSONDecodeError is one
        return {}, f"tool arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return {}, f"tool arguments must be a JSON object, got {type(value).__name__}"
    return value, None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


def status_error_kind(status: int) -> ErrorKind:
    """Map an HTTP status to what it means for the user."""
    from lfgtui.events import ErrorKind

    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status == 529:
        return ErrorKind.OVERLOADED
    if status == 408:
        return ErrorKind.TIMEOUT
    if status >= 500:
        return ErrorKind.SERVER
    return ErrorKind.BAD_REQUEST


GATEWAY_PREFIX = "llm_provider-"
"""How a LiteLLM proxy relays its upstream provider's response headers: each under this prefix
(`llm_provider-retry-after`, `llm_provider-x-ratelimit-reset-requests`); on a 429 it sends the
provider's wait and resets only so spelled."""


def relayed(headers: Mapping[str, str], name: str) -> str | None:
    """A provider's header `name` as it sent it, else as a gateway relayed it (`GATEWAY_PREFIX`)."""
    value = headers.get(name)
    return headers.get(GATEWAY_PREFIX + name) if value is None else value


def stated_wait(headers: Mapping[str, str] | None) -> float | None:
    """Seconds an error response asks to wait: `retry-after-ms` (which the official SDKs read first,
    as Azure sends it), else `retry-after`, each as the provider or a gateway spelled it."""
    if headers is None:
        return None
    millis = relayed(headers, "retry-after-ms")
    if millis is not None:
        try:
            seconds = float(millis) / 1000
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return parse_retry_after(relayed(headers, "retry-after"))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (RFC 9110, 10.2.3): delay-seconds, or an HTTP-date counted
    from now (0 when it has passed); None when it is neither. How long is honoured is the caller's."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _until_http_date(text)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _until_http_date(text: str) -> float | None:
    import email.utils  # only for the rare date form
    import time
    from datetime import UTC

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP-date is always in GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())
