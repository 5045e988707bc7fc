"""`lfg web FILE` and `lfg web --attach URL`: the TUI in a browser (`remote/web.py` serves it).

`lfg` imports this module for every command, so textual-serve and aiohttp are imported only when
`web` runs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.commands.common import EXIT_USAGE, add_config, add_db, port, positive_int, warn

if TYPE_CHECKING:
    from lfgtui.commands.subcommands import Subcommands


def add_web_command(commands: Subcommands) -> None:
    """Register `lfg web` on the top-level subcommands."""
    commands.add_command("web", "serve the TUI to a browser (textual-serve)", _arguments, web)


def _arguments(web: argparse.ArgumentParser) -> None:
    source = web.add_mutually_exclusive_group(required=True)
    source.add_argument("file", type=Path, nargs="?", help="a tickets.toml to run and show")
    source.add_argument("--attach", metavar="URL", help="show a run another lfg serves instead")
    web.add_argument("--host", default="127.0.0.1", help="where the browser connects (default 127.0.0.1)")
    web.add_argument("--port", type=port, default=8000, help="the browser's port (default 8000)")
    web.add_argument(
        "--i-know-this-is-exposed",
        action="store_true",
        help="serve on a --host that is not loopback (others who get the URL can approve commands; no TLS)",
    )
    web.add_argument(
        "--max-tabs",
        type=positive_int,
        default=8,
        help="browser tabs shown at once, each an lfg attach process of its own (default 8)",
    )
    web.add_argument("--token", help="with --attach: the server's token (default: $LFG_TOKEN)")
    add_config(web, "config file, for the run, the theme and keys")
    add_db(web, "the history file the run is recorded in")
    web.add_argument("--yes", action="store_true", help="let write_file and run_command run without asking")
    web.add_argument(
        "--start-now",
        action="store_true",
        help="start the run at once, not when the first browser tab opens",
    )


def web(args: argparse.Namespace) -> int:
    import secrets

    from lfgtui.remote.server import Address
    from lfgtui.remote.web import Source, WebServer, start_run
    from lfgtui.remote.web_gate import Gate

    refused = _refused_host(args.host, args.i_know_this_is_exposed)
    if refused is None:  # a port in use stops it before the run starts, not once it is recorded
        refused = Address(args.host.strip("[]"), args.port).busy()
    if refused is not None:
        warn(refused)
        return EXIT_USAGE
    if args.attach is not None:
        token = args.token or os.environ.get("LFG_TOKEN")
        if not token:
            warn("lfg web --attach needs the server's token: --token or $LFG_TOKEN")
            return EXIT_USAGE
        source = Source(args.attach, args.config)
    else:
        started = start_run(args.file, args.config, args.db, args.yes, args.start_now)
        if isinstance(started, int):
            return started
        source, token = started
    os.environ["LFG_TOKEN"] = token  # the tabs' `lfg attach` inherit it
    try:
        gate = Gate.for_address(secrets.token_urlsafe(32), args.host, args.port)
        WebServer(source, gate, args.max_tabs).serve()
    except OSError as exc:  # the port was taken since it was checked
        warn(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}")
        return 1
    finally:
        source.stop()
    return 0


def _refused_host(host: str, exposed: bool) -> str | None:
    """Why `--host` is not served, or None: a wildcard cannot be checked against, and an address
    others reach needs `--i-know-this-is-exposed` (`exposed`)."""
    from lfgtui.remote.web_gate import is_loopback, is_wildcard

    if is_wildcard(host):
        return (
            f"--host {host}: name the address the browser will use (e.g. --host 192.168.1.5), "
            "so that lfg web can check every request is made to it"
        )
    if is_loopback(host) or exposed:
        return None
    return (
        f"--host {host} is not a loopback address: anyone who can reach that port and gets the "
        "URL lfg web prints can approve its tool calls (write_file, run_command), and without TLS the "
        "URL's key crosses the network in the clear. Reach it through SSH (ssh -L 8000:127.0.0.1:8000) "
        "or a TLS proxy instead; to serve it there anyway, add --i-know-this-is-exposed"
    )
