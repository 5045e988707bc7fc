"""`lfg worker --broker URL`: runs the attempts coordinators put on the broker, with this machine's
providers, keys, coding agents, tools and worktrees.

A worker reads the work streams of the providers it has (`PREFIX:work:PROVIDER`, consumer group
`workers`, so each entry goes to one worker), and its own (`PREFIX:worker:NAME:work`: the follow-ups
of coding-agent tickets it ran, whose agent sessions are on this machine), at most `max_concurrency`
at a time; it notes in the run's `ran` hash which attempts it took. Each attempt
runs in a `Run` of its own (the ticket, and the tickets it depends on as done with the answers the
coordinator sent), whose events the worker's publisher of that run (one for all the attempts of the
run it runs at once, broker/publishers.py) adds to the run's event stream. While it runs the
worker renews its lease on the entry (`XCLAIM … JUSTID`), on a lease clock its attempts cannot hold
up (broker/lease_clock.py), and follows the run's control stream from
the moment the entry was enqueued (cancel, approval answers); when it ends, and its events are on
the broker, it acknowledges the entry. Entries whose lease lapsed (their worker was killed) are taken
over, as many at once as it has free slots (broker/ownership.py), and run as their next attempts.
The ends it recorded are kept for a few leases and written back should the broker go back in time
and forget them before the coordinator read them (broker/recent_ends.py).

A worker reads no work until the providers it was set up with are warm (`_warm`): their imports,
done in a thread, take seconds on a busy machine, which its first attempts would otherwise wait.
The built-in ones it serves unasked (the sims, `ollama`: `catalog.py` `unasked`) are made ready
with them only when their work streams have entries, else when their first entry comes, before that
attempt starts (`_ready`), so that a worker that never runs one never imports its SDK (the
`anthropic` SDK alone is over a second of CPU). The price table is read as a provider priced from it
is made ready (`prices.reads_table`), so a worker of the sims and `ollama` never reads it.

A provider this worker lacks (not in its config, no key, its agent not installed) is not read at
all, and the worker's presence (`PREFIX:worker:NAME`) says why, which the coordinator repeats in
the ticket of any attempt no worker serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.broker.client import AWAY, until_answered
from lfgtui.broker.gate import Gate
from lfgtui.broker.layout import GROUP, Layout, loads, ran_field
from lfgtui.broker.lease_clock import LeaseClock
from lfgtui.broker.ownership import Finished, Held, Ownership, Renewal
from lfgtui.broker.presence import Presence
from lfgtui.broker.publisher import Publisher
from lfgtui.broker.publishers import RunPublishers
from lfgtui.broker.recent_ends import RecentEnds
from lfgtui.broker.restored import Gate as RestoreGate
from lfgtui.broker.running_on import running_on
from lfgtui.broker.work import AttemptEnd, ControlEntry, WorkError, WorkItem, ended_field
from lfgtui.cancels import STOP_S, raise_swallowed_cancel, stop
from lfgtui.config.load import DEFAULT_DISK_RESERVE_MB
from lfgtui.cost import prices
from lfgtui.cost.prices import run_prices
from lfgtui.events import AttemptEnded, AttemptStarted, ErrorInfo, ErrorKind, Event, EventFactory, Outcome
from lfgtui.formats import plural
from lfgtui.providers.base import AssistantMessage, ProviderConfig
from lfgtui.providers.catalog import unasked
from lfgtui.providers.kinds import kind_of
from lfgtui.providers.registry import sim_path
from lfgtui.providers.sdk_import import import_sdk
from lfgtui.run.approvals import Approvals
from lfgtui.run.attempts import Earlier
from lfgtui.run.requests import Cancel, Refusal, Request, Told
from lfgtui.run.scheduler import Run
from lfgtui.tickets.ticket import Ticket

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.broker.lead_door import LeadDoorServed
    from lfgtui.config.broker import Broker
    from lfgtui.providers.registry import Providers
    from lfgtui.telemetry.runs import RunsMetered

BLOCK_MS = 2_000
"""How long one read of the work streams, or of a control stream, waits (a read of the work streams
at most a renewal interval, and no longer than until the next entry lapses, so that a free slot takes
it over right then)."""
RENEW_EVERY = 0.25
"""A lease is renewed every quarter of it."""
LAPSE_MARGIN_S = 0.005
"""How long after an entry's lease is due to lapse a free slot looks for it: the broker's idle count
must be past the lease for the takeover to claim it."""
FENCE_AFTER = 0.8
"""A worker that has not renewed an attempt's lease for this much of it, by its own clock, asks the
broker once more; counted from when it sent the last renewal the broker confirmed, which is before
the broker reset the entry's idle time, so never later than the broker's own count."""
CONFIRM_BY = 0.9
"""... and stops the attempt unless the broker confirms by this much of the lease, before another
worker may take the entry over. A confirmed renewal after a pause is safe to go on from: nobody took
the entry over meanwhile."""
LATE_CONFIRM_S = 1.0
"""How long the broker may take to confirm a lease once a pause of this process (a stalled loop, a
SIGSTOP) already took it past `CONFIRM_BY`: at most a quarter lease."""
DRAIN_S = 60.0
"""How long an attempt's last events may take to reach the broker once it ended (the lease held
meanwhile): an entry is acknowledged only once they are there."""
FINISH_S = 10.0
"""How long a worker stopped right after an attempt ended may take to record the end and acknowledge
its entry before it exits."""
GATE_EVERY_S = 0.25
"""How often a worker looks again whether the run's coordinator checked a broker that restarted."""
REPLY_KEPT_S = 60
"""How long a worker's answer to a command (`Layout.reply`) stays on the broker unread."""


def provider_problem(config: ProviderConfig, env: Mapping[str, str]) -> str | None:
    """Why this machine cannot run a provider's tickets, or None."""
    if kind_of(config).coding_agent:
        program = config.agent.command[0] if config.agent.command else ""
        if not program or shutil.which(program) is None:
            install = f" (install it: {config.agent.install})" if config.agent.install else ""
            return f"its agent {program!r} is not installed here{install}"
        return None
    if config.api_key_env and not env.get(config.api_key_env):
        return f"${config.api_key_env} is not set here"
    return None


