"""Real redis-server topologies on loopback ports in tmp folders: a primary with a replica watched by
three sentinels (`SentinelSet`), and a Redis Cluster of one or three nodes (`start_cluster`).
Everything here waits for the servers' own states (a replica's link up, a sentinel that sees the
replica, a cluster whose state is ok), never for a time."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.patience import PATIENCE
from tests.support.redis_server import RedisServer, TlsFiles, free_port, redis_program

MASTER = "mymaster"
PACE = {"info-period": 1000, "publish-period": 500, "tilt-trigger": 60_000}
"""`SENTINEL DEBUG` settings every test sentinel runs with: it asks its servers' roles every 1 s, not
10 s, and tells a primary that came back to follow 2 s (four publish periods) after it saw it, not 8:
a failover settles in ~3 s, not ~10 to 20. And it stays out of TILT (30 s of doing nothing after
its timer ran 2 s late), which a loaded CI machine's stall can set off in all three sentinels at
once: a clean-clone run waited 180 s there for the old primary to follow, and failed."""
SETTLE_S = 60.0
"""The longest any topology may take to reach a state before the test fails saying which."""


def wait_for(check: object, what: str, timeout: float = SETTLE_S) -> None:
    """Poll `check()` until it holds (a redis error counts as not yet); fail saying `what` otherwise
    (`timeout` stretched in a wide run: tests/support/patience.py)."""
    deadline = time.monotonic() + timeout * PATIENCE
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass(frozen=True)
class Locks:
    """What a `SentinelSet` asks of whoever reaches it: the primary's and replica's `requirepass`
    (which the replica and the sentinels use too), an ACL user on both (name, password), the
    sentinels' own `requirepass` and an ACL user of theirs, and TLS on every port (servers,
    replication, sentinels)."""

    password: str | None = None
    user: tuple[str, str] | None = None
    sentinel_password: str | None = None
    sentinel_user: tuple[str, str] | None = None
    tls: TlsFiles | None = None

    def server_options(self) -> tuple[str, ...]:
        user = ("--user", self.user[0], "on", f">{self.user[1]}", "~*", "&*", "+@all") if self.user else ()
        tls = ("--tls-replication", "yes") if self.tls else ()
        auth = ("--masterauth", self.password) if self.password else ()
        return (*user, *tls, *auth)


OPEN = Locks()


def admin(port: int, password: str | None = None, tls: TlsFiles | None = None) -> redis.Redis:
    """A client of the server at `port` as its default user (with `password`, over TLS with `tls`)."""
    secure = {"ssl": True, "ssl_ca_certs": str(tls.ca)} if tls else {}
    return redis.Redis(
        host="127.0.0.1", port=port, password=password, decode_responses=True, socket_timeout=5, **secure
    )  # type: ignore[arg-type]


def replication(port: int, locks: Locks = OPEN) -> dict[str, object]:
    """`INFO replication` of the server at `port`: its `role` (`master`, `slave`), its link."""
    client = admin(port, locks.password, locks.tls)
    try:
        return dict(client.info("replication"))
    finally:
        client.close()


def role(port: int, locks: Locks = OPEN) -> str:
    return str(replication(port, locks)["role"])


@dataclass
class Replica(RedisServer):
    """A redis-server started as the replica of the primary on `primary_port`."""

    primary_port: int = 0

    def arguments(self) -> list[str]:
        return [*super().arguments(), "--replicaof", "127.0.0.1", str(self.primary_port)]


def cluster_port() -> int:
    """A free port whose cluster bus port (10,000 higher) can exist: redis-server refuses one above
    55535."""
    while (port := free_port()) > 55535:
        pass
    return port


@dataclass
class ClusterNode(RedisServer):
    """A redis-server with cluster mode on (its node file in its folder)."""

    port: int = field(default_factory=cluster_port)

    def arguments(self) -> list[str]:
        return [*super().arguments(), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]


@dataclass
class SentinelProcess:
    """`redis-server CONF --sentinel` watching `MASTER` on `primary_port` (quorum 2, down after 1 s,
    paced by `PACE`)."""

    folder: Path
    primary_port: int
    locks: Locks = OPEN
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "sentinel.log"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "sentinel.conf"
        conf.write_text(
            f"bind 127.0.0.1\ndir {self.folder}\nlogfile {self.log}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 10000\n" + self._locked()
        )
        self.process = subprocess.Popen([redis_program(), str(conf), "--sentinel"], stdin=subprocess.DEVNULL)
        wait_for(lambda: self.log.exists() and "+monitor master" in self.log.read_text(), "a sentinel")
        client = self.admin()
        try:
            for name, value in PACE.items():
                client.execute_command("SENTINEL", "DEBUG", name, value)
        finally:
            client.close()

    def events(self, lines: int = 40) -> str:
        """The last `lines` of its log, for a failure to say what it saw and did."""
        said = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join([f"-- sentinel {self.port}:", *said[-lines:]])

    def _locked(self) -> str:
        """The lines of its conf that set its port, its password, the primary's and TLS."""
        locks = self.locks
        lines = [f"port {self.port}"]
        if locks.tls is not None:
            lines = [
                f"port 0\ntls-port {self.port}\ntls-replication yes\ntls-auth-clients no",
                f"tls-cert-file {locks.tls.cert}\ntls-key-file {locks.tls.key}",
                f"tls-ca-cert-file {locks.tls.ca}",
            ]
        if locks.password is not None:
            lines.append(f"sentinel auth-pass {MASTER} {locks.password}")
        if locks.sentinel_password is not None:
            lines.append(f"requirepass {locks.sentinel_password}")
        if locks.sentinel_user is not None:
            lines.append(f"user {locks.sentinel_user[0]} on >{locks.sentinel_user[1]} ~* &* +@all")
        return "\n".join(lines) + "\n"

    def admin(self) -> redis.Redis:
        return admin(self.port, self.locks.sentinel_password, self.locks.tls)

    def clients(self) -> list[dict[str, str]]:
        """`CLIENT LIST` of this sentinel: who is connected to it, as which user."""
        client = self.admin()
        try:
            return list(client.client_list())
        finally:
            client.close()

    def primary_port_named(self) -> int:
        client = self.admin()
        try:
            host_port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
        finally:
            client.close()
        return int(host_port[1])

    def knows_replica(self, port: int) -> bool:
        client = self.admin()
        try:
            replicas = client.execute_command("SENTINEL", "REPLICAS", MASTER)
        finally:
            client.close()
        return any(int(r["port"]) == port and "s_down" not in r["flags"] for r in replicas)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10 * PATIENCE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5 * PATIENCE)


