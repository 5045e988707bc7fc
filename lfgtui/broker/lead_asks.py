"""What a lead ticket's agent asks of its run when a broker's worker runs it (`lfg run --broker`).

The lead's agent runs on a worker, which serves it its door (broker/lead_door.py); the run that
decides what it asks lives in the coordinator. So the worker puts each request the lead's token made
on the run's asks stream (`Layout.asks`) as an `AskEntry`: the request as `POST /v1/requests` carries
it, the lead's id, the work entry whose attempt asks, the worker's name and a reply token. The
coordinator (`LeadAsks`) reads the stream and asks its run (`Run.ask`, as the lead, `Lead`) only what
the lead's running attempt asks from the worker that holds it: the ticket is a lead of the run, the
entry is the work entry its running attempt waits for, the run's `ran` hash says this worker took
that attempt, and the reply token was not seen before (a replayed entry). Anything else is refused
in words, to the asker and on the coordinator's stderr. The run decides the rest as it decides a
local lead's asks: what a lead may ask at all and of which tickets (run/decisions.py `forbidden`),
its caps, pace and budget, the person's defaults for what it adds, its idempotency keys. The answer
goes on the run's answers stream (`Layout.answers`), by the ask's reply token: only the coordinator
writes it (a worker's ACL user reads it and cannot forge one), and each waiting worker reads it from
just before its ask.

Every entry is untrusted (anyone who may write the run's keys may write one): read strictly, bounded,
never acted on beyond what the lead's own token may ask. Who wrote an entry is what it says, as for
every entry on the broker: a worker that names another worker and that worker's work entry asks as
that lead, within the lead's caps (docs/fleet.md, "Who may write what").
"""

from __future__ import annotations

import asyncio
import inspect
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lfgtui.broker.client import explain, until_answered
from lfgtui.broker.layout import Layout, dumps, loads, ran_field
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
"""Entries the asks and answers streams keep (about): each is read at once, by whoever waits for it."""
ASK_WAIT_S = 30.0
"""How long a worker waits for the coordinator's answer to an ask before saying it did not come."""
POLL_S = 1.0
"""Each wait on the broker, within the connection's read timeout."""
BLOCK_MS = 2_000
SEEN_KEPT = 10_000
"""Reply tokens the coordinator remembers, to refuse an entry replayed with one it answered."""