@dataclass(frozen=True)
class WorkerOptions:
    name: str
    root: Path
    """Tickets' workdirs are relative to it."""
    max_concurrency: int = 4
    tool_env: Mapping[str, str] | None = None
    metrics: RunsMetered | None = None
    """What `lfg worker --metrics` serves: each attempt's run is counted there while it runs."""
    disk_reserve_mb: int = DEFAULT_DISK_RESERVE_MB
    """Its `[run] disk_reserve_mb` (run/disk_guard.py), for the boxed tickets it runs."""


@dataclass(frozen=True)
class Taken:
    """A work entry this worker holds: its stream, its id, how many times it was delivered."""

    stream: str
    entry: str
    fields: dict[bytes, bytes]
    deliveries: int
    asked: float
    """When (monotonic) this worker asked for it: its lease counts from no earlier."""

    @property
    def key(self) -> tuple[str, str]:
        """Which entry it is: its id is unique only in its stream."""
        return self.stream, self.entry


@dataclass
class Holding:
    """A taken entry while this worker holds its lease: from taking it until it is acknowledged, so
    an attempt that ended while the broker was away is not taken over and run again."""

    taken: Taken
    slot: bool = False
    """Whether it holds one of the worker's `max_concurrency` slots (else it waits for one, its lease
    renewed meanwhile)."""
    run: Run | None = None
    """The attempt's run once it started: losing the lease cancels it."""
    ticket_id: str = ""
    lost: bool = False
    """Another worker holds the entry now."""
    replayed_by: str | None = None
    """Set when the broker, gone back in time, handed this worker's delivery out again and the other
    keeps it (`RENEW`, `Renewal.REPLAYED`): who ('' when not known). This worker stands down."""
    started: bool = False
    """Whether this worker started the attempt (said so in the run's `ran` hash)."""
    fenced: bool = False
    """The lease was not renewed in time: the attempt stopped, its entry is left to be taken over."""
    ended: bool = False
    """The attempt ran to its end here: nothing left to fence."""
    renewed: float = 0.0
    """When (monotonic) the last renewal the broker confirmed was sent."""
    held: Held | None = None
    """Once its entry was read: where its renewals say this worker runs it on after the broker lost
    the entry (`RENEW`), so the coordinator does not enqueue it again meanwhile."""
    gate: Gate | None = None
    """Once its attempt runs: what holds its events while the lease is in doubt (broker/gate.py)."""

    def __post_init__(self) -> None:
        self.renewed = self.taken.asked

    @property
    def forsaken(self) -> bool:
        """Whether this worker is to leave the entry alone: neither record its end nor acknowledge it."""
        return self.lost or self.fenced


