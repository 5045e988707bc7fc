"""`lfg web`: the TUI in a browser, through textual-serve (the Textual project's own server).

textual-serve starts a command per browser tab and carries its terminal over a websocket. Each tab
runs `lfg attach`, so every tab shows the same run: `lfg web FILE` first starts a headless `lfg run
--serve --control --start-on-attach` of its own on a loopback port with a fresh token, whose tickets
start when the first tab's `lfg attach` connects (so the browser watches them stream; `--start-now`:
at once), and stops it (Ctrl-C, so it is recorded as cancelled) when it ends; `lfg web --attach URL`
shows a run served elsewhere. The token reaches the tabs in their environment, never on a command line.

The run's server ends with the run, but the page does not: once the run's process has ended, `lfg
web FILE` serves its record with `lfg serve RUN_ID` (same token, loopback) and later tabs attach to
that. A tab whose `lfg attach` ends before it shows anything shows why (its stderr), not a splash.

Nobody else may drive it (web_gate.py): every request needs the key printed at start, kept in a
cookie, from this server's own page and under its own name; a non-loopback `--host` needs
`--i-know-this-is-exposed`, and at most `--max-tabs` tabs run an `lfg attach` at once (each is a
process of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from aiohttp import WSMsgType
from aiohttp.web import Application, Request, WebSocketResponse
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from lfgtui.inert import inert
from lfgtui.remote.web_gate import Gate

START_TIMEOUT_S = 60.0
SERVING = re.compile(r"serving this run at (http://\S+)")
RECORDED = re.compile(r"(?:recorded as|history stopped recording) run (\S+) ")
"""What `lfg run` says last when its history has the run (all of it, or what the disk took)."""
POLL_S = 0.25
"""How often `lfg web FILE` looks whether its run's process has ended."""
STDERR_KEPT_BYTES = 4096
"""The end of a tab's stderr kept to say why its `lfg attach` did not start."""


def _warn(message: str) -> None:
    print(f"lfg: {message}", file=sys.stderr)


@dataclass
class Source:
    """Where a new tab's `lfg attach` connects. For `lfg web FILE`: the run's own server while its
    process lasts, then an `lfg serve` of its record, until Ctrl-C."""

    url: str
    config: Path | None
    run: subprocess.Popen[str] | None = None
    folder: Path | None = None
    """Where the run's token file and the logs are."""
    db: Path | None = None
    record: subprocess.Popen[str] | None = None
    waiting: bool = False
    """The run's tickets start when the first tab attaches (`lfg run --start-on-attach`)."""
    switched: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once tabs attach to the record (or it could not be served): those opened after the
    run's process ended wait for it."""

    async def command(self) -> str:
        """The `lfg attach` a tab runs now."""
        if self.run is not None and self.run.poll() is not None:
            await self.switched.wait()
        command = [sys.executable, "-m", "lfgtui", "attach", self.url]
        if self.config is not None:
            command += ["--config", str(self.config)]
        return shlex.join(command)

    async def follow(self) -> None:
        """Once the run's process has ended, have tabs attach to its record instead."""
        if self.run is None or self.folder is None:
            return
        while self.run.poll() is None:  # noqa: ASYNC110 (a Popen started before the loop: polled)
            await asyncio.sleep(POLL_S)
        try:
            recorded = RECORDED.search((self.folder / "run.log").read_text())
            if recorded is None:
                _warn("the run ended unrecorded (history off?): new tabs cannot show it")
            else:
                await self._serve_record(recorded.group(1), self.folder)
        finally:
            self.switched.set()

    async def _serve_record(self, run_id: str, folder: Path) -> None:
        command = [sys.executable, "-m", "lfgtui", "serve", run_id, "--serve", "127.0.0.1:0"]
        command += ["--token-file", str(folder / "token")]
        for flag, value in (("--config", self.config), ("--db", self.db)):
            if value is not None:
                command += [flag, str(value)]
        log = folder / "serve.log"
        self.record = _launch(command, log)
        url = await asyncio.to_thread(_wait_serving, self.record, log)
        if url is None:
            _warn(f"the run ended, and its record could not be served: {_tail(log)}")
            return
        self.url = url
        _warn(f"the run ended; new tabs show its record (lfg serve {run_id})")

    def stop(self) -> None:
        """Stop the run and its record's server; the token file and logs go with them."""
        for process in (self.run, self.record):
            if process is not None:
                _stop(process)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


class WebServer(Server):
    """textual-serve's server behind a `Gate`, with at most `max_tabs` tabs running at once, each
    attaching to what `source` serves when it opens."""

    def __init__(self, source: Source, gate: Gate, max_tabs: int) -> None:
        super().__init__("lfg attach", host=gate.host.strip("[]"), port=gate.port, title="lfg")
        self.public_url = gate.origin
        self.source = source
        self.gate = gate
        self.max_tabs = max_tabs
        self.tabs = 0
        self.following: asyncio.Task[None] | None = None

    async def _make_app(self) -> Application:
        app = await super()._make_app()
        app.middlewares.append(self.gate.check)
        return app

    async def on_startup(self, app: Application) -> None:
        _warn(f"open {self.gate.url} in a browser (its key lets the browser in; share it with nobody)")
        if self.source.waiting:
            _warn("the run starts when the first browser tab opens")
        _warn("press Ctrl-C to stop")
        self.following = asyncio.create_task(self.source.follow())

    async def on_shutdown(self, app: Application) -> None:
        if self.following is not None:
            self.following.cancel()
            await asyncio.wait([self.following])

    async def handle_websocket(self, request: Request) -> WebSocketResponse:
        """A tab: its own `lfg attach`, unless `max_tabs` run already."""
        websocket = WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        if self.tabs >= self.max_tabs:
            await websocket.send_bytes(
                _terminal_text(
                    f"lfg web: as many tabs as --max-tabs allows ({self.max_tabs}) are open already "
                    "(each runs its own lfg attach). Close one, then reload this page."
                )
            )
            await _until_closed(websocket)
            return websocket
        self.tabs += 1
        try:
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            service = TabService(
                await self.source.command(),
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
            )
            await service.start(width, height)
            try:
                await self._process_messages(websocket, service)
            finally:
                await service.stop()
        finally:
            self.tabs -= 1
        return websocket


