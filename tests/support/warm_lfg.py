"""The `lfg`s a test starts, forked from a warm interpreter (issue #77).

The suite is CPU-bound on the two-core CI machine, and most of that CPU is the `lfg`s the tests start
importing the same modules over and over: a sim ticket's `lfg run` spends ~1 s of its ~1.2 s
importing the OpenAI SDK and lfg itself. So each xdist worker keeps one interpreter that has imported
them once (`PRELOAD`, the collector's passes then frozen out), and a test's `lfg ARGS` is a fork of
it: a process of its own, given the test's argv, environment, folder, umask and standard streams,
that runs `python -m lfgtui` as a fresh one would, from `lfgtui.__main__` on. What differs is only
that those imports are done; what importing does (which modules a command imports, a Ctrl-C or an
ImportError while it imports, its start) is tested by the tests that start `lfg` themselves
(`imported_by`, the signal tests, a worker with an import hook), which never come here.

`run` takes what `subprocess.run(…, capture_output=True, text=True, timeout=…)` takes and gives what
it gives; `create_subprocess_exec` what asyncio's does, for a test whose loop serves the `lfg` meanwhile;
`popen` what `subprocess.Popen` takes for an `lfg` a test keeps running (a worker, a
coordinator, a server) and gives a `Popen` that polls, waits, signals and communicates as one does:
its pid is the fork's own (signals reach it), and how it ended comes from the warm interpreter,
whose child it is. A command it cannot fork as it would start (not `python -m lfgtui`, or an environment that
sets what Python or a preloaded module reads as it starts otherwise than the warm one had it) starts
fresh, as does everything with `LFG_TESTS_COLD=1` (to rule the warm start out of a failure).

Run as a module (`python -m tests.support.warm_lfg SOCKET`) it is the warm interpreter: it forks a
child per request on SOCKET and says its pid and then how it ended, until its standard input closes
(its xdist worker gone)."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import importlib
import io
import json
import os
import runpy
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

COLD = "LFG_TESTS_COLD"
"""Set (not empty, not 0): every `lfg` a test runs starts fresh."""
PRELOAD = (
    "openai",
    "acp",
    "redis.asyncio",
    "lfgtui.commands.main",
    "lfgtui.commands.compose",
    "lfgtui.commands.run",
    "lfgtui.commands.headless",
    "lfgtui.commands.history",
    "lfgtui.commands.agents",
    "lfgtui.config.load",
    "lfgtui.tickets.load",
    "lfgtui.cost.prices",
    "lfgtui.providers.registry",
    "lfgtui.providers.openai_chat",
    "lfgtui.providers.openai_responses",
    "lfgtui.run.local",
    "lfgtui.run.agents.client",
    "lfgtui.history.writer",
    "lfgtui.sim.server",
    "lfgtui.sim.protocols.openai_chat",
    "lfgtui.sim.protocols.openai_responses",
    "lfgtui.sim.protocols.anthropic",
    "lfgtui.sim.protocols.agent",
    "lfgtui.tools.containers",
    "lfgtui.broker.client",
)
"""What the warm interpreter imports: the SDKs, and lfg's modules of a run and of the history. None
of lfg's reads the environment or a folder as it is imported (a test would see the warm one's)."""
READ_AT_START = ("PYTHON", "LC_", "LANG", "TEXTUAL_", "ESCDELAY", "OPENAI_", "ANTHROPIC_", "NO_COLOR")
"""Variables read as an interpreter or a preloaded module starts (by these prefixes): a command
whose environment has any of them otherwise than the warm interpreter starts fresh."""
MESSAGE_MAX = 1 << 20
"""The largest request (argv and environment, as JSON) one packet carries."""

_lock = threading.Lock()
_warm: tuple[subprocess.Popen[bytes], Path, dict[str, str]] | None = None


def run(
    args: list[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)`,
    forked from the warm interpreter where it can be: as `subprocess.run` does it, over `popen`."""
    pipe = subprocess.PIPE
    with popen(args, env=env, cwd=cwd, stdout=pipe, stderr=pipe, text=True) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            exc.stdout, exc.stderr = process.communicate()
            raise
    return subprocess.CompletedProcess(args, process.returncode, out, err)


async def create_subprocess_exec(
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
) -> AsyncProcess:
    """`asyncio.create_subprocess_exec(*args, env=…, cwd=…, stdin=…, stdout=…, stderr=…)`, forked
    from the warm interpreter where it can be (its standard input not a pipe): its streams are
    asyncio's, its end awaited on this loop."""
    env = dict(os.environ if env is None else env)
    warm = _warm_for(list(args), env) if stdin != subprocess.PIPE else None
    if warm is None:
        return await asyncio.create_subprocess_exec(
            *args, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr
        )
    process = _WarmPopen(warm, list(args), env, str(cwd or os.getcwd()), (stdin, stdout, stderr), False)
    loop = asyncio.get_running_loop()
    return AsyncWarm(process, await _reader(loop, process.stdout), await _reader(loop, process.stderr))


