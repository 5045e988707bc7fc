"""Every instrument of lfgtui/telemetry/instruments.py's table, which both exports are checked against."""

from __future__ import annotations

from lfgtui.telemetry import instruments
from lfgtui.telemetry.instruments import CONTEXTS, QUOTAS, TICKETS, Instrument

TABLE: tuple[Instrument, ...] = (
    *(value for value in vars(instruments).values() if isinstance(value, Instrument)),
    *(instrument for instrument, _ in TICKETS),
    *(instrument for instrument, _ in QUOTAS),
    *(instrument for instrument, _ in CONTEXTS),
)
