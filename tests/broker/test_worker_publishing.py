"""A worker publishes the attempts of one run that it runs at once through one publisher, so that a
batch of the run's event stream holds all of them; each attempt's work entry is still held until the
broker has that attempt's events (real `lfg worker` processes and a real redis-server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lfgtui.broker.client import connect
from lfgtui.broker.fence import Fence
from lfgtui.broker.layout import GROUP, Layout
from lfgtui.broker.work import ControlEntry, WorkItem, relative_to
from lfgtui.broker.work_index import WorkIndex
from lfgtui.config.broker import BrokerSettings, resolve
from lfgtui.config.load import load_config
from lfgtui.run.requests import Approve
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.fleet import STEADY, Fleet, coordinate, ends, finish, same_tickets, until
from tests.support.patience import PATIENCE

LAYOUT = Layout()
RUN = "0123456789ab"
"""A run id as lfg makes them (workers take no other)."""


def entries_of(stream: list[tuple[bytes, dict[bytes, bytes]]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each events entry of a run's stream: its publisher's instance and its events."""
    return [
        (fields[b"n"].decode().partition(".")[0], json.loads(fields[b"data"])["events"])
        for _, fields in stream
        if fields[b"kind"] == b"events"
    ]


def test_the_tickets_of_a_run_that_a_worker_runs_at_once_share_its_entries(fleet: Fleet) -> None:
    names = [f"t{n}" for n in range(4)]
    model = "long-answer:ttft_ms=0,tokens_per_s=40"
    tickets = fleet.lfg.tickets(same_tickets(names, model))
    steady = fleet.config(STEADY, "steady.toml")
    fleet.start("w1", "--max-concurrency", "4", config=steady)
    code, events, err = finish(coordinate(fleet, tickets, config=steady))
    assert code == 0, err
    assert ends(events) == {(n, 1): "completed" for n in names}
    run_id = err.split("recorded as run ")[1].split()[0]

    async def read() -> list[tuple[bytes, dict[bytes, bytes]]]:
        redis = await connect(resolve(fleet.url, {}, BrokerSettings()))
        try:
            return await redis.xrange(LAYOUT.events(run_id))
        finally:
            await redis.aclose()

    streamed = [
        (instance, {e["ticket"] for e in batch if e["type"] == "text_delta"})
        for instance, batch in entries_of(asyncio.run(read()))
    ]
    streamed = [(instance, tickets) for instance, tickets in streamed if tickets]
    assert set().union(*(tickets for _, tickets in streamed)) == set(names)
    assert len({instance for instance, _ in streamed}) == 1, "one publisher for the four attempts"
    shared = [tickets for _, tickets in streamed if len(tickets) > 1]
    per_ticket = sum(len(tickets) for _, tickets in streamed)
    assert shared, (
        f"no entry holds more than one ticket's tokens: {len(streamed)} entries, {per_ticket} per ticket"
    )


@pytest.fixture
async def work(fleet: Fleet) -> AsyncIterator[Any]:
    """The broker's client, for a test that puts work on it itself."""
    redis = await connect(resolve(fleet.url, {}, BrokerSettings()))
    try:
        yield redis
    finally:
        await redis.aclose()


def work_item(fleet: Fleet, toml: str) -> WorkItem:
    """Attempt 1 of the ticket of `toml` in run RUN, as a coordinator enqueues it."""
    ticket = load_tickets(
        fleet.lfg.tickets(toml), load_config(fleet.config(STEADY)), BUILTIN_TOOLS, env={}
    ).tickets[0]
    return WorkItem(RUN, relative_to(ticket, fleet.lfg.workdir), 1, {}, askable=True)


async def enqueued(work: Any, item: WorkItem) -> str:
    """Put `item` on the sim's work stream as a coordinator does, indexed in its run."""
    index = WorkIndex(work, BrokerSettings().max_age_s)
    data, fence = item.fields()["data"], Fence(LAYOUT.generation(RUN))
    return await index.enqueue("lfg:work:sim", LAYOUT.work_index(RUN), data, item.ticket.id, fence)


async def test_an_attempt_that_ended_is_held_until_the_broker_has_its_events_while_others_publish(
    fleet: Fleet, work: Any
) -> None:
    # The run's event stream is a string: every XADD fails, as with a broker that refuses them.
    events = LAYOUT.events(RUN)
    await work.set(events, "not a stream")
    fleet.start("w1", "--max-concurrency", "2", config=fleet.config(STEADY, "steady.toml"))
    waits = work_item(
        fleet, '[[ticket]]\nid = "waits"\nprompt = "write"\nmodel = "writer"\ntools = ["write_file"]\n'
    )
    waiting = await enqueued(work, waits)
    await until(lambda: f"took waits of run {RUN}" in fleet.said("w1"))
    quick = work_item(fleet, '[[ticket]]\nid = "quick"\nprompt = "hi"\nmodel = "hello:ttft_ms=0"\n')
    quickly = await enqueued(work, quick)
    await until(lambda: f"quick of run {RUN} (attempt 1): completed" in fleet.said("w1"))

    async def pending() -> set[str]:
        held = await work.xpending_range("lfg:work:sim", GROUP, min="-", max="+", count=10)
        return {entry["message_id"].decode() for entry in held}

    async def published(kind: str) -> list[dict[str, Any]]:
        return [e for _, batch in entries_of(await work.xrange(events)) for e in batch if e["type"] == kind]

    await until(lambda: "publishing waits for it" in fleet.said("w1"))
    assert "answered with an error" in fleet.said("w1")
    assert await pending() == {waiting, quickly}, "quick ended, but the broker has none of its events"
    await work.delete(events)
    async with asyncio.timeout(40 * PATIENCE):
        while await pending() != {waiting}:
            await asyncio.sleep(0.05)
    ended = await published("attempt_ended")
    assert [(e["ticket"], e["outcome"]) for e in ended] == [("quick", "completed")], "all quick's events"
    async with asyncio.timeout(40 * PATIENCE):
        while not (asked := await published("approval_asked")):
            await asyncio.sleep(0.05)
    answer = ControlEntry(Approve("waits", asked[0]["call_id"], False), "you", waiting)
    await work.xadd(LAYOUT.control(RUN), answer.fields())
    async with asyncio.timeout(40 * PATIENCE):
        while await pending():
            await asyncio.sleep(0.05)
    assert f"waits of run {RUN} (attempt 1): completed" in fleet.said("w1")
    assert "did not reach the broker" not in fleet.said("w1")
    instances = {instance for instance, _ in entries_of(await work.xrange(events))}
    assert len(instances) == 1, "one publisher for both attempts"
