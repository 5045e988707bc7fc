"""The app as the commands build it: its services, then a first controller of the kind each command
opens (live, resumed, replayed, attached)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lfgtui.history.recorded import RecordedRun
from lfgtui.providers.registry import Providers
from lfgtui.remote.attach import Attachment, RemoteRun
from lfgtui.run import Run, Sink
from lfgtui.tickets.ticket import Ticket
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.services import Services


def lfg_app(
    tickets: tuple[Ticket, ...],
    providers: Providers,
    *,
    run_id: str | None = None,
    sinks: Sequence[Sink] = (),
    theme: str = "dark",
    notice: str | None = None,
    **services: Any,
) -> LfgApp:
    """`lfg run`'s app. `services`: the fields of `Services` besides the providers (history, yes,
    clock, keymap, ...)."""
    shared = Services(providers, **services)
    first = RunController.live(shared, tickets, run_id, sinks=sinks)
    return LfgApp(shared, first, theme=theme, notice=notice)


def resumed_app(recorded: RecordedRun, providers: Providers, **services: Any) -> LfgApp:
    """`lfg resume`'s app on `recorded`."""
    shared = Services(providers, **services)
    return LfgApp(shared, RunController.resumed(shared, recorded))


def replay_app(recorded: RecordedRun, providers: Providers, **services: Any) -> LfgApp:
    """`lfg replay`'s app on `recorded` (`services` has its `ReplayClock`)."""
    shared = Services(providers, **services)
    return LfgApp(shared, RunController.replay(shared, recorded))


def attach_app(remote: RemoteRun, attachment: Attachment, providers: Providers) -> LfgApp:
    """`lfg attach`'s app on the run `attachment` described as `remote`."""
    shared = Services(providers, prices=remote.prices)
    first = RunController.attached(shared, remote.tickets, remote.run_id, attachment)
    return LfgApp(shared, first, notice=remote.prices_problem)


def first_run(app: LfgApp) -> Run:
    """The run the app was started for (`lfg run`, `lfg resume`)."""
    run = app.controllers[0].run
    assert run is not None, "a replay or an attached view runs nothing"
    return run
