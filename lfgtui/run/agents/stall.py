"""When a coding agent goes quiet mid-turn: its idle limit.

An agent that stops making progress (Codex retrying a dead network without end) sends nothing while
its prompt is outstanding, and a spinner alone would spin forever. Silence counts only while nothing
waits for the person: an approval may take as long as they like. Part-way to the limit the attempt
says it is stalled (the pane counts it as waiting for the person); at the provider's
`idle_timeout_s` it fails as `timeout`, keeping what arrived.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

STALL_NOTICE_S = 30.0
"""Silence after which an agent is said to be stalled (half the limit, when that is shorter)."""


@dataclass
class IdleWatch:
    """The silence of one agent session's current turn, paused while the person is asked."""

    limit_s: float
    clock: Callable[[], float] = time.monotonic
    last: float = field(init=False)
    """When the agent last sent something, or the person last answered it."""
    asking: int = 0
    """Approvals and questions waiting for the person now: silence does not count meanwhile."""
    stalled: bool = False

    def __post_init__(self) -> None:
        self.last = self.clock()

    @property
    def notice_s(self) -> float:
        return min(STALL_NOTICE_S, self.limit_s / 2)

    def restart(self) -> None:
        """A new turn: its prompt was just sent."""
        self.last, self.stalled = self.clock(), False

    def heard(self) -> float | None:
        """The agent sent something; returns how long it had been stalled, if it was."""
        now = self.clock()
        idle, self.last = now - self.last, now
        was, self.stalled = self.stalled, False
        return idle if was else None

    def wait_s(self) -> float:
        """How long to wait for the agent before looking at its silence again."""
        if self.asking:
            return self.notice_s
        due = self.last + (self.limit_s if self.stalled else self.notice_s)
        return max(0.0, due - self.clock())

    def idle_s(self) -> float | None:
        """How long the agent has been silent, None while the person is asked."""
        return None if self.asking else self.clock() - self.last

    def pausing(self, ask: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """`ask` (an approval, an agent's question), with the silence paused while it waits for the
        person and counted afresh after."""

        async def asked(*args: P.args, **kwargs: P.kwargs) -> R:
            self.asking += 1
            try:
                return await ask(*args, **kwargs)
            finally:
                self.asking -= 1
                self.last = self.clock()

        return asked
