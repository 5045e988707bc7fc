"""The run engine: what runs a run's tickets, from the scheduler down to one model call.

- `scheduler.py`: `Run` schedules the tickets (concurrency, `depends_on`, skip), one task per
  attempt, fans every event out to the sinks, and holds the budgets (`max_cost_usd`);
- `tool_loop.py`: lfg's own tool loop of one attempt: model call, the tools it asks for, the next;
- `calls.py`: one model call with honest, announced retries before the first token (`retry.py`:
  their policy, and what a call its provider holds does);
- `ratelimit.py`: each provider's limits, shared by all its tickets;
- `approvals.py`: who answers a tool call that needs approval;
- `steering.py`: the person's steers and queued messages a running ticket holds until they are sent;
- `seeds.py`: where a resumed run takes each recorded ticket up (`Earlier`), the record known by a
  `Protocol`, so the engine never imports the history;
- `agents/`: coding agents as tickets, each its own process over the Agent Client Protocol.

Its face, for the other packages: `Run` and its `Sink`, `Approvals`, `RetryPolicy`, and
`AttemptTask`/`run_tool_loop` for one attempt without a run (`lfg ask`). Each name is imported from its
module when first asked for, so what takes one light module of the engine (`lfg agents` its
report) loads neither the scheduler nor the providers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lfgtui.run.approvals import Approvals
    from lfgtui.run.retry import RetryPolicy
    from lfgtui.run.scheduler import Run, Sink
    from lfgtui.run.tool_loop import AttemptTask, run_tool_loop

__all__ = ["Approvals", "AttemptTask", "RetryPolicy", "Run", "Sink", "run_tool_loop"]

HOMES = {
    "AttemptTask": "tool_loop",
    "run_tool_loop": "tool_loop",
    "Approvals": "approvals",
    "RetryPolicy": "retry",
    "Run": "scheduler",
    "Sink": "scheduler",
}
"""The module of each name of the face."""


def __getattr__(name: str) -> object:
    """A name of the face, from its module (imported now if it was not yet)."""
    if name not in HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{HOMES[name]}"), name)
