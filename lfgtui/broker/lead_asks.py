"""What a lead ticket's agent asks of its run when a broker's worker runs it (`lfg run --broker`).

The lead's agent runs on a worker, which serves it its door (broker/lead_door.py); the run that
decides what it asks lives in the coordinator. So the worker puts each request the lead's token made
on its own asks stream for the run (`Layout.asks`: `lfg:worker:NAME:asks:RUN`, a key the documented
ACLs let only worker NAME's user write) as an `AskEntry`: the request as `POST /v1/requests` carries
it, the lead's id, the work entry whose attempt asks, and a reply token. Which worker asks is the
stream's, proven by the broker, never what an entry says.

The coordinator (`LeadAsks`) reads the asks streams of the workers that ran the run's leads (on
the broker or gone: `LeadAsks._askers`; never every name on the broker, which any worker may add)
and asks its run (`Run.ask`, as the lead, `Lead`) only what the lead's running attempt asks from the
worker that holds it: the ticket is a lead of the run, the entry is the work entry its running
attempt waits for, and the broker gives that entry to the worker whose stream asks (its consumer
group's pending entry; the run's `ran` hash only where the broker lost that), or gave it before and
the ask came while it did (its attempt died or was taken over first: `LeadAsks._record`), carried to
the attempt that runs now. Anything else is refused in words, to the asker and on the coordinator's
stderr. The run decides the rest as it decides a local lead's asks: what a lead may ask at all and
of which tickets (run/decisions.py `forbidden`), its caps, pace and budget, the person's defaults for
what it adds, its idempotency keys.

Each ask is decided once, by whichever coordinator reads it: the coordinator takes it in the run's
`asked` hash before asking its run, and answers it on the run's answers stream (`Layout.answers`, by
its reply token) in the same step that marks it done, both fenced (broker/fence.py): a coordinator
that lost its lease writes neither, and stands down. An ask made while no coordinator reads (it was
paused, stopped, or restarting) waits on the worker's stream, and the coordinator that takes the run
next answers it; one that a coordinator took and stopped before answering is answered as lost, in
words naming what was asked (it may or may not have been done). The worker waits `ASK_WAIT_S` for the
answer, and tells the lead's agent that its ask waits (`Pending`) when none came.

Every entry is untrusted: read strictly, bounded, never acted on beyond what the lead's own token may
ask (docs/fleet.md, "A lead ticket on a worker").
"""

from __future__ import annotations

import asyncio
import inspect
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from lfgtui.broker.client import explain, until_answered
from lfgtui.broker.fence import FENCE, Superseded
from lfgtui.broker.layout import GROUP, Layout, dumps, loads, ran_field, worker_name
from lfgtui.broker.work import MAX_NOTE, REPLY_TOKEN, WorkError
from lfgtui.run.requests import Added, Lead, Pending, Refusal, Request, RequestError, Told, decode, encode
from lfgtui.run.steering import MAX_MESSAGE_CHARS

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.broker.coordinator import Dispatch
    from lfgtui.run.scheduler import Run

MAX_ASK_BYTES = MAX_MESSAGE_CHARS * 12 + 8192
"""The most an ask's data may hold: as much as `POST /v1/requests` takes (remote/server.py), and room."""
ASKS_KEPT = 1_000
"""Entries each asks stream and the answers stream keep (about)."""
ASK_WAIT_S = 30.0
"""How long a worker waits for the coordinator's answer to an ask before telling the lead it waits."""
POLL_S = 1.0
"""Each wait on the broker, within the connection's read timeout."""
BLOCK_MS = 2_000
T = TypeVar("T")
MAX_ASKERS = 64
"""The most workers' asks streams a coordinator reads besides the running leads' holders: the `ran`
hash they are named in is any worker's to write."""
WHAT_CHARS = 300
"""How much of a lost ask's request its words quote."""