@dataclass
class SentinelSet:
    """A primary, its replica and three sentinels watching them, all started and settled."""

    primary: RedisServer
    replica: RedisServer
    sentinels: list[SentinelProcess]
    locks: Locks = OPEN

    @classmethod
    def start(cls, folder: Path, locks: Locks = OPEN) -> SentinelSet:
        served = {"password": locks.password, "tls": locks.tls, "options": locks.server_options()}
        primary = RedisServer(folder / "primary", **served)  # type: ignore[arg-type]
        primary.start()
        replica = Replica(folder / "replica", primary_port=primary.port, **served)  # type: ignore[arg-type]
        found = cls(primary, replica, [], locks)
        try:
            replica.start()
            linked = lambda: replication(replica.port, locks).get("master_link_status") == "up"  # noqa: E731
            wait_for(linked, "the link")
            for n in range(3):
                sentinel = SentinelProcess(folder / f"sentinel-{n}", primary.port, locks)
                found.sentinels.append(sentinel)
                sentinel.start()
            for sentinel in found.sentinels:
                found.wait_for(
                    lambda s=sentinel: s.knows_replica(replica.port), "a sentinel to see the replica"
                )
        except BaseException:
            found.stop()
            raise
        return found

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"{'rediss' if self.locks.tls else 'redis'}+sentinel://{hosts}/{MASTER}"

    def admin(self, port: int) -> redis.Redis:
        """A client of the primary or replica at `port`, as its default user."""
        return admin(port, self.locks.password, self.locks.tls)

    def wait_for(self, check: object, what: str) -> None:
        """`wait_for`, failing with what each sentinel logged last (why a failover did not settle)."""
        try:
            wait_for(check, what)
        except AssertionError as failed:
            raise AssertionError("\n".join([str(failed), *(s.events() for s in self.sentinels)])) from None

    def fail_over(self) -> None:
        """`SENTINEL FAILOVER` of a live primary, then wait until the replica is the primary every
        sentinel names and the old primary follows it (Sentinel tells it so on a look at least four
        publish periods later, ~2 s at `PACE`, ~10 s at its defaults: until then it still takes its
        clients' writes)."""
        self.promote()
        following = lambda: role(self.primary.port, self.locks) == "slave"  # noqa: E731
        self.wait_for(following, "the old primary to follow the new one")

    def swapped(self) -> None:
        """After `fail_over`: wait until the old primary is a replica the sentinels would promote (its
        link up, every sentinel seeing it), then call it the replica and the new one the primary, so
        that a next `fail_over` goes back."""
        old, new = self.primary, self.replica
        linked = lambda: replication(old.port, self.locks).get("master_link_status") == "up"  # noqa: E731
        self.wait_for(linked, "the old primary's link to the new one")
        for sentinel in self.sentinels:
            self.wait_for(lambda s=sentinel: s.knows_replica(old.port), "a sentinel to see the old primary")
        self.wait_for(self.settled, "the sentinels to end the failover on one epoch")
        self.primary, self.replica = new, old

    def settled(self) -> bool:
        """Whether every sentinel has the same config epoch for the primary and none is failing it over."""
        seen = set()
        for sentinel in self.sentinels:
            client = sentinel.admin()
            try:
                state = client.execute_command("SENTINEL", "MASTER", MASTER)
            finally:
                client.close()
            if "failover_in_progress" in state["flags"]:
                return False
            seen.add(state["config-epoch"])
        return len(seen) == 1

    def promote(self) -> None:
        """`SENTINEL FAILOVER`, then wait until the replica is the primary every sentinel names."""
        client = self.sentinels[0].admin()
        try:
            client.execute_command("SENTINEL", "FAILOVER", MASTER)
        finally:
            client.close()
        self.promoted()

    def primary_killed(self) -> None:
        """SIGKILL the primary (a crash, its machine gone), then wait until the sentinels have
        promoted the replica and every one of them names it."""
        self.primary.kill()
        self.promoted()

    def promoted(self) -> None:
        self.wait_for(lambda: role(self.replica.port, self.locks) == "master", "the replica's promotion")
        for sentinel in self.sentinels:
            agreed = lambda s=sentinel: s.primary_port_named() == self.replica.port  # noqa: E731
            self.wait_for(agreed, "every sentinel to agree")

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.primary.stop()


def start_cluster(folder: Path, nodes: int) -> list[ClusterNode]:
    """A Redis Cluster of `nodes` masters (no replicas) holding every slot, its state ok; the caller
    stops them. One node takes the slots itself; more are joined by `redis-cli --cluster create`."""
    started: list[ClusterNode] = []
    try:
        for n in range(nodes):
            node = ClusterNode(folder / f"node-{n}")
            started.append(node)
            node.start()
        if nodes == 1:
            client = admin(started[0].port)
            try:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            finally:
                client.close()
        else:
            addresses = [f"127.0.0.1:{node.port}" for node in started]
            subprocess.run(
                ["redis-cli", "--cluster", "create", *addresses, "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=60 * PATIENCE,
            )
        for node in started:
            wait_for(lambda n=node: cluster_ok(n.port), "the cluster's state to be ok")
    except BaseException:
        for node in started:
            node.stop()
        raise
    return started


def cluster_ok(port: int) -> bool:
    client = admin(port)
    try:
        return "cluster_state:ok" in str(client.execute_command("CLUSTER", "INFO"))
    finally:
        client.close()
