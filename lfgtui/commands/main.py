"""`lfg`: the parser of every command, and the command chosen run.

The parser is built from light modules and each command imports what it needs when it runs, so
`lfg --help` does not wait for the providers, the HTTP client, the history or the TUI to load.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any, NoReturn

from lfgtui import __version__
from lfgtui.commands import sim
from lfgtui.commands.agents import add_agents_command
from lfgtui.commands.ask import add_ask_command
from lfgtui.commands.broker import add_broker_commands
from lfgtui.commands.common import EXIT_USAGE
from lfgtui.commands.completion import add_completion_command
from lfgtui.commands.fork import add_fork_command
from lfgtui.commands.history import add_history_commands
from lfgtui.commands.land import add_land_command
from lfgtui.commands.mcp import add_mcp_command
from lfgtui.commands.models import add_models_command
from lfgtui.commands.paths import add_paths_command
from lfgtui.commands.remote import add_remote_commands
from lfgtui.commands.resume import add_resume_commands
from lfgtui.commands.review import add_review_command
from lfgtui.commands.run import add_run_command
from lfgtui.commands.settings import add_settings_command
from lfgtui.commands.subcommands import Subcommands
from lfgtui.commands.web import add_web_command
from lfgtui.commands.worktrees import add_worktree_commands


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose error is one line that says where help is: `lfg run`'s usage alone
    takes a dozen lines, which buried what was wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """`lfg`'s parser, each command's arguments added when it is chosen (`Subcommands`)."""
    parser = _Parser(prog="lfg", description="Run AI agents side by side and watch them stream.")
    parser.add_argument("--version", action="version", version=f"lfg {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, action=Subcommands)
    add_ask_command(commands)
    add_run_command(commands)
    add_agents_command(commands)
    add_models_command(commands)
    add_history_commands(commands)
    add_resume_commands(commands)
    add_remote_commands(commands)
    add_mcp_command(commands)
    add_broker_commands(commands)
    add_web_command(commands)
    add_worktree_commands(commands)
    add_land_command(commands)
    add_fork_command(commands)
    add_review_command(commands)
    add_settings_command(commands)
    sim.add_sim_commands(commands)
    add_completion_command(commands, build_parser)
    add_paths_command(commands)
    return parser


def whole_parser() -> argparse.ArgumentParser:
    """The parser with every command's arguments added, for what reads all of them at once (the
    documentation's command reference, generated from it)."""
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, Subcommands):
            action.add_every_argument()
    return parser


def _in_loop(command: Coroutine[Any, Any, int]) -> int:
    """`asyncio.run`, imported only by the commands that need an event loop."""
    import asyncio

    return asyncio.run(command)


EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""What a Unix tool killed by SIGPIPE exits with: its reader went away (`lfg history list | head -1`)."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # Later writes, and the interpreter's last flush of stdout, go nowhere instead of raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:2] == ["sim", "acp"]:  # the agent parses its own arguments, --help included
        return sim.acp(given[2:])
    args, unknown = build_parser().parse_known_args(given)
    if unknown:  # said with the usage of the command they were given to, not lfg's
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command not in TALKING_COMMANDS:
        return _command(args)
    from lfgtui.commands.logs import library_logs

    with library_logs():  # what libraries log of an agent's or a server's words: never the terminal
        return _command(args)


TALKING_COMMANDS = frozenset({"ask", "run", "resume", "replay", "serve", "attach", "mcp", "web", "runs"})
"""The commands that talk to providers, agents, servers or browsers, whose words libraries may log."""


def _command(args: argparse.Namespace) -> int:
    """Run the handler the chosen command registered, in an event loop if it is a coroutine; a run it
    claimed to take up again and then did not (it refused first) is let go as it returns."""
    from lfgtui.history.lock import RunLock

    try:
        done = args.handler(args)
        return done if isinstance(done, int) else _in_loop(done)
    finally:
        RunLock.release_claims()
