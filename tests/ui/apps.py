"""The app as the commands build it: its services, then a first controller on the tickets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lfgtui.providers.registry import Providers
from lfgtui.remote.attach import Attachment
from lfgtui.run import Run, Sink
from lfgtui.run.resume import RecordedRun
from lfgtui.tickets.ticket import Ticket
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run_controller import RunController
from lfgtui.ui.run_screen import Mode
from lfgtui.ui.services import Services


def lfg_app(
    tickets: tuple[Ticket, ...],
    providers: Providers,
    mode: Mode = Mode.LIVE,
    *,
    run_id: str | None = None,
    recorded: RecordedRun | None = None,
    attachment: Attachment | None = None,
    sinks: Sequence[Sink] = (),
    theme: str = "dark",
    keymap: Mapping[str, str] | None = None,
    notice: str | None = None,
    **services: Any,
) -> LfgApp:
    """`services`: the fields of `Services` besides the providers (history, yes, clock, ...)."""
    shared = Services(providers, **services)
    first = RunController(
        shared, tickets, mode, run_id, recorded=recorded, attachment=attachment, sinks=sinks
    )
    return LfgApp(shared, first, theme=theme, keymap=keymap, notice=notice)


def first_run(app: LfgApp) -> Run:
    """The run the app was started for (`lfg run`, `lfg resume`)."""
    run = app.controllers[0].run
    assert run is not None, "a replay or an attached view runs nothing"
    return run
