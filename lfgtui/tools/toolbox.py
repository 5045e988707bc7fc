"""What one ticket's agent may call: its tools, where they run, and who approves the risky ones.

lfg's own tool loop runs a model's tool calls through a `Toolbox`; a coding agent's file writes go
through one too, so the same confinement and the same approval hold for both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from lfgtui.events import ToolCallReady
from lfgtui.tools.base import Tool, ToolContext, ToolOutcome, run_tool

Approve = Callable[[ToolCallReady], Awaitable[str | None]]
"""Asks whether a tool call that needs approval may run: None if yes, else the reason it may not."""


@dataclass(frozen=True, slots=True)
class Toolbox:
    """The tools one ticket may use, where they run, and who approves the risky ones."""

    tools: Mapping[str, Tool]
    ctx: ToolContext
    approve: Approve

    async def execute(self, call: ToolCallReady) -> ToolOutcome:
        tool = self.tools.get(call.name)
        if tool is None:
            available = ", ".join(sorted(self.tools)) or "none"
            return ToolOutcome(
                f"error: unknown tool {call.name!r}; available tools: {available}", is_error=True
            )
        if call.error is not None:
            return ToolOutcome(f"error: {call.error}", is_error=True)
        if tool.needs_approval:
            refusal = await self.approve(call)
            if refusal is not None:
                return ToolOutcome(f"denied: {refusal}", is_error=True)
        return await run_tool(tool, call.arguments, self.ctx)
