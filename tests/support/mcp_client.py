"""The MCP SDK's own client on an `lfg mcp` server started as a session would start it: the command
and its arguments, its stderr kept in a file for the test's failure message."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import InitializeResult


@dataclass(frozen=True)
class McpClient:
    """An initialized session and what the server said when it was initialized."""

    session: ClientSession
    hello: InitializeResult


@contextlib.asynccontextmanager
async def mcp_client(command: str, args: Sequence[str], errlog: Path) -> AsyncIterator[McpClient]:
    params = StdioServerParameters(command=command, args=list(args), env=dict(os.environ))
    with errlog.open("w") as err:
        async with stdio_client(params, errlog=err) as (read, write), ClientSession(read, write) as session:
            yield McpClient(session, await session.initialize())
