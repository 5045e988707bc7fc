"""The wire protocols the sim server speaks, one module each."""

from __future__ import annotations

from lfgtui.sim.protocols.openai_chat import OpenAIChatProtocol
from lfgtui.sim.wire import WireProtocol


def default_protocols() -> list[WireProtocol]:
    return [OpenAIChatProtocol()]
