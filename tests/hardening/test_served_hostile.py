"""A 16-ticket `lfg run --serve` on the sim, with hostile peers beside it: floods of idle connections
(more than the runner has descriptors for, and more than either cap), garbage and malformed HTTP,
wrong tokens, ids the server never gave and watchers that authenticate and never read, next to one
well-behaved `lfg attach --json`.

The run is held open by its first ticket, which waits for a file the test writes once every hostile
peer is in place: so the peers meet a running run whatever the machine's pace, and the run ends
while the idle floods and the stalled watchers are still connected. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import resource
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.support import warm_lfg
from tests.support.hardening import recorded
from tests.support.lfg import Lfg, text
from tests.support.patience import PATIENCE
from tests.support.remote import flood
from tests.support.serving import TOKEN

DESCRIPTORS = 256
"""The runner's descriptor limit (macOS's default): each flood below is more than it could hold."""
FLOOD = 600
STALLED = 20
"""Watchers that send the token, are streamed the run, and never read a byte of it."""
STREAMED = b"HTTP/1.1 200 OK\r\n"
GROWTH_BOUND = 150 * 1024 * 1024
"""How much the runner's peak memory may grow while served: generous (the run's whole log is about
a megabyte, a stalled watcher holds its kernel buffer and one 64 KiB write), but far below what
watchers that pinned their catch-up in memory would take."""
RUN_S = 45.0
"""The most any step (the run released to its end, a watcher's end) may take before the test fails."""
GATED = 8
TICKETS = 16
AT_ONCE = "long-answer:tokens_per_s=0,ttft_ms=0,repeat=200,chunk_chars=512"
"""What a gated ticket answers: 120 KB in 512-character pieces, so that the run's log (about 1 MB)
overflows a stalled watcher's kernel buffers in few events."""
GATE_SCENARIO = """
description = "Waits (bounded) for the test to say that every hostile peer is in place."
ttft_ms = 0
tokens_per_s = 0

[[call]]
text = "Waiting for the peers."
[[call.tool_call]]
name = "run_command"
arguments = {{ command = "for i in $(seq 900); do [ -e '{release}' ] && exit 0; sleep 0.05; done; exit 1" }}

[[call]]
text = "Released: the others may run."
"""
GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"GET /v1/run HTTP/1.1\r\n\r\n",
    b"GET /v1/run HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET /v1/run HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 10_000 + b"\r\n\r\n",
    b"POST /v1/run HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    b"GET /v1/run HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
]
WRONG_TOKENS = [
    b"Bearer guess",
    f"Bearer {TOKEN[:-1]}".encode(),
    TOKEN.encode(),
    b"Bearer \xff\xfe" + TOKEN.encode(),
    f"Basic {TOKEN}".encode(),
]
T = TypeVar("T")
ID = re.compile(rb"^id: ([0-9a-f]{8})\.(\d+)$", re.MULTILINE)


def tickets() -> str:
    """The gate (`t00`, see the module docstring), seven tickets streaming beside the peers as they
    arrive, and eight that wait for the gate and stream at once, into the stalled watchers."""
    toml = '[defaults]\nprovider = "sim"\n\n[[ticket]]\nid = "t00"\nprompt = "wait"\nmodel = "gate"\n'
    toml += 'tools = ["run_command"]\n'
    for n in range(1, TICKETS):
        if n < TICKETS - GATED:
            model, after = "long-answer:tokens_per_s=40,ttft_ms=0,repeat=1", ""
        else:
            model, after = AT_ONCE, 'depends_on = ["t00"]\n'
        toml += f'\n[[ticket]]\nid = "t{n:02}"\nprompt = "go"\nmodel = "{model}"\n{after}'
    return toml


def limit_descriptors() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(DESCRIPTORS, hard), hard))


