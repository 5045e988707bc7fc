#!/usr/bin/env python3
"""Headless streaming-Markdown benchmark for Textual.

N panes (a grid of bordered, anchored VerticalScroll containers, each holding a
Markdown widget). Each pane has a *producer* task that releases ~3.6-char markdown
chunks on a fixed schedule (target rate R tokens/s, for D seconds) into a queue
(standing in for the network), and a *consumer* task that applies them to the
widget using one of these strategies:

  append    await Markdown.append(chunk) for every chunk                (a)
  stream    stream = Markdown.get_stream(md); await stream.write(chunk) (b)
  update    accumulate; await Markdown.update(full_text) at most every 50 ms (c)
  append50  accumulate; await Markdown.append(new_text) at most every 50 ms (extra)
  static50  (reference floor, no Markdown) Static.update(plain Text) every 50 ms
  richmd50  (reference) Static.update(rich.markdown.Markdown(text)) every 50 ms

Measured per run (each config runs in a fresh subprocess):
  * applied tok/s per pane during the D-second window vs target R
  * lag = time a chunk reached the screen (first compositor frame after the
    Markdown.append/update that contained it completed) minus the chunk's
    scheduled production time: p50 / p95 / max over all chunks
  * backlog (tokens produced but not yet applied) at the end of the window,
    and drain time after the window (capped by --drain-cap)
  * process CPU time (time.process_time, all threads) per applied token, and
    CPU utilisation (cpu s / wall s) over window+drain
  * frames rendered per second, peak RSS (ru_maxrss) and RSS before streaming
  * correctness: final Markdown.source equals the produced text, and the number
    of top-level blocks equals a fresh parse (catches duplicated blocks)

Usage:
  python bench/textual_baseline.py                       # full matrix, 2 reps, table to stdout
  python bench/textual_baseline.py --panes 4 --rates 200 --modes stream --reps 1
  python bench/textual_baseline.py --child --panes 4 --rate 200 --mode stream   # one run, JSON
  python bench/textual_baseline.py --pty --panes-list 4 --rates 50 --modes stream   # real driver in a pty
Options: --duration 5 --size 200x50 --drain-cap 5 --reps 2 --json results.json
         --extra-css "Markdown { layout: stream; }"   (TEXTUAL_SPEEDUPS=0/1 env toggles textual-speedups)
Run in a venv with: pip install textual   (measured with textual 8.2.8, rich 15.0.0, CPython 3.11)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys

from _figures import figure, ms, table_head
from _textual_baseline_run import run_child

# --------------------------------------------------------------------------
# Parent: run the matrix, one subprocess per run (each: _textual_baseline_run.py)
# --------------------------------------------------------------------------


def run_in_pty(cmd: list[str], size: str) -> subprocess.CompletedProcess:
    """Run a child with --real-terminal inside a pty of the given size, discarding output."""
    import fcntl
    import pty
    import struct
    import tempfile
    import termios

    width, height = (int(v) for v in size.split("x"))
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    env = dict(os.environ, COLUMNS=str(width), LINES=str(height), TERM="xterm-256color")
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execve(cmd[0], [*cmd, "--real-terminal", "--out", out], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    n_bytes = 0
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except OSError:
            break
        if not data:
            break
        n_bytes += len(data)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    stdout = ""
    if os.path.exists(out):
        with open(out) as f:
            r = json.loads(f.read() or "null")
        os.unlink(out)
        if r is not None:
            r["terminal_bytes"] = n_bytes
            stdout = json.dumps(r)
    return subprocess.CompletedProcess(cmd, rc if stdout else (rc or 1), stdout, "pty child failed")


MODES = ["append", "stream", "update", "append50", "static50", "richmd50"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", action="store_true", help="run one config and print JSON")
    p.add_argument("--panes", type=int, default=1)
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--mode", default="stream", choices=MODES)
    p.add_argument("--panes-list", default="1,4,8,16")
    p.add_argument("--rates", default="50,200,1000")
    p.add_argument("--modes", default="append,stream,update,append50")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--drain-cap", type=float, default=5.0)
    p.add_argument("--size", default="200x50")
    p.add_argument("--json", default="", help="write all results to this JSON file")
    p.add_argument("--extra-css", default="", help='e.g. "Markdown { layout: stream; }"')
    p.add_argument(
        "--pty",
        action="store_true",
        help="run each child non-headless inside a pseudo-terminal (real driver + ANSI output)",
    )
    p.add_argument("--real-terminal", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.child:
        result = json.dumps(run_child(args))
        if args.out:
            with open(args.out, "w") as f:
                f.write(result)
        else:
            print(result)
        return

    results = []
    columns = ["N", "R", "mode", "rep", "applied tok/s/pane", "backlog@5s", "drain s", "lag p50 ms"]
    columns += ["lag p95 ms", "lag max ms", "CPU ms/tok", "CPU util", "fps", "peak RSS MB", "ok"]
    print(table_head(columns))
    sys.stdout.flush()
    for panes, rate, mode in itertools.product(
        [int(x) for x in args.panes_list.split(",")],
        [float(x) for x in args.rates.split(",")],
        args.modes.split(","),
    ):
        for rep in range(1, args.reps + 1):
            cmd = [
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                "--panes",
                str(panes),
                "--rate",
                str(rate),
                "--mode",
                mode,
                "--duration",
                str(args.duration),
                "--drain-cap",
                str(args.drain_cap),
                "--size",
                args.size,
                "--extra-css",
                args.extra_css,
            ]
            if args.pty:
                proc = run_in_pty(cmd, args.size)
            else:
                proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"| {panes} | {rate:g} | {mode} | {rep} | FAILED: {proc.stderr.strip()[-300:]!r} |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["rep"] = rep
            results.append(r)
            print(
                f"| {panes} | {rate:g} | {mode} | {rep} | {r['applied_tps_per_pane']:.0f} "
                f"| {r['backlog_at_window']} "
                f"| {figure(r['drain_s'], '.2f')}{'' if r['drained'] else '+ (cap)'} "
                f"| {ms(r['lag_p50'])} | {ms(r['lag_p95'])} | {ms(r['lag_max'])} "
                f"| {r['cpu_ms_per_token']:.3f} | {r['cpu_util']:.2f} | {r['fps']:.0f} "
                f"| {r['peak_rss_mb']:.0f} | {figure(r['correct'], '')} |"
            )
            sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
