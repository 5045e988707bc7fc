"""The MCP servers a client gives the sim agent in `session/new` and `session/load`.

The sim agent starts and reaches none of them. It takes stdio servers, and http and sse ones only
when `--mcp` says it advertises them (refusing any other, as a strict agent does), so a client's
capability check can be tested; it says which it got at the start of its answers, and with
`--mcp-record FILE` appends each request's servers, values included, to FILE as a JSON line, so a
test sees exactly what arrived.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import acp
from acp.schema import HttpMcpServer, McpCapabilities, McpServerStdio, SseMcpServer

MCP_TRANSPORTS = ("http", "sse")
"""What `--mcp` may advertise besides stdio, which every agent takes."""


def capabilities(transports: Sequence[str]) -> McpCapabilities:
    return McpCapabilities(http="http" in transports, sse="sse" in transports)


def transport(server: Any) -> str:
    if isinstance(server, HttpMcpServer):
        return "http"
    return "sse" if isinstance(server, SseMcpServer) else "stdio"


def describe(server: Any) -> str:
    """`docs (stdio /usr/bin/docs-mcp --root .; env DOCS_TOKEN)`: names, never values."""
    if isinstance(server, McpServerStdio):
        passed = f"; env {', '.join(v.name for v in server.env)}" if server.env else ""
        return f"{server.name} (stdio {' '.join([server.command, *server.args])}{passed})"
    passed = f"; headers {', '.join(h.name for h in server.headers)}" if server.headers else ""
    return f"{server.name} ({transport(server)} {server.url}{passed})"


def received(
    method: str, servers: Sequence[Any] | None, transports: Sequence[str], record: Path | None
) -> tuple[str, ...]:
    """What a session request brought, each server described; a transport the agent did not
    advertise is refused (invalid params)."""
    given = list(servers or [])
    for server in given:
        if (kind := transport(server)) not in ("stdio", *transports):
            reason = f"this agent does not take {kind} MCP servers (mcpCapabilities)"
            raise acp.RequestError.invalid_params({"mcpServer": server.name, "reason": reason})
    if record is not None:
        line = {
            "method": method,
            "mcpServers": [s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in given],
        }
        with record.open("a") as file:
            file.write(json.dumps(line) + "\n")
    return tuple(describe(server) for server in given)
