"""A work entry's id is unique on its stream only: two providers' work streams give the same id to
entries added in the same millisecond (a run whose tickets of two providers start together). The
coordinator's `Dispatch` on a real redis-server, with two such entries adopted as a resumed run adopts
them (broker/pickup.py): `a`'s on the sim's stream, `t`'s on the agent's; and a worker taking two such
entries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from json import loads
from pathlib import Path

import redis

from lfgtui.broker.client import connect, explain
from lfgtui.broker.coordinator import Arrived, Dispatch, LostEntry
from lfgtui.broker.layout import GROUP, Layout
from lfgtui.broker.pickup import Adopted
from lfgtui.broker.publisher import STOP_S, Publisher
from lfgtui.broker.work import AttemptEnd, WorkItem, ended_field
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.events import Outcome
from lfgtui.remote.description import run_description
from tests.support.fleet import Fleet, coordinate, ends, finish, until
from tests.support.patience import PATIENCE
from tests.support.recording import ticket
from tests.support.redis_server import RedisServer

RUN = "0123456789ab"
LAYOUT = Layout()
SAME = "1795884069744-0"
"""The id both streams gave (that of a CI run's `a` and `t`, whose resumed run then waited forever)."""
STREAMS = {"a": LAYOUT.work("sim"), "t": LAYOUT.work("agent")}


@dataclass
class Adopting:
    """A resumed run's `Dispatch` that adopted `a`'s and `t`'s entries, and what it said."""

    admin: redis.Redis
    dispatch: Dispatch
    said: list[str]

    def went_back(self) -> bool:
        return any("went back in time" in line for line in self.said)


@asynccontextmanager
async def adopting(
    redis_server: RedisServer, tmp_path: Path, attempts: dict[str, int]
) -> AsyncIterator[Adopting]:
    """`a` and `t` enqueued as `attempts` (in the consumer group workers read), adopted and waited for,
    the run's dispatch started; closed as its coordinator closes it."""
    admin = redis.Redis.from_url(redis_server.url)
    broker = resolve(redis_server.url, {}, BrokerSettings(lease_s=1.0))
    client = await connect(broker)
    said: list[str] = []
    publisher = Publisher(
        client, RUN, list(STREAMS), broker.settings, said.append, lambda e: explain(e, broker)
    )
    dispatch = Dispatch(client, broker, tmp_path)
    try:
        await publisher.register(run_description(RUN, [ticket(t) for t in STREAMS], None, False), "me", "ids")
        publisher.start()
        for ticket_id, stream in STREAMS.items():
            data = WorkItem(RUN, ticket(ticket_id), attempts[ticket_id], {}).fields()["data"]
            admin.xgroup_create(stream, GROUP, id="0", mkstream=True)
            admin.xadd(stream, {"data": data}, id=SAME)
            dispatch.adopt(ticket_id, Adopted(stream, SAME, data, attempts[ticket_id]))
            dispatch.wait_for(ticket_id)
            dispatch.expect(ticket_id, SAME)
        await dispatch.start(RUN, said.append, publisher.instance)
        yield Adopting(admin, dispatch, said)
        await publisher.aclose(STOP_S)
        await dispatch.aclose(publisher.confirm_end)
    finally:
        await client.aclose()
        admin.close()


def arrived(queue: asyncio.Queue[Arrived]) -> list[Arrived]:
    return [queue.get_nowait() for _ in range(queue.qsize())]


async def test_a_ticket_done_with_leaves_the_entry_of_the_same_id_on_another_stream_looked_at(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """`a` ends; `t`'s entry of the same id is lost: it is declared lost. Before, the run's done-with of
    `a` forgot the stream of `t`'s entry too (each was kept by entry id alone), and `t`'s entry was
    never looked at again: the run waited forever."""
    async with adopting(redis_server, tmp_path, {"a": 1, "t": 1}) as run:
        run.dispatch.finished(SAME, AttemptEnd("a", 1, Outcome.COMPLETED, None, 3))  # its worker ended it
        run.dispatch.done_with("a")
        run.admin.xdel(STREAMS["t"], SAME)  # the broker lost `t`'s entry
        waiting = run.dispatch.wait_for("t")
        async with asyncio.timeout(10 * PATIENCE):  # lost within two leases of the loss
            while not isinstance(got := await waiting.get(), LostEntry):
                pass
        assert got == LostEntry(SAME), run.said


async def test_a_broker_gone_back_has_both_ends_of_the_same_id_written_back(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """`a` and `t` ended; the broker went back to before (their ends forgotten, their entries pending
    as w1's again): both ends are written back and both entries deleted. Before, the run kept what it
    was done with by entry id alone: `a`'s end was not written back and its entry stayed, for a worker
    to run `a` again."""
    async with adopting(redis_server, tmp_path, {"a": 1, "t": 1}) as run:
        run.admin.xreadgroup(GROUP, "w1", dict.fromkeys(STREAMS.values(), ">"))
        for ticket_id in STREAMS:
            run.dispatch.finished(SAME, AttemptEnd(ticket_id, 1, Outcome.COMPLETED, None, 3))
            run.dispatch.done_with(ticket_id)
        run.admin.set(LAYOUT.checked(RUN), "the server before")
        await until(run.went_back, 10)
        ended = {name.decode() for name in run.admin.hkeys(LAYOUT.ended(RUN))}
        left = {stream: run.admin.xlen(stream) for stream in STREAMS.values()}
    assert ended == {ended_field(ticket_id, SAME) for ticket_id in STREAMS}, run.said
    assert left == dict.fromkeys(STREAMS.values(), 0), "no ended ticket's entry left to run again"
    assert any("2 ended tickets re-marked" in line for line in run.said), run.said


async def test_a_broker_gone_back_gives_up_the_handed_out_attempt_of_its_own_ticket_only(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """`a` (attempt 1) runs on w1, `t` (attempt 2, enqueued as such) on w2; the broker went back and
    handed `t`'s delivery out again to w3: `t`'s attempt is given up and `t` told so, and `a` runs on,
    its entry w1's. Before, the run kept each attempt by entry id alone: `t`'s attempt number numbered
    `a`'s deliveries, and the entry given up was said to `a`, which would run again, while `t` waited."""
    async with adopting(redis_server, tmp_path, {"a": 1, "t": 2}) as run:
        run.admin.xreadgroup(GROUP, "w1", {STREAMS["a"]: ">"})
        run.admin.xreadgroup(GROUP, "w2", {STREAMS["t"]: ">"})
        run.dispatch.ledger.started(SAME, "a", 1, "w1")
        run.dispatch.ledger.started(SAME, "t", 2, "w2")
        run.admin.xclaim(STREAMS["t"], GROUP, "w3", 0, [SAME])  # a later delivery, w3's
        run.admin.set(LAYOUT.checked(RUN), "the server before")
        await until(run.went_back, 10)
        told = {ticket_id: arrived(run.dispatch.wait_for(ticket_id)) for ticket_id in STREAMS}
        [held] = run.admin.xpending_range(STREAMS["a"], GROUP, SAME, SAME, 1)
        ended = run.admin.hgetall(LAYOUT.ended(RUN))
    assert LostEntry(SAME, rewound=True) in told["t"], told
    assert not any(isinstance(one, LostEntry) for one in told["a"]), told
    assert held["consumer"] == b"w1" and held["times_delivered"] == 1, "a's runs on as w1's"
    assert set(ended) == {ended_field("t", SAME).encode()}, "t's attempt given up, not a's"
    given_up = AttemptEnd.read(ended[ended_field("t", SAME).encode()])
    assert given_up is not None and (given_up.attempt, given_up.outcome) == (2, Outcome.INTERRUPTED)


def test_a_worker_runs_both_entries_of_one_id_on_two_streams_once_each(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """A worker serving both providers takes `a`'s entry and `t`'s, of the same id: each is its own
    attempt, run once (it had keyed what it runs by id alone, took `t`'s for `a`'s running, and left
    it to lapse a lease later, to be taken over as attempt 2: a CI run's lead ticket)."""
    ahead = f"{admin.time()[0] * 1000 + 120_000}-0"  # type: ignore[index]
    for stream in (LAYOUT.work("sim"), LAYOUT.work("sim-responses")):  # each stream's next id: ahead-1
        admin.xadd(stream, {"made": "here"}, id=ahead)
        admin.xdel(stream, ahead)
    fleet.start("w1")
    tickets = fleet.lfg.tickets(
        """
        [[ticket]]
        id = "a"
        prompt = "go"
        provider = "sim"
        model = "hello"

        [[ticket]]
        id = "t"
        prompt = "go"
        provider = "sim-responses"
        model = "hello"
        """
    )
    code, events, err = finish(coordinate(fleet, tickets))
    assert code == 0, err
    run_id = err.split("recorded as run ")[1].split()[0]
    entries = {t: loads(admin.hget(LAYOUT.work_index(run_id), t))["entry"] for t in ("a", "t")}
    assert entries["a"] == entries["t"], f"the same id on both streams, as the test means: {entries}"
    assert ends(events) == {("a", 1): "completed", ("t", 1): "completed"}, err + fleet.said("w1")
    assert "handed it out again" not in fleet.said("w1")
