"""The wire protocols the sim server speaks, one module each."""

from __future__ import annotations

from lfgtui.sim.protocols.agent import AgentProtocol
from lfgtui.sim.protocols.anthropic import AnthropicProtocol
from lfgtui.sim.protocols.gemini import gemini_route
from lfgtui.sim.protocols.openai_chat import OpenAIChatProtocol
from lfgtui.sim.protocols.openai_responses import OpenAIResponsesProtocol
from lfgtui.sim.wire import WireProtocol


def default_protocols() -> list[WireProtocol]:
    return [OpenAIChatProtocol(), AnthropicProtocol(), AgentProtocol(), OpenAIResponsesProtocol()]


def routed_protocol(path: str) -> WireProtocol | None:
    """A protocol whose paths carry a parameter (Gemini's model and method), or None."""
    return gemini_route(path)
