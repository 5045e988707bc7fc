"""`lfg fork RUN TICKET --prompt TEXT [--model MODEL] [--at N]`: fork a recorded ticket without the TUI.

A fork belongs to the run of the ticket it forks: it continues that ticket's recorded conversation
(and, with a worktree, a copy of its worktree as it is now), and the history records it as a fork of
that ticket's latest attempt; with `--at N`, from its conversation cut after the person's user turn
N (run/fork.py), which its events and progress lines say. So `lfg fork` takes the run up again as
`lfg resume` does, recorded into the same run, adds the fork (run/fork.py) and runs only it,
headless: progress lines and a closing table, or NDJSON with `--json`. In the TUI, `f` on a pane
forks (`lfg resume RUN`, then `f`). A run coordinated on a broker's workers (`lfg run --broker`) is
refused, naming the worker that has the ticket's worktree and session (commands/on_worker.py): its
forks run through the broker from the coordinator's TUI. Exit code: 0 when the fork completed, 1
when it did not, 2 for bad usage or a ticket that cannot fork (nothing ran), 3 when its history
stopped recording it, 130/143/129 on a signal.

`lfg` imports this module for every command: the history, the providers and the run are imported
only when `fork` runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lfgtui.commands.common import add_config, add_db, positive_int

if TYPE_CHECKING:
    from collections.abc import Callable

    from lfgtui.commands.subcommands import Subcommands
    from lfgtui.run import Run


def add_fork_command(commands: Subcommands) -> None:
    """Register `lfg fork` on the top-level subcommands."""
    commands.add_command(
        "fork",
        "fork a recorded ticket: a new ticket of its run that goes on from its whole conversation",
        _arguments,
        run_fork_command,
    )


def _arguments(fork: argparse.ArgumentParser) -> None:
    fork.add_argument("run_id", metavar="RUN", help="a run id (or any unique prefix of one)")
    fork.add_argument("ticket", metavar="TICKET", help="the completed ticket to fork")
    fork.add_argument(
        "--prompt", "-p", required=True, metavar="TEXT", help="what the fork is asked, after the conversation"
    )
    fork.add_argument("--model", metavar="MODEL", help="the fork's model (default: the ticket's own)")
    fork.add_argument(
        "--at",
        type=positive_int,
        metavar="N",
        help="go on after the ticket's user turn N (its prompt is turn 1, then each follow-up, steer and "
        "queued turn) rather than after its whole conversation",
    )
    fork.add_argument("--json", action="store_true", help="NDJSON events on stdout instead of progress lines")
    fork.add_argument("--yes", action="store_true", help="let write_file and run_command run without asking")
    fork.add_argument(
        "--max-concurrency", type=positive_int, help="tickets streaming at once (default: [run], 8)"
    )
    add_config(fork)
    add_db(fork)


def run_fork_command(args: argparse.Namespace) -> int:
    from lfgtui import event_loop

    return event_loop.run(_fork(args))


async def _fork(args: argparse.Namespace) -> int:
    from lfgtui.commands.common import fail, find_recorded, recorded_exit, warn
    from lfgtui.commands.compose import RunOptions
    from lfgtui.commands.on_recorded import run_recorded
    from lfgtui.commands.on_worker import not_run_here, ticket_worker
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.recorded import provider_problems
    from lfgtui.history.writer import reopen_run_history
    from lfgtui.providers.registry import Providers

    found = find_recorded(args.run_id, args.config, args.db, whole_run=True)
    if isinstance(found, str):
        return fail(found)
    config, db, recorded = found
    ticket = next((t for t in recorded.tickets if t.ticket.id == args.ticket), None)
    if ticket is None:
        return fail(f"run {recorded.run_id} has no ticket {args.ticket!r}")
    parent = ticket.ticket
    if recorded.coordinated:  # its worktree and agent session are on a worker: nothing runs here
        isolated = parent.isolation == "worktree"
        return fail(not_run_here(recorded.run_id, args.ticket, "a fork", ticket_worker(ticket), isolated))
    problems = provider_problems((parent,), config.providers)
    if problems:
        return fail(f"cannot fork {args.ticket}: {problems[0]}")
    if args.at is not None:  # refused before the run is taken up: nothing is recorded
        from lfgtui.run.attempts import TicketState
        from lfgtui.run.fork import CannotFork, check_turn
        from lfgtui.run.seeds import earlier_of

        state = TicketState(parent)
        state.seed(earlier_of(ticket))
        try:
            check_turn(state, args.at)
        except CannotFork as exc:
            return fail(f"cannot fork {args.ticket}: {exc}")
    options = RunOptions.of(config, args.max_concurrency, run_prices(config.providers, recorded.as_tickets))
    async with (
        reopen_run_history(db, recorded.run_id, warn, options.prices) as history,
        Providers(config.providers) as providers,
    ):
        code = await run_recorded(args, recorded, providers, history, options, _begin_fork(args))
    return recorded_exit(history, code, "recorded into run {run} (lfg history show {run})")


def _begin_fork(args: argparse.Namespace) -> Callable[[Run], list[str] | str]:
    """What `lfg fork` starts in the recorded run: the fork, or why it cannot."""

    def begin(run: Run) -> list[str] | str:
        from lfgtui.run.fork import CannotFork

        try:
            return [run.fork(args.ticket, args.prompt, args.model, args.at).id]
        except CannotFork as exc:
            return f"cannot fork {args.ticket}: {exc}"

    return begin