def peak_memory(pid: int) -> int | None:
    """The process's peak resident memory so far in bytes (VmHWM), or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def said(path: Path, pattern: str) -> re.Match[str] | None:
    """The first match of `pattern` in what a process has written to the file `path` so far."""
    return re.search(pattern, path.read_text(errors="replace"), re.MULTILINE)


@dataclass(frozen=True)
class Started:
    """A process the test started, and the file its stderr goes to (quoted when it ends too soon)."""

    process: asyncio.subprocess.Process | warm_lfg.AsyncWarm
    stderr: Path


async def until(condition: Callable[[], T | None], *alive: Started) -> T:
    """What `condition` gives once it gives something; fails the test when one of `alive` ends
    first, or after `RUN_S`."""
    async with asyncio.timeout(RUN_S * PATIENCE):
        while not (found := condition()):
            for started in alive:
                assert started.process.returncode is None, f"ended early: {started.stderr.read_text()}"
            await asyncio.sleep(0.05)
    return found


async def answer(port: int, request: bytes, enough: Callable[[bytes], bool] = lambda _: False) -> bytes:
    """What the server sends back to `request` until it closes the connection, or until `enough`
    says a stream has shown what was wanted. A server that holds on fails the test (TimeoutError)."""
    got = b""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(RUN_S * PATIENCE):
            writer.write(request)
            while not enough(got) and (chunk := await reader.read(65536)):
                got += chunk
    except ConnectionResetError:  # after its answer, the server may drop what else was sent
        pass
    finally:
        writer.close()
    return got


def watching(last_event_id: bytes | None = None, authorization: bytes = f"Bearer {TOKEN}".encode()) -> bytes:
    resume = b"Last-Event-ID: " + last_event_id + b"\r\n" if last_event_id is not None else b""
    return (
        b"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization + b"\r\n" + resume + b"\r\n"
    )


def ids(stream: bytes) -> list[tuple[str, int]]:
    return [(instance.decode(), int(n)) for instance, n in ID.findall(stream)]


@contextlib.contextmanager
def held() -> Iterator[list[socket.socket]]:
    """Sockets the test opens and keeps open, closed whatever happens."""
    sockets: list[socket.socket] = []
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def peek(sock: socket.socket) -> bytes:
    """The start of what has come to `sock`, left there unread."""
    try:
        return sock.recv(len(STREAMED), socket.MSG_PEEK)
    except BlockingIOError:
        return b""


def status_line(sock: socket.socket) -> bytes | None:
    """The status line of the answer that came to `sock`, once it has, left there unread."""
    line = peek(sock)
    return line if len(line) == len(STREAMED) else None


async def stall(port: int, into: list[socket.socket]) -> None:
    """`STALLED` watchers with the token and a tiny receive buffer, streamed the run (their answer's
    status line is peeked at) and never read. One at a time: many connecting at once would pass the
    cap of those that have not yet shown the token, and be answered 503."""
    loop = asyncio.get_running_loop()
    for _ in range(STALLED):
        watcher = socket.socket()
        watcher.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        watcher.setblocking(False)
        into.append(watcher)
        async with asyncio.timeout(RUN_S * PATIENCE):
            await loop.sock_connect(watcher, ("127.0.0.1", port))
            await loop.sock_sendall(watcher, watching())
        assert await until(functools.partial(status_line, watcher)) == STREAMED


async def hostile_requests(port: int) -> None:
    """Garbage gets 400, a wrong token one 401 however often it is sent on its connection, and an id
    the server never gave starts the stream over (while one it gave resumes after it)."""
    for request in GARBAGE:
        assert (await answer(port, request)).startswith(b"HTTP/1.0 400 "), request
    for authorization in WRONG_TOKENS:
        guesses = b"GET /v1/run HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization + b"\r\n\r\n"
        answered = await answer(port, guesses * 3)
        assert answered.startswith(b"HTTP/1.1 401 ") and answered.count(b" 401 ") == 1, authorization
    first_two = await answer(port, watching(), lambda got: len(ids(got)) >= 2)
    (instance, one), (_, two) = ids(first_two)[:2]
    resumed = await answer(port, watching(f"{instance}.{one}".encode()), lambda got: bool(ids(got)))
    assert ids(resumed)[0] == (instance, two)
    unknown = [f"{instance}.²", f"{instance}.{'9' * 5000}", f"{instance}.-1", "é", f"{instance}.{one}é", ""]
    for given in unknown:
        over = await answer(port, watching(given.encode()), lambda got: bool(ids(got)))
        assert ids(over)[0] == (instance, 1), given[:20]


def ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_a_served_run_beside_hostile_peers_completes_and_its_watcher_gets_all_of_it(
    tmp_path: Path,
) -> None:
    lfg = Lfg(tmp_path)
    release = tmp_path / "release"
    lfg.scenario("gate", GATE_SCENARIO.format(release=release))
    (token := tmp_path / "token").write_text(TOKEN)
    db, out, err = tmp_path / "history.sqlite3", tmp_path / "run.ndjson", tmp_path / "run.err"
    watched, watcher_err = tmp_path / "attach.ndjson", tmp_path / "attach.err"
    command = lfg.args(lfg.tickets(tickets()), "--json", "--yes", "--db", str(db))
    command += ["--serve", "127.0.0.1:0", "--token-file", str(token)]
    with out.open("wb") as run_out, err.open("wb") as run_err:
        runner = await asyncio.create_subprocess_exec(
            *command,
            env=lfg.env,
            cwd=lfg.workdir,
            stdout=run_out,
            stderr=run_err,
            preexec_fn=limit_descriptors,
        )
    attach: warm_lfg.AsyncProcess | None = None
    running = Started(runner, err)
    try:
        with held() as first_flood, held() as floods_and_stalled:
            serving = r"serving this run at http://127\.0\.0\.1:(\d+)"
            port = int((await until(lambda: said(err, serving), running))[1])
            before = peak_memory(runner.pid)
            assert before is not None
            await hostile_requests(port)
            await stall(port, floods_and_stalled)
            flood(port, FLOOD, first_flood)  # answered 503 past the caps, else closed 10 s on
            with watched.open("wb") as attach_out, watcher_err.open("wb") as attach_err:
                attach = await warm_lfg.create_subprocess_exec(
                    *[sys.executable, "-m", "lfgtui", "attach", f"http://127.0.0.1:{port}", "--json"],
                    env={**lfg.env, "LFG_TOKEN": TOKEN},
                    stdout=attach_out,
                    stderr=attach_err,
                )
            # The flood holds every slot before the token: attach is told 503 and waits its turn
            # (or, connecting before the flood is accepted, is let in at once); the flood going
            # lets it in.
            attaching = Started(attach, watcher_err)
            await until(
                lambda: said(watcher_err, "answered 503: asking again") or said(watched, "^{"), attaching
            )
            for sock in first_flood:
                sock.close()
            first_flood.clear()
            await until(lambda: said(watched, "^{"), attaching, running)
            flood(port, FLOOD, floods_and_stalled)
            release.write_text("")  # the run goes on, and ends, with all of these still open
            peak = before
            async with asyncio.timeout(RUN_S * PATIENCE):
                while runner.returncode is None:
                    peak = max(peak, peak_memory(runner.pid) or peak)
                    await asyncio.sleep(0.1)
        async with asyncio.timeout(RUN_S * PATIENCE):
            await attach.wait()
    finally:
        for process in (runner, attach):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
    stderr = err.read_text()
    assert runner.returncode == 0, stderr
    assert "Traceback" not in stderr and all(line.startswith("lfg: ") for line in stderr.splitlines()), stderr
    events = ndjson(out)
    names = [f"t{n:02}" for n in range(TICKETS)]
    ends = {e["ticket"]: e["outcome"] for e in events if e["type"] == "attempt_ended"}
    assert ends == dict.fromkeys(names, "completed")
    history = recorded(db)
    assert {name: [(a.outcome, a.text) for a in history[name]] for name in names} == {
        name: [("completed", text(events, name))] for name in names
    }
    assert peak - before < GROWTH_BOUND, f"the runner grew {(peak - before) / 2**20:.0f} MB"
    assert attach.returncode == 0, watcher_err.read_text()
    seen = ndjson(watched)
    assert {name: text(seen, name) for name in names} == {name: history[name][0].text for name in names}
    assert {e["ticket"]: e["outcome"] for e in seen if e["type"] == "attempt_ended"} == ends
