"""Redis Cluster is refused, in one line, by every command that connects: a real one-node cluster
(every slot on it, so single-key commands work and only lfg's two-key scripts would fail, CROSSSLOT)
and a real three-node one (`redis-cli --cluster create`, where most keys answer MOVED). Before, both
sides hung on the first one and printed the raw MOVED on the other."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from lfgtui.broker.client import explain
from lfgtui.config.broker import CLUSTER_REFUSED, BrokerError, BrokerSettings, parse_url, resolve
from tests.support import warm_lfg
from tests.support.fleet import STEADY
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.topologies import ClusterNode, start_cluster

HELLO = '[[ticket]]\nid = "hi"\nprompt = "Say hello."\nprovider = "sim"\nmodel = "hello"\n'


@pytest.fixture(params=[1, 3], ids=["one-node", "three-nodes"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[ClusterNode]]:
    nodes = start_cluster(tmp_path / "cluster", request.param)
    yield nodes
    for node in nodes:
        node.stop()


def lfg_says(lfg: Lfg, *args: str) -> subprocess.CompletedProcess[str]:
    config = lfg.home / "config.toml"
    config.write_text(STEADY)
    return warm_lfg.run(
        [sys.executable, "-m", "lfgtui", *args, "--config", str(config)],
        env=lfg.env,
        timeout=60 * PATIENCE,
    )


def test_every_command_that_connects_refuses_a_cluster_in_one_line(
    tmp_path: Path, cluster: list[ClusterNode]
) -> None:
    lfg = Lfg(tmp_path)
    url = f"redis://127.0.0.1:{cluster[-1].port}"
    tickets = lfg.tickets(HELLO)
    commands = {
        "worker": ("worker", "--broker", url, "--name", "w1", "--root", str(lfg.workdir)),
        "coordinator": ("run", str(tickets), "--json", "--broker", url),
        "publisher": ("run", str(tickets), "--json", "--publish", url),
        "runs": ("runs", "--broker", url),
        "attach": ("attach", f"{url}#0123456789ab", "--json"),
    }
    for role, args in commands.items():
        done = lfg_says(lfg, *args)
        said = done.stderr.strip()
        assert done.returncode != 0, f"{role} went on against a cluster: {said}"
        assert "Traceback" not in said and len(said.splitlines()) == 1, f"{role}: {said}"
        assert CLUSTER_REFUSED in said and url in said, f"{role}: {said}"


def test_a_cluster_url_scheme_is_refused_before_connecting() -> None:
    for scheme in ("redis+cluster", "rediss+cluster"):
        with pytest.raises(BrokerError, match="Redis Cluster is not supported"):
            parse_url(f"{scheme}://127.0.0.1:7000")


def test_a_clusters_redirect_met_later_is_said_as_the_refusal(tmp_path: Path) -> None:
    """A MOVED reply (an ACL that denies INFO leaves it to be met later) says what to deploy, not
    the raw redirect."""
    nodes = start_cluster(tmp_path / "cluster", 3)
    try:
        plain = redis.Redis(host="127.0.0.1", port=nodes[0].port)
        broker = resolve(f"redis://127.0.0.1:{nodes[0].port}", {}, BrokerSettings())
        moved = []
        for n in range(32):  # some of these keys hash to another node's slots
            try:
                plain.get(f"lfg:run:{n}")
            except redis.ResponseError as exc:
                moved.append(exc)
        plain.close()
    finally:
        for node in nodes:
            node.stop()
    assert moved, "a three-node cluster redirects some keys"
    assert {explain(exc, broker) for exc in moved} == {f"the broker at {broker.where}: {CLUSTER_REFUSED}"}