async def _reader(loop: asyncio.AbstractEventLoop, pipe: IO[bytes] | None) -> asyncio.StreamReader | None:
    if pipe is None:
        return None
    reader = asyncio.StreamReader()  # asyncio's subprocess streams' own limit
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader


class AsyncWarm:
    """What a test reads of an `asyncio.subprocess.Process`, of a forked `lfg`: its streams, pid and
    exit code; `wait`, `communicate` and the signals."""

    def __init__(
        self, process: _WarmPopen, stdout: asyncio.StreamReader | None, stderr: asyncio.StreamReader | None
    ) -> None:
        self._process, self.stdout, self.stderr = process, stdout, stderr
        self.pid, self.stdin = process.pid, None
        self._ended: asyncio.Future[None] | None = None

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    async def wait(self) -> int:
        """Its exit code, once the warm interpreter said how it ended (its connection readable):
        one look on the loop, however many wait."""
        if self._process.poll() is None:
            if self._ended is None:
                loop = asyncio.get_running_loop()
                self._ended = ended = loop.create_future()
                fd = self._process.ended_fd

                def said() -> None:
                    loop.remove_reader(fd)
                    ended.set_result(None)

                loop.add_reader(fd, said)
            await asyncio.shield(self._ended)
        return self._process.wait()

    async def communicate(self) -> tuple[bytes | None, bytes | None]:
        out, err = await asyncio.gather(*(_all(stream) for stream in (self.stdout, self.stderr)))
        await self.wait()
        return out, err

    def send_signal(self, number: int) -> None:
        self._process.send_signal(number)

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()


AsyncProcess = asyncio.subprocess.Process | AsyncWarm
"""What `create_subprocess_exec` gives."""


async def _all(stream: asyncio.StreamReader | None) -> bytes | None:
    return None if stream is None else await stream.read()


def _warm_for(args: list[str | os.PathLike[str]], env: Mapping[str, str]) -> Path | None:
    """The warm interpreter's socket, where `args` in `env` can be forked from it."""
    return _warm_one(env) if _forkable(args, env) else None


def _forkable(args: list[str | os.PathLike[str]], env: Mapping[str, str]) -> bool:
    if os.environ.get(COLD, "") not in ("", "0") or env.get(COLD, "") not in ("", "0"):
        return False
    return args[:3] == [sys.executable, "-m", "lfgtui"]


def _read_at_start(env: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if name.startswith(READ_AT_START)}


def start() -> None:
    """The warm interpreter started now, in the background (`tests/conftest.py`, as a worker's
    session starts): its imports (seconds of CPU on a loaded machine) then fall outside any test's
    timed window; the first fork waits for it to be ready."""
    global _warm
    if os.environ.get(COLD, "") not in ("", "0"):
        return
    with _lock:
        if _warm is None or _warm[0].poll() is not None:
            folder = Path(tempfile.mkdtemp(prefix="lfg-warm-"))
            path = folder / "socket"
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.warm_lfg", str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=Path(__file__).parents[2],
            )
            _warm = (process, path, _read_at_start(os.environ))
            atexit.register(_stop, process, folder)


def _warm_one(env: Mapping[str, str]) -> Path | None:
    """The warm interpreter's socket once it is ready; None where `env` is not its own."""
    start()
    assert _warm is not None
    process, path, started_with = _warm
    with _lock:
        if process.stdout is not None and not process.stdout.closed:
            ready = process.stdout.readline()
            assert ready == b"ready\n", f"the warm lfg did not start: {ready!r}"
            process.stdout.close()
    return path if _read_at_start(env) == started_with else None


def _stop(process: subprocess.Popen[bytes], folder: Path) -> None:
    """The warm interpreter ended with its worker (the end of its input), its socket removed."""
    assert process.stdin is not None
    process.stdin.close()
    process.wait()
    shutil.rmtree(folder, ignore_errors=True)


def _spawn(
    path: Path, args: list[str | os.PathLike[str]], env: dict[str, str], cwd: str, fds: list[int]
) -> tuple[socket.socket, int]:
    """`python -m lfgtui ARGS` forked with `fds` as its standard streams: the connection that will
    say how it ended, and its pid. The caller closes its copies of `fds`."""
    umask = os.umask(0o22)
    os.umask(umask)
    request = json.dumps(
        {"args": [os.fspath(arg) for arg in args[3:]], "env": env, "cwd": cwd, "umask": umask}
    ).encode()
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(str(path))
        socket.send_fds(connection, [request], fds)
        return connection, json.loads(connection.recv(MESSAGE_MAX))["pid"]
    except BaseException:
        connection.close()
        raise


