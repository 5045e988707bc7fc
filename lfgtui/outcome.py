"""How an attempt ended: part of the event vocabulary (`lfgtui.events` exports it too), in a module of
its own so that what only names outcomes (the formats, the history's readers, the `lfg history`
parser) does not wait for the event classes, ~25 dataclasses, to be made."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """How an attempt ended."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"
