"""What a provider kind is, in one table: `[providers.NAME] kind` names one of `KINDS`.

Everything that acts by a provider's kind asks its entry here: the config's checks (`config/load.py`),
the adapter a provider is made with (`registry.py` `make_adapter`), whose exceptions are classified
(`errors.py`), where genai-prices looks a kind's price up (`cost/prices.py`), how the telemetry names
it (`telemetry/metered.py`), and whether it is a coding agent, which runs as a process of its own with
its own loop (`run/agents/`) rather than through an adapter and lfg's tool loop. Adding a kind is one
entry; `tests/providers/test_kinds.py` fails for an entry that is missing or does not add up.

Light to import (the config reads it): no SDK and no event class is loaded here, and no adapter: an
entry names its adapter's module and class, which `registry.py` imports when a provider of the kind
is first made (and with it its SDK). So the table is the providers' bottom floor: the adapters and
`errors.py` import it, it imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lfgtui.providers.base import ProviderConfig

SIM_URL = "sim:"
"""A base URL starting with this points at the in-process sim server, whatever its port turns out to be."""


class ErrorMapping(Enum):
    """Where a kind's failures become an `ErrorInfo` a person can act on."""

    SDK = "sdk"
    """`providers/errors.py` `classify`: the official SDK's exceptions (`APIStatusError`,
    `APIConnectionError`, `APITimeoutError`, `APIError`), httpx2's, and a chunk that is not JSON."""
    HTTP = "http"
    """`providers/errors.py` `classify` and `classify_status`, no SDK: httpx2's exceptions and the
    stream's own in-band error events."""
    AGENT = "agent"
    """`run/agents/attempt.py`: the agent's stop reasons, its JSON-RPC errors and its process's end."""


@dataclass(frozen=True, slots=True)
class ProviderKind:
    """One kind of provider. Every field is required, so an entry cannot leave one out."""

    name: str
    """What `[providers.NAME] kind` says."""
    wire: str
    """The protocol it speaks: two kinds of one wire share their SDK, adapter and telemetry name."""
    sdk: str | None
    """The module that speaks the wire, imported only when a provider of the kind is made (None:
    lfg's own httpx2 client)."""
    errors: ErrorMapping
    base_url_env: str | None
    """Where the built-in provider of the kind (`openai`, on the Responses API, and `anthropic`, or a
    `[providers.NAME]` of that name) goes when its config gives no `base_url`, as its SDK would
    (None: no built-in provider is of the kind)."""
    default_base_url: str | None
    """Where a config that gives no `base_url` points (None: the SDK's own endpoint)."""
    needs_base_url: bool
    """A config must give a `base_url`: the kind has no endpoint of its own (an agent service)."""
    price_endpoint: str | None
    """The genai-prices provider of the endpoint the SDK reaches when the config gives no base URL
    (None: never priced from the database, however it is reached: the sim, an agent service or a
    coding agent bill their own way)."""
    telemetry_name: str | None
    """The GenAI conventions' well-known `gen_ai.provider.name`, by the wire (an OpenAI-compatible
    server is reached as OpenAI is); None: telemetry names such a provider by its name in lfg."""
    coding_agent: bool
    """A coding agent's program over ACP: its own process and loop, its own tools and approvals."""
    limits_per_model: bool
    """Its rate limits, and what its rate-limit headers and 429s say, are of the model a request named
    (OpenAI's per model, Anthropic's per model or model class), so lfg holds that model's requests
    only, not the provider's others (`run/ratelimit.py`)."""
    adapter: str | None
    """The adapter that streams a model call, as `module:class` (None: a coding agent, which has
    none). A path, not the class: the kinds stand below the adapters, which ask them how to classify
    their errors; `registry.py` `make_adapter` imports the module when a provider of the kind is
    first made, and with it its SDK."""


KINDS: Mapping[str, ProviderKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            ProviderKind(
                name="openai",
                wire="Chat Completions",
                sdk="openai",
                errors=ErrorMapping.SDK,
                base_url_env=None,
                default_base_url=None,
                needs_base_url=False,
                price_endpoint="openai",
                telemetry_name="openai",
                coding_agent=False,
                limits_per_model=True,
                adapter="lfgtui.providers.openai_chat:OpenAIChatProvider",
            ),
            ProviderKind(
                name="openai-responses",
                wire="Responses",
                sdk="openai",
                errors=ErrorMapping.SDK,
                base_url_env="OPENAI_BASE_URL",
                default_base_url=None,
                needs_base_url=False,
                price_endpoint="openai",
                telemetry_name="openai",
                coding_agent=False,
                limits_per_model=True,
                adapter="lfgtui.providers.openai_responses:OpenAIResponsesProvider",
            ),
            ProviderKind(
                name="anthropic",
                wire="Messages",
                sdk="anthropic",
                errors=ErrorMapping.SDK,
                base_url_env="ANTHROPIC_BASE_URL",
                default_base_url=None,
                needs_base_url=False,
                price_endpoint="anthropic",
                telemetry_name="anthropic",
                coding_agent=False,
                limits_per_model=True,
                adapter="lfgtui.providers.anthropic:AnthropicProvider",
            ),
            ProviderKind(
                name="sse",
                wire="lfg's agent SSE protocol",
                sdk=None,
                errors=ErrorMapping.HTTP,
                base_url_env=None,
                default_base_url=None,
                needs_base_url=True,
                price_endpoint=None,
                telemetry_name=None,
                coding_agent=False,
                limits_per_model=False,
                adapter="lfgtui.providers.sse:AgentSSEProvider",
            ),
            ProviderKind(
                name="sim",
                wire="Chat Completions",
                sdk="openai",
                errors=ErrorMapping.SDK,
                base_url_env=None,
                default_base_url=SIM_URL + "/v1",
                needs_base_url=False,
                price_endpoint=None,
                telemetry_name="openai",
                coding_agent=False,
                limits_per_model=True,
                adapter="lfgtui.providers.openai_chat:OpenAIChatProvider",
            ),
            ProviderKind(
                name="acp",
                wire="ACP",
                sdk="acp",
                errors=ErrorMapping.AGENT,
                base_url_env=None,
                default_base_url=None,
                needs_base_url=False,
                price_endpoint=None,
                telemetry_name=None,
                coding_agent=True,
                limits_per_model=False,
                adapter=None,
            ),
        )
    }
)
"""Every kind by its name, in the order people are told them."""


def kind_of(config: ProviderConfig) -> ProviderKind:
    """The kind of a provider's config (the config's checks let no other kind through)."""
    return KINDS[config.kind]
