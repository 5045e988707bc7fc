"""The run's `end` written in the gap of a planned failover (issue #74): `SENTINEL FAILOVER` promotes
the replica at once, and the sentinels say so (`+switch-master`) only a moment later; a write to the
old primary meanwhile is taken, never reaches the new one, and is dropped when the old primary
follows it. A run that ended then left every watcher waiting for an end that never came. The run's
own `Publisher` on a primary, a replica and three real sentinels; the gap is held open by pausing the
sentinels (SIGSTOP) the moment the replica is promoted, as a sentinel's machine that stalls does."""

from __future__ import annotations

import asyncio
import signal

from lfgtui.broker.client import connect, explain
from lfgtui.broker.layout import Layout
from lfgtui.broker.publisher import STOP_S, Publisher
from lfgtui.config.broker import BrokerSettings, resolve
from tests.support.patience import PATIENCE
from tests.support.topologies import MASTER, SentinelSet, admin, role, wait_for

RUN = "0123456789ab"
LAYOUT = Layout()


def ended_on(port: int) -> bool:
    """Whether the server at `port` has the run's end (its entry in the index says when it ended)."""
    client = admin(port)
    try:
        return client.hexists(LAYOUT.run(RUN), "ended")
    finally:
        client.close()


def promoted_and_paused(sentinels: SentinelSet) -> None:
    """`SENTINEL FAILOVER`, and the sentinels paused as soon as the replica is the primary: before they
    say so, the coordinator's connections stay on the old primary, which still takes writes."""
    client = sentinels.sentinels[0].admin()
    try:
        client.execute_command("SENTINEL", "FAILOVER", MASTER)
    finally:
        client.close()
    wait_for(lambda: role(sentinels.replica.port) == "master", "the replica's promotion")
    for sentinel in sentinels.sentinels:
        assert sentinel.process is not None
        sentinel.process.send_signal(signal.SIGSTOP)


async def test_a_run_ended_in_a_failovers_gap_ends_on_the_new_primary_too(sentinels: SentinelSet) -> None:
    broker = resolve(sentinels.url, {}, BrokerSettings())
    client = await connect(broker)
    said: list[str] = []
    publisher = Publisher(client, RUN, [], broker.settings, said.append, lambda exc: explain(exc, broker))
    paused = False
    try:
        await publisher.register({"run_id": RUN, "tickets": []}, "me@here", "ends in the gap")
        publisher.start()
        await asyncio.to_thread(promoted_and_paused, sentinels)
        paused = True
        await publisher.aclose(STOP_S)  # the run's end, on the old primary
        closing = asyncio.create_task(publisher.confirm_end())  # as `lfg run` does before it exits
        await asyncio.to_thread(
            wait_for, lambda: ended_on(sentinels.primary.port), "the end on the old primary"
        )
        assert not ended_on(sentinels.replica.port), "the promoted replica never got it"
        for sentinel in sentinels.sentinels:
            assert sentinel.process is not None
            sentinel.process.send_signal(signal.SIGCONT)
        paused = False
        await asyncio.wait_for(closing, 60 * PATIENCE)
    finally:
        if paused:
            for sentinel in sentinels.sentinels:
                if sentinel.process is not None:
                    sentinel.process.send_signal(signal.SIGCONT)
        await client.aclose()
    # The old primary follows the new one, and drops what it took in the gap.
    await asyncio.to_thread(
        wait_for, lambda: role(sentinels.primary.port) == "slave", "the old primary to follow"
    )
    new = admin(sentinels.replica.port)
    try:
        last = [fields["kind"] for _, fields in new.xrevrange(LAYOUT.events(RUN), count=1)]
    finally:
        new.close()
    assert last == ["end"], f"the new primary has the run's end: {said}"
    assert "the broker had lost the run's end (it went back in time, or failed over): written again" in said
