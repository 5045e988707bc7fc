"""When a run needs the person: a pane starts waiting for approval, a ticket fails, the run ends.

`RunAlerts` is a sink of the run's events (`ApprovalAsked` among them); each
moment worth telling becomes an `Attention` (notify.py) handed to every channel: the terminal's
bell and desktop notification in the TUI, `--notify-command` anywhere.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from lfgtui.events import ApprovalAsked, AttemptEnded, Event, Outcome
from lfgtui.notify import Attention

if TYPE_CHECKING:
    from lfgtui.run import Run

Channel = Callable[[Attention], None]


class RunAlerts:
    def __init__(self, run: Run, kinds: Collection[str], channels: Sequence[Channel]) -> None:
        self.run = run
        self.kinds = frozenset(kinds)
        self.channels = list(channels)

    def _tell(self, attention: Attention) -> None:
        if attention.kind in self.kinds:
            for channel in self.channels:
                channel(attention)

    def __call__(self, event: Event) -> None:
        if isinstance(event, ApprovalAsked):
            args = event.arguments
            detail = args.get("command") or args.get("path") or json.dumps(args, ensure_ascii=False)
            self._tell(Attention.approval(self.run.run_id, event.ticket, event.name, str(detail)))
            return
        if not isinstance(event, AttemptEnded):
            return
        if event.outcome is Outcome.FAILED:
            error = event.error.describe() if event.error is not None else "failed"
            self._tell(Attention.failed(self.run.run_id, event.ticket, error))
        outcomes = [state.outcome for state in self.run.states.values()]
        if all(outcome is not None for outcome in outcomes):
            counts = Counter(outcome.value for outcome in outcomes if outcome is not None)
            self._tell(Attention.done(self.run.run_id, dict(sorted(counts.items()))))
