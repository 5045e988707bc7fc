"""The wire protocols the sim server speaks, one module each.

Imported when first asked for: the sim's ACP agent (`acp_agent.py`) plays only the agent protocol,
and an agent process is started for every coding-agent attempt a test runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lfgtui.sim.wire import WireProtocol


def default_protocols() -> list[WireProtocol]:
    from lfgtui.sim.protocols.agent import AgentProtocol
    from lfgtui.sim.protocols.anthropic import AnthropicProtocol
    from lfgtui.sim.protocols.openai_chat import OpenAIChatProtocol
    from lfgtui.sim.protocols.openai_responses import OpenAIResponsesProtocol

    return [OpenAIChatProtocol(), AnthropicProtocol(), AgentProtocol(), OpenAIResponsesProtocol()]


def routed_protocol(path: str) -> WireProtocol | None:
    """A protocol whose paths carry a parameter (Gemini's model and method), or None."""
    from lfgtui.sim.protocols.gemini import gemini_route

    return gemini_route(path)
