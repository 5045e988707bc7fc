"""One coordinator per run across machines: a lease on the broker (`PREFIX:run:RUN:coordinator`) that
the run's coordinator takes when it starts and renews on a lease clock of its own (its TUI or a busy
loop cannot starve it), and that `lfg resume RUN --broker` must find free.

On one machine the history's lock refuses a second coordinator of a run; with a copy of the history
on another machine nothing did, and two coordinators ran the run side by side, each enqueueing the
same dependents (issue #55). Now a resume finds the lease held and refuses, naming the machine and
process that holds it, unless that holder is gone: a process of this machine that no longer exists,
or one elsewhere whose lease lapses unrenewed (the resume waits for that, at most a lease). So taking
over deliberately is: stop that coordinator (or let its machine die), then resume.

Each taking of the lease is the run's next generation, and the lease a fence (broker/fence.py): a
coordinator that was paused past its lease while another resumed the run finds a later generation
when it wakes and stands down, where before it took the lapsed lease for a broker gone back in time,
claimed it again, and enqueued the run's dependents a second time (issue #74).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lfgtui.broker.client import explain
from lfgtui.broker.fence import Fence, stand_down, superseded
from lfgtui.broker.layout import Layout, loads
from lfgtui.broker.lease_clock import LeaseClock
from lfgtui.cancels import raise_swallowed_cancel
from lfgtui.inert import inert

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.broker.ownership import Ownership
    from lfgtui.config.broker import Broker

RENEW = """
local held, mine = redis.call('GET', KEYS[1]), tonumber(ARGV[3])
local now = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if now > mine then return 0 end
redis.call('SET', KEYS[2], mine, 'EX', ARGV[4])
if held == ARGV[1] and now == mine then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2
"""
"""KEYS: the run's coordinator key, its generation (broker/fence.py); ARGV: this coordinator's
value, the lease in ms, its generation, the generation's lifetime in s. Renew it if it is this
coordinator's: 1. A later generation took the run (a coordinator resumed it while this one was paused
or cut off, and may have ended it since): 0, touching nothing. Else the broker went back in time (the
lease or the generation gone, the generation lower, the lease an earlier coordinator's): taken again
at this coordinator's generation, 2."""

TAKE = """
local held = redis.call('GET', KEYS[1])
if (held or '') ~= ARGV[3] then return 0 end
local generation = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return generation
"""
"""KEYS: the run's coordinator key, its generation; ARGV: the new holder's value, the lease in ms, the
value the key must still hold ('' for none), the generation's lifetime in s: the holder's generation
(the one before, plus one) once taken, 0 when another resume or coordinator got there first."""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""KEYS: the run's coordinator key; ARGV: the value it must hold to be deleted."""

RENEW_EVERY = 0.25
"""The lease is renewed every quarter of it, as a worker's are."""
LOOK_EVERY_S = 0.2
"""How often a resume looks whether a holder elsewhere let its lease lapse."""


class CoordinatorHeld(Exception):
    """Another coordinator holds the run: the message names it and how to take over."""


@dataclass(frozen=True)
class Holder:
    """Who coordinates a run: its machine, process and person, and a token of this one start."""

    host: str
    pid: int
    who: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def here(cls, who: str) -> Holder:
        """This process, run by `who` (`user@host`: the user is kept)."""
        return cls(socket.gethostname(), os.getpid(), who.rpartition("@")[0] or who)

    def value(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def read(cls, value: object) -> Holder:
        """A holder read back leniently (anyone may write the broker): what is not there reads '?'."""
        data = loads(value)
        pid = data.get("pid")
        return cls(
            inert(str(data.get("host", "?")))[:200],
            pid if type(pid) is int else -1,
            inert(str(data.get("who", "?")))[:200],
            str(data.get("token", "")),
        )

    def named(self) -> str:
        return f"{self.who} on {self.host} (pid {self.pid})"

    def gone(self) -> bool:
        """Whether this holder is a process of this machine that no longer exists."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def _how_to_take_over(run_id: str, lease_s: float) -> str:
    return (
        f"stop that coordinator to take the run over (its lease lapses {lease_s:g} s after it stops "
        f"renewing it), then run `lfg resume {run_id} --broker` again"
    )


async def take(
    redis: Redis,
    layout: Layout,
    run_id: str,
    holder: Holder,
    lease_s: float,
    said: Callable[[str], None],
    lifetime_s: float,
) -> Fence:
    """Take the run's coordinator lease for `holder` once no live coordinator holds it; raise
    `CoordinatorHeld` naming the one that does. A holder of this machine whose process is gone is
    replaced at once; one elsewhere is given until its lease lapses unrenewed (at most a lease), for
    it may be alive. The lease is taken in one step on the broker (`TAKE`) only if it still holds
    what was looked at, so of two resumes that looked at once exactly one takes it; the next
    generation with it, the holder's fence (broker/fence.py)."""
    key = layout.coordinator(run_id)
    value = await redis.get(key)
    holder_before = None if value is None else Holder.read(value)
    if holder_before is not None and not holder_before.gone():
        if holder_before.host == socket.gethostname():
            raise _held(run_id, holder_before, lease_s)
        value = await _lapsed(redis, key, run_id, value, holder_before, lease_s, said)
    generation = layout.generation(run_id)
    taken = await redis.register_script(TAKE)(
        keys=[key, generation], args=[holder.value(), int(lease_s * 1000), value or b"", int(lifetime_s)]
    )
    if taken == 0:
        raise _held(run_id, Holder.read(await redis.get(key)), lease_s)
    return Fence(generation, int(taken))


async def _lapsed(
    redis: Redis,
    key: str,
    run_id: str,
    value: bytes,
    holder: Holder,
    lease_s: float,
    said: Callable[[str], None],
) -> bytes | None:
    """What the key holds once `holder`'s lease lapsed unrenewed (None: nothing); raise
    `CoordinatorHeld` when it renews it within a lease."""
    left_ms = await redis.pttl(key)
    said(
        f"run {run_id} has a coordinator lease held by {holder.named()}: waiting up to "
        f"{max(left_ms, 0) / 1000:.1f} s for it to lapse, as it does once that coordinator is gone"
    )
    try:
        async with asyncio.timeout(lease_s + 1):
            while (now := await redis.get(key)) == value:
                ttl = await redis.pttl(key)
                if ttl > left_ms:
                    break  # renewed: that coordinator is alive
                left_ms = ttl
                await asyncio.sleep(LOOK_EVERY_S)
        if now is None:
            return None
    except TimeoutError:
        pass
    raise _held(run_id, holder, lease_s)


def _held(run_id: str, holder: Holder, lease_s: float) -> CoordinatorHeld:
    return CoordinatorHeld(
        f"run {run_id} is coordinated already by {holder.named()}, which holds its coordinator lease on "
        f"the broker and renews it: {_how_to_take_over(run_id, lease_s)}"
    )


class CoordinatorLease:
    """A run's coordinator lease, taken by `claim` before the run is registered or anything of it
    published (a resume that loses the lease changes nothing), renewed on a lease clock until
    `aclose`. `said` hears, while it is held, that it cannot be renewed; `superseded`, that a later
    coordinator took the run (by default this one stands down: broker/fence.py)."""

    def __init__(self, redis: Redis, broker: Broker, run_id: str, who: str, said: Callable[[str], None]):
        self.redis, self.broker, self.run_id, self.said = redis, broker, run_id, said
        layout = Layout(broker.settings.prefix)
        self.key = layout.coordinator(run_id)
        self.holder = Holder.here(who)
        self.lease_ms = int(broker.settings.lease_s * 1000)
        self.fence = Fence(layout.generation(run_id))
        """What every write of this coordinator carries once the lease is taken (broker/fence.py)."""
        self._clock = LeaseClock(broker, f"coordinator of {run_id}")
        self._renewing: asyncio.Task[None] | None = None
        self._closed = False
        self.retaken: Callable[[], None] = lambda: None
        """Called (on the lease clock's thread) when the broker had lost the lease and it was taken
        again: the broker may have gone back in time (broker/restored.py)."""
        self.superseded: Callable[[str], None] = stand_down
        """Called (on the lease clock's thread) with why, once a later generation holds the run."""

    async def claim(self, waiting: Callable[[str], None]) -> None:
        """Take the lease (`take`: `waiting` hears that it waits for a holder elsewhere to lapse) and
        renew it from then on, or raise `CoordinatorHeld` naming who holds it."""
        layout, settings = Layout(self.broker.settings.prefix), self.broker.settings
        self.fence = await take(
            self.redis, layout, self.run_id, self.holder, settings.lease_s, waiting, settings.max_age_s
        )
        self._renewing = asyncio.create_task(self._clock.run(self._renew), name="coordinator lease")

    async def _renew(self, ownership: Ownership) -> None:
        """Every quarter lease, on the clock's loop; stands down once a later coordinator took over."""
        renew = ownership.redis.register_script(RENEW)
        keys = [self.key, self.fence.key]
        lifetime_s = int(self.broker.settings.max_age_s)
        args = [self.holder.value(), self.lease_ms, self.fence.generation, lifetime_s]
        away = False
        while True:
            await asyncio.sleep(self.broker.settings.lease_s * RENEW_EVERY)
            try:
                renewed = await renew(keys=keys, args=args)
            except Exception as exc:
                if (problem := explain(exc, self.broker)) is None:
                    raise
                if not away:
                    self.said(f"this run's coordinator lease cannot be renewed: {problem}")
                away = True
                continue
            raise_swallowed_cancel()
            away = False
            if renewed == 0:
                value = await ownership.redis.get(self.key)
                holder = "" if value is None else f"{Holder.read(value).named()} holds it; "
                self.superseded(superseded(f"{holder}its lease is of a later generation"))
                return
            if renewed == 2:
                self.said(
                    f"this run's coordinator lease was gone from the broker (restored, failed over or "
                    f"flushed): claimed it again for this coordinator of run {self.run_id}"
                )
                self.retaken()

    async def aclose(self) -> None:
        """Stop renewing and give the lease up, so a resume need not wait for it to lapse (once)."""
        if self._closed:
            return
        self._closed = True
        if self._renewing is None:
            await self._clock.aclose()
            return
        self._renewing.cancel()
        await asyncio.gather(self._renewing, return_exceptions=True)
        await self._clock.aclose()
        try:
            await self.redis.register_script(RELEASE)(keys=[self.key], args=[self.holder.value()])
        except Exception as exc:
            if explain(exc, self.broker) is None:
                raise
