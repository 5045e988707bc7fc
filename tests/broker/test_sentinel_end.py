"""The run's `end` written in the gap of a planned failover (issue #74): `SENTINEL FAILOVER` promotes
the replica at once, and a client moves only once the sentinels tell it (`+switch-master`, or the
primary a sentinel names when asked); a write to the old primary meanwhile is taken, never reaches
the new one, and is dropped when Sentinel tells the old primary to follow it (seconds later). A
run that ended then left every watcher waiting for an end that never came. The run's own `Publisher`
on a primary, a replica and three real sentinels, which it reaches through loopback proxies: the gap
is held open by cutting those off (`black_hole`, a partition from the sentinels alone) through the
promotion and the run's end, then let go."""

from __future__ import annotations

import asyncio
import contextlib

from lfgtui.broker.client import connect, explain
from lfgtui.broker.layout import Layout
from lfgtui.broker.publisher import STOP_S, Publisher
from lfgtui.config.broker import BrokerSettings, resolve
from tests.support.patience import PATIENCE
from tests.support.proxy import partition
from tests.support.topologies import MASTER, SentinelSet, admin, role, wait_for

RUN = "0123456789ab"
LAYOUT = Layout()


def ended_on(port: int) -> bool:
    """Whether the server at `port` has the run's end (its entry in the index says when it ended)."""
    client = admin(port)
    try:
        return bool(client.hexists(LAYOUT.run(RUN), "ended"))
    finally:
        client.close()


async def test_a_run_ended_in_a_failovers_gap_ends_on_the_new_primary_too(sentinels: SentinelSet) -> None:
    said: list[str] = []
    with contextlib.ExitStack() as stack:
        proxies = [stack.enter_context(partition(("127.0.0.1", s.port))) for s in sentinels.sentinels]
        hosts = ",".join(f"127.0.0.1:{proxy.port}" for proxy in proxies)
        broker = resolve(f"redis+sentinel://{hosts}/{MASTER}", {}, BrokerSettings())
        client = await connect(broker)
        publisher = Publisher(client, RUN, [], broker.settings, said.append, lambda exc: explain(exc, broker))
        try:
            await publisher.register({"run_id": RUN, "tickets": []}, "me@here", "ends in the gap")
            publisher.start()
            for proxy in proxies:  # the sentinels say nothing more to this client
                proxy.black_hole()
            await asyncio.to_thread(sentinels.promote)
            assert role(sentinels.primary.port) == "master", "the old primary not yet told to follow"
            await publisher.aclose(STOP_S)  # the run's end, on the old primary
            assert ended_on(sentinels.primary.port) and not ended_on(sentinels.replica.port)
            confirming = asyncio.create_task(publisher.confirm_end())  # as `lfg run` does before it exits
            for proxy in proxies:
                proxy.reset()  # the sentinels are heard again: the new primary
            await asyncio.wait_for(confirming, 60 * PATIENCE)
        finally:
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
