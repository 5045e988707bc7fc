"""How to start one coding agent (`AgentLaunch`): its command line, environment and limits, and
the ticket's mode, MCP servers and folders."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lfgtui.config.mcp import McpServer
from lfgtui.providers.base import ProviderConfig
from lfgtui.run.agents.choices import wanted

MCP_START_MS = 60_000
"""How long lfg asks a coding agent to give the MCP servers it gives its session to start: Claude Code
gives one 30 s by default, and on a machine busy with many agents (a `.ci/run`'s, at a load of 10 on
two cores) lfg's own `lfg mcp` took 23 s to connect there, and over 30 s in a CI run, where its lead
then ran without its tools. A minute: Claude Code has been seen to cut longer values at 60 s."""


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
        """Its environment, with the ticket's model in the agent's own model variable if it has one,
        and, where it is given MCP servers, their start-up time in its own variable for it
        (`AgentSettings.mcp_start_env`) unless the person's environment set it."""
        env = dict(self.env)
        chosen = wanted(self.config, model, self.mode).model
        if (variable := self.config.agent.model_env) and chosen:
            env[variable] = chosen
        if (start := self.config.agent.mcp_start_env) and self.mcp_servers and start not in env:
            env[start] = str(MCP_START_MS)
        return env
