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

READY = "Ready to accept connections"
START_TIMEOUT_S = 20.0


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
            subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True, timeout=60)
        return cls(ca, cert, key)


@dataclass
class RedisServer:
    """One `redis-server` process: `start` it, `kill` it (SIGKILL), `start` it again on the same port."""

    folder: Path
    password: str | None = None
    tls: TlsFiles | None = None
    aof: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

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
        if self.tls is None:
            return [*args, "--port", str(self.port)]
        return [
            *args,
            *("--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"),
            *("--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key)),
            *("--tls-ca-cert-file", str(self.tls.ca)),
        ]

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        said = self.log.read_text().count(READY) if self.log.exists() else 0
        self.process = subprocess.Popen([redis_program(), *self.arguments()], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (self.log.exists() and self.log.read_text().count(READY) > said):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited {self.process.returncode}: {self.log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {self.log.read_text()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: nothing is flushed beyond what AOF already has."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
