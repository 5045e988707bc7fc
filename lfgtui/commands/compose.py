"""What the commands that run tickets or open the TUI put together, written once.

- `RunOptions`: how a run's tickets run, from the config and the command line (the providers' keys
  left out of the tools' environment, the prices looked up before the UI starts), given to `Services`
  for the TUI's runs and to `Run` for a headless one;
- `open_tui`: `LfgApp` on the first `RunController` (built on the `Services`), run to its end, for
  `lfg run`, `resume`, `replay` and `attach` alike.

Only those commands import it, when they run (it makes a dataclass, which `lfg --help` need not).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.commands.common import warn

if TYPE_CHECKING:
    from lfgtui.alerts.notify import NotifyCommand
    from lfgtui.commands.common import Notices
    from lfgtui.config.load import Config
    from lfgtui.cost.prices import PriceBook
    from lfgtui.history.writer import RunHistory
    from lfgtui.providers.registry import Providers
    from lfgtui.run import Approvals, Run
    from lfgtui.tickets.ticket import Ticket
    from lfgtui.ui.run.controller import RunController
    from lfgtui.ui.services import Services


@dataclass(frozen=True)
class RunOptions:
    """How the tickets of a run run, whether the TUI or a headless run runs them."""

    max_concurrency: int
    tool_env: Mapping[str, str]
    """lfg's environment without the configured providers' key variables."""
    prices: PriceBook
    max_cost_usd: float | None
    disk_reserve_mb: int

    @classmethod
    def of(cls, config: Config, max_concurrency: int | None, prices: PriceBook) -> RunOptions:
        """The config's options, `--max-concurrency` over its own."""
        from lfgtui.tools import without_keys

        secret_vars = {c.api_key_env for c in config.providers.values() if c.api_key_env}
        tool_env = without_keys(os.environ, secret_vars)
        concurrency = max_concurrency or config.run.max_concurrency
        return cls(concurrency, tool_env, prices, config.run.max_cost_usd, config.run.disk_reserve_mb)

    def services(
        self,
        providers: Providers,
        history: Path | None,
        yes: bool,
        keymap: Mapping[str, str],
        notify: Collection[str] = frozenset(),
        notify_command: NotifyCommand | None = None,
    ) -> Services:
        """The TUI's services, whose runs run so."""
        from lfgtui.ui.services import Services

        return Services(
            providers,
            history=history,
            yes=yes,
            keymap=keymap,
            max_concurrency=self.max_concurrency,
            tool_env=self.tool_env,
            prices=self.prices,
            max_cost_usd=self.max_cost_usd,
            disk_reserve_mb=self.disk_reserve_mb,
            notify=notify,
            notify_command=notify_command,
        )

    def run(
        self,
        tickets: tuple[Ticket, ...],
        providers: Providers,
        approvals: Approvals,
        make_run: Callable[..., Run] | None = None,
    ) -> Run:
        """A headless run of `tickets`, run so (its sinks added by the caller); `make_run`: what makes
        it (a coordinated run, `--broker`), else a `Run`."""
        from lfgtui.run import Run

        return (make_run or Run)(
            tickets,
            providers,
            approvals,
            [],
            max_concurrency=self.max_concurrency,
            tool_env=self.tool_env,
            prices=self.prices,
            max_cost_usd=self.max_cost_usd,
            disk_reserve_mb=self.disk_reserve_mb,
        )


async def open_tui(
    first: RunController,
    theme: str,
    *,
    history: RunHistory | None = None,
    notice: str | None = None,
    question: str | None = None,
    served: Callable[[Run], AbstractAsyncContextManager[str | None]] | None = None,
    notices: Notices | None = None,
) -> int | None:
    """The app opened on its `first` controller (live, resumed, replayed or attached), with its services,
    until it exits: its exit code, None when it ended without one. A controller that runs its tickets
    records them in `history`; `served` serves its run while the app runs (`--serve`) and yields how to
    watch it; `notices` are the app's while it runs."""
    from lfgtui.inert import inert
    from lfgtui.ui.app import LfgApp

    run = first.run
    if run is not None and history is not None:
        run.record(history)
    app = LfgApp(first.services, first, theme=theme, notice=notice, question=question)
    if run is None or served is None:
        return await app.run_async()
    async with served(run) as watch:
        app.served = watch
        if notices is None:
            return await app.run_async()
        notices.say = lambda message: app.notify(inert(message), severity="warning", timeout=8, markup=False)
        try:
            return await app.run_async()
        finally:
            notices.say = warn
