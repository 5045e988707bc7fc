"""`lfg resume RUN --broker URL --headless|--json`: a coordinated run picked up after its coordinator
was killed, headless, recorded into the same run (see broker/pickup.py for what it adopts).

Only `lfg resume` imports it, when `--broker` is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.commands.common import fail, warn

if TYPE_CHECKING:
    from lfgtui.config import Config
    from lfgtui.run.resume import RecordedRun


async def resume_coordinated(
    args: argparse.Namespace, config: Config, db: Path, recorded: RecordedRun
) -> int:
    """Check the run on the broker, then run it there to its end: the exit code of `lfg run`."""
    from lfgtui.broker.client import connect
    from lfgtui.broker.pickup import PickupError, pick_up
    from lfgtui.broker.settings import BrokerError
    from lfgtui.commands.broker import Outlet, _broker
    from lfgtui.commands.compose import RunOptions
    from lfgtui.commands.run import _run_headless
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.writer import reopen_run_history
    from lfgtui.providers.registry import Providers

    run_id, tickets_file = recorded.run_id, recorded.tickets_file
    if tickets_file is None:
        return fail(f"run {run_id} has no tickets file recorded: its workdirs cannot be placed")
    try:
        broker = _broker(args.broker, config)
        redis = await connect(broker, read_timeout_s=10.0)
    except BrokerError as exc:
        return fail(f"cannot resume run {run_id}: {exc}")
    try:
        pickup = await pick_up(redis, broker, recorded)
    except PickupError as exc:
        await redis.aclose()
        return fail(f"cannot resume run {run_id}: {exc}")
    outlet = Outlet(broker, redis, tickets_file.parent, resumed=True)
    make = outlet.make_run()
    adopted = sorted(pickup.reopened)
    if adopted:
        warn(f"picking up {', '.join(adopted)} where the workers of {broker.where} have them")
    tickets = recorded.as_tickets
    headless = argparse.Namespace(**vars(args), file=tickets_file, serve=None, control=False)
    async with Providers(config.providers) as providers, Outlet.closing(outlet):
        options = RunOptions.of(config, args.max_concurrency, run_prices(providers.configs, tickets))
        async with reopen_run_history(db, run_id, warn, options.prices, pickup.again) as history:
            code = await _run_headless(
                headless,
                tickets,
                providers,
                history,
                options,
                (config.ui.notify, None),
                (outlet, None),
                lambda *a, **kw: make(*a, earlier=pickup.earlier, reopened=pickup.reopened, **kw),
            )
    warn(f"recorded into run {run_id} (lfg history show {run_id})")
    return code
