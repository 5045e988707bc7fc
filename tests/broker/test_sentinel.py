"""A broker behind Redis Sentinel: `redis+sentinel://SENTINEL[,SENTINEL…]/MASTER[/DB]`, read as the
`limits` library and redisvl write it, and a real failover (one primary, one replica, three
sentinels, `SENTINEL FAILOVER` mid-run) that the coordinator and its workers ride through: every
client asks the sentinels for the primary again when it reconnects."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import pytest
import redis

from lfgtui.broker.client import connect, explain
from lfgtui.config.broker import BrokerError, BrokerSettings, parse_url, resolve
from tests.support import warm_lfg
from tests.support.fleet import Fleet, coordinate, ends, finish, same_tickets, streaming, until
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.topologies import MASTER, SentinelSet, admin, role


def test_a_sentinel_url_names_its_sentinels_master_database_and_run() -> None:
    url = parse_url("rediss+sentinel://lfg:pw@s1:26380,s2,[::1]:26381/my%20master/3#0123456789ab")
    assert url.sentinels == (("s1", 26380), ("s2", 26379), ("::1", 26381))
    assert (url.master, url.db, url.run, url.username, url.password, url.tls) == (
        "my master",
        3,
        "0123456789ab",
        "lfg",
        "pw",
        True,
    )
    assert url.where == "rediss+sentinel://lfg@s1:26380,s2:26379,[::1]:26381/my%20master/3"
    assert "pw" not in url.where


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("redis+sentinel://s1:26379", "names no master"),
        ("redis+sentinel://s1:26379/mymaster/x", "expected a database number"),
        ("redis+sentinel://s1:26379,:26380/mymaster", "a sentinel with no host"),
        ("redis+sentinel://s1:port/mymaster", "a sentinel's port must be a number"),
        ("redis+sentinel://s1/mymaster?db=2", "takes no ?query"),
    ],
)
def test_a_sentinel_url_that_cannot_be_used_is_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(BrokerError, match=re.escape(problem)):
        parse_url(text)


async def test_a_client_reaches_the_primary_the_sentinels_name_and_the_new_one_after_a_failover(
    sentinels: SentinelSet,
) -> None:
    broker = resolve(sentinels.url + "/2", {}, BrokerSettings())
    client = await connect(broker)
    new = redis.Redis(host="127.0.0.1", port=sentinels.replica.port, db=2)
    try:
        await client.set("lfg:before", "1")
        # replicated first: a failover loses what has not reached the replica (a loaded CI run lost it)
        await until(lambda: new.get("lfg:before") == b"1")
        sentinels.fail_over()
        with pytest.raises(redis.ConnectionError) as dropped:  # the old primary's connection, killed
            await client.get("lfg:before")
        assert explain(dropped.value, broker) is not None, "said as the broker going away, not a bug"
        assert await client.set("lfg:after", "2"), "a new connection reaches the new primary"
    finally:
        await client.aclose()
    try:
        assert (new.get("lfg:before"), new.get("lfg:after")) == (b"1", b"2")
    finally:
        new.close()


async def test_a_failover_of_a_live_primary_moves_every_connection_at_the_sentinels_word(
    sentinels: SentinelSet,
) -> None:
    """`SENTINEL FAILOVER` promotes the replica at once but leaves the old primary a primary until
    Sentinel's next look (~10 s; here never: its REPLICAOF is denied), taking the writes of every
    connection still open to it. The client follows `+switch-master` instead: its connection to the
    old primary, idle or blocked in a read, is closed, and its next write lands on the new one."""
    old = admin(sentinels.primary.port)
    old.execute_command("ACL", "SETUSER", "default", "-replicaof", "-slaveof")
    broker = resolve(sentinels.url, {}, BrokerSettings())
    client = await connect(broker)
    blocked = await connect(broker, read_timeout_s=None)
    try:
        await client.set("lfg:before", "1")
        new = admin(sentinels.replica.port)
        await until(lambda: new.get("lfg:before") == "1")  # replicated: a failover loses what is not
        reading = asyncio.create_task(blocked.xread({"lfg:nothing": "$"}, block=0))
        await until(lambda: lfg_clients(old) == 2)
        sentinels.promote()
        await until(lambda: lfg_clients(old) == 0)
        with pytest.raises(redis.ConnectionError):
            await reading
        assert role(sentinels.primary.port) == "master", "the old primary still takes writes"
        await client.set("lfg:after", "2")
    finally:
        await client.aclose()
        await blocked.aclose()
    try:
        assert (new.get("lfg:before"), new.get("lfg:after"), old.get("lfg:after")) == ("1", "2", None)
    finally:
        new.close()
        old.close()


async def test_a_switch_said_while_the_sentinel_listened_to_hangs_moves_every_connection(
    sentinels: SentinelSet,
) -> None:
    """The sentinel the client listens to hangs (SIGSTOP: a paused machine, a network that drops
    without a reset) and the other two fail over a live primary that is never demoted (its REPLICAOF
    denied): their `+switch-master` reaches no lfg listener. Before, the client's connections stayed
    on the old primary for as long as that sentinel hung, its writes lost there; now the listener
    finds the silent sentinel not answering, listens to the next, sees that it names another primary
    and moves every connection."""
    old = admin(sentinels.primary.port)
    old.execute_command("ACL", "SETUSER", "default", "-replicaof", "-slaveof")
    hung, other = sentinels.sentinels[0], sentinels.sentinels[1]
    client = await connect(resolve(sentinels.url, {}, BrokerSettings()))
    assert hung.process is not None
    try:
        await client.set("lfg:before", "1")
        await client.execute_command("WAIT", 1, 0)  # on the replica before it is promoted: else lost
        await until(lambda: any(int(c.get("psub", 0)) + int(c.get("sub", 0)) for c in hung.clients()))
        hung.process.send_signal(signal.SIGSTOP)
        asking = other.admin()
        try:
            asking.execute_command("SENTINEL", "FAILOVER", MASTER)
        finally:
            asking.close()
        await until(lambda: role(sentinels.replica.port) == "master")
        await until(lambda: lfg_clients(old) == 0, 30)
        await client.set("lfg:after", "2")
    finally:
        hung.process.send_signal(signal.SIGCONT)
        await client.aclose()
    new = admin(sentinels.replica.port)
    try:
        assert (new.get("lfg:before"), new.get("lfg:after"), old.get("lfg:after")) == ("1", "2", None)
    finally:
        new.close()
        old.close()


def lfg_clients(server: redis.Redis) -> int:
    return sum(client["name"] == "lfg" for client in server.client_list())


async def test_sentinels_that_name_no_such_master_are_said_in_one_line(sentinels: SentinelSet) -> None:
    broker = resolve(sentinels.url.replace("/mymaster", "/other"), {}, BrokerSettings())
    with pytest.raises(BrokerError) as refused:
        await connect(broker)
    said = str(refused.value)
    assert said.startswith(f"no sentinel at {broker.where} names a primary 'other' that answers"), said


@pytest.mark.timeout(240)  # three sentinels, two workers' warm-ups, a failover: bounded waits that add up
def test_a_coordinated_run_rides_through_its_primary_killed_and_a_replica_promoted_running_each_ticket_once(
    tmp_path: Path, sentinels: SentinelSet
) -> None:
    fleet = Fleet(Lfg(tmp_path), sentinels.url)
    names = [f"t{n}" for n in range(6)]
    tickets = fleet.lfg.tickets(same_tickets(names, "long-answer:tokens_per_s=80,repeat=2"))
    try:
        for name in ("w1", "w2"):  # four run at once, two wait on the work stream
            fleet.start(name, "--max-concurrency", "2")
        coordinator = coordinate(fleet, tickets)
        seen = streaming(coordinator, names, 3)
        sentinels.primary_killed()  # mid-distribution: entries taken, entries waiting, events on their way
        code, events, err = finish(coordinator)
    finally:
        fleet.stop()
    assert code == 0, err
    completed = [ticket for (ticket, _), outcome in ends(seen + events).items() if outcome == "completed"]
    assert sorted(completed) == names, "every ticket completed, once"
    said = fleet.said("w1") + fleet.said("w2")
    for name in names:
        runs = re.findall(rf"{name} of run \S+ \(attempt \d+\): completed", said)
        assert len(runs) == 1, f"{name} ran to completion on one worker, once:\n{said}"
    new_primary = admin(sentinels.replica.port)
    try:
        (stream,) = new_primary.keys("lfg:run:*:events")
        ((_, last),) = new_primary.xrevrange(stream, count=1)
    finally:
        new_primary.close()
    assert last["kind"] == "end", "the coordinator ended the run on the new primary"
    run_id = re.search(r"watch it with: lfg attach \S+ ([0-9a-f]{12})", err)
    assert run_id is not None, err
    watched = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "attach", sentinels.url, run_id[1], "--json"],
        env=fleet.lfg.env,
        timeout=60 * PATIENCE,
    )
    assert watched.returncode == 0, watched.stderr
    watched_ends = ends([json.loads(line) for line in watched.stdout.splitlines()])
    assert sorted(t for (t, _), outcome in watched_ends.items() if outcome == "completed") == names
