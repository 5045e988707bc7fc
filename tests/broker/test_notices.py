"""A run's notices on the broker (layout.ENTRY_NOTICE: what a coordinator said of an attempt its
worker publishes) as watchers read them, beside notices forged by someone else who may write the
broker: the coordinator's is shown as the attempt's status, each forged one inert and bounded or
skipped, and none moves what the worker's numbered events are read past. Against a real
redis-server, the stream written as the publishers wrote it; `lfg attach --json` as a subprocess."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from redis.asyncio import Redis

from lfgtui.broker.layout import ENTRY_END, ENTRY_NOTICE, Layout, dumps
from lfgtui.broker.watch import MAX_NOTICE, BrokerAttachment
from lfgtui.events import Event, Status, TextDelta
from lfgtui.providers.registry import Providers
from lfgtui.remote.codec import encode
from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.services import Services
from tests.support.app import until
from tests.support.broker import ONE_TICKET, events_entry, published
from tests.support.git import ESCAPE
from tests.support.lfg import Lfg, command
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

SAID = "the broker went back in time (restored, failed over or flushed): 1 ended ticket re-marked"


def notice(number: int, data: bytes) -> dict[str, bytes]:
    return {"kind": ENTRY_NOTICE.encode(), "n": f"co.{number}".encode(), "data": data}


def status(ticket: str, message: str, seq: int = 10**9) -> bytes:
    """A notice's data: a status of `ticket`'s attempt 1, numbered far past any of the worker's."""
    event = Status(ticket=ticket, attempt=1, seq=seq, t=1.0, message=message)
    return dumps({"now": 1.0, "event": encode(event, 0.0)})


async def test_a_coordinators_notice_is_shown_in_its_attempt_and_forged_ones_inert_bounded_or_skipped(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, ONE_TICKET) as run:
        run.run.start()
        await run.finish()
    first = [e for e in run.events if e.ticket == "t"]
    cut = len(first) // 2
    injected = TextDelta(ticket="t", attempt=1, seq=10**9, t=1.0, text="injected")
    layout, run_id = Layout(), run.run.run_id
    redis = Redis(port=redis_server.port)
    try:
        await redis.delete(layout.events(run_id))
        for fields in (
            events_entry("w1", 1, first[:cut]),
            notice(1, status("t", SAID)),  # the coordinator's
            notice(1, status("t", "resent")),  # its number again: read past
            notice(2, status("t", ESCAPE + "x" * 200_000)),
            notice(3, status("nope", "a ticket the run did not describe")),
            notice(4, b"{not json"),
            notice(5, dumps({"now": 1.0, "event": encode(injected, 0.0)})),  # not a status
            notice(6, dumps({"now": 1.0})),
            notice(7, dumps({"now": 1.0, "event": {"type": "status", "ticket": "t", "attempt": "1"}})),
            events_entry("w1", 2, first[cut:]),
        ):
            await redis.xadd(layout.events(run_id), fields)
        await redis.xadd(layout.events(run_id), {"kind": ENTRY_END, "n": "co.8", "data": dumps({"now": 0.0})})
    finally:
        await redis.aclose()
    attachment = BrokerAttachment(run.broker, run_id)
    got: list[Event] = []
    said: list[str] = []
    await attachment.describe()
    try:
        await asyncio.wait_for(attachment.follow(got.append, said.append), 40 * PATIENCE)
    finally:
        await attachment.aclose()
    told = [e.message for e in got if isinstance(e, Status) and e.seq == 10**9]
    assert told[0] == SAID and len(told) == 2, told
    assert told[1].startswith(ESCAPE + "x") and len(told[1]) < MAX_NOTICE + 40, told[1][-60:]
    assert told[1].endswith(f"… ({200_000 + len(ESCAPE) - MAX_NOTICE:,} more characters)"), told[1][-60:]
    # the worker's events, every one and once, the notices' numbers notwithstanding
    worker = [(type(e), e.seq) for e in got if not (isinstance(e, Status) and e.seq == 10**9)]
    assert worker == [(type(e), e.seq) for e in first]
    assert "".join(e.text for e in got if isinstance(e, TextDelta)) == "".join(
        e.text for e in first if isinstance(e, TextDelta)
    )
    assert sum("skipped a notice that is not valid" in line for line in said) == 3, said
    # `lfg attach --json`: the same, inert, and it ends as the run did
    attach = await asyncio.to_thread(command, Lfg(tmp_path), "attach", redis_server.url, run_id, "--json")
    assert attach.returncode == 0, attach.stderr
    assert "\x1b" not in attach.stdout + attach.stderr and "\x07" not in attach.stdout + attach.stderr
    lines = [json.loads(line) for line in attach.stdout.splitlines()]
    statuses = [e["message"] for e in lines if e["type"] == "status" and e["message"] in told]
    assert statuses == told, attach.stdout[-2000:]
    assert "".join(e["text"] for e in lines if e["type"] == "text") == "".join(
        e.text for e in first if isinstance(e, TextDelta)
    )


async def test_the_attached_tui_shows_a_forged_notice_in_its_tickets_pane_inert_and_cut(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, ONE_TICKET) as run:
        run.run.start()
        await run.finish()
    first = [e for e in run.events if e.ticket == "t"]
    layout, run_id = Layout(), run.run.run_id
    redis = Redis(port=redis_server.port)
    try:
        await redis.delete(layout.events(run_id))
        await redis.xadd(layout.events(run_id), events_entry("w1", 1, first[: len(first) // 2]))  # running
        await redis.xadd(layout.events(run_id), notice(1, status("t", ESCAPE + "x" * 200_000)))
    finally:
        await redis.aclose()
    attachment = BrokerAttachment(run.broker, run_id)
    remote = await attachment.describe()
    services = Services(Providers(), prices=remote.prices, broker=run.broker)
    controller = RunController.attached(services, remote.tickets, remote.run_id, attachment)
    try:
        async with LfgApp(services, controller).run_test(size=(150, 30)) as pilot:
            pane = controller.panes["t"]
            await until(pilot, lambda: "xxx" in pane.status_note)
            assert "\x1b" not in pane.status_note and "\x07" not in pane.status_note
            assert pane.status_note.endswith(" more characters)") and len(pane.status_note) < MAX_NOTICE + 60
    finally:
        await attachment.aclose()
