#!/usr/bin/env python3
"""Launch to first token on screen: `lfg run` in a real terminal until the answer's first word shows.

Each run starts `lfg run TICKETS` in a pseudo-terminal (the console script next to this interpreter,
as a person starts it), with one ticket on the built-in `sim` provider (`hello:ttft_ms=0`, so the
sim's first token is sent as soon as the request arrives; starting the sim is part of launching).
It reads what the app writes to the terminal and notes when the first frame is drawn (the app's
first write of the alternate screen) and when the answer's first word ("Hello") is written; then it
quits the app. Figures are wall times from starting the process.

`--src DIR` adds a second lfgtui package to measure in the same invocation (e.g. the code before a
change: `git worktree add /tmp/before main --detach`), interleaved run by run, so load on a shared
machine falls on both alike; ratios are of medians. The children get their own bytecode cache,
warmed by an untimed run of each, and their own config and data folders, and start in a temporary
folder: lfg starts its own child processes with `python -m`, which looks in the current folder first.

    python bench/launch.py --runs 9
    python bench/launch.py --runs 9 --src /tmp/before
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from startup import child_env, lfg_command

TICKET = '[[ticket]]\nid = "t1"\nprompt = "Say hello."\nprovider = "sim"\nmodel = "hello:ttft_ms=0"\n'
FIRST_WORD = b"Hello"
ALTERNATE_SCREEN = b"\x1b[?1049h"
TIMEOUT_S = 120.0  # the untimed first run compiles every module into a new bytecode cache


def one_run(lfg: list[str], tickets: Path, env: dict[str, str]) -> tuple[float, float]:
    """(first frame, first token on screen), seconds after the process started: read straight from
    the pty the app draws on, as the moment its bytes reach a terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    sized = {name: value for name, value in env.items() if name not in ("COLUMNS", "LINES")}
    started = time.perf_counter()
    process = subprocess.Popen(
        [*lfg, "run", str(tickets)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=sized | {"TERM": "xterm-256color"},
        start_new_session=True,
    )
    os.close(slave)
    output, first_frame, first_token = bytearray(), None, None
    try:
        while first_token is None:
            left = TIMEOUT_S - (time.perf_counter() - started)
            if left <= 0:
                raise RuntimeError(f"no first token in {TIMEOUT_S:g} s: {bytes(output)[-400:]!r}")
            if select.select([master], [], [], left)[0]:
                output += os.read(master, 65536)
            now = time.perf_counter() - started
            if first_frame is None and ALTERNATE_SCREEN in output:
                first_frame = now
            if FIRST_WORD in output:
                first_token = now
    finally:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(OSError):  # drained while it quits: a full pty would block its exit
            while select.select([master], [], [], 0.2)[0] and os.read(master, 65536):
                pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        os.close(master)
    return first_frame if first_frame is not None else first_token, first_token


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9, help="timed runs of each tree (default 9)")
    parser.add_argument("--src", type=Path, help="a folder holding another lfgtui package to compare with")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lfg-launch-") as tmp:
        folder = Path(tmp)
        tickets = folder / "tickets.toml"
        tickets.write_text(TICKET)
        lfg = lfg_command()
        os.chdir(folder)  # `python -m` (the provider worker, the sim) puts the folder it starts in first
        trees = {"this tree": child_env(folder / "this", None)}
        if args.src is not None:
            trees[f"--src {args.src}"] = child_env(folder / "src", args.src)
        print(f"{' '.join(lfg)} run TICKETS; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        print(f"load {os.getloadavg()[0]:.2f} at the start")
        for env in trees.values():  # untimed: fills each tree's bytecode cache
            one_run(lfg, tickets, env)
        frames: dict[str, list[float]] = {name: [] for name in trees}
        tokens: dict[str, list[float]] = {name: [] for name in trees}
        names = list(trees)
        for round_ in range(args.runs):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                frame, token = one_run(lfg, tickets, trees[name])
                frames[name].append(frame)
                tokens[name].append(token)
        print(f"{args.runs} runs each, load {os.getloadavg()[0]:.2f} at the end\n")
        print(f"{'tree':40} {'first frame':>12} {'first token':>12} {'best token':>11}")
        for name in names:
            print(
                f"{name:40} {statistics.median(frames[name]) * 1000:9.0f} ms "
                f"{statistics.median(tokens[name]) * 1000:9.0f} ms {min(tokens[name]) * 1000:8.0f} ms"
            )
        if len(names) == 2:
            ours, theirs = names
            print(
                f"\nratio of medians, {ours} / {theirs}: first frame "
                f"{statistics.median(frames[ours]) / statistics.median(frames[theirs]):.2f}, first token "
                f"{statistics.median(tokens[ours]) / statistics.median(tokens[theirs]):.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
