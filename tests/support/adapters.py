"""Every provider adapter as the fault matrix drives it: its name, how to build it, what it reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lfgtui.events import ErrorKind, Event, Status, Usage
from lfgtui.providers.anthropic import AnthropicProvider
from lfgtui.providers.base import Provider, ProviderConfig
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.providers.openai_responses import OpenAIResponsesProvider
from lfgtui.providers.sse import AgentSSEProvider
from lfgtui.sim.wire import conversation_tag


@dataclass(frozen=True)
class Adapter:
    """One adapter; the fields with defaults are the few things in which adapters legitimately differ."""

    name: str
    kind: str
    path: str  # where the sim serves this wire format, below the server's root URL
    build: Callable[[ProviderConfig], Provider]
    opening: tuple[type[Event], ...] = ()  # what it streams before the first token
    error_event: ErrorKind = ErrorKind.STREAM_ERROR  # what the sim's in-band error event means
    call_ids: str = "call_sim0x"  # the sim's tool call ids in this wire format, less the call's index
    call_suffix: str = ""  # ... and what follows the index (Anthropic: the conversation's tag)
    counts_reasoning: bool = True  # usage reports reasoning_tokens (Anthropic's has no such field)
    runs_tools: bool = False  # an agent runs its own tools and goes on; a model stops for us to run them
    resumes: bool = False  # reconnects after a dropped stream (test_sse_agent.py tests the drop)

    def call_id(self, index: int) -> str:
        """The sim's id of a model call's `index`th tool call, in a conversation that `ask` began."""
        return f"{self.call_ids}{index}{self.call_suffix}"

    def make(self, root_url: str, **fields: Any) -> Provider:
        config = ProviderConfig(name="sim", kind=self.kind, base_url=root_url + self.path, **fields)
        return self.build(config)


def agent_provider(config: ProviderConfig) -> Provider:
    return AgentSSEProvider(config, reconnect_delays_s=(0.01, 0.01, 0.01))


ADAPTERS = [
    Adapter("chat", "openai", "/v1", OpenAIChatProvider),
    Adapter("responses", "openai-responses", "/v1", OpenAIResponsesProvider),
    Adapter(
        "anthropic",
        "anthropic",
        "",
        AnthropicProvider,
        opening=(Usage,),  # message_start carries usage, like the real API
        error_event=ErrorKind.OVERLOADED,  # the sim's error event is typed `overloaded_error`
        call_ids="toolu_sim0x",
        call_suffix="_" + conversation_tag([{"role": "user", "content": "hi"}]),  # `ask`'s prompt
        counts_reasoning=False,
    ),
    Adapter(
        "agent",
        "sse",
        "/agent",
        agent_provider,
        opening=(Status,),  # "agent started"
        call_ids="call_0_",
        runs_tools=True,
        resumes=True,
    ),
]
