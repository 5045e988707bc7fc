"""A real `redis-server` (Debian's package, installed by .ci/run) on a free loopback port in a tmp folder.

No persistence unless asked (`aof=True`: an append-only file, fsynced on every write, so a server
killed and started again has everything it took). Optional password and TLS (a CA and a server
certificate made with `openssl` for 127.0.0.1). A machine without redis-server skips these tests,
except under CI, where they must run.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.patience import PATIENCE

READY = "Ready to accept connections"
START_TIMEOUT_S = 20.0
PORT_TRIES = 5


def redis_program() -> str:
    """The installed `redis-server`; a missing one skips the test, or fails it under CI."""
    program = shutil.which("redis-server")
    if program is None:
        message = "redis-server is not installed: apt-get install redis-server"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the broker's tests: {message}")
        pytest.skip(message)
    return program


def free_port() -> int:
    """A port free now: another process (another test's server, any connection's local end) may take
    it before redis-server binds it, so `RedisServer.start` checks who answers there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    """A CA and the server's certificate and key, signed by it, for 127.0.0.1."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, folder: Path) -> TlsFiles:
        folder.mkdir(parents=True, exist_ok=True)
        ca, ca_key = folder / "ca.crt", folder / "ca.key"
        cert, key, request = folder / "server.crt", folder / "server.key", folder / "server.csr"
        names = folder / "names.ext"
        names.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        new_key = ("-newkey", "rsa:2048", "-nodes", "-keyout")
        signed = ("-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-extfile", names)
        for command in (
            ("req", "-x509", *new_key, ca_key, "-out", ca, "-days", "2", "-subj", "/CN=lfg test CA"),
            ("req", *new_key, key, "-out", request, "-subj", "/CN=localhost"),
            ("x509", "-req", "-in", request, *signed, "-out", cert, "-days", "2"),
        ):
            subprocess.run(
                ["openssl", *map(str, command)], check=True, capture_output=True, timeout=60 * PATIENCE
            )
        return cls(ca, cert, key)


@dataclass
class RedisServer:
    """One `redis-server` process: `start` it, `kill` it (SIGKILL), `start` it again on the same port."""

    folder: Path
    password: str | None = None
    tls: TlsFiles | None = None
    aof: bool = False
    options: tuple[str, ...] = ()
    """More `redis-server` arguments (an ACL user, a replica's `--masterauth`)."""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    killed: bool = False
    """Whether its last exit was this object's doing (`kill`, `stop`)."""

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "redis.log"

    def arguments(self) -> list[str]:
        args = ["--bind", "127.0.0.1", "--dir", str(self.folder), "--logfile", str(self.log)]
        args += ["--save", "", "--appendonly", "yes" if self.aof else "no", "--appendfsync", "always"]
        if self.password is not None:
            args += ["--requirepass", self.password]
        args += self.options
        if self.tls is None:
            return [*args, "--port", str(self.port)]
        return [
            *args,
            *("--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"),
            *("--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key)),
            *("--tls-ca-cert-file", str(self.tls.ca)),
        ]

    def start(self) -> None:
        """Start it and wait until it takes connections. A first start whose port another process
        took since `free_port` picked it starts again on another port; a restart (same port, same
        append-only file) cannot, and fails saying so."""
        first = self.process is None
        for _ in range(PORT_TRIES if first else 1):
            if self._started():
                return
            if not first or "Address already in use" not in self.log.read_text():
                break
            self.port = free_port()
        raise RuntimeError(f"redis-server did not start on port {self.port}: {self.log.read_text()}")

    def _started(self) -> bool:
        """Whether this process, and not another on its port, answers there."""
        self.folder.mkdir(parents=True, exist_ok=True)
        said = self.log.read_text().count(READY) if self.log.exists() else 0
        self.killed = False
        self.process = process = subprocess.Popen(
            [redis_program(), *self.arguments()], stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT_S * PATIENCE
        while not (self.log.exists() and self.log.read_text().count(READY) > said):
            if process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                return False
            time.sleep(0.02)
        if self.answering_pid() != process.pid:
            self.kill()
            raise RuntimeError(f"another process answers on port {self.port}, not redis-server {process.pid}")
        return True

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: nothing is flushed beyond what AOF already has."""
        if self.process is not None and self.process.poll() is None:
            self.killed = True
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10 * PATIENCE)

    def answering_pid(self) -> int | None:
        """The process id of the redis-server that answers on its port (`INFO server`), or None."""
        import redis

        tls = {"ssl": True, "ssl_ca_certs": str(self.tls.ca)} if self.tls else {}
        client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password, **tls)  # type: ignore[arg-type]
        try:
            return int(client.info("server")["process_id"])
        except redis.RedisError:
            return None
        finally:
            client.close()

    def died(self) -> str | None:
        """How the server ended without this object asking (another process killed it), or None:
        a test's "Connection refused" then has its cause."""
        code = None if self.process is None else self.process.poll()
        if code is None or self.killed:
            return None
        pid = self.process.pid if self.process is not None else "?"
        return f"redis-server {pid} on port {self.port} exited {code} during the test, not stopped by it"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.killed = True
            self.process.terminate()
            try:
                self.process.wait(10 * PATIENCE)
            except subprocess.TimeoutExpired:
                self.kill()