@dataclass(frozen=True)
class AskEntry:
    """One entry of a run's asks stream (see the module docstring)."""

    request: Request
    lead: str
    work: str
    worker: str
    reply: str

    def fields(self) -> dict[str, bytes]:
        data = {"request": encode(self.request), "lead": self.lead, "work": self.work}
        return {"data": dumps(data | {"worker": self.worker, "reply": self.reply})}

    @classmethod
    def read(cls, fields: dict[bytes, bytes]) -> AskEntry:
        """An entry read back strictly: a request a watcher may make, its names bounded, a reply token
        as `forward` makes one; else `WorkError` saying what is wrong."""
        raw = fields.get(b"data")
        if not isinstance(raw, bytes) or len(raw) > MAX_ASK_BYTES:
            raise WorkError(f"its data is missing or over {MAX_ASK_BYTES:,} bytes")
        data = loads(raw)
        lead, work, worker, reply = (data.get(name) for name in ("lead", "work", "worker", "reply"))
        if not all(isinstance(text, str) and 0 < len(text) <= MAX_NOTE for text in (lead, work, worker)):
            raise WorkError(f"it does not name a lead, a work entry and a worker: {data!r:.200}")
        if not (isinstance(reply, str) and REPLY_TOKEN.fullmatch(reply)):
            raise WorkError(f"its reply token is not one lfg makes: {reply!r:.60}")
        try:
            request = decode(data.get("request"))
        except RequestError as exc:
            raise WorkError(f"not a request ({exc})") from None
        assert isinstance(lead, str) and isinstance(work, str) and isinstance(worker, str)
        return cls(request, lead, work, worker, reply)


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
    """An answer read back (strictly: whoever may write the run's keys may write one); an answer that
    is not one of `answer_of`'s is said as such, refused."""
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
    redis: Redis, layout: Layout, run_id: str, ask: AskEntry, max_age_s: float, within_s: float = ASK_WAIT_S
) -> Told:
    """Put `ask` on the run's asks stream and wait for the coordinator's answer (a worker's side): the
    answers stream read from just before the ask's own entry, for the answer to its reply token."""
    key = layout.asks(run_id)
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
    return Refusal(
        f"the run's coordinator did not answer in {within_s:g} s (stopped, or cut off from the broker): "
        f"the {ask.request.kind} may or may not have been done; an add_ticket asked again with the "
        "same key adds nothing new"
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
    last: str = "0-0"
    seen: dict[str, None] = field(default_factory=dict)
    """The reply tokens answered (oldest first, at most `SEEN_KEPT`)."""

    @property
    def key(self) -> str:
        return self.dispatch.layout.asks(self.run.run_id)

    async def begin(self) -> None:
        """Read from the stream's end now: an ask from before this coordinator (a resumed run's) was
        answered, or given up on, by the one before."""
        newest = await self.redis.xrevrange(self.key, count=1)
        if newest:
            self.last = newest[0][0].decode()

    async def serve(self) -> None:
        """Answer asks until cancelled; a broker away is waited for, as the run's feed waits for it."""
        failures = 0
        while True:
            try:
                reply = await self.redis.xread({self.key: self.last}, count=100, block=BLOCK_MS)
            except Exception as exc:
                if explain(exc, self.dispatch.broker) is None:
                    raise
                failures += 1
                await asyncio.sleep(min(0.25 * 2**failures, 2.0))
                continue
            failures = 0
            for entry_id, fields in reply[0][1] if reply else ():
                self.last = entry_id.decode()
                await self._answer(self.last, fields)

    async def _answer(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        """Check one ask and ask the run, in the order the asks came (a lead's two adds are added in
        the order it asked); an answer the run gives later (a steer its worker has not answered yet)
        is waited for beside the next asks."""
        try:
            ask = AskEntry.read(fields)
        except WorkError as exc:
            self.said(f"refused ask {entry_id} of a lead of this run, not valid: {exc}")
            return
        refused = await until_answered(
            lambda: self._asker_problem(ask),
            lambda exc: explain(exc, self.dispatch.broker),
            self.said,
            "a lead's asks wait for it",
        )
        self.seen[ask.reply] = None
        if len(self.seen) > SEEN_KEPT:
            del self.seen[next(iter(self.seen))]
        if refused is not None:
            self.said(f"refused ask {entry_id} ({ask.request.kind} as lead {ask.lead!r:.60}): {refused}")
            await self._write(entry_id, ask, Refusal(refused))
            return
        told = self.run.ask(ask.request, Lead(ask.lead))
        if inspect.isawaitable(told):
            self.dispatch.background(self._later(entry_id, ask, told), f"lead ask {entry_id}")
        else:
            await self._write(entry_id, ask, told)

    async def _later(self, entry_id: str, ask: AskEntry, told: Awaitable[Told]) -> None:
        await self._write(entry_id, ask, await told)

    async def _write(self, entry_id: str, ask: AskEntry, told: Told) -> None:
        """The answer, on the answers stream by the ask's reply token."""
        pipe = self.redis.pipeline(transaction=False)
        key = self.dispatch.layout.answers(self.run.run_id)
        answer = {"reply": ask.reply, "data": answer_of(told)}
        pipe.xadd(key, answer, maxlen=ASKS_KEPT, approximate=True)  # type: ignore[arg-type]
        pipe.expire(key, int(self.dispatch.broker.settings.max_age_s))
        try:
            await pipe.execute()
        except Exception as exc:
            if (problem := explain(exc, self.dispatch.broker)) is None:
                raise
            self.said(f"could not answer ask {entry_id} of lead {ask.lead!r:.60}: {problem}")

    async def _asker_problem(self, ask: AskEntry) -> str | None:
        """Why this entry is not its lead's running attempt asking from the worker that holds it."""
        if ask.reply in self.seen:
            return "its reply token was answered before: a replayed entry"
        state = self.run.states.get(ask.lead)
        if state is None or not state.written.lead:
            return f"the run has no lead ticket {ask.lead!r:.60}"
        if not state.running or self.dispatch.work_of(ask.lead) != ask.work:
            return (
                f"work entry {ask.work!r:.40} is not the one {ask.lead}'s running attempt waits for "
                "(an ended or taken-over attempt, or a forged entry): only the lead's running attempt asks"
            )
        key = self.dispatch.layout.ran(self.run.run_id)
        ran = await self.redis.hget(key, ran_field(ask.lead, state.attempt))
        holder = ran.decode("utf-8", "replace") if isinstance(ran, bytes) else None
        if holder != ask.worker:
            return (
                f"worker {ask.worker!r:.60} does not run {ask.lead}'s attempt {state.attempt} "
                f"({'no worker took it yet' if holder is None else f'worker {holder!r:.60} does'})"
            )
        return None
