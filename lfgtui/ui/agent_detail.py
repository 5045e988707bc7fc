"""A coding agent's details in its pane: its mode, settings and slash commands, folded under one line.

Agents resend these (a command list per session, a mode per change); shown once here, they never
crowd the answer or the notices.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import Collapsible, Static

from lfgtui.events import AgentDetails
from lfgtui.inert import inert


def details_text(details: AgentDetails) -> Text:
    """Mode and settings a line each, then every command with what it does."""
    lines = [] if details.mode is None else [Text.assemble(("mode ", "dim"), inert(details.mode))]
    lines += [Text.assemble((f"{inert(s.name)} ", "dim"), inert(s.value)) for s in details.settings]
    for command in details.commands:
        lines.append(
            Text.assemble((f"/{inert(command.name)}", "bold"), ("  " + inert(command.description), "dim"))
        )
    return Text("\n").join(lines)


class AgentDetail(Collapsible):
    """Folded: `agent: mode plan · 25 commands`; open: all of it. Hidden until the agent says any."""

    def __init__(self) -> None:
        self.content = Static(classes="agent-detail-body")
        super().__init__(self.content, title="agent", collapsed=True, classes="agent-detail")
        self.details: AgentDetails | None = None

    def show(self, details: AgentDetails) -> None:
        self.details = details
        self.title = Content(f"agent: {inert(details.summary())}")  # literal: the agent's words, never markup
        self.content.update(details_text(details))
        self.display = True

    def clear(self) -> None:
        self.details = None
        self.display = False
