"""What the app gives every run screen, once: set by the command that starts it, never changed."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.config.load import DEFAULT_DISK_RESERVE_MB

if TYPE_CHECKING:
    from textual.binding import Binding

    from lfgtui.alerts.notify import NotifyCommand
    from lfgtui.config.broker import Broker
    from lfgtui.cost.prices import PriceBook
    from lfgtui.providers.registry import Providers


@dataclass(frozen=True)
class Services:
    """The providers and history every controller uses, and how every run started here runs.

    The first controller (`lfg run`, `lfg resume`, `lfg replay`, `lfg attach`) and any opened later from
    the history screen share them, so a ticket re-run from the history runs as the first run does.
    """

    providers: Providers
    history: Path | None = None
    """The file `/` searches and runs started here are recorded in (None: `--no-history`)."""
    yes: bool = False
    clock: Callable[[], float] = time.monotonic
    """The app's clock: a `ReplayClock` under `lfg replay`."""
    keymap: Mapping[str, str] = field(default_factory=dict)
    """The keys the user bound to the app's bindings, by binding id (`[ui] keymap`)."""
    max_concurrency: int = 8
    tool_env: Mapping[str, str] | None = None
    prices: PriceBook | None = None
    max_cost_usd: float | None = None
    disk_reserve_mb: int = DEFAULT_DISK_RESERVE_MB
    notify: Collection[str] = field(default_factory=frozenset)
    """What rings the terminal (`[ui] notify`; none with --quiet) and goes to `notify_command`."""
    notify_command: NotifyCommand | None = None
    broker: Broker | None = None
    """The broker the fleet view (`F`) reads: the one the run publishes to or was attached from."""

    def keys(self, binding: Binding) -> str:
        """The keys of `binding`, as the user's keymap may have changed them (comma-separated)."""
        return self.keymap.get(binding.id or "", binding.key)

    def first_key(self, binding: Binding) -> str:
        """The first key of `binding`, to offer in a notice."""
        return self.keys(binding).split(",")[0]