TAKE = (
    FENCE
    + """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    return 'new'
end
local was = redis.call('HGET', KEYS[1], ARGV[1])
if was == ARGV[3] then return 'new' end
return was
"""
)
"""KEYS: the run's `asked` hash, its generation; ARGV: the ask's field (`WORKER/ENTRY`), the hash's
lifetime in s, this coordinator's mark (`taken TOKEN`), its generation: `new` once this coordinator
took it (asked again after a reply the broker lost: still its own), else what the hash says (`taken
…`: a coordinator before took it and never answered; `done`: answered)."""
ANSWER = (
    FENCE
    + """
redis.call('HSET', KEYS[1], ARGV[1], 'done')
redis.call('EXPIRE', KEYS[1], ARGV[2])
if ARGV[4] ~= '' then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'reply', ARGV[4], 'data', ARGV[5])
    redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return 1
"""
)
"""KEYS: the run's `asked` hash, its answers stream, its generation; ARGV: the ask's field, the
lifetime in s, the answers kept, the reply token ('': an entry that is no ask, marked done with no
answer), the answer, the coordinator's generation."""
HOLD = (
    FENCE
    + """
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
for i = 4, #ARGV - 2, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
)
"""KEYS: the run's `holders` hash, its generation; ARGV: the field of the worker the broker gives a
lead's work entry to now (`WORKER/ENTRY`) and its record, the hash's lifetime in s, then each field
and record of a worker that held it before, closed (`until`), then the coordinator's generation."""


@dataclass(frozen=True)
class AskEntry:
    """One entry of a worker's asks stream (see the module docstring)."""

    request: Request
    lead: str
    work: str
    reply: str

    def fields(self) -> dict[str, bytes]:
        data = {"request": encode(self.request), "lead": self.lead, "work": self.work, "reply": self.reply}
        return {"data": dumps(data)}

    @classmethod
    def read(cls, fields: dict[bytes, bytes]) -> AskEntry:
        """An entry read back strictly: a request a watcher may make, its names bounded, a reply token
        as `forward` makes one; else `WorkError` saying what is wrong."""
        raw = fields.get(b"data")
        if not isinstance(raw, bytes) or len(raw) > MAX_ASK_BYTES:
            raise WorkError(f"its data is missing or over {MAX_ASK_BYTES:,} bytes")
        data = loads(raw)
        lead, work, reply = (data.get(name) for name in ("lead", "work", "reply"))
        if not all(isinstance(text, str) and 0 < len(text) <= MAX_NOTE for text in (lead, work)):
            raise WorkError(f"it does not name a lead and a work entry: {data!r:.200}")
        if not (isinstance(reply, str) and REPLY_TOKEN.fullmatch(reply)):
            raise WorkError(f"its reply token is not one lfg makes: {reply!r:.60}")
        try:
            request = decode(data.get("request"))
        except RequestError as exc:
            raise WorkError(f"not a request ({exc})") from None
        assert isinstance(lead, str) and isinstance(work, str)
        return cls(request, lead, work, reply)

    def what(self) -> str:
        """What was asked, quoted inert (JSON with every character past ASCII escaped), cut."""
        quoted = json.dumps(encode(self.request), ensure_ascii=True)
        return quoted if len(quoted) <= WHAT_CHARS else quoted[:WHAT_CHARS] + "…"


def answer_of(told: Told) -> bytes:
    """The coordinator's answer to an ask, as the answers stream carries it."""
    if isinstance(told, Refusal):
        return dumps({"refused": told.said})
    if isinstance(told, Pending):
        return dumps({"pending": told.said})
    if isinstance(told, Added):
        return dumps({"added": told.ticket, "by": told.by})
    return dumps({})


def told_of(answer: bytes) -> Told:
    """An answer read back (strictly: a broker's entry is trusted by nobody); an answer that is not one
    of `answer_of`'s is said as such, refused."""
    try:
        data = json.loads(answer)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):  # never taken for done
        return Refusal(f"the run's coordinator answered something that is not an answer: {answer!r:.200}")
    texts = {key: value for key, value in data.items() if isinstance(value, str) and len(value) <= MAX_NOTE}
    if data == {}:
        return None
    if set(data) == {"refused"} and "refused" in texts:
        return Refusal(texts["refused"])
    if set(data) == {"pending"} and "pending" in texts:
        return Pending(texts["pending"])
    if set(data) == {"added", "by"} and "added" in texts and (data["by"] is None or "by" in texts):
        return Added(texts["added"], texts.get("by"))
    return Refusal(f"the run's coordinator answered something that is not an answer: {answer!r:.200}")


