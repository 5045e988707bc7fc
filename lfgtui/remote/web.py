"""`lfg web`: the TUI in a browser, through textual-serve (the Textual project's own server).

textual-serve starts a command per browser tab and carries its terminal over a websocket. Each tab
runs `lfg attach`, so every tab shows the same run: `lfg web FILE` first starts the tickets as a
headless `lfg run --serve --control` of its own on a loopback port with a fresh token, and stops it
(Ctrl-C, so it is recorded as cancelled) when it ends; `lfg web --attach URL` shows a run served
elsewhere. The token reaches the tabs in their environment, never on a command line.

Nobody else may drive it (web_gate.py): every request needs the key printed at start, kept in a
cookie, from this server's own page and under its own name; a non-loopback `--host` needs
`--i-know-this-is-exposed`, and at most `--max-tabs` tabs run an `lfg attach` at once (each is a
process of its own).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import WSMsgType
from aiohttp.web import Application, Request, WebSocketResponse
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from lfgtui.remote.web_gate import Gate, is_loopback, is_wildcard

EXIT_USAGE = 2
START_TIMEOUT_S = 60.0
SERVING = re.compile(r"serving this run at (http://\S+)")


def _warn(message: str) -> None:
    print(f"lfg: {message}", file=sys.stderr)


def web(args: argparse.Namespace) -> int:
    refused = _refused_host(args)
    if refused is not None:
        _warn(refused)
        return EXIT_USAGE
    if args.max_tabs < 1:
        _warn("--max-tabs must be at least 1")
        return EXIT_USAGE
    if args.attach is not None:
        token = args.token or os.environ.get("LFG_TOKEN")
        if not token:
            _warn("lfg web --attach needs the server's token: --token or $LFG_TOKEN")
            return EXIT_USAGE
        url, run = args.attach, None
    else:
        started = _start_run(args)
        if isinstance(started, int):
            return started
        url, token, run = started
    os.environ["LFG_TOKEN"] = token  # the tabs' `lfg attach` inherit it
    command = [sys.executable, "-m", "lfgtui", "attach", url]
    if args.config is not None:
        command += ["--config", str(args.config)]
    try:
        gate = Gate.for_address(secrets.token_urlsafe(32), args.host, args.port)
        WebServer(shlex.join(command), gate, args.max_tabs).serve()
    finally:
        if run is not None:
            _stop(run)
    return 0


def _refused_host(args: argparse.Namespace) -> str | None:
    """Why `--host` is not served, or None: a wildcard cannot be checked against, and an address
    others reach needs `--i-know-this-is-exposed`."""
    if is_wildcard(args.host):
        return (
            f"--host {args.host}: name the address the browser will use (e.g. --host 192.168.1.5), "
            "so that lfg web can check every request is made to it"
        )
    if is_loopback(args.host) or args.i_know_this_is_exposed:
        return None
    return (
        f"--host {args.host} is not a loopback address: anyone who can reach that port and gets the "
        "URL lfg web prints can approve its tool calls (write_file, run_command), and without TLS the "
        "URL's key crosses the network in the clear. Reach it through SSH (ssh -L 8000:127.0.0.1:8000) "
        "or a TLS proxy instead; to serve it there anyway, add --i-know-this-is-exposed"
    )


class WebServer(Server):
    """textual-serve's server behind a `Gate`, with at most `max_tabs` tabs running at once."""

    def __init__(self, command: str, gate: Gate, max_tabs: int) -> None:
        super().__init__(command, host=gate.host.strip("[]"), port=gate.port, title="lfg")
        self.public_url = gate.origin
        self.gate = gate
        self.max_tabs = max_tabs
        self.tabs = 0

    async def _make_app(self) -> Application:
        app = await super()._make_app()
        app.middlewares.append(self.gate.check)
        return app

    async def on_startup(self, app: Application) -> None:
        _warn(f"open {self.gate.url} in a browser (its key lets the browser in; share it with nobody)")
        _warn("press Ctrl-C to stop")

    async def handle_websocket(self, request: Request) -> WebSocketResponse:
        """A tab: its own `lfg attach`, unless `max_tabs` run already."""
        websocket = WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        if self.tabs >= self.max_tabs:
            await _say(
                websocket,
                f"lfg web: {self.tabs} tabs are open already, as many as --max-tabs allows "
                f"(each runs its own lfg attach). Close one, then reload this page.",
            )
            await _until_closed(websocket)
            return websocket
        self.tabs += 1
        try:
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            service = AppService(
                self.command,
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


async def _say(websocket: WebSocketResponse, text: str) -> None:
    """Show `text` in the tab's terminal (xterm.js takes bytes, lines ending in CR LF)."""
    await websocket.send_bytes(text.replace("\n", "\r\n").encode() + b"\r\n")


async def _until_closed(websocket: WebSocketResponse) -> None:
    async for message in websocket:
        if message.type == WSMsgType.ERROR:
            break


def _start_run(args: argparse.Namespace) -> tuple[str, str, subprocess.Popen[str]] | int:
    """`lfg run FILE --headless --serve` in the background: its URL, its token and the process."""
    token = secrets.token_urlsafe(32)
    folder = Path(tempfile.mkdtemp(prefix="lfg-web-"))
    token_file = folder / "token"
    token_file.touch(mode=0o600)
    token_file.write_text(token)
    log = folder / "run.log"
    command = [sys.executable, "-m", "lfgtui", "run", str(args.file), "--headless", "--control"]
    command += ["--serve", "127.0.0.1:0", "--token-file", str(token_file)]
    for flag, value in (("--config", args.config), ("--db", args.db)):
        if value is not None:
            command += [flag, str(value)]
    if args.yes:
        command.append("--yes")
    with log.open("w") as err:
        run = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, text=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = SERVING.search(log.read_text())
        if found:
            return found.group(1), token, run
        if run.poll() is not None:
            sys.stderr.write(log.read_text())
            return run.returncode or 1
        time.sleep(0.05)
    _stop(run)
    _warn(f"the run did not start serving within {START_TIMEOUT_S:g} s; its log: {log}")
    return 1


def _stop(run: subprocess.Popen[str]) -> None:
    """Stop the run as Ctrl-C would (what runs is recorded as cancelled), then for good."""
    if run.poll() is None:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(15)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
