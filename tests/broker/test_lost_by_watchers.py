"""A watcher that comes to a run on the broker after its stream was trimmed (`[broker] max_len`) says
what it lost where its events go: `lfg attach --json` (a real subprocess) prints `gap` records and
marks the attempt's end partial, and the attached TUI's pane of the ticket says its text is not
whole. Against a real redis-server whose stream nodes are small, so that `MAXLEN ~` trims a short
run's stream."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from lfgtui.broker.gaps import DROPPED, Lost
from lfgtui.broker.layout import ENTRY_GAP, Layout, dumps
from lfgtui.broker.watch import ENTRIES_PER_READ, BrokerAttachment
from lfgtui.config.broker import BrokerSettings
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, pane, until
from tests.support.broker import published
from tests.support.compose import attach_app
from tests.support.lfg import Lfg, command, ending, of, recorded_run, text
from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer

TICKETS = """
[[ticket]]
id = "slow"
prompt = "go"
provider = "sim"
model = "long-answer:tokens_per_s=300"
"""
MAX_LEN = 10


@pytest.fixture
def small_nodes(redis_server: RedisServer) -> RedisServer:
    """The broker trims whole stream nodes only (`MAXLEN ~`): nodes of 4 entries let it trim to about
    `MAX_LEN` entries a run of a few seconds."""
    with Redis(port=redis_server.port) as redis:
        redis.config_set("stream-node-max-entries", 4)
    return redis_server


def test_attach_json_to_a_trimmed_stream_prints_the_gap_and_the_attempt_end_partial(
    tmp_path: Path, small_nodes: RedisServer
) -> None:
    lfg = Lfg(tmp_path)
    lfg.config.write_text(f"[broker]\nmax_len = {MAX_LEN}\n")
    code, local, err = lfg.run(lfg.tickets(TICKETS), "--publish", small_nodes.url)
    assert code == 0, err
    run_id = recorded_run(err)
    attached = command(lfg, "attach", f"{small_nodes.url}/{run_id}", "--json", "--config", str(lfg.config))
    assert attached.returncode == 0, attached.stderr
    lines = [json.loads(line) for line in attached.stdout.splitlines()]
    assert "were trimmed from the broker before they were read" in attached.stderr
    kinds = [line["type"] for line in lines]
    run_gap, attempt_gap = lines[0], lines[1]
    assert kinds[:2] == ["gap", "gap"], kinds  # before every event after them
    assert run_gap["ticket"] is None and run_gap["attempt"] is None and run_gap["why"] == "trimmed"
    assert run_gap["entries"] > 0 and run_gap["before_first_read"] is True and run_gap["events"] is None
    missing = len(of(local, "slow")) - len(of(lines, "slow")) + 1  # the gap is a line; not every event is
    assert attempt_gap["ticket"] == "slow" and attempt_gap["attempt"] == 1 and attempt_gap["why"] == "trimmed"
    assert attempt_gap["first_seq"] == 0 and attempt_gap["events"] == attempt_gap["last_seq"] + 1
    assert attempt_gap["events"] >= missing > 0, "what it lost: at least the lines missing here"
    assert attempt_gap["entries"] is None and attempt_gap["before_first_read"] is False
    assert "gap" not in kinds[2:], "one trim before the first entry read: said once"
    end = ending(lines, "slow")
    assert end["outcome"] == "completed" and end["partial"] is True
    assert ending(local, "slow")["partial"] is False, "the run itself saw every event"
    assert 0 < len(text(lines, "slow")) < len(text(local, "slow"))


async def test_the_attached_tui_says_in_the_pane_what_a_trimmed_stream_lost(
    sim: SimServer, tmp_path: Path, small_nodes: RedisServer
) -> None:
    async with published(sim, tmp_path, small_nodes.url, TICKETS, BrokerSettings(max_len=MAX_LEN)) as run:
        run.run.start()
        await run.finish()
    attachment = BrokerAttachment(run.broker, run.run.run_id)
    app = attach_app(await attachment.describe(), attachment, Providers(sim=sim))
    try:
        async with app.run_test(size=SIZE) as pilot:
            slow = pane(app, "slow")
            await until(pilot, lambda: slow.state is PaneState.COMPLETED and attachment.state == "ended")
            await until(pilot, lambda: "lost " in str(slow.notice.render()))
            notice = str(slow.notice.render())
            assert notice.startswith("⚠ lost ") and "events of attempt 1 (seq 0 to " in notice, notice
            assert "the broker trimmed or lost them before this watcher read them ([broker] max_len" in notice
            assert notice.endswith("what shows here is not whole"), notice
            await pilot.press("q")
    finally:
        await attachment.aclose()


async def test_a_gap_entry_tells_each_attempt_it_names_and_nothing_a_stranger_wrote_in_it(
    sim: SimServer, tmp_path: Path, redis_server: RedisServer
) -> None:
    async with published(sim, tmp_path, redis_server.url, TICKETS) as run:
        run.run.start()
        await run.finish()
    layout, run_id, again = Layout(), run.run.run_id, "0123456789ab"
    valid = {"ticket": "slow", "attempt": 1, "first_seq": 3, "last_seq": 7, "events": 5}
    spoilt = [
        valid | {"ticket": ["slow"]},
        valid | {"ticket": "stranger"},
        valid | {"ticket": "slow\x1b[2J"},
        valid | {"attempt": "1"},
        valid | {"events": 2.5},
        "slow",
    ]
    redis = AsyncRedis(port=redis_server.port)
    try:  # the run's entries again under another id, a gap entry (another publisher's) after the third
        description = await redis.hget(layout.run(run_id), "run")
        await redis.hset(layout.run(again), "run", description.replace(run_id.encode(), again.encode()))
        for number, (_, fields) in enumerate(await redis.xrange(layout.events(run_id))):
            await redis.xadd(layout.events(again), fields)
            if number == 2:
                gap = dumps({"now": 1.0, "lost": [*spoilt, valid]})
                await redis.xadd(layout.events(again), {"kind": ENTRY_GAP, "n": "feedbeef.1", "data": gap})
    finally:
        await redis.aclose()
    attachment = BrokerAttachment(run.broker, again)
    told: list[Lost] = []
    got: list[object] = []
    await attachment.describe()
    try:
        await asyncio.wait_for(attachment.follow(got.append, lambda _: None, lost=told.append), 40 * PATIENCE)
    finally:
        await attachment.aclose()
    assert [replace(lost, t=0.0) for lost in told] == [Lost(DROPPED, 0.0, "slow", 1, 3, 7, 5)]
    assert len(got) == len(run.events), "a gap entry takes nothing away from what was read"


@pytest.mark.parametrize(
    ("publishers", "then", "more"),
    [
        (["aaaa"] * 4 + ["cccc"] * 3, "bbbb", 0),
        (["aaaa"] * 4 + ["cccc"] * 3, "bbbb", ENTRIES_PER_READ),
        (["aaaa"] * 7, "aaaa", 0),
    ],
    ids=["closed-publishers", "closed-publishers-full-read", "one-publisher"],
)
async def test_a_watcher_stopped_while_publishers_entries_were_trimmed_says_how_many_once(
    sim: SimServer,
    tmp_path: Path,
    redis_server: RedisServer,
    publishers: list[str],
    then: str,
    more: int,
) -> None:
    """The watcher reads the run's first entry (of `publishers`' first), then stops (its `caught_up`
    waits) while the six others of `publishers` and the rest of the run (by `then`) are written, and
    all but the rest trimmed. closed-publishers: aaaa wrote three more and closed, cccc wrote three
    and closed; no publisher's numbers jump (aaaa's last read was its first, cccc's were all trimmed,
    bbbb's start at 1), so only the stream's own count tells the six (before the fix: nothing said).
    closed-publishers-full-read: `more` entries of a kind this lfg does not know (a newer lfg's)
    follow the trim, so the watcher's next read fills its count and the stream holds more than it
    returned. one-publisher: aaaa's numbers jump by six too, and the six are said once."""
    async with published(sim, tmp_path, redis_server.url, TICKETS) as run:
        run.run.start()
        await run.finish()
    layout, again = Layout(), "0123456789ab"
    key = layout.events(again)
    redis = AsyncRedis(port=redis_server.port)
    try:
        entries = await redis.xrange(layout.events(run.run.run_id))
        rest = len(entries) - len(publishers)
        assert rest > 2, "enough of the run left after the trimmed ones"
        names = [*publishers, *[then] * rest]
        numbered = [
            {**fields, b"n": f"{name}.{names[:at].count(name) + 1}".encode()}
            for at, (name, (_, fields)) in enumerate(zip(names, entries, strict=True))
        ]
        description = await redis.hget(layout.run(run.run.run_id), "run")
        await redis.hset(
            layout.run(again), "run", description.replace(run.run.run_id.encode(), again.encode())
        )
        await redis.xadd(key, numbered[0])
        stopped = asyncio.Event()

        async def caught_up() -> None:
            """The first time: the rest written while this watcher reads nothing, all but `then`'s trimmed."""
            if stopped.is_set():
                return
            stopped.set()
            for fields in numbered[1:]:
                await redis.xadd(key, fields)
            await redis.xtrim(key, maxlen=rest, approximate=False)
            for n in range(1, more + 1):
                await redis.xadd(key, {b"kind": b"newer", b"n": f"dddd.{n}".encode(), b"data": b"{}"})

        attachment = BrokerAttachment(run.broker, again)
        told: list[Lost] = []
        await attachment.describe()
        try:
            follow = attachment.follow(lambda _: None, lambda _: None, caught_up, told.append)
            await asyncio.wait_for(follow, 40 * PATIENCE)
        finally:
            await attachment.aclose()
    finally:
        await redis.aclose()
    assert attachment.gaps == ["6 of the run's entries were trimmed from the broker before they were read"]
    assert [lost.entries for lost in told if lost.ticket is None] == [6], told
    assert [lost.ticket for lost in told if lost.ticket is not None] == ["slow"], "its events jump: said"