async def forward(
    redis: Redis,
    layout: Layout,
    worker: str,
    run_id: str,
    ask: AskEntry,
    max_age_s: float,
    within_s: float = ASK_WAIT_S,
) -> Told:
    """Put `ask` on this worker's asks stream for the run and wait for the coordinator's answer (a
    worker's side): the answers stream read from just before the ask's own entry, for the answer to
    its reply token. None came within `within_s`: it waits on the broker (`Pending`, in words)."""
    key = layout.asks(worker, run_id)
    pipe = redis.pipeline(transaction=False)
    pipe.xadd(key, ask.fields(), maxlen=ASKS_KEPT, approximate=True)  # type: ignore[arg-type]
    pipe.expire(key, int(max_age_s))
    entry, _ = await pipe.execute()
    millis = int(entry.decode().partition("-")[0])
    answers, last = layout.answers(run_id), f"{millis - 1}-{2**64 - 1}"  # every answer since the ask
    deadline = time.monotonic() + within_s
    while (left := deadline - time.monotonic()) > 0:
        reply = await redis.xread({answers: last}, count=100, block=max(int(min(left, POLL_S) * 1000), 1))
        for entry_id, fields in reply[0][1] if reply else ():
            last = entry_id.decode()
            if fields.get(b"reply") == ask.reply.encode():
                return told_of(fields.get(b"data", b""))
    return Pending(
        f"the run's coordinator has not answered in {within_s:g} s (paused, restarting, or cut off from "
        f"the broker): the {ask.request.kind} waits on the broker, and the coordinator that runs the run "
        "next decides it once; its answer is not told here (a ticket it adds shows in list_tickets; an "
        "add_ticket asked again with the same key adds nothing new)"
    )


def new_reply() -> str:
    return secrets.token_hex(12)


