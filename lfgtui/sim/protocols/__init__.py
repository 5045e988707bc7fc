"""The wire protocols the sim server speaks, one module each."""

from __future__ import annotations

from lfgtui.sim.protocols.agent import AgentProtocol
from lfgtui.sim.protocols.anthropic import AnthropicProtocol
from lfgtui.sim.protocols.openai_chat import OpenAIChatProtocol
from lfgtui.sim.protocols.openai_responses import OpenAIResponsesProtocol
from lfgtui.sim.wire import WireProtocol


def default_protocols() -> list[WireProtocol]:
    return [OpenAIChatProtocol(), AnthropicProtocol(), AgentProtocol(), OpenAIResponsesProtocol()]
