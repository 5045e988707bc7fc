"""`lfg web`: the TUI in a browser, through textual-serve (the Textual project's own server).

textual-serve starts a command per browser tab and carries its terminal over a websocket. Each tab
runs `lfg attach`, so every tab shows the same run: `lfg web FILE` first starts the tickets as a
headless `lfg run --serve --control` of its own on a loopback port with a fresh token, and stops it
(Ctrl-C, so it is recorded as cancelled) when it ends; `lfg web --attach URL` shows a run served
elsewhere. The token reaches the tabs in their environment, never on a command line.
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

EXIT_USAGE = 2
START_TIMEOUT_S = 60.0
SERVING = re.compile(r"serving this run at (http://\S+)")


def _warn(message: str) -> None:
    print(f"lfg: {message}", file=sys.stderr)


def web(args: argparse.Namespace) -> int:
    from textual_serve.server import Server

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
        Server(shlex.join(command), host=args.host, port=args.port, title="lfg").serve()
    finally:
        if run is not None:
            _stop(run)
    return 0


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
