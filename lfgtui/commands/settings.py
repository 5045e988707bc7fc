"""`lfg settings RUN`: what boxed coding agents changed in their own settings, and keeping it.

A ticket with `sandbox = "bwrap"` runs its coding agent on its own copy of the agent's state (its
settings, hooks, MCP servers, instruction files: run/agents/agent_state.py), so nothing the agent
writes there runs outside the box. This shows each ticket's changes as a diff; `--apply` writes them
into your home, each file only where yours is still as the copy was seeded from.
"""

from __future__ import annotations

import argparse

from lfgtui.commands.common import fail
from lfgtui.commands.subcommands import Subcommands


def add_settings_command(commands: Subcommands) -> None:
    """Register `lfg settings` on the top-level subcommands."""
    commands.add_command(
        "settings",
        "show what sandboxed coding agents changed in their own settings; --apply keeps it",
        _arguments,
        settings,
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN", help="the run (or any unique prefix of its id)")
    parser.add_argument("--ticket", metavar="ID", help="only this ticket's changes")
    parser.add_argument(
        "--apply", action="store_true", help="write the changes into your home (default: only show them)"
    )


def settings(args: argparse.Namespace) -> int:
    """Show (and with `--apply` keep) each ticket's changes: 0 when done, 2 for an unknown run."""
    from lfgtui.inert import inert
    from lfgtui.run.agents.agent_state import PLACES, TICKET, opened
    from lfgtui.tools.sandbox_home import state_copies

    if not args.run_id.isalnum():
        return fail(f"a run's id is letters and digits: {inert(args.run_id)}")
    runs = [run for run in sorted(state_copies().glob(f"{args.run_id}*")) if run.is_dir()]
    if len(runs) != 1:
        found = "no sandboxed coding agent's state is kept" if not runs else "more than one run matches"
        return fail(f"{found} for run {inert(args.run_id)}")
    tickets = [t for t in sorted(runs[0].iterdir()) if (t / PLACES).is_file()]
    changed = False
    for folder in tickets:
        ticket = folder.name.removeprefix(TICKET)
        if args.ticket is not None and ticket != args.ticket:
            continue
        try:
            copy = opened(folder)
            said = copy.said()
            done = copy.apply() if args.apply and said is not None else []
        except (OSError, ValueError) as exc:
            return fail(f"ticket {inert(ticket)}: lfg cannot read its copy in {folder}: {inert(str(exc))}")
        if said is None:
            continue
        changed = True
        print(f"ticket {inert(ticket)}: {inert(said)}")
        for line in done:
            print(f"ticket {inert(ticket)}: {inert(line)}")
    if not changed:
        print("no sandboxed coding agent changed its own settings in this run")
    return 0
