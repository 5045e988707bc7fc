"""`lfg resume RUN --broker URL`: a coordinated run picked up after its coordinator was killed, in the
TUI (every pane restored, the attempts its workers hold going on live from the broker) or with
`--headless` / `--json`, recorded into the same run (see broker/pickup.py for what it adopts).

Both go the same way up to the run itself (`picked_up`); only what shows it differs.

Only `lfg resume` imports it, when `--broker` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.commands.common import Notices, fail, recorded_exit, warn

if TYPE_CHECKING:
    from lfgtui.broker.pickup import Pickup
    from lfgtui.commands.broker import Outlet
    from lfgtui.commands.compose import RunOptions
    from lfgtui.commands.run import HeadlessOptions
    from lfgtui.config.load import Config
    from lfgtui.history.recorded import RecordedRun
    from lfgtui.history.writer import RunHistory
    from lfgtui.providers.registry import Providers
    from lfgtui.run import Run
    from lfgtui.ui.run.controller import RunController
    from lfgtui.ui.services import Services


async def resume_coordinated(
    args: argparse.Namespace, config: Config, db: Path, recorded: RecordedRun, theme: str | None
) -> int:
    """Check the run on the broker, then run it there to its end, in the TUI on `theme` (None:
    headless): the exit code of `lfg run`."""
    from lfgtui.broker.pickup import PickupError

    try:
        async with picked_up(args, config, db, recorded) as picked:
            code = await (_headless(picked, config) if theme is None else _in_tui(picked, config, db, theme))
    except PickupError as exc:
        return fail(f"cannot resume run {recorded.run_id}: {exc}")
    return recorded_exit(picked.history, code, "recorded into run {run} (lfg history show {run})")


@dataclass(frozen=True)
class PickedUp:
    """A coordinated run ready to go on: found whole on its broker, its history reopened."""

    recorded: RecordedRun
    pickup: Pickup
    outlet: Outlet
    providers: Providers
    options: RunOptions
    history: RunHistory | None
    args: HeadlessOptions
    """`lfg resume`'s options as a headless `lfg run --broker` has them: its tickets file, nothing
    served."""

    @property
    def adopting(self) -> str | None:
        """What the person is told of the attempts taken from the workers, and of those that cannot
        be sent again, if any."""
        adopted = sorted(self.pickup.reopened)
        lines = [self.pickup.unsent[ticket] for ticket in sorted(self.pickup.unsent)]
        if adopted:
            where = self.outlet.broker.where
            lines.insert(0, f"picking up {', '.join(adopted)} where the workers of {where} have them")
        return "\n".join(lines) or None

    def make_run(self) -> Callable[..., Run]:
        """What makes the run: coordinated on the broker's workers, adopting the attempts they hold."""
        return functools.partial(self.outlet.make_run(), reopened=self.pickup.reopened)

    def controller(self, services: Services, config: Config) -> RunController:
        """The TUI's controller: the record restored but for the attempts adopted (they come again
        from the broker), its tickets taken up where the pickup says, the fleet view (F) on its broker,
        taking new tickets under the run's recorded `[defaults]`."""
        from lfgtui.commands.run import resumed_admits
        from lfgtui.ui.run.controller import RunController

        services = dataclasses.replace(services, broker=self.outlet.broker)
        restored = self.pickup.restored(self.recorded)
        earlier, make_run = self.pickup.earlier, self.make_run()
        controller = RunController.resumed(services, restored, earlier=earlier, make_run=make_run)
        assert controller.run is not None, "a resumed run runs here"
        controller.run.admits = resumed_admits(config, self.recorded)
        return controller

    def served(self, said: Callable[[str], None]) -> Callable[[Run], AbstractAsyncContextManager[str | None]]:
        """What registers the run on the broker again and coordinates it while the TUI runs it;
        `said` hears how the broker is doing."""
        from lfgtui.commands.remote import serving

        return lambda run: serving(self.args.serving, run, self.recorded.as_tickets, self.outlet, None, said)


@contextlib.asynccontextmanager
async def picked_up(
    args: argparse.Namespace, config: Config, db: Path, recorded: RecordedRun
) -> AsyncIterator[PickedUp]:
    """The run checked on the broker `--broker` names and its history reopened while the block runs;
    raises `PickupError` first, having changed nothing, when it cannot be picked up there."""
    from lfgtui.broker.client import connect
    from lfgtui.broker.coordinator_lease import CoordinatorLease
    from lfgtui.broker.pickup import PickupError, pick_up
    from lfgtui.commands.broker import Outlet, chosen_broker
    from lfgtui.commands.compose import RunOptions
    from lfgtui.commands.remote import ServeOptions
    from lfgtui.commands.run import HeadlessOptions
    from lfgtui.config.broker import BrokerError
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.writer import reopen_run_history
    from lfgtui.providers.registry import Providers
    from lfgtui.remote.following import watcher_name

    tickets_file = recorded.tickets_file
    if tickets_file is None:
        raise PickupError("it has no tickets file recorded: its workdirs cannot be placed")
    try:
        broker = chosen_broker(args.broker, config)
        redis = await connect(broker, read_timeout_s=10.0)
    except BrokerError as exc:
        raise PickupError(str(exc)) from None
    lease = CoordinatorLease(redis, broker, recorded.run_id, watcher_name(), warn)
    outlet = Outlet(broker, redis, tickets_file.parent, resumed=True, lease=lease)
    tickets = recorded.as_tickets
    as_run = HeadlessOptions(ServeOptions(tickets_file), yes=args.yes, json=args.json)
    async with Outlet.closing(outlet):
        pickup = await pick_up(redis, broker, recorded, lease)
        async with Providers(config.providers) as providers:  # the workers send; these say how
            options = RunOptions.of(config, args.max_concurrency, run_prices(providers.configs, tickets))
            async with reopen_run_history(db, recorded.run_id, warn, options.prices, pickup.again) as history:
                yield PickedUp(recorded, pickup, outlet, providers, options, history, as_run)


async def _headless(picked: PickedUp, config: Config) -> int:
    from lfgtui.commands.run import resumed_admits, run_headless

    if (adopting := picked.adopting) is not None:
        warn(adopting)
    make = functools.partial(picked.make_run(), earlier=picked.pickup.earlier)
    return await run_headless(
        picked.args,
        picked.recorded.as_tickets,
        picked.providers,
        picked.history,
        picked.options,
        (config.ui.notify, None),
        (picked.outlet, None),
        make,
        resumed_admits(config, picked.recorded),
    )


async def _in_tui(picked: PickedUp, config: Config, db: Path, theme: str) -> int:
    from lfgtui.commands.compose import open_tui

    args, notices = picked.args, Notices()
    services = picked.options.services(picked.providers, db, args.yes, config.ui.keymap, config.ui.notify)
    notice = "\n".join(line for line in (picked.adopting, picked.recorded.notice()) if line)
    code = await open_tui(
        picked.controller(services, config),
        theme,
        history=picked.history,
        notice=notice or None,
        served=picked.served(lambda text: notices.say(text)),
        notices=notices,
    )
    return 1 if code is None else code