@dataclass
class LeadAsks:
    """The coordinator's side: answer the asks of the run's lead tickets (see the module docstring)."""

    redis: Redis
    run: Run
    dispatch: Dispatch
    said: Callable[[str], None]
    lasts: dict[str, str] = field(default_factory=dict)
    """The last entry read of each worker's asks stream: each is read from its start once, as the
    `asked` hash says what a coordinator before decided."""
    waiting: list[tuple[str, str, AskEntry]] = field(default_factory=list)
    """Asks of a lead whose attempt this run has not started or adopted yet (worker, entry, ask)."""

    mark: str = field(default_factory=lambda: f"taken {secrets.token_hex(8)}")
    """What this coordinator writes of an ask it took."""
    recorded: dict[str, str] = field(default_factory=dict)
    """The holder of each running lead's entry this coordinator recorded (`HOLD`), by lead."""

    def __post_init__(self) -> None:
        self._take = self.redis.register_script(TAKE)
        self._answer = self.redis.register_script(ANSWER)
        self._hold = self.redis.register_script(HOLD)

    @property
    def layout(self) -> Layout:
        return self.dispatch.layout

    async def serve(self) -> None:
        """Answer asks until cancelled; a broker away is waited for, as the run's feed waits for it."""
        failures = 0
        while True:
            try:
                workers = {
                    self.layout.asks(name, self.run.run_id).encode(): name for name in await self._askers()
                }
                streams = {key: self.lasts.get(name, "0-0") for key, name in workers.items()}
                reply = await self.redis.xread(streams, count=100, block=BLOCK_MS) if streams else None
            except Exception as exc:
                if explain(exc, self.dispatch.broker) is None:
                    raise
                failures += 1
                await asyncio.sleep(min(0.25 * 2**failures, 2.0))
                continue
            failures = 0
            if not streams:
                await asyncio.sleep(POLL_S)
            waiting, self.waiting = self.waiting, []
            for worker, entry_id, ask in waiting:
                await self._decide(worker, entry_id, ask)
            for key, entries in reply or ():
                worker = workers[key]
                for entry_id, fields in entries:
                    self.lasts[worker] = entry_id.decode()
                    await self._read(worker, self.lasts[worker], fields)

    async def _askers(self) -> list[str]:
        """The workers whose asks streams are read: each that the run's `ran` hash says took an attempt
        of one of its leads (one gone from the broker too: its asks are answered, once), those read
        before, and the one the broker gives each running lead's work entry to. Not the workers on the
        broker: any worker may add names there, and every stream read costs each loop; so do names
        any worker may write in `ran`, hence at most `MAX_ASKERS`, the broker's holder always in."""
        leads = [state for state in self.run.states.values() if state.written.lead]
        if not leads:
            return []
        fields = [ran_field(s.ticket.id, attempt) for s in leads for attempt in range(1, s.attempt + 2)]
        named = await self.redis.hmget(self.layout.ran(self.run.run_id), fields)
        holders = []
        for state in leads:
            work = self.dispatch.work_of(state.ticket.id)
            if state.running and work is not None:
                holder = await self._holder(state.ticket.id, work, state.attempt)
                holders.append(holder)
                if holder is not None and self.recorded.get(state.ticket.id) != f"{holder}/{work}":
                    await self._record(state.ticket.id, work, holder)
        askers = [name for name in holders if name is not None and worker_name(name)]
        for raw in named:
            name = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
            if worker_name(name) and name not in self.lasts and len(self.lasts) < MAX_ASKERS:
                self.lasts[name] = "0-0"
        return list(dict.fromkeys([*askers, *self.lasts]))

    async def _read(self, worker: str, entry_id: str, fields: dict[bytes, bytes]) -> None:
        """Check one ask of `worker` and decide it, in the order the asks came (a lead's two adds are
        added in the order it asked)."""
        try:
            ask = AskEntry.read(fields)
        except WorkError as exc:
            if await self._taken(f"{worker}/{entry_id}") != b"done":  # said once, by one coordinator
                self.said(f"refused ask {entry_id} of worker {worker!r:.60}, not valid: {exc}")
                await self._mark_done(f"{worker}/{entry_id}")
            return
        await self._decide(worker, entry_id, ask)

    async def _decide(self, worker: str, entry_id: str, ask: AskEntry) -> None:
        """Take the ask (once, among every coordinator of the run), check who asks, and ask the run; an
        answer the run gives later (a steer its worker has not answered yet) is waited for beside the
        next asks. An ask of a lead whose attempt this run has not started yet waits for it."""
        if self._not_started(ask.lead) and len(self.waiting) < ASKS_KEPT:
            self.waiting.append((worker, entry_id, ask))
            return
        asked = f"{worker}/{entry_id}"
        taken = await self._taken(asked)
        if taken != b"new" and not taken.startswith(b"taken "):
            return  # answered
        if taken != b"new":
            lost = (
                f"lost: the run's coordinator before this one took this ask ({ask.what()}) and stopped "
                "before answering it: it may or may not have been done"
            )
            self.said(f"ask {entry_id} of worker {worker!r:.60} as lead {ask.lead!r:.60} was {lost}")
            await self._write(asked, ask, Refusal(lost))
            return
        refused = await self._broker(lambda: self._asker_problem(worker, entry_id, ask))
        if refused is not None:
            self.said(f"refused ask {entry_id} ({ask.request.kind} as lead {ask.lead!r:.60}): {refused}")
            await self._write(asked, ask, Refusal(refused))
            return
        told = self.run.ask(ask.request, Lead(ask.lead))
        if inspect.isawaitable(told):
            self.dispatch.background(self._later(asked, ask, told), f"lead ask {entry_id}")
        else:
            await self._write(asked, ask, told)

    async def _taken(self, asked: str) -> bytes:
        """Take the ask of field `asked` (`TAKE`): `new`, or what a coordinator before made of it."""
        keys, args = [self.layout.asked(self.run.run_id)], [asked, self._lifetime, self.mark]
        return await self._broker(lambda: self.dispatch.fence.call(self._take, keys, args))

    def _not_started(self, lead: str) -> bool:
        """Whether `lead` is a lead of the run that has not ended and whose attempt waits for no work
        entry yet (a resumed run adopts its attempt as it starts)."""
        state = self.run.states.get(lead)
        if state is None or not state.written.lead or state.outcome is not None:
            return False
        return self.dispatch.work_of(lead) is None

    async def _later(self, asked: str, ask: AskEntry, told: Awaitable[Told]) -> None:
        await self._write(asked, ask, await told)

    @property
    def _lifetime(self) -> int:
        return int(self.dispatch.broker.settings.max_age_s)

    async def _write(self, asked: str, ask: AskEntry, told: Told) -> None:
        """The answer, on the answers stream by the ask's reply token, in the step that marks it done."""
        keys = [self.layout.asked(self.run.run_id), self.layout.answers(self.run.run_id)]
        args = [asked, self._lifetime, ASKS_KEPT, ask.reply, answer_of(told)]
        await self._broker(lambda: self.dispatch.fence.call(self._answer, keys, args))

    async def _record(self, lead: str, work: str, holder: str) -> None:
        """Record, where only coordinators write (`Layout.holders`), that the broker gives the lead's
        work entry to `holder`; each worker recorded holding it before held it `until` the last
        entry on its asks stream now: its asks up to there were made while it ran the lead (or
        before a coordinator saw it taken over), and an entry it adds later, even with an id of its
        choosing, comes after. What proves an ask of an earlier attempt of the lead."""
        key, held = self.layout.holders(self.run.run_id), f"{holder}/{work}"
        closing: list[str | bytes] = []
        for raw, record in (await self.redis.hgetall(key)).items():
            field, was = raw.decode("utf-8", "replace"), loads(record)
            if field != held and was.get("lead") == lead and was.get("work") == work and "until" not in was:
                asks = self.layout.asks(field.rpartition("/")[0], self.run.run_id)
                last = await self.redis.xrevrange(asks, count=1)
                closing += [field, dumps(was | {"until": last[0][0].decode() if last else "0-0"})]
        args = [held, dumps({"lead": lead, "work": work}), self._lifetime, *closing]
        await self._broker(lambda: self.dispatch.fence.call(self._hold, [key], args))
        self.recorded[lead] = held

    async def _mark_done(self, asked: str) -> None:
        """An entry that is no ask marked done, answered to no one (it has no reply token to trust)."""
        keys = [self.layout.asked(self.run.run_id), self.layout.answers(self.run.run_id)]
        args = [asked, self._lifetime, ASKS_KEPT, "", b""]
        await self._broker(lambda: self.dispatch.fence.call(self._answer, keys, args))

    async def _broker(self, ask: Callable[[], Awaitable[T]]) -> T:
        """`ask` the broker until it answers; a later coordinator holding the run stands this one down."""
        try:
            return await until_answered(
                ask, lambda exc: explain(exc, self.dispatch.broker), self.said, "a lead's asks wait for it"
            )
        except Superseded as exc:
            self.dispatch.superseded(str(exc))

    async def _asker_problem(self, worker: str, entry_id: str, ask: AskEntry) -> str | None:
        """Why this entry is not its lead's running attempt asking from the worker that holds it, or
        from a worker that held it before (an attempt taken over, its worker dead or paused) while it
        did, as a coordinator recorded (`_record`): the lead's ask all the same, carried to the
        attempt that runs now (a ticket it adds shows in that attempt's `list_tickets`)."""
        state = self.run.states.get(ask.lead)
        if state is None or not state.written.lead:
            return f"the run has no lead ticket {ask.lead!r:.60}"
        if not state.running or self.dispatch.work_of(ask.lead) != ask.work:
            return (
                f"work entry {ask.work!r:.40} is not the one {ask.lead}'s running attempt waits for "
                "(an ended or taken-over attempt, or a forged entry): only the lead's running attempt asks"
            )
        holder = await self._holder(ask.lead, ask.work, state.attempt)
        if holder != worker and not await self._held_then(worker, entry_id, ask):
            return (
                f"worker {worker!r:.60} does not run {ask.lead}'s attempt {state.attempt} "
                f"({'no worker took it yet' if holder is None else f'worker {holder!r:.60} does'})"
            )
        return None

    async def _held_then(self, worker: str, entry_id: str, ask: AskEntry) -> bool:
        """Whether a coordinator recorded that the broker gave the lead's entry to `worker` (`_record`),
        and this ask is one it made while it held it."""
        held = loads(await self.redis.hget(self.layout.holders(self.run.run_id), f"{worker}/{ask.work}"))
        if held.get("lead") != ask.lead or held.get("work") != ask.work:
            return False
        until = held.get("until")
        return until is None or (isinstance(until, str) and _entry(entry_id) <= _entry(until))

    async def _holder(self, lead: str, work: str, attempt: int) -> str | None:
        """The worker the broker gives the lead's work entry to: the consumer its group delivered it to
        (taking it over stops the worker before), else, where the broker lost that delivery (its worker
        runs on under its `held` key), the one the run's `ran` hash names."""
        from redis.exceptions import ResponseError

        indexed = loads(await self.redis.hget(self.layout.work_index(self.run.run_id), lead))
        stream = indexed.get("stream") if indexed.get("entry") == work else None
        if isinstance(stream, str):
            try:
                pending = await self.redis.xpending_range(stream, GROUP, min=work, max=work, count=1)
            except ResponseError:  # its stream or group is gone
                pending = []
            if pending:
                return pending[0]["consumer"].decode("utf-8", "replace")
        ran = await self.redis.hget(self.layout.ran(self.run.run_id), ran_field(lead, attempt))
        return ran.decode("utf-8", "replace") if isinstance(ran, bytes) else None


def _entry(entry_id: str) -> tuple[int, int]:
    """A stream entry's id, ordered as the broker orders them."""
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)
