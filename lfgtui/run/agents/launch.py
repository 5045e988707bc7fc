"""How to start one coding agent (`AgentLaunch`): its command line, environment and limits, and
the ticket's mode, MCP servers and folders."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lfgtui.config.mcp import McpServer
from lfgtui.providers.base import ProviderConfig
from lfgtui.run.agents.choices import wanted


@dataclass(frozen=True)
class LeadDoor:
    """A lead ticket's way to its run (remote/leads.py): the MCP server its session is given, and the
    socket and its token file, which its box must show (the socket to connect through, the token
    read-only)."""

    server: McpServer
    socket: Path
    token_file: Path


@dataclass(frozen=True)
class AgentLaunch:
    """How to start one agent: its command line (with `{model}` filled in), environment and limits,
    and the ticket's mode and MCP servers."""

    config: ProviderConfig
    env: Mapping[str, str]
    mode: str | None = None
    mcp_servers: tuple[McpServer, ...] = ()
    yes: bool = False
    """The run's `--yes`: the provider's `yes_mode`, where it names one, is the mode then."""
    resume: str | None = None
    """The ticket's `resume_session`: the agent's own session a new session of it continues."""
    trace_context: Callable[[], dict[str, str]] = dict
    """The W3C trace context of the attempt's open request (a traced run's): each prompt carries it
    in its `_meta`, as ACP's meta-propagation RFD says, so the agent's spans nest under lfg's."""
    additional_directories: tuple[Path, ...] = ()
    """The ticket's folders beside its workdir (ACP `additionalDirectories`), absolute and resolved:
    sent on every request that opens the session, where lfg's file and terminal requests are
    confined too."""

    def command(self, model: str) -> list[str]:
        return [part.replace("{model}", model) for part in self.config.agent.command]

    def environment(self, model: str) -> dict[str, str]:
        """Its environment, with the ticket's model in the agent's own model variable if it has one."""
        chosen = wanted(self.config, model, self.mode).model
        variable = self.config.agent.model_env
        return {**self.env, variable: chosen} if variable and chosen else dict(self.env)