class BrokerWorker:
    """One `lfg worker` (see the module docstring): `serve` until cancelled."""

    def __init__(
        self,
        redis: Redis,
        broker: Broker,
        providers: Providers,
        options: WorkerOptions,
        said: Callable[[str], None],
        explain: Callable[[Exception], str | None],
        env: Mapping[str, str] = os.environ,
    ) -> None:
        self.redis = redis
        self.broker = broker
        self.providers = providers
        self.options = options
        self.said = said
        self.explain = explain
        self.layout = Layout(broker.settings.prefix)
        self.lease_s = broker.settings.lease_s
        configs = providers.configs
        self.refused = {n: why for n, c in configs.items() if (why := provider_problem(c, env)) is not None}
        self.serves = tuple(name for name in configs if name not in self.refused)
        self.streams = [self.layout.assigned(options.name), *(self.layout.work(name) for name in self.serves)]
        """Its own stream (a coding agent's follow-up, for the worker that has the agent's session)
        first, then those of the providers it serves."""
        self.running: dict[tuple[str, str], asyncio.Task[None]] = {}
        """The attempts under way, by stream and work entry: an entry's id is unique in its stream
        only, and the coordinator's XADDs to two providers' streams in one millisecond give both the
        same id (a lead's ticket on sim-acp, taken for its neighbour's on sim, lapsed unrun)."""
        self._slots = asyncio.Semaphore(options.max_concurrency)
        self.publishers = RunPublishers(self._publisher, DRAIN_S)
        self.ownership = Ownership(redis, GROUP, options.name)
        self.gate = RestoreGate(redis, self.layout)
        self.recent = RecentEnds(
            redis, self.layout, options.name, self.lease_s, int(broker.settings.max_age_s)
        )
        """The ends it recorded lately, written back when the broker forgot them (broker/recent_ends.py)."""
        self.clock = LeaseClock(broker, options.name)
        """Where leases are renewed: not on this loop, which the attempts may hold."""
        self._readying: dict[str, asyncio.Task[None]] = {}
        """Each provider's making ready, by name: started once, whoever asks first (`_ready`)."""
        self._announced = asyncio.Event()
        """Set once its presence is on the broker."""
        self.last_error = ""
        """What last went wrong here since the presence last said it (`_present`): a coordinator
        whose ticket stays queued says it, `lfg runs` shows it. Set from the lease clock's thread
        too, as one assignment."""
        self._claim_after = 0.0
        """No entry is taken over before this (monotonic): a lease after the last failure of the
        broker seen here, so that once it is back the workers holding entries renew their leases
        first (the entries' idle clock ran on while it was away)."""

    async def serve(self) -> None:
        """Take and run work until cancelled; a broker that goes away stalls taking, not running."""
        await self._groups()
        presence = asyncio.create_task(self._present(), name="presence")
        rewriting = asyncio.create_task(self._rewrite_ends(), name="recent ends")
        failures = 0
        try:
            await self._warm()
            while True:
                raise_swallowed_cancel()
                slots = await self._free_slots()
                try:
                    if failures:  # the broker is back: what it forgot of this worker's ends first
                        await self._write_back_ends()
                    taken, next_lapse_s = await self._claim(slots)
                    taken = taken or await self._read(next_lapse_s)
                except Exception as exc:
                    self._release(slots)
                    if _lost_group(exc):
                        await self._regroup()
                        continue
                    failures += 1
                    await self._failed(exc, failures, "taking work waits for it; what runs goes on")
                    continue
                raise_swallowed_cancel()  # a taken entry's lease lapses: another worker runs it
                if failures:
                    self.said("the broker is back: taking work again")
                    failures = 0
                fresh = [one for one in taken if one.key not in self.running]
                for one in taken:
                    if one.key in self.running:  # its own running entry handed out again: runs once
                        self.said(
                            f"entry {one.entry} of {one.stream}: the broker went back in time (restored or "
                            "failed over) and handed it out again to this worker, which runs it already: "
                            "not starting it twice"
                        )
                for n, one in enumerate(fresh):
                    self._start(Holding(one, slot=n < slots))
                self._release(slots - len(fresh))
        finally:
            within_s = FINISH_S + STOP_S  # an attempt that ended is recorded and acknowledged first
            tasks = [presence, rewriting, *self.running.values(), *self._readying.values()]
            if not await stop(tasks, within_s):
                self.said(f"its tasks did not stop in {within_s:g} s of being cancelled: leaving them")
            await self.clock.aclose()
            with contextlib.suppress(Exception):
                await self._absent()

    async def _rewrite_ends(self) -> None:
        """Every quarter lease, write back the ends this worker recorded lately that the broker
        forgot (it went back in time), before a lapse hands their entries out again."""
        failures = 0
        while True:
            await asyncio.sleep(self.lease_s * RENEW_EVERY)
            try:
                await self._write_back_ends()
                failures = 0
            except Exception as exc:
                failures += 1
                await self._failed(exc, failures, "writing back its recent ends waits for it")

    async def _write_back_ends(self) -> None:
        if not self.recent.kept:
            return
        written = await self.recent.write_back(self.running)
        if written:
            self.said(
                "the broker went back in time (restored or failed over) and forgot how "
                f"{plural(len(written), 'attempt')} of this worker ended: recorded again, so none runs "
                f"again: {'; '.join(end.said for end in written)}"
            )

    def _start(self, holding: Holding) -> None:
        task = asyncio.create_task(self._run(holding), name=f"work {holding.taken.entry}")
        self.running[holding.taken.key] = task
        task.add_done_callback(lambda _: self._done(holding))

    def _done(self, holding: Holding) -> None:
        self.running.pop(holding.taken.key, None)
        if holding.slot:
            self._slots.release()

    async def _failed(
        self, exc: Exception, failures: int, consequence: str, at_most_s: float | None = None
    ) -> None:
        raise_swallowed_cancel()
        problem = self.explain(exc)
        if problem is None:
            raise exc
        self._claim_after = time.monotonic() + self.lease_s
        self.last_error = f"{problem}: {consequence}"
        if failures == 1:
            self.said(f"{problem}: {consequence}")
        await asyncio.sleep(min(AWAY.delay(failures, None), at_most_s or AWAY.max_delay_s))

    async def _groups(self) -> None:
        """The consumer group on every stream this worker reads, made if it is not there yet. A broker
        whose ACLs do not let this worker make it raises `BrokerError` in one line: the worker cannot
        take work there (docs/fleet.md, "Who may write what")."""
        from redis.exceptions import NoPermissionError, ResponseError

        from lfgtui.config.broker import BrokerError

        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except NoPermissionError as exc:
                raise BrokerError(
                    f"{self.explain(exc)}: this worker cannot make its consumer group on {stream} "
                    "(XGROUP CREATE writes it; the ACLs a worker needs are in docs/fleet.md, "
                    '"Who may write what")'
                ) from None
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def _regroup(self) -> None:
        """The broker lost a consumer group (restarted without persistence, flushed, failed over):
        make them again and go on; the attempts whose entries it lost stop as their leases do."""
        self.said(
            f"the broker at {self.broker.where} lost the work streams' consumer group (restarted without "
            "persistence, flushed, or failed over): made it again"
        )
        await until_answered(self._groups, self.explain, self.said, "taking work waits for it")

    async def _free_slots(self) -> int:
        """Hold a slot, waiting for one, and every other slot free now: how many."""
        await self._slots.acquire()
        held = 1
        while not self._slots.locked():
            await self._slots.acquire()
            held += 1
        return held

    def _release(self, slots: int) -> None:
        for _ in range(slots):
            self._slots.release()

    async def _claim(self, slots: int) -> tuple[list[Taken], float]:
        """Up to `slots` entries whose worker's lease lapsed, taken over at once (so they start
        together, not one read apart); and how soon (s) the next one lapses."""
        now = time.monotonic()
        if now < self._claim_after:
            return [], self._claim_after - now
        taken: list[Taken] = []
        next_lapse_s = self.lease_s
        lease_ms = int(self.lease_s * 1000)
        for stream in self.streams:
            asked = time.monotonic()
            running = [entry for held, entry in self.running if held == stream]
            found = await self.ownership.take_over(stream, lease_ms, running, slots - len(taken))
            taken += [Taken(stream, one.entry, one.fields, one.deliveries, asked) for one in found.lapsed]
            next_lapse_s = min(next_lapse_s, found.next_lapse_s)
            if len(taken) == slots:
                break
        return taken, next_lapse_s

    async def _read(self, next_lapse_s: float) -> list[Taken]:
        """The next new entries of the streams this worker reads, waiting for one up to a renewal
        interval, or until the next lapse: one of each stream that has some (`COUNT` is per stream),
        all delivered to this worker, so all of them run (each as a slot frees), none left to lapse."""
        asked = time.monotonic()
        wait_s = min(self.lease_s * RENEW_EVERY, next_lapse_s + LAPSE_MARGIN_S)
        block = min(BLOCK_MS, max(int(wait_s * 1000), 1))
        reply = await self.redis.xreadgroup(
            GROUP, self.options.name, dict.fromkeys(self.streams, ">"), count=1, block=block
        )
        return [
            Taken(stream.decode(), entry.decode(), fields, 1, asked)
            for stream, entries in reply or ()
            for entry, fields in entries
        ]

    async def _run(self, holding: Holding) -> None:
        """Run one taken entry's attempt to its end, holding the entry's lease until its events are on
        the broker, its end is recorded and the entry is acknowledged (unless another worker took it
        over meanwhile). Stopped (SIGTERM) once the attempt ended, the worker still records that and
        acknowledges, for up to `FINISH_S`: else another worker would run the attempt again."""
        lease = asyncio.create_task(self._lease(holding), name="lease")
        fence = asyncio.create_task(self._fence(holding), name="fence")
        try:
            if not holding.slot:
                await self._slots.acquire()
                holding.slot = True
            if not holding.forsaken and await self._run_held(holding):
                await self._outlast(self._finish(holding, None), holding)
        finally:
            await stop([lease, fence])

    async def _outlast(self, work: Coroutine[None, None, None], holding: Holding) -> None:
        """Do `work`, what follows an attempt's end, even when the worker is stopped meanwhile: for up
        to `FINISH_S` more."""
        finishing = asyncio.create_task(work, name=f"finish {holding.taken.entry}")
        try:
            await asyncio.shield(finishing)
        except asyncio.CancelledError:
            if not finishing.done():
                entry = holding.taken.entry
                self.said(f"stopping: recording how entry {entry} ended first (at most {FINISH_S:g} s)")
                await asyncio.wait([finishing], timeout=FINISH_S)
                finishing.cancel()
            raise

    async def _wrap_up(
        self, holding: Holding, publisher: Publisher, item: WorkItem, attempt: int, end: AttemptEnd
    ) -> None:
        """Once the attempt ended: its last events to the broker, then record its end and acknowledge
        its entry; or, when the events did not get there, leave the entry to be run again. The run's
        other attempts here go on publishing meanwhile (`RunPublishers`)."""
        said = f"{item.ticket.id} of run {item.run_id} (attempt {attempt})"
        if holding.forsaken and end.outcome is not Outcome.INTERRUPTED:  # its end dropped, unrecorded
            self.said(
                f"{said}: interrupted (it {end.outcome} here once its entry was another worker's, or its "
                "lease in doubt: that end was dropped, neither published nor recorded)"
            )
        else:
            self.said(f"{said}: {end.outcome}")
        released = await self.publishers.release(publisher, item.ticket.id, attempt)
        if holding.fenced:
            return  # stopped by its own fence: its entry is left to be taken over
        if not released:
            self.said(
                f"the last events of {item.ticket.id} (attempt {attempt}) did not reach the broker: "
                "its entry is left for another worker to run again"
            )
            return
        finished = await self._finish(holding, end, item.run_id)
        if finished is Finished.TAKEN:
            self.said(
                f"{said}: its {end.outcome} end was dropped, not recorded: its entry was taken over by "
                "another worker first, whose attempt is the one that counts"
            )
        elif finished is Finished.ENDED_ELSEWHERE:
            self.said(
                f"{said}: its {end.outcome} end was dropped, not recorded: the broker went back in time "
                "and its coordinator had ended the attempt interrupted, to run the ticket again"
            )

    async def _finish(self, holding: Holding, end: AttemptEnd | None, run_id: str = "") -> Finished | None:
        """Record how the attempt ended (None: nothing to record) in the run's `ended` hash, where its
        coordinator finds it when the event stream was trimmed and a worker that takes the entry over
        finds that it ran already, and acknowledge its entry: in one step, and only while this worker
        holds the entry, so a stale attempt's end never stands in for the live one's. What it found
        (None: nothing asked, the entry forsaken)."""
        if holding.forsaken:
            return None
        taken = holding.taken
        ended = self.layout.ended(run_id) if end is not None else taken.stream
        field = ended_field(end.ticket, taken.entry) if end is not None else ""
        value = end.value() if end is not None else None
        lifetime = int(self.broker.settings.max_age_s)
        finished = await until_answered(
            lambda: self.ownership.finish(
                taken.stream, taken.entry, taken.deliveries, ended, field, value, lifetime
            ),
            self.explain,
            self.said,
            "acknowledging waits for it",
        )
        if finished in (Finished.TAKEN, Finished.ENDED_ELSEWHERE):
            holding.lost = True
            if end is None:
                self.said(
                    f"entry {taken.entry} of {taken.stream} was taken over by another worker before this "
                    "one acknowledged it: that worker's attempt is the one that counts"
                )
        elif end is not None and value is not None:  # kept to write back should the broker forget it
            said = f"{end.ticket} of run {run_id} (attempt {end.attempt}, {end.outcome})"
            data = taken.fields.get(b"data", b"")
            self.recent.keep(run_id, taken.stream, taken.entry, field, value, taken.deliveries, data, said)
        return finished

    async def _ended_before(self, item: WorkItem, holding: Holding) -> AttemptEnd | None:
        """How an attempt of this entry ended, when a worker ran one to its end but was stopped
        before it acknowledged the entry, or the broker went back in time and gave it out again
        (its coordinator writes the end back: broker/restored.py). Waits, the lease renewed, while
        the run's coordinator has not checked the broker's server since it restarted or failed over;
        a run no coordinator holds for a lease is not waited for."""
        taken, waited, alone_since = holding.taken, False, None
        mine = (self.options.name, taken.deliveries)
        while True:
            state, end, holder = await until_answered(
                lambda: self.gate.look(item.run_id, item.ticket.id, taken.stream, taken.entry),
                self.explain,
                self.said,
                "starting an attempt waits for it",
            )
            if state != 0 and end is None and holder is not None and holder != mine:
                self._given_back(holding, holder)  # the write-back gave it back to the worker running it
            if state == 1 or end is not None or holding.forsaken:
                return end
            now = time.monotonic()
            alone_since = (alone_since or now) if state == 2 else None
            if alone_since is not None and now - alone_since >= self.lease_s:
                self.said(
                    f"{item.ticket.id} of run {item.run_id}: the broker restarted or failed over and no "
                    "coordinator holds the run to check what ended: starting it unchecked"
                )
                return end
            if not waited:
                waited = True
                self.said(
                    f"{item.ticket.id} of run {item.run_id}: the broker restarted or failed over; waiting "
                    "for the run's coordinator to write back what ended before starting it"
                )
            await asyncio.sleep(min(self.lease_s * RENEW_EVERY, GATE_EVERY_S))

    def _given_back(self, holding: Holding, holder: tuple[str, int]) -> None:
        """The entry is another's now, found at the gate (before this worker started it): in a later
        delivery, taken over; in this delivery or an earlier one, a delivery the broker handed out
        again (it went back in time) and gave back to the worker that runs it."""
        holding.lost = True
        if holder[0] != self.options.name and holder[1] <= holding.taken.deliveries:
            holding.replayed_by = holder[0]

    async def _run_refused(self, item: WorkItem, entry: str) -> str | None:
        """Why an entry's run is not one to run work for: no coordinator enqueued the ticket in it
        (its work index, written with every entry it enqueues, has no entry of the ticket: a run
        that does not exist, or whose keys expired), the run ended (nobody follows its events), or
        the ticket's latest entry there is another: this one was added beside the coordinator's (a
        second entry for a ticket a live attempt holds runs unseen, its events taken for that
        attempt's), or was superseded."""
        index, run = self.layout.work_index(item.run_id), self.layout.run(item.run_id)

        async def ask() -> list[object]:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hget(index, item.ticket.id)
            pipe.hget(run, "ended")
            return await pipe.execute()

        indexed, ended = await until_answered(
            ask, self.explain, self.said, "starting an attempt waits for it"
        )
        if indexed is None:
            return (
                f"no coordinator of run {item.run_id} enqueued {item.ticket.id!r:.60} (no such run on the "
                "broker, or its keys expired)"
            )
        if ended is not None:
            return f"run {item.run_id} has ended: nobody follows its events"
        latest = loads(indexed).get("entry")
        if latest != entry:
            return (
                f"its run's coordinator enqueued {item.ticket.id!r:.60} as entry {latest!s:.40}, not this "
                "one (added by another writer of the work stream, or superseded): not running it"
            )
        return None

    async def _run_held(self, holding: Holding) -> bool:
        """Run the entry's attempt, and wrap it up once it ended; True when the entry is done with
        without running (to acknowledge)."""
        taken = holding.taken
        try:
            item = WorkItem.read(taken.fields)
            self._check_provider(item, taken.stream)
        except WorkError as exc:
            self._dropped(taken, str(exc))
            return True
        attempt = item.attempt + taken.deliveries - 1
        field = ended_field(item.ticket.id, taken.entry)
        ran = self.layout.ran(item.run_id), ran_field(item.ticket.id, attempt)
        holding.held = Held(self.layout.ended(item.run_id), field, self.layout.held(item.run_id, field), *ran)
        if (ended := await self._ended_before(item, holding)) is not None or holding.forsaken:
            if ended is not None:
                self.said(
                    f"{item.ticket.id} of run {item.run_id} (attempt {ended.attempt}) ended already "
                    f"({ended.outcome}): not running it again"
                )
            elif holding.replayed_by is not None:
                who = f"worker {holding.replayed_by}" if holding.replayed_by else "another worker"
                self.said(
                    f"{item.ticket.id} of run {item.run_id} (attempt {attempt}): the broker went back in "
                    f"time (restored or failed over) and handed out again the delivery {who} runs: "
                    "not running it here"
                )
            else:  # its worker wrote its end back, or it lapsed, while this one waited at the gate
                self.said(
                    f"{item.ticket.id} of run {item.run_id}: its entry was no longer this worker's "
                    "when it could start (taken over, or acknowledged by the worker that ran it): "
                    "not running it"
                )
            return True
        if (refused := await self._run_refused(item, taken.entry)) is not None:  # after: an ended one says so
            self._dropped(taken, refused)
            return True
        await self._ready(item.ticket.provider)  # before the cancels it reads: one sent meanwhile counts
        control = self.layout.control(item.run_id)
        since = taken.entry.partition("-")[0] + "-0"  # commands sent since it was enqueued
        earlier = await until_answered(
            lambda: self.redis.xrange(control, min=since, max="+"),
            self.explain,
            self.said,
            "starting an attempt waits for it",
        )
        if any(_cancels(fields, item.ticket.id, taken.entry) for _, fields in earlier):
            self.said(f"{item.ticket.id} of run {item.run_id} was cancelled before it started")
            return True
        await until_answered(
            lambda: self._took(item, attempt), self.explain, self.said, "starting an attempt waits for it"
        )
        holding.started = True
        last = earlier[-1][0].decode() if earlier else since
        publisher = self.publishers.open(item.run_id)
        how = "took over" if taken.deliveries > 1 else "took"
        self.said(f"{how} {item.ticket.id} of run {item.run_id} (attempt {attempt})")
        try:
            end = await self._attempt(item, attempt, holding, publisher, control, last)
        except BaseException:  # stopped mid-attempt: its entry is left to run again
            await self.publishers.release(publisher, item.ticket.id, attempt)
            raise
        holding.ended = not holding.forsaken
        await self._outlast(self._wrap_up(holding, publisher, item, attempt, end), holding)
        return False

    def _dropped(self, taken: Taken, why: str) -> None:
        """Say that an entry was refused, here and in this worker's presence (its last error)."""
        self.last_error = f"dropped entry {taken.entry} of {taken.stream}: {why}"
        self.said(self.last_error)

    def _check_provider(self, item: WorkItem, stream: str) -> None:
        """Raise `WorkError` unless the entry's provider is one this worker serves and, on a
        provider's work stream, that provider: whoever may write one stream must not start another
        provider's agents here."""
        provider = item.ticket.provider
        if provider not in self.serves:
            raise WorkError(f"its provider {provider!r:.60} is not one this worker serves")
        if stream != self.streams[0] and stream != self.layout.work(provider):
            raise WorkError(f"it names provider {provider!r:.60} but came on another provider's work stream")

    def _publisher(self, run_id: str) -> Publisher:
        """A publisher of this worker's attempts of a run (see `RunPublishers`)."""
        return Publisher(self.redis, run_id, [], self.broker.settings, self.said, self.explain, owner=False)

    async def _took(self, item: WorkItem, attempt: int) -> None:
        """Say in the run's `ran` hash that this worker runs the attempt, before any of its events."""
        key = self.layout.ran(item.run_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, ran_field(item.ticket.id, attempt), self.options.name)
        pipe.expire(key, int(self.broker.settings.max_age_s))
        await pipe.execute()

    async def _attempt(
        self, item: WorkItem, attempt: int, holding: Holding, publisher: Publisher, control: str, last: str
    ) -> AttemptEnd:
        try:
            ticket = item.placed(self.options.root)
        except WorkError as exc:
            ev = EventFactory(item.ticket.id, attempt)
            publisher(ev(AttemptStarted, provider=item.ticket.provider, model=item.ticket.model))
            error = ErrorInfo(ErrorKind.BAD_REQUEST, str(exc))
            publisher(ev(AttemptEnded, outcome=Outcome.FAILED, error=error))
            return AttemptEnd(item.ticket.id, attempt, Outcome.FAILED, error, 2)
        gate = Gate(publisher, lambda: self._doubtful(holding), lambda: holding.forsaken)
        holding.gate = gate
        run = self._make_run(item, ticket, attempt, gate)
        ended: list[AttemptEnded] = []

        def end_of(event: Event) -> None:
            if isinstance(event, AttemptEnded) and event.ticket == ticket.id:
                ended.append(event)

        run.sinks.append(end_of)
        holding.run, holding.ticket_id = run, ticket.id
        door = await self._door(item, holding.taken.entry, run, ticket) if ticket.lead else None
        where = running_on(self.options.name, socket.gethostname())
        run.retry(ticket.id, "; ".join(filter(None, (item.why, where))))
        if holding.forsaken:
            run.interrupt(ticket.id, ErrorInfo(ErrorKind.CONNECTION, self._lost_lease))
        entry = holding.taken.entry
        commands = asyncio.create_task(self._commands(item.run_id, last, entry, run, ticket.id))
        try:
            outcomes = await run.wait()
        except asyncio.CancelledError:  # this worker is stopping: another one runs the ticket
            run.interrupt(ticket.id, ErrorInfo(ErrorKind.CONNECTION, self._stopped_mid_attempt))
            raise
        finally:
            run.cancel_all()
            await run.wait()
            if self.options.metrics is not None:
                self.options.metrics.done(run)
            await stop([commands])
            if door is not None:
                await door.aclose()
        if gate.held and not holding.forsaken:  # it ended while the lease was in doubt: ask now
            await self._settle(holding)
        if gate.dropped:
            self.said(
                f"{ticket.id} of run {item.run_id} (attempt {attempt}): dropped {gate.dropped} of its "
                "events that came while its lease was in doubt, unpublished: another worker runs it"
            )
        if not ended:
            return AttemptEnd(ticket.id, attempt, outcomes[ticket.id], None, 0)
        metrics = run.book.attempts.get((ticket.id, attempt))
        return AttemptEnd(
            ticket.id,
            attempt,
            ended[-1].outcome,
            ended[-1].error,
            ended[-1].seq + 1,
            None if metrics is None else metrics.input_tokens,
            0 if metrics is None else metrics.output_tokens,
            None if metrics is None else metrics.cost_usd,
            metrics is not None and metrics.cost_estimated,
        )

    async def _door(self, item: WorkItem, entry: str, run: Run, ticket: Ticket) -> LeadDoorServed | None:
        """Serve a lead ticket's attempt its run here (broker/lead_door.py), its asks forwarded to the
        run's coordinator as this worker's, for this work entry (broker/lead_asks.py); None (the
        attempt fails saying it has no door) when the run cannot be read from the broker."""
        from lfgtui.broker.lead_asks import AskEntry, forward, new_reply
        from lfgtui.broker.lead_door import LeadDoorServed
        from lfgtui.remote.following import AttachError
        from lfgtui.remote.tokens import ServeError

        async def forwarding(asked: Request) -> Told:
            ask = AskEntry(asked, ticket.id, entry, new_reply())
            try:
                lifetime = self.broker.settings.max_age_s
                return await forward(self.redis, self.layout, self.options.name, item.run_id, ask, lifetime)
            except Exception as exc:
                if (problem := self.explain(exc)) is None:
                    raise
                return Refusal(f"{problem}: the {asked.kind} did not reach the run's coordinator")

        try:
            return await LeadDoorServed.open(self.broker, run, ticket, forwarding, self.said)
        except (AttachError, ServeError) as exc:  # a ServeError went unanswered: the attempt hung
            self.said(f"{ticket.id} of run {item.run_id}: cannot serve the lead its run here: {exc}")
            return None

    def _make_run(
        self, item: WorkItem, ticket: Ticket, attempt: int, publisher: Callable[[Event], None]
    ) -> Run:
        """A run of the one ticket, its dependencies done with their answers, at `attempt` - 1 so that
        retrying it starts `attempt`: a follow-up's, which sends what a local one sends."""
        done = {
            d: Earlier(1, Outcome.COMPLETED, conversation=(AssistantMessage(answer),))
            for d, answer in item.outputs.items()
        }
        dependencies = tuple(dataclasses.replace(ticket, id=d, depends_on=()) for d in item.outputs)
        # The coordinator moves it on, as a new work entry; a tournament's judge reaches a worker only
        # once the coordinator released it, on the prompt it was released with: not held again here.
        own = dataclasses.replace(ticket, fallback=(), judges=None)
        tickets = (own, *dependencies)
        run = Run(
            tickets,
            self.providers,
            Approvals(yes=item.yes, askable=item.askable),
            [publisher],
            max_concurrency=1,
            tool_env=self.options.tool_env,
            earlier={ticket.id: item.earlier(attempt), **done},
            prices=run_prices(self.providers.configs, (ticket,)),
            disk_reserve_mb=self.options.disk_reserve_mb,
        )
        run.run_id = item.run_id  # its worktree's branch is named after the run
        run.steers_only = True  # a steer it cannot take is the coordinator's to queue as a next turn
        if self.options.metrics is not None:
            self.options.metrics.count(run)
        return run

    @property
    def _lease_ms(self) -> int:
        return int(self.lease_s * 1000)

    @property
    def _lost_lease(self) -> str:
        return (
            f"worker {self.options.name} no longer holds this ticket's work entry (another worker took it "
            "over, or the broker lost it): it stopped the attempt"
        )

    @property
    def _fenced(self) -> str:
        return (
            f"worker {self.options.name} could not renew its lease for {self.lease_s * CONFIRM_BY:g} s "
            "(paused, or cut off from the broker): it stopped the attempt, which another worker takes over"
        )

    @property
    def _stopped_mid_attempt(self) -> str:
        return (
            f"worker {self.options.name} was stopped mid-attempt: another worker takes the ticket over "
            "once its lease lapses"
        )

    async def _lease(self, holding: Holding) -> None:
        """Renew the lease every `RENEW_EVERY` of it, on the lease clock, while this worker holds the
        entry; stop the attempt once it does not."""
        loop = asyncio.get_running_loop()
        await self.clock.run(lambda ownership: self._renew(holding, ownership, loop))

    async def _renew(self, holding: Holding, ownership: Ownership, loop: asyncio.AbstractEventLoop) -> None:
        """The lease's renewals, on the lease clock's loop (each checked and renewed in one step):
        whatever holds the worker's `loop` does not hold them. A renewal that fails is tried again
        soon, so that one comes right after the broker is back, before other workers take entries
        over (see `_claim_after`)."""
        taken, failures = holding.taken, 0
        while True:
            await asyncio.sleep(self.lease_s * RENEW_EVERY)
            asked = time.monotonic()
            try:
                renewal = await ownership.renew(
                    taken.stream, taken.entry, taken.deliveries, self._lease_ms, holding.held, holding.started
                )
            except Exception as exc:
                failures += 1
                consequence = "the lease waits for it; the attempt goes on until the lease would lapse"
                await self._failed(exc, failures, consequence, at_most_s=self.lease_s * RENEW_EVERY / 2)
                continue
            raise_swallowed_cancel()
            failures = 0
            if not renewal.mine:
                loop.call_soon_threadsafe(self._lose, holding, renewal)
                return
            if renewal is Renewal.TAKEN_BACK:
                loop.call_soon_threadsafe(self.said, self._taken_back(holding))
            holding.renewed = max(holding.renewed, asked)  # read by `_fence` on the worker's loop
            if holding.gate is not None and holding.gate.held:  # what waited on the doubt goes out
                loop.call_soon_threadsafe(holding.gate.release)

    def _taken_back(self, holding: Holding) -> str:
        return (
            f"entry {holding.taken.entry}: the broker went back in time (restored or failed over) and "
            "handed out again the delivery this worker runs: taken back, its attempt runs on here"
        )

    def _lose(self, holding: Holding, renewal: Renewal = Renewal.LOST) -> None:
        """Another worker holds the entry (or the broker lost it): stop the attempt here, publishing
        nothing more of it."""
        holding.lost = True
        why = self._lost_lease
        if renewal is Renewal.REPLAYED:
            holding.replayed_by = holding.replayed_by or ""
            why = (
                f"worker {self.options.name} stood down: the broker went back in time (restored or failed "
                "over) and handed out again the delivery of this attempt, which another worker runs"
            )
        if holding.gate is not None:
            holding.gate.release()  # dropped: forsaken
        if holding.run is not None:
            holding.run.interrupt(holding.ticket_id, ErrorInfo(ErrorKind.CONNECTION, why))

    async def _fence(self, holding: Holding) -> None:
        """Stop the attempt once its lease went unrenewed for `FENCE_AFTER` of it by this worker's
        clock and the broker does not confirm it by `CONFIRM_BY` (paused, or cut off from it):
        another worker may take the entry over soon after, and the work must not go on here beside
        it. Once the attempt ended there is nothing to stop: its end is recorded only if the entry is
        still this worker's (`_finish`)."""
        span = self.lease_s * FENCE_AFTER
        while True:
            left = holding.renewed + span - time.monotonic()
            if left > 0:  # a renewal moved the deadline on while this slept
                await asyncio.sleep(left)
                continue
            if holding.ended or holding.forsaken:
                return
            asked = time.monotonic()
            confirmed = await self._confirm(holding, asked)
            if holding.ended or holding.forsaken:
                return
            if confirmed is None:
                break
            if not confirmed.mine:
                self._lose(holding, confirmed)
                return
            holding.renewed = max(holding.renewed, asked)
            if holding.gate is not None:
                holding.gate.release()
        holding.fenced = True
        if holding.gate is not None:
            holding.gate.release()  # dropped: fenced
        self.said(
            f"entry {holding.taken.entry}: its lease was not renewed for {self.lease_s * CONFIRM_BY:g} s "
            "(paused, or cut off from the broker): stopped its attempt here, for another worker to take over"
        )
        if holding.run is not None:
            holding.run.interrupt(holding.ticket_id, ErrorInfo(ErrorKind.CONNECTION, self._fenced))

    def _doubtful(self, holding: Holding) -> bool:
        """Whether the lease went unconfirmed for `FENCE_AFTER` of it (by this worker's clock): its
        attempt's events wait for the broker to confirm it (broker/gate.py)."""
        return time.monotonic() - holding.renewed >= self.lease_s * FENCE_AFTER

    async def _settle(self, holding: Holding) -> None:
        """The attempt ended while its lease was in doubt: ask the broker once; confirmed, its last
        events go out; else they are dropped and the entry left (taken over, or to be)."""
        asked = time.monotonic()
        confirmed = await self._confirm(holding, asked)
        if confirmed is None:
            holding.fenced = True
        elif confirmed.mine:
            holding.renewed = max(holding.renewed, asked)
        else:
            holding.lost = True
        assert holding.gate is not None
        holding.gate.release()

    async def _confirm(self, holding: Holding, asked: float) -> Renewal | None:
        """Renew the lease now, within `CONFIRM_BY` of it: what the broker said of this worker's hold
        on the entry; None when the broker did not answer in time (or failed)."""
        lease, taken = self.lease_s, holding.taken
        within = max(holding.renewed + lease * CONFIRM_BY - asked, min(lease / 4, LATE_CONFIRM_S))
        try:
            async with asyncio.timeout(within):
                return await self.ownership.renew(
                    taken.stream, taken.entry, taken.deliveries, self._lease_ms, holding.held, holding.started
                )
        except TimeoutError:
            return None
        except Exception as exc:
            if self.explain(exc) is None:
                raise
            return None

    async def _commands(self, run_id: str, last: str, entry: str, run: Run, ticket_id: str) -> None:
        """Hand each request on the run's control stream for this attempt (cancel it or one of its
        agent's sub-agents, answer its calls) to its run (`Run.ask`), as the coordinator's run was
        handed it, saying which (the request as it arrived, and who asked), and answering on the
        reply key one names; until cancelled."""
        control, failures = self.layout.control(run_id), 0
        while True:
            raise_swallowed_cancel()
            try:
                reply = await self.redis.xread({control: last}, count=100, block=BLOCK_MS)
            except Exception as exc:
                failures += 1
                await self._failed(exc, failures, "commands for its attempts wait for it")
                continue
            failures = 0
            for command_id, fields in reply[0][1] if reply else ():
                last = command_id.decode()
                try:
                    sent = ControlEntry.read(fields)
                except WorkError:
                    continue
                if getattr(sent.request, "ticket", None) != ticket_id or sent.work != entry:
                    continue
                self.said(f"{ticket_id} of run {run_id}: {sent.by} asks {sent.request!r}")
                told = run.ask(sent.request, sent.by)
                if inspect.isawaitable(told):
                    told = await told
                if sent.reply is not None:
                    await self._reply(self.layout.reply(run_id, sent.reply), told)

    async def _reply(self, key: str, told: Told) -> None:
        """Answer a request that waits for it (a sub-agent's cancel): "" when done, else why not; the
        key lapses soon, whether or not its coordinator still waits."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.rpush(key, "" if told is None else told.said)
        pipe.expire(key, REPLY_KEPT_S)
        try:
            await pipe.execute()
        except Exception as exc:
            if (problem := self.explain(exc)) is None:
                raise
            self.said(f"could not answer a sub-agent's cancel: {problem}")

    async def _warm(self) -> None:
        """Make ready the providers it was set up with (their SDKs and the sim imported in a thread, the
        adapters made, the sim started, the price table read for those priced from it), before it
        reads any work, once it is on the broker (else a coordinator that looks would find no
        worker): on a busy machine that takes seconds, which the first attempts it takes would
        otherwise wait. A built-in one it serves
        unasked is made ready then too when its work stream has entries (the fleet is at work on it:
        this worker may take them over at once), else when its first entry comes (`_run_held`)."""
        await self._announced.wait()
        started = time.monotonic()
        unasked_here = [name for name in self.serves if unasked(self.providers.configs[name])]
        at_work = await until_answered(
            lambda: self._at_work(unasked_here), self.explain, self.said, "warming up waits for it"
        )
        for name in self.serves:
            if name not in unasked_here or name in at_work:
                await self._ready(name)
        self.said(f"worker {self.options.name} is ready ({time.monotonic() - started:.1f} s): taking work")

    async def _at_work(self, names: list[str]) -> set[str]:
        """Those of the providers `names` whose work stream has entries now, waiting or running (an
        entry is deleted once acknowledged)."""
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.xlen(self.layout.work(name))
        return {name for name, length in zip(names, await pipe.execute(), strict=True) if length}

    async def _ready(self, name: str) -> None:
        """Provider `name` made ready, once however many attempts ask at once (an attempt stopped
        meanwhile leaves it to the others)."""
        making = self._readying.get(name)
        if making is None:
            making = self._readying[name] = asyncio.create_task(self._make_ready(name), name=f"ready {name}")
        await asyncio.shield(making)

    async def _make_ready(self, name: str) -> None:
        """Import the modules of provider `name` in a thread (an SDK's import holds the loop for
        seconds on a busy machine: the attempts running meanwhile would stall), then make its adapter
        and start the sim it reaches, and read the price table if its tickets are priced from it; what
        fails is left for its tickets to say."""
        config = self.providers.configs[name]
        kind = kind_of(config)
        if prices.reads_table(config):
            await asyncio.to_thread(prices.load)
        modules = [kind.adapter.partition(":")[0]] if kind.adapter else []
        if sim_path(config) is not None:
            modules.append("lfgtui.sim.server")
        if kind.coding_agent:
            modules += ["lfgtui.run.agents.attempt", "lfgtui.worktrees.tree", "lfgtui.worktrees.diff_watch"]
        for module in modules:
            with contextlib.suppress(ImportError):  # said by the attempt that needs it
                await asyncio.to_thread(import_sdk, module)
        if kind.coding_agent:
            return
        try:
            await self.providers.get(name)
        except Exception as exc:  # left for its tickets to say
            self.last_error = f"provider {name} could not be made ready ({exc}): its tickets will say so"
            self.said(self.last_error)

    async def _present(self) -> None:
        """Say on the broker that this worker is here and what it serves, every third of a lease, on
        the broker's clock (broker/presence.py)."""
        presence, failures = Presence(self.redis, self.layout, self.options.name), 0
        fields = {
            "host": socket.gethostname(),
            "serves": json.dumps({"providers": list(self.serves)}),
            "refused": json.dumps(self.refused),
        }
        while True:
            try:
                error, self.last_error = self.last_error, ""
                await presence.announce({**fields, "running": len(self.running)}, 3 * self.lease_s, error)
                failures = 0
            except Exception as exc:
                failures += 1
                await self._failed(exc, failures, "this worker's presence waits for it", self.lease_s / 3)
                continue
            raise_swallowed_cancel()
            self._announced.set()
            await asyncio.sleep(self.lease_s / 3)

    async def _absent(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.layout.worker(self.options.name))
        pipe.zrem(self.layout.workers, self.options.name)
        await pipe.execute()


def _lost_group(exc: Exception) -> bool:
    """Whether the broker answered that a stream's consumer group is not there (it lost it)."""
    from redis.exceptions import ResponseError

    return isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP")


def _cancels(fields: dict[bytes, bytes], ticket_id: str, entry: str) -> bool:
    """Whether a control entry cancels this work entry's attempt (sent before it started)."""
    try:
        sent = ControlEntry.read(fields)
    except WorkError:
        return False
    return sent.request == Cancel(ticket_id) and sent.work == entry
