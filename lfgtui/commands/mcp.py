"""`lfg mcp URL --token-file FILE`: an MCP server over stdio on a run another lfg serves, so that an
agent (or a person's MCP client) can add, message, wait for, read, list and cancel its tickets.

The tools' logic is remote/mcp_tools.py `Desk`, which speaks to the run through the client `lfg
attach` uses; their wire is remote/mcp_server.py, the official MCP SDK's `MCPServer` (the `mcp`
extra). lfg's own words go to stderr, libraries' log records to lfg's log (commands/logs.py), and
nothing but JSON-RPC to stdout.

`lfg` imports this module for every command: the SDK is imported only when `mcp` runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lfgtui.commands.common import EXIT_USAGE, warn
from lfgtui.commands.subcommands import Subcommands


def add_mcp_command(commands: Subcommands) -> None:
    """Register `lfg mcp` on the top-level subcommands."""
    commands.add_command(
        "mcp",
        "an MCP server over stdio on a served run: its tickets as tools for an agent",
        _arguments,
        serve_tools,
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url", metavar="URL", help="the run's address, as lfg run --serve … --control printed it"
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        required=True,
        help="the file holding the run's token (read at each connection; never given on the command line)",
    )
    parser.add_argument(
        "--unix-socket",
        type=Path,
        help="reach the run on this Unix socket (URL then names only the paths): how a lead ticket reaches "
        "the run lfg serves for it",
    )
    parser.add_argument(
        "--lead",
        metavar="RUN/TICKET/LIVE/ADDED/PER_MINUTE/BUDGET",
        help="what the tools' instructions tell a lead ticket's agent: its run, its id and its caps "
        "(lfg passes it to a lead; the token, not this, decides what it may do)",
    )


async def serve_tools(args: argparse.Namespace) -> int:
    """Serve the tools on stdin and stdout until the client closes them."""
    try:
        from lfgtui.remote.mcp_server import tools_server
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "mcp":
            raise
        from lfgtui.extras import install_hint

        warn(f"lfg mcp needs the MCP SDK: {install_hint('mcp')}")
        return EXIT_USAGE
    from lfgtui.remote.leads import lead_of
    from lfgtui.remote.mcp_tools import Desk

    try:
        lead = None if args.lead is None else lead_of(args.lead)
    except ValueError as exc:
        warn(f"--lead: {exc}")
        return EXIT_USAGE
    desk = Desk(args.url.rstrip("/"), args.token_file, args.unix_socket)
    try:
        await tools_server(desk, lead).run_stdio_async()
    finally:
        await desk.aclose()
    return 0
