"""A coding agent's details in its pane: its mode, settings, MCP servers and slash commands, folded
under one line.

Agents resend these (a command list per session, a mode per change); shown once here, they never
crowd the answer or the notices. The MCP servers are the ticket's, shown from the start.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import Collapsible, Static

from lfgtui.config.mcp import McpServer
from lfgtui.events import AgentDetails
from lfgtui.formats import plural
from lfgtui.inert import inert
from lfgtui.ui.widgets.tool_log import folded


def details_text(details: AgentDetails | None, servers: tuple[McpServer, ...] = ()) -> Text:
    """Mode and settings a line each, the MCP servers the session is given, then every command
    with what it does."""
    lines: list[Text] = []
    if details is not None and details.mode is not None:
        lines.append(Text.assemble(("mode ", "dim"), inert(details.mode)))
    for setting in details.settings if details else ():
        lines.append(Text.assemble((f"{inert(setting.name)} ", "dim"), inert(setting.value)))
    for server in servers:
        described = ("  " + inert(server.describe()), "dim")
        lines.append(Text.assemble(("MCP ", "dim"), (inert(server.name), "bold"), described))
    for command in details.commands if details else ():
        lines.append(
            Text.assemble((f"/{inert(command.name)}", "bold"), ("  " + inert(command.description), "dim"))
        )
    return Text("\n").join(lines)


def details_summary(details: AgentDetails | None, servers: tuple[McpServer, ...] = ()) -> str:
    """One line: `mode plan · 25 commands · 2 MCP servers` (raw: make it inert to show it)."""
    offered = details is not None and bool(details.mode or details.settings or details.commands)
    parts = [details.summary()] if details is not None and (offered or not servers) else []
    return " · ".join([*parts, *([plural(len(servers), "MCP server")] if servers else [])])


class AgentDetail(Collapsible):
    """Folded: `agent: mode plan · 25 commands · 1 MCP server`; open: all of it. Hidden until the
    agent says any, unless the ticket gives its session MCP servers."""

    def __init__(self, servers: tuple[McpServer, ...] = ()) -> None:
        self.content = Static(classes="agent-detail-body")
        super().__init__(self.content, title="agent", collapsed=True, classes=folded("agent-detail", True))
        self.details: AgentDetails | None = None
        self.servers = servers

    def on_mount(self) -> None:
        self._draw()

    def show(self, details: AgentDetails) -> None:
        self.details = details
        self._draw()

    def clear(self) -> None:
        self.details = None
        self._draw()

    def _draw(self) -> None:
        shown = self.details is not None or bool(self.servers)
        if shown:  # literal: the agent's words, never markup
            self.title = Content(f"agent: {inert(details_summary(self.details, self.servers))}")
            self.content.update(details_text(self.details, self.servers))
        self.display = shown
