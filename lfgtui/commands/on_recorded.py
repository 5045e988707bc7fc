"""A recorded run taken up again headless, to run only what the command starts in it: `lfg fork` (a
fork of one ticket) and `lfg resume --send-held` (what the tickets held when the run stopped).

The run is made of the recorded tickets as they were left (run/seeds.py), recorded into the same run,
with progress lines and a closing table, or NDJSON with `--json`; a signal cancels it. `begin` starts
what the command runs once the run has started and returns the ids of the tickets whose outcome
decides the exit code (0: each completed, 1: one did not), or a line saying why nothing could start
(exit 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lfgtui.commands.compose import RunOptions
    from lfgtui.history.recorded import RecordedRun
    from lfgtui.history.writer import RunHistory
    from lfgtui.providers.registry import Providers
    from lfgtui.run import Run


async def run_recorded(
    args: argparse.Namespace,
    recorded: RecordedRun,
    providers: Providers,
    history: RunHistory | None,
    options: RunOptions,
    begin: Callable[[Run], list[str] | str],
) -> int:
    """What `begin` starts, run to its end on the recorded run's tickets as they were left; its exit
    code. `args` gives `--json`, `--yes`."""
    import asyncio
    import signal
    import sys
    import time

    from lfgtui.commands import EXIT_SIGINT, interrupted
    from lfgtui.commands.common import fail
    from lfgtui.commands.headless import JsonLines, Progress, UntilClosed
    from lfgtui.events import Outcome
    from lfgtui.run import Approvals, Run
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
        keep_agents=True,  # a completed turn's agent takes the next queued or held turn, as the TUI's does
        prices=options.prices,
        max_cost_usd=options.max_cost_usd,
        disk_reserve_mb=options.disk_reserve_mb,
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
        started = begin(run)
        if isinstance(started, str):
            return fail(started)
        outcomes = await run.wait()
    finally:
        await run.close_agents()
    if progress is not None:
        sys.stdout.write(f"\n{progress.table()}\n")
    if signalled:
        return signalled[0]
    return 0 if all(outcomes[ticket] is Outcome.COMPLETED for ticket in started) else 1
