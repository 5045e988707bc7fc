"""A ticket's MCP servers as ACP's `session/new` and `session/load` carry them.

Every agent takes stdio servers (ACP requires it); http and sse only when its `initialize` answer
says so (`agentCapabilities.mcpCapabilities`). A server the agent cannot take, or cannot be given
on this machine (its program not found, a variable unset), fails the attempt before any prompt,
naming it: a session without a server the ticket counts on would do other work than asked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from acp import schema

from lfgtui.config.mcp import McpServer, filled_headers, program, unavailable
from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.inert import inert
from lfgtui.providers.base import ProviderError

AcpServer = schema.McpServerStdio | schema.HttpMcpServer | schema.SseMcpServer


def taken(capabilities: schema.McpCapabilities | None) -> tuple[str, ...]:
    """The transports an agent takes MCP servers over: stdio always, http and sse as it says."""
    offered = capabilities or schema.McpCapabilities()
    return ("stdio", *(["http"] if offered.http else []), *(["sse"] if offered.sse else []))


def session_servers(
    servers: Sequence[McpServer],
    capabilities: schema.McpCapabilities | None,
    env: Mapping[str, str] = os.environ,
) -> list[AcpServer]:
    """The servers as the agent gets them, their variables' values taken from `env` (lfg's own
    environment); raises `ProviderError` (bad_request) for the first it cannot be given."""
    takes = taken(capabilities)
    given: list[AcpServer] = []
    for server in servers:
        name = inert(server.name)
        if server.transport not in takes:
            message = (
                f"the agent cannot take MCP server {name!r} ({server.transport}): it takes "
                f"{' and '.join(takes)} servers only (the mcpCapabilities of its initialize answer); "
                f"take it out of the ticket's mcp_servers, or define [mcp_servers.{name}] with a transport "
                "the agent takes"
            )
            raise ProviderError(ErrorInfo(ErrorKind.BAD_REQUEST, message))
        if (problem := unavailable(server, env)) is not None:
            message = f"MCP server {name!r} cannot be given to the agent: {inert(problem)}"
            raise ProviderError(ErrorInfo(ErrorKind.BAD_REQUEST, message))
        given.append(_acp(server, env))
    return given


def _acp(server: McpServer, env: Mapping[str, str]) -> AcpServer:
    if server.transport == "stdio":
        path = program(server, env)
        assert path is not None  # `unavailable` said it is found
        values = [schema.EnvVariable(name=name, value=env[name]) for name in server.env]
        return schema.McpServerStdio(name=server.name, command=path, args=list(server.args), env=values)
    headers = [schema.HttpHeader(name=name, value=value) for name, value in filled_headers(server, env)]
    if server.transport == "http":
        return schema.HttpMcpServer(type="http", name=server.name, url=server.url, headers=headers)
    return schema.SseMcpServer(type="sse", name=server.name, url=server.url, headers=headers)


def given_line(servers: Sequence[McpServer], method: str) -> str:
    """What the pane and the history are told: which servers the session was given, how."""
    names = ", ".join(f"{inert(server.name)} ({server.transport})" for server in servers)
    return f"MCP servers given to the agent ({method}): {names}"
