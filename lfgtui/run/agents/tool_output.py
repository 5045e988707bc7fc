"""A coding agent's tool call output while the call runs, for its row: a few times a second at most.

A command an agent runs streams its output one of two ways: into a terminal lfg runs for it
(`terminal/*`, embedded in the call by its id), or from the agent itself in its tool call updates'
`_meta`: `terminal_output_delta` (what Codex sends a client like lfg) or Zed's `terminal_output`,
each `{"terminal_id": …, "data": "…"}`, and `terminal_exit` (`exit_code`, `signal`) at the end of
one it shows a terminal for; one it shows none for (a listing, a search) ends with an `exit_code` in
the call's `rawOutput`, and a command refused before it ran ends with neither code nor signal.
Either way each call's new output is held here and goes out as one `ToolOutputDelta` at most every
`OUTPUT_EVERY_S` (the first at once), so a command printing thousands of lines a second costs a few
events, not one per read. What is held, and what the agent's own terminal keeps for the call's
result, is bounded like `run_command`'s output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OUTPUT_EVERY_S = 0.1
"""The least time between two `ToolOutputDelta`s of one call."""
KEPT_CHARS = 64 * 1024
"""The most output held for one call (its last characters), as `run_command` keeps 64 KB."""


@dataclass(frozen=True, slots=True)
class TerminalNews:
    """An inbox item: one of lfg's terminals has output that the calls embedding it have not shown."""

    terminal_id: str


@dataclass(frozen=True, slots=True)
class OutputDue:
    """An inbox item: a call's held output may go now."""

    call_id: str


@dataclass
class Kept:
    """The last `KEPT_CHARS` of a text that grows, and how many characters went before them."""

    text: str = ""
    dropped: int = 0

    def add(self, more: str) -> None:
        text = self.text + more
        excess = len(text) - KEPT_CHARS
        if excess > 0:
            text, self.dropped = text[excess:], self.dropped + excess
        self.text = text

    def whole(self) -> str:
        """The text, after a note of what was dropped before it."""
        note = f"[… {self.dropped} characters of earlier output dropped]\n" if self.dropped else ""
        return note + self.text

    def take(self) -> str:
        """`whole()`, emptied."""
        whole = self.whole()
        self.text, self.dropped = "", 0
        return whole


TERMINAL_KEYS = frozenset({"terminal_info", "terminal_output", "terminal_output_delta", "terminal_exit"})
"""The `_meta` keys of a tool call update that report a command the agent runs itself."""


def _exit_line(code: Any, signal: Any) -> str | None:
    """How a command ended, or None when the agent gives neither a code nor a signal (Codex's way
    for a command that never ran: the person said no, or the turn ended first)."""
    if isinstance(signal, str) and signal:
        return f"[killed by signal {signal}]"
    return f"[exit code {code}]" if isinstance(code, int) and not isinstance(code, bool) else None


def reports_agent_terminal(meta: Any) -> bool:
    """Whether a tool call update's `_meta` says anything of a command the agent runs itself."""
    return isinstance(meta, dict) and not TERMINAL_KEYS.isdisjoint(meta)


@dataclass
class AgentTerminal:
    """The output of a command the agent runs itself, as its updates streamed it, and its ending."""

    output: Kept = field(default_factory=Kept)
    ended: str | None = None

    def take(self, meta: dict[str, Any]) -> str:
        """Take what an update's `_meta` says of the command; returns the output it brought."""
        chunk = meta.get("terminal_output_delta") or meta.get("terminal_output")
        data = chunk.get("data") if isinstance(chunk, dict) else None
        text = data if isinstance(data, str) else ""
        self.output.add(text)
        ending = meta.get("terminal_exit")
        if isinstance(ending, dict):
            self.ended = _exit_line(ending.get("exit_code"), ending.get("signal")) or self.ended
        return text

    def shown(self, raw_output: Any) -> str:
        """What the call's result shows: the output, then how it ended, as `terminal_exit` said, else
        as an `exit_code` in the call's raw output (Codex's way for a command it shows no terminal
        for: a listing, a search). Empty when it never ran."""
        ended = self.ended
        if ended is None and isinstance(raw_output, dict):
            ended = _exit_line(raw_output.get("exit_code"), None)
        text = self.output.whole()
        if ended is None:
            return text
        separator = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{separator}{ended}"


@dataclass
class _Held:
    output: Kept = field(default_factory=Kept)
    sent_at: float = -math.inf
    due: bool = False
    """A wake-up (`OutputDue`) is on its way."""


@dataclass
class Coalescer:
    """Each running call's output, held until it may go: at once when none went for
    `OUTPUT_EVERY_S`, else when `wake(call_id, delay_s)` brings an `OutputDue` (without one, at once)."""

    clock: Callable[[], float]
    wake: Callable[[str, float], None] | None = None
    held: dict[str, _Held] = field(default_factory=dict)

    def hold(self, call_id: str, text: str) -> _Held:
        held = self.held.setdefault(call_id, _Held())
        held.output.add(text)
        return held

    def add(self, call_id: str, text: str) -> str:
        """Hold `text`; returns what may go now (empty: it waits)."""
        held = self.hold(call_id, text)
        wait = held.sent_at + OUTPUT_EVERY_S - self.clock()
        if wait <= 0 or self.wake is None:
            return self.take(call_id)
        if not held.due:
            held.due = True
            self.wake(call_id, wait)
        return ""

    def due(self, call_id: str) -> str:
        """The wake-up came: what was held goes."""
        held = self.held.get(call_id)
        if held is None:
            return ""
        held.due = False
        return self.take(call_id)

    def take(self, call_id: str) -> str:
        held = self.held.get(call_id)
        if held is None or not (held.output.text or held.output.dropped):
            return ""
        held.sent_at = self.clock()
        return held.output.take()

    def end(self, call_id: str) -> str:
        """The call ends: what it still held, and nothing more to hold for it."""
        last = self.take(call_id)
        self.held.pop(call_id, None)
        return last
