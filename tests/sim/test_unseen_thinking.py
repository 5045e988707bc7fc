"""Thinking that streams unseen (`show_thinking = false`: Anthropic's `display: "omitted"`) takes its
time with nothing but the API's `ping` events on the wire, and those keep lfg's idle timeout
(`idle_timeout_s`, the longest gap between two bytes) from ending a long think as `timeout`.

Ten minutes of hidden thinking run on a fake clock: a loop whose time jumps to its next timer
whenever no socket has anything to read, and the sim paced by that same clock, so the test takes
a moment and both sides see the whole ten minutes."""

from __future__ import annotations

import asyncio
import selectors
import types
from typing import Any

import pytest

from lfgtui.providers.anthropic import AnthropicProvider
from lfgtui.providers.base import ModelCall, ProviderConfig, Reasoning, UserMessage
from lfgtui.sim import server as sim_server
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from tests.support.streams import collect

HIDDEN_S = 600.0
"""Ten minutes of thinking, never shown."""


class _JumpingSelector:
    """A selector that, when nothing is ready to read and the loop would sleep, moves the fake clock
    to when the loop's next timer is due instead of sleeping."""

    def __init__(self, selector: selectors.BaseSelector, loop: FakeClockLoop) -> None:
        self._selector, self._loop = selector, loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = self._selector.select(0)
        if ready or timeout == 0:
            return ready
        ready = self._selector.select(0.002)  # bytes just written on loopback, a thread's wake-up
        if ready or timeout is None:
            return ready or self._selector.select(None)
        self._loop.now += timeout
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._selector, name)


class FakeClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self._selector = _JumpingSelector(self._selector, self)  # type: ignore[assignment]

    def time(self) -> float:
        return self.now


def test_ten_minutes_of_unseen_thinking_stay_alive_on_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = FakeClockLoop()
    monkeypatch.setattr(sim_server, "time", types.SimpleNamespace(monotonic=loop.time))
    scenario = f"deep-thought:ttft_ms=0,tokens_per_s=10,thought_tokens={int(HIDDEN_S * 10)}"

    async def think() -> tuple[Any, Any]:
        rules = (ModelRule("*", scenario),)
        async with SimServer(ScenarioLibrary(extra_dirs=()), models=ModelMap(rules)) as sim:
            config = ProviderConfig(name="anthropic", kind="anthropic", base_url=sim.url, idle_timeout_s=60.0)
            call = ModelCall(
                model="claude-sonnet-5-5",
                messages=(UserMessage("Which design?"),),
                reasoning=Reasoning(show_thinking=False),
            )
            return await collect(AnthropicProvider(config), call), sim.log[-1]

    try:
        out, record = loop.run_until_complete(think())
    finally:
        loop.close()
    assert out.error is None, f"a long unseen think ended: {out.error}"
    thought = record.token_times[int(HIDDEN_S * 10) - 1] - record.paced_from
    assert thought >= HIDDEN_S - 1, "the thinking took its ten minutes on the sim's clock"
    assert record.ended_at - record.paced_from > HIDDEN_S
