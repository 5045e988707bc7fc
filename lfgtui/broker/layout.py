"""The keys a run has on the broker, and what an entry of its event stream holds.

```
PREFIX:runs                 sorted set: every run's id, scored by its start (wall clock, seconds)
PREFIX:run:RUN              hash: the run index's entry (who, host, started, updated, ended, states)
                            and the run's description (`run`: its tickets and prices, as /v1/run)
PREFIX:run:RUN:events       stream: one entry per batch of events (`EventEntry`), then `end`
PREFIX:run:RUN:control      stream: commands for the run (the next slice: cancel, retry, approvals)
```

Every key starts with `PREFIX:`, so one ACL key pattern (`~lfg:*`) gives a team its runs. The
workers' queue (`PREFIX:work`, a stream read by the `workers` consumer group) will sit beside these.
"""

from __future__ import annotations

from dataclasses import dataclass

ENTRY_EVENTS = "events"
"""An entry of `data` = `{"now": …, "events": [...]}`: the SSE message's JSON (remote/hub.py)."""
ENTRY_GAP = "gap"
"""An entry saying what the publisher dropped while the broker was away or slow: `{"now", "lost":
[{"ticket", "attempt", "first_seq", "last_seq", "events"}]}`."""
ENTRY_END = "end"
"""The run is over: `{"now": …}`; nothing follows."""


@dataclass(frozen=True)
class Layout:
    """The key names under one prefix."""

    prefix: str = "lfg"

    @property
    def runs(self) -> str:
        return f"{self.prefix}:runs"

    def run(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def events(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:events"

    def control(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:control"
