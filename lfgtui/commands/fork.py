"""`lfg fork RUN TICKET --prompt TEXT [--model MODEL]`: fork a recorded ticket without the TUI.

A fork belongs to the run of the ticket it forks: it continues that ticket's recorded conversation
(and, with a worktree, a copy of its worktree as it is now), and the history records it as a fork of
that ticket's latest attempt. So `lfg fork` takes the run up again as `lfg resume` does, recorded
into the same run, adds the fork (run/fork.py) and runs only it, headless: progress lines and a
closing table, or NDJSON with `--json`. In the TUI, `f` on a pane forks (`lfg resume RUN`, then
`f`). A run coordinated on a broker's workers (`lfg run --broker`) is refused, naming the worker that
has the ticket's worktree and session (commands/on_worker.py): its forks run through the broker from
the coordinator's TUI. Exit code: 0 when the fork completed, 1 when it did not, 2 for bad usage or a
ticket that cannot fork (nothing ran), 3 when its history stopped recording it, 130/143/129 on a signal.

`lfg` imports this module for every command: the history, the providers and the run are imported
only when `fork` runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lfgtui.commands.common import add_config, add_db, positive_int

if TYPE_CHECKING:
    from lfgtui.commands.compose import RunOptions
    from lfgtui.commands.subcommands import Subcommands
    from lfgtui.history.recorded import RecordedRun
    from lfgtui.history.writer import RunHistory
    from lfgtui.providers.registry import Providers


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
    options = RunOptions.of(config, args.max_concurrency, run_prices(config.providers, recorded.as_tickets))
    async with (
        reopen_run_history(db, recorded.run_id, warn, options.prices) as history,
        Providers(config.providers) as providers,
    ):
        code = await _run_fork(args, recorded, providers, history, options)
    return recorded_exit(history, code, "recorded into run {run} (lfg history show {run})")


async def _run_fork(
    args: argparse.Namespace,
    recorded: RecordedRun,
    providers: Providers,
    history: RunHistory | None,
    options: RunOptions,
) -> int:
    """The fork run to its end on the recorded run's tickets as they were left; its exit code."""
    import asyncio
    import signal
    import sys
    import time

    from lfgtui.commands import EXIT_SIGINT, interrupted
    from lfgtui.commands.common import fail
    from lfgtui.commands.headless import JsonLines, Progress, UntilClosed
    from lfgtui.events import Outcome
    from lfgtui.run import Approvals, Run
    from lfgtui.run.fork import CannotFork
    from lfgtui.run.seeds import earlier_of_each

    t0 = time.monotonic()
    run = Run(
        recorded.as_tickets,
        providers,
        Approvals(yes=args.yes),
        [],
        max_concurrency=options.max_concurrency,
        tool_env=options.tool_env,
        earlier=earlier_of_each(recorded.tickets),
        keep_agents=False,
        prices=options.prices,
        max_cost_usd=options.max_cost_usd,
    )
    run.run_id = recorded.run_id
    progress = None if args.json else Progress(sys.stdout, run.book, t0)
    reader = JsonLines(sys.stdout, run.book, t0) if progress is None else progress
    run.sinks.append(UntilClosed(reader, sys.stdout))
    if history is not None:
        run.record(history)
    signalled: list[int] = []
    loop = asyncio.get_running_loop()

    def stop(code: int) -> None:
        signalled.append(code)
        run.cancel_all()

    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        loop.add_signal_handler(sig, lambda code=code: stop(code))
    if interrupted():  # a Ctrl-C Python swallowed before the handlers: nothing has started
        return EXIT_SIGINT
    run.start()  # a resumed run starts nothing by itself
    try:
        fork = run.fork(args.ticket, args.prompt, args.model)
    except CannotFork as exc:
        return fail(f"cannot fork {args.ticket}: {exc}")
    outcomes = await run.wait()
    await run.close_agents()
    if progress is not None:
        sys.stdout.write(f"\n{progress.table()}\n")
    if signalled:
        return signalled[0]
    return 0 if outcomes[fork.id] is Outcome.COMPLETED else 1
