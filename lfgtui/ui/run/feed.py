"""Where a run screen's events come from, besides the run it runs itself: a feed per kind of view.

A fresh run needs none (its engine hands its events to the controller as a sink); a resumed or
read-only run restores its record at once; a replay plays it at its recorded pace; an attached view
follows a run another lfg serves. The run controller only begins, names and stops its feed, so a new
way of watching a run (another carrier of a served run's events) is a new `RunFeed`, not a branch.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Protocol

from lfgtui.history.recorded import RecordedRun, ReplayClock, play, replay_events
from lfgtui.inert import inert
from lfgtui.ui.screens.run import Mode, RunScreen

if TYPE_CHECKING:
    from lfgtui.broker.gaps import Lost
    from lfgtui.events import Event
    from lfgtui.remote.following import Followed


class Receiver(Protocol):
    """What a feed hands its events to: the run controller."""

    screen: RunScreen
    started: float
    """The run's start on the app's clock, which the summary's elapsed time counts from."""
    summary_stale: bool

    def deliver(self, event: Event) -> None: ...

    def lost(self, lost: Lost) -> None: ...


class RunFeed:
    """A fresh run's feed: nothing to restore or follow, its events come from its engine."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        """What delivers the events over time (a replay, a followed run), stopped with the feed."""

    def label(self, run_id: str) -> str:
        """The run as the summary bar names it."""
        return run_id

    def begin(self, receiver: Receiver) -> None:
        """Once the screen is mounted: deliver what is known now, start delivering what comes later."""

    async def stop(self) -> None:
        """Cancel the task, waiting a bounded time for it: a swallowed cancel never holds up quitting."""
        from lfgtui.cancels import stop

        if self.task is not None and await stop([self.task]) and not self.task.cancelled():
            self.task.result()  # a bug in the feed surfaces here


class RecordFeed(RunFeed):
    """A recorded run's events delivered at once (`lfg resume`, a run opened from the history), so its
    elapsed time goes on from where the record ends."""

    def __init__(self, recorded: RecordedRun, mode: Mode) -> None:
        super().__init__()
        self.recorded = recorded
        self.mode = mode

    def label(self, run_id: str) -> str:
        return f"{run_id} · {self.mode}"

    def begin(self, receiver: Receiver) -> None:
        events = replay_events(self.recorded)
        receiver.started -= events[-1].t if events else 0.0  # the record ends as the view starts
        for event in events:
            receiver.deliver(dataclasses.replace(event, t=event.t + receiver.started))


class ReplayFeed(RunFeed):
    """A recorded run played again at its pace (`lfg replay`), on the app's `ReplayClock`."""

    def __init__(self, recorded: RecordedRun, clock: ReplayClock) -> None:
        super().__init__()
        self.recorded = recorded
        self.clock = clock

    def label(self, run_id: str) -> str:
        return f"{run_id} · replay at {self.clock.speed:g}x"

    def begin(self, receiver: Receiver) -> None:
        self.task = asyncio.create_task(self._play(receiver), name="replay")

    async def _play(self, receiver: Receiver) -> None:
        await play(replay_events(self.recorded), self.clock, receiver.deliver)
        receiver.screen.notify("Replay finished.", timeout=4)


class AttachedFeed(RunFeed):
    """A run another lfg serves, followed over the wire (`lfg attach`): events as they come."""

    def __init__(self, attachment: Followed) -> None:
        super().__init__()
        self.attachment = attachment

    def label(self, run_id: str) -> str:
        attachment = self.attachment  # its state may quote the network's words
        return inert(f"{run_id} · attached to {attachment.url} · {attachment.state}")

    def begin(self, receiver: Receiver) -> None:
        self.task = asyncio.create_task(self._follow(receiver), name="attach")

    async def _follow(self, receiver: Receiver) -> None:
        from lfgtui.broker.watch import BrokerAttachment
        from lfgtui.remote.following import AttachError

        attachment = self.attachment

        def deliver(event: Event) -> None:
            receiver.started = attachment.offset  # the run's start on this clock: a broker's is
            receiver.deliver(event)  # known only from its first entry, after it said "live"

        def said(_: str) -> None:
            receiver.started = attachment.offset
            receiver.summary_stale = True

        try:
            if isinstance(attachment, BrokerAttachment):
                await attachment.follow(deliver, said, lost=receiver.lost)
            else:
                await attachment.follow(deliver, said)
        except AttachError as exc:
            receiver.screen.notify(inert(str(exc)), severity="error", timeout=10, markup=False)