def popen(
    args: list[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
    text: bool = False,
) -> subprocess.Popen[Any]:
    """`subprocess.Popen(args, env=env, cwd=cwd, stdin=…, stdout=…, stderr=…, text=text)`, forked
    from the warm interpreter where it can be."""
    env = dict(os.environ if env is None else env)
    warm = _warm_for(args, env)
    if warm is None:
        return subprocess.Popen(args, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr, text=text)
    return _WarmPopen(warm, args, env, str(cwd or os.getcwd()), (stdin, stdout, stderr), text)


class _WarmPopen(subprocess.Popen[Any]):
    """A `Popen` of a forked `lfg`: `subprocess`'s own polling, waiting, signalling and
    `communicate`, over the streams made here, with the two waits on its child asking the warm
    interpreter (the fork's parent) instead of `waitpid`."""

    def __init__(
        self,
        path: Path,
        args: list[str | os.PathLike[str]],
        env: dict[str, str],
        cwd: str,
        streams: tuple[int | IO[Any] | None, ...],
        text: bool,
    ) -> None:
        # what Popen.__init__ sets that its methods read; it is not called (it would start a process)
        self.args, self.returncode, self.text_mode, self.universal_newlines = args, None, text, text
        self.encoding = self.errors = None
        self.pipesize, self._sigint_wait_secs, self._waitpid_lock = -1, 0.25, threading.Lock()
        self._communication_started, self._input, self._closed_child_pipe_fds = False, None, True
        ends = [_child_end(stream, n) for n, stream in enumerate(streams[:2])]
        ends.append(
            (ends[1][0], None, False) if streams[2] == subprocess.STDOUT else _child_end(streams[2], 2)
        )
        try:
            self._connection, self.pid = _spawn(path, args, env, cwd, [child for child, _, _ in ends])
        finally:
            for child, _, ours in ends:
                if ours:
                    os.close(child)
        self.stdin, self.stdout, self.stderr = (_our_end(n, fd, text) for n, (_, fd, _) in enumerate(ends))

    @property
    def ended_fd(self) -> int:
        """Readable once the warm interpreter said how the fork ended."""
        return self._connection.fileno()

    def _internal_poll(self, *_: Any, **__: Any) -> int | None:
        if self.returncode is None and select.select([self._connection], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def _wait(self, timeout: float | None) -> int:
        if self.returncode is None:
            if not select.select([self._connection], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(self.args, timeout)  # type: ignore[arg-type]
            self._ended()
        assert self.returncode is not None
        return self.returncode

    def _ended(self) -> None:
        """How it ended, read once (another thread may have read it since it looked); the
        connection stays open for that thread's look (the warm interpreter closed its end)."""
        with self._waitpid_lock:
            if self.returncode is None:
                status = json.loads(self._connection.recv(MESSAGE_MAX))["status"]
                self.returncode = os.waitstatus_to_exitcode(status)

    def __del__(self) -> None:
        if connection := getattr(self, "_connection", None):
            connection.close()


def _child_end(stream: int | IO[Any] | None, n: int) -> tuple[int, int | None, bool]:
    """Standard stream `n` as `Popen` takes it: the fd the child gets, the fd of the pipe's other
    end kept here (PIPE), and whether the child's fd was opened here (closed once sent)."""
    if stream == subprocess.PIPE:
        read, write = os.pipe()
        return (read, write, True) if n == 0 else (write, read, True)
    if stream == subprocess.DEVNULL:
        return os.open(os.devnull, os.O_RDONLY if n == 0 else os.O_WRONLY), None, True
    if stream is None:
        return n, None, False
    return (stream if isinstance(stream, int) else stream.fileno()), None, False


def _our_end(n: int, fd: int | None, text: bool) -> IO[Any] | None:
    """The test's end of a pipe, as `Popen` makes it."""
    if fd is None:
        return None
    raw = open(fd, "wb" if n == 0 else "rb")  # noqa: SIM115 (closed by Popen's own methods)
    if not text:
        return raw
    return io.TextIOWrapper(raw, write_through=n == 0)


# The warm interpreter.


def _serve(path: Path) -> None:
    gc.disable()
    for module in PRELOAD:
        importlib.import_module(module)
    gc.freeze()
    gc.enable()
    assert threading.active_count() == 1, "a fork keeps only the thread that forks"
    woken_read, woken_write = os.pipe()
    os.set_blocking(woken_write, False)
    signal.set_wakeup_fd(woken_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(path))
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(woken_read, selectors.EVENT_READ)
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ)
    waiting: dict[int, socket.socket] = {}
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                connection, _ = listener.accept()
                request, fds, _, _ = socket.recv_fds(connection, MESSAGE_MAX, 3)
                pid = os.fork()
                if pid == 0:
                    for fileobj in (listener, selector, connection, *waiting.values()):
                        fileobj.close()
                    _child(json.loads(request), fds, woken_read, woken_write)
                for fd in fds:
                    os.close(fd)
                connection.sendall(json.dumps({"pid": pid}).encode())
                waiting[pid] = connection
            elif key.fd == woken_read:
                os.read(woken_read, 4096)
                _reap(waiting)
            else:  # the worker's end of our stdin: closed when it is gone
                return


def _reap(waiting: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = waiting.pop(pid, None)
        if connection is not None:
            with contextlib.suppress(OSError), connection:
                connection.sendall(json.dumps({"status": status}).encode())


def _child(request: dict[str, Any], fds: list[int], *ours: int) -> None:
    """`python -m lfgtui ARGS` as the request gives it, in this fork: never returns."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in ours:
        os.close(fd)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = request["cwd"]
    sys.argv = ["", *request["args"]]
    runpy.run_module("lfgtui", run_name="__main__", alter_sys=True)
    raise SystemExit(0)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
