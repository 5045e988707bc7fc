"""`lfg resume RUN --send-held` / `--drop-held`: what the run's tickets held, unsent, when it stopped
(the person's steers and queued messages: run/held.py), settled without the TUI.

Both print what each ticket held first. `--send-held` takes the run up headless, as `lfg fork` does
(commands/on_recorded.py), and sends them, recorded into the same run: progress lines and a table,
or NDJSON with `--json`; exit 0 when every turn they started completed, 1 when one did not.
`--drop-held` sends nothing and records that the tickets hold nothing now, so no later resume offers
them; exit 0. A run that held nothing says so and exits 0. In the TUI, `lfg resume RUN` asks instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from lfgtui.config.load import Config
    from lfgtui.history.recorded import RecordedRun
    from lfgtui.run import Run


async def settle_held(args: argparse.Namespace, config: Config, db: Path, recorded: RecordedRun) -> int:
    """Print what the run's tickets held when it stopped, then send or drop it (`args.send_held`)."""
    from lfgtui.commands.common import recorded_exit, warn
    from lfgtui.commands.compose import RunOptions
    from lfgtui.commands.on_recorded import run_recorded
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.writer import reopen_run_history
    from lfgtui.providers.registry import Providers
    from lfgtui.run.held import held_line
    from lfgtui.run.seeds import earlier_of

    seeds = {t.ticket.id: earlier_of(t) for t in recorded.tickets}
    held = {ticket: seed.held for ticket, seed in seeds.items() if seed.held}
    if not held:
        warn(f"run {recorded.run_id} held no unsent message when it stopped: nothing to send or drop")
        return 0
    out = sys.stderr if args.json else sys.stdout
    for ticket, messages in held.items():
        out.write(f"{ticket} held, unsent, when the run stopped:\n")
        out.writelines(f"  #{m.id} {held_line(m)}\n" for m in messages)  # the id the TUI shows it by
    out.flush()
    options = RunOptions.of(config, args.max_concurrency, run_prices(config.providers, recorded.as_tickets))
    async with reopen_run_history(db, recorded.run_id, warn, options.prices) as history:
        if args.drop_held:
            from lfgtui.run.held import dropped_said

            for ticket, messages in held.items():
                if history is not None:
                    history.held_dropped(ticket, seeds[ticket].attempts, dropped_said(messages, "you"))
                out.write(
                    f"{ticket}: dropped {len(messages)} message(s), unsent; no later resume offers them\n"
                )
            code = 0
        else:
            async with Providers(config.providers) as providers:
                code = await run_recorded(args, recorded, providers, history, options, _begin(tuple(held)))
    return recorded_exit(history, code, "recorded into run {run} (lfg history show {run})")


def _begin(tickets: tuple[str, ...]) -> Callable[[Run], list[str] | str]:
    """What `--send-held` starts in the taken-up run: each ticket's held messages, sent."""

    def begin(run: Run) -> list[str] | str:
        from lfgtui.run.held import send_held

        for ticket in tickets:
            if (problem := send_held(run, ticket)) is not None:
                run.cancel_all()
                return problem
        return list(tickets)

    return begin
