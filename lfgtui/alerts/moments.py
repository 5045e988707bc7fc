"""When a run needs the person: a ticket starts to need them (a permission request, a turn that ended
on a question), a ticket fails, the run ends.

`RunAlerts` is a sink of the run's events. What needs the person is what the attention state machine
(states.py) says: a ticket told once each time it enters a needs-you state, never again while it stays
there (a second request open at once is no second alert). The ends are found in `MOMENTS` by the
event's exact type. Each moment worth telling becomes an `Attention` (attention.py) handed to every
channel: the terminal's bell and desktop notification in the TUI (terminal.py), `--notify-command`
anywhere (notify.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from lfgtui.alerts.attention import Attention
from lfgtui.alerts.states import Attentions, Standing, State
from lfgtui.events import (
    AgentDetails,
    AgentProgress,
    AgentStarted,
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptQueued,
    AttemptStarted,
    CallEnded,
    ContextUsed,
    DiffUpdated,
    ElicitationAnswered,
    ElicitationAsked,
    Event,
    Holding,
    Outcome,
    PlanUpdated,
    PromptSent,
    Queued,
    QuotaSeen,
    ReasoningDelta,
    RequestSent,
    Retrying,
    RunFact,
    SessionOpened,
    Stalled,
    Status,
    Steered,
    SteerOffer,
    SubagentChanged,
    SubagentDelta,
    SubagentToolCall,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolCallUpdated,
    ToolOutputDelta,
    ToolResult,
    Translation,
    Usage,
    WorktreeReady,
)

Channel = Callable[[Attention], None]


class Ended(Protocol):
    @property
    def outcome(self) -> Outcome | None: ...


class Watched(Protocol):
    """What the sink reads of its run (a `run.Run`): the id it is recorded under, which the history
    sets after the sink is made, and each ticket's outcome, None while one is still to come (a retry
    waiting for its turn has sent no event yet, so the events alone cannot tell)."""

    @property
    def run_id(self) -> str: ...

    @property
    def states(self) -> Mapping[str, Ended]: ...


class RunAlerts:
    def __init__(
        self, run: Watched, kinds: Collection[str], channels: Sequence[Channel], told: bool = False
    ) -> None:
        """`told`: whoever shows the run keeps its attention states and tells this sink each change
        (`attended`), so that a run has one tracker, not two fed every token (the TUI's controller);
        else the sink keeps its own."""
        self.run = run
        self.kinds = frozenset(kinds)
        self.channels = list(channels)
        self.attention = None if told else Attentions()

    def _tell(self, attention: Attention) -> None:
        if attention.kind in self.kinds:
            for channel in self.channels:
                channel(attention)

    def __call__(self, event: Event) -> None:
        if self.attention is not None:
            self.attended(self.attention.apply(event), event)
        tell = MOMENTS.handlers.get(type(event))
        if tell is not None:
            tell(self, event)

    def attended(self, changed: Sequence[Standing], event: Event) -> None:
        """The attention states `event` changed: a ticket that starts to need the person is told of."""
        for standing in changed:
            if standing.entered and standing.needs_you:
                self._needs_you(standing, event)

    def _needs_you(self, standing: Standing, event: Event) -> None:
        run_id = self.run.run_id
        if standing.state is State.ASKED:
            self._tell(Attention.asked(run_id, standing.ticket, standing.detail))
        elif isinstance(event, ApprovalAsked):
            args = event.arguments
            detail = args.get("command") or args.get("path") or json.dumps(args, ensure_ascii=False)
            self._tell(Attention.approval(run_id, event.ticket, event.name, str(detail)))

    def _ended(self, event: AttemptEnded) -> None:
        if event.outcome is Outcome.FAILED:
            error = event.error.describe() if event.error is not None else "failed"
            self._tell(Attention.failed(self.run.run_id, event.ticket, error))
        outcomes = [state.outcome for state in self.run.states.values()]
        if all(outcome is not None for outcome in outcomes):
            counts = Counter(outcome.value for outcome in outcomes if outcome is not None)
            self._tell(Attention.done(self.run.run_id, dict(sorted(counts.items()))))


WORKING = (
    AttemptStarted,
    AttemptQueued,
    PromptSent,
    Steered,
    Holding,
    RequestSent,
    TextDelta,
    ReasoningDelta,
    ToolCallStarted,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallUpdated,
    ToolOutputDelta,
    ToolResult,
    Status,
    Retrying,
    Queued,
    AgentStarted,
    SessionOpened,
    AgentProgress,
    PlanUpdated,
    WorktreeReady,
    ContextUsed,
    AgentDetails,
    SteerOffer,
    DiffUpdated,
    Usage,
    CallEnded,
    SubagentChanged,
    SubagentDelta,
    SubagentToolCall,
)
"""A ticket at work, which needs nobody: a sub-agent finishing is the parent's work, never an alert."""

MOMENTS: Translation[Callable[[RunAlerts, Any], None]] = Translation(
    "alerts",
    {AttemptEnded: RunAlerts._ended},
    {
        **dict.fromkeys(WORKING, "a ticket at work needs nobody"),
        Stalled: "the pane says so, and the idle timeout ends the attempt, which is a moment if it fails",
        ApprovalAsked: "the attention states say when a ticket starts to need the person (states.py)",
        ApprovalAnswered: "someone has answered: nobody needs to be called",
        ElicitationAsked: "the attention states say when a ticket starts to need the person (states.py)",
        ElicitationAnswered: "someone has answered (or lfg declined it): nobody needs to be called",
        QuotaSeen: "a provider's allowance: the summary bar shows it, and the limiter waits for it",
        RunFact: "a check's result or a verdict is shown where the run is watched; nobody is called",
    },
)
"""The ends a run tells of: an attempt fails, the last of the run ends. (What needs the person is
told when its attention state changes.)"""