class TabService(AppService):
    """One tab's `lfg attach`. textual-serve leaves a tab on its splash when the app ends before it
    starts (server gone, token refused); this one shows the end of the app's stderr instead."""

    shown = False
    """Whether the app drew anything: after its prelude, textual-serve hands only its data here."""
    stderr: KeptStderr | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        process = await super()._open_app_process(width, height)
        assert process.stderr is not None
        self.stderr = KeptStderr(process.stderr)
        # AppService.run reads the stderr from here (only with read()); this keeps its end too
        process.stderr = self.stderr  # type: ignore[assignment]
        return process

    async def on_data(self, payload: bytes) -> None:
        self.shown = True
        await super().on_data(payload)

    async def run(self) -> None:
        await super().run()
        if not self.shown:
            said = self.stderr.kept if self.stderr is not None else b""
            why = inert(said.decode("utf-8", "replace")).strip() or "it said nothing"
            text = f"lfg web: this tab's lfg attach did not start:\n{why}\nReload the page to try again."
            with contextlib.suppress(ConnectionResetError):
                await self.remote_write_bytes(_terminal_text(text))


@dataclass
class KeptStderr:
    """A tab's stderr as AppService reads it, keeping its last `STDERR_KEPT_BYTES`."""

    stream: asyncio.StreamReader
    kept: bytes = b""

    async def read(self, n: int = -1) -> bytes:
        data = await self.stream.read(n)
        self.kept = (self.kept + data)[-STDERR_KEPT_BYTES:]
        return data


def _terminal_text(text: str) -> bytes:
    """`text` for a tab's terminal: xterm.js takes bytes, lines ending in CR LF."""
    return text.replace("\n", "\r\n").encode() + b"\r\n"


async def _until_closed(websocket: WebSocketResponse) -> None:
    async for message in websocket:
        if message.type == WSMsgType.ERROR:
            break


def start_run(
    file: Path, config: Path | None, db: Path | None, yes: bool, now: bool = False
) -> tuple[Source, str] | int:
    """`lfg run FILE --headless --serve` in the background, its tickets started by the first watcher
    (`now`: at once): where it serves, and its token; or the exit code when it did not start serving
    (its log said why)."""
    token = secrets.token_urlsafe(32)
    folder = Path(tempfile.mkdtemp(prefix="lfg-web-"))
    token_file = folder / "token"
    token_file.touch(mode=0o600)
    token_file.write_text(token)
    log = folder / "run.log"
    command = [sys.executable, "-m", "lfgtui", "run", str(file), "--headless", "--control"]
    command += ["--serve", "127.0.0.1:0", "--token-file", str(token_file)]
    for flag, value in (("--config", config), ("--db", db)):
        if value is not None:
            command += [flag, str(value)]
    if yes:
        command.append("--yes")
    if not now:
        command.append("--start-on-attach")
    run = _launch(command, log)
    try:
        with _signals_end_start_up():
            url = _wait_serving(run, log)
    except BaseException:  # Ctrl-C, SIGTERM or SIGHUP while it starts: the run goes with lfg web
        _stop(run)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if url is not None:
        return Source(url, config, run, folder, db, waiting=not now), token
    if run.poll() is not None:
        sys.stderr.write(log.read_text())
        shutil.rmtree(folder, ignore_errors=True)  # the token with it: nothing will read it
        return run.returncode or 1
    _stop(run)
    token_file.unlink()
    _warn(f"the run did not start serving within {START_TIMEOUT_S:g} s; its log: {log}")
    return 1


@contextlib.contextmanager
def _signals_end_start_up() -> Iterator[None]:
    """SIGTERM and SIGHUP end lfg web with their exit codes (143, 129) as an exception while the run
    starts, so that it stops the run it started rather than leave it running, nobody's. (Serving,
    textual-serve's aiohttp handles them, and `lfg web` stops the run as it ends.)"""

    def end(signum: int, _: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    before = {sig: signal.signal(sig, end) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _launch(command: list[str], log: Path) -> subprocess.Popen[str]:
    """`command` in the background, its stderr to `log`."""
    with log.open("w") as err:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, text=True
        )


def _wait_serving(process: subprocess.Popen[str], log: Path) -> str | None:
    """The URL `process` serves at, once its `log` says; None if it ends or has not within
    `START_TIMEOUT_S`."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = SERVING.search(log.read_text())
        if found:
            return found.group(1)
        if process.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def _tail(log: Path) -> str:
    """The log's last lines, to say why a process did not serve."""
    return " ".join(log.read_text().splitlines()[-3:]) or f"see {log}"


def _stop(run: subprocess.Popen[str]) -> None:
    """Stop the run as Ctrl-C would (what runs is recorded as cancelled), then for good."""
    if run.poll() is None:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(15)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
