"""MCP servers a coding agent is given: `[mcp_servers.NAME]` in config.toml, `mcp_servers` on a ticket.

lfg speaks no MCP itself: it hands each server to the agent in ACP's `session/new` and
`session/load`, and the agent starts it (stdio) or reaches it (http, sse). No secret is written in
config.toml: a stdio server's `env` names variables whose values lfg passes from its own
environment, and a header's value may take `${NAME}` from there. What a server needs of this machine
(its program, those variables) is checked when the tickets load and again when a session opens.
A ticket keeps its servers whole, so the history records them and `lfg resume` gives the same ones.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

TRANSPORTS = ("stdio", "http", "sse")
"""How the agent reaches a server: it starts a program (stdio), or it connects to a URL over
streamable HTTP (http) or the older HTTP+SSE transport (sse)."""
NAME = re.compile(r"[A-Za-z0-9_-]+")
"""What a server may be called: agents name its tools after it (Claude Code's `mcp__NAME__tool`)."""
VARIABLE = re.compile(r"\$\{([^}]*)\}")
"""`${NAME}` in a header's value: the value of lfg's environment variable NAME."""


@dataclass(frozen=True, slots=True)
class McpServer:
    """One server as config.toml defines it: a program with its arguments and the names of the
    variables it gets (stdio), or a URL with its headers, whose values may hold `${NAME}`."""

    name: str
    transport: str
    command: str = ""
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    url: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    def variables(self) -> tuple[str, ...]:
        """Every variable of lfg's environment the server takes a value from."""
        named = [found for _, value in self.headers for found in VARIABLE.findall(value)]
        return tuple(dict.fromkeys([*self.env, *named]))

    def describe(self) -> str:
        """One line for people (raw: make it inert to show it); never a variable's value."""
        if self.transport == "stdio":
            where = " ".join([self.command, *self.args])
            passed = f" (env {', '.join(self.env)})" if self.env else ""
        else:
            where = self.url
            passed = f" (headers {', '.join(name for name, _ in self.headers)})" if self.headers else ""
        return f"{self.transport}: {where}{passed}"


def program(server: McpServer, env: Mapping[str, str]) -> str | None:
    """The absolute path of a stdio server's program (ACP asks for one), found on `env`'s PATH."""
    found = shutil.which(server.command, path=env.get("PATH", os.defpath))
    return os.path.abspath(found) if found else None


def unavailable(server: McpServer, env: Mapping[str, str]) -> str | None:
    """Why `server` cannot be given to an agent on this machine (None: it can): its program is not
    found, or a variable it takes a value from is not set."""
    if server.transport == "stdio" and program(server, env) is None:
        return f"its command {server.command!r} is not found on PATH"
    unset = [name for name in server.variables() if not env.get(name)]
    if unset:
        return f"it needs {', '.join(unset)} set in lfg's environment"
    for name, value in filled_headers(server, env):
        if not (value.isascii() and value.isprintable()):
            return f"the value of its header {name!r} is not printable ASCII once filled in"
    return None


def filled_headers(server: McpServer, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """The server's headers with each `${NAME}` replaced by that variable's value ('' when unset)."""
    return [(name, VARIABLE.sub(lambda m: env.get(m.group(1), ""), value)) for name, value in server.headers]


def servers_json(servers: tuple[McpServer, ...]) -> str:
    """The servers as the history's column stores them (names of variables, never their values)."""
    return json.dumps([asdict(server) for server in servers])


def servers_from_json(text: str) -> tuple[McpServer, ...]:
    """The servers a history column holds; an entry that is not one (a damaged file) is left out."""
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        return ()
    return tuple(server for item in items if (server := _server(item))) if isinstance(items, list) else ()


def _server(item: Any) -> McpServer | None:
    if not isinstance(item, dict):
        return None
    strings = {key: item.get(key, "") for key in ("name", "transport", "command", "url")}
    lists = {key: item.get(key, []) for key in ("args", "env")}
    headers = item.get("headers", [])
    if not (
        all(isinstance(value, str) for value in strings.values())
        and all(
            isinstance(value, list) and all(isinstance(v, str) for v in value) for value in lists.values()
        )
        and isinstance(headers, list)
        and all(isinstance(h, list) and len(h) == 2 and all(isinstance(v, str) for v in h) for h in headers)
        and strings["transport"] in TRANSPORTS
        and NAME.fullmatch(strings["name"])
    ):
        return None
    return McpServer(
        **strings,
        args=tuple(lists["args"]),
        env=tuple(lists["env"]),
        headers=tuple((name, value) for name, value in headers),
    )
