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
import asyncio
import itertools
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from bisect import bisect_right

# --------------------------------------------------------------------------
# Realistic LLM-ish markdown, tokenised into ~4 character chunks
# --------------------------------------------------------------------------

SECTION = """## Section {n}: streaming results

The **worker pool** returned `{n}` batches. Here is a short summary of what
happened, with some *emphasis* and a [link](https://example.com/{n}) for good
measure. Latency stayed within budget for most requests.

- First, we parse the incoming `SSE` events and split them into tokens.
- Second, each token is appended to the **pane** that owns the stream.
- Third, the gauges (TTFT, tokens/s) are refreshed a few times a second.
- Finally, tool calls are logged in a collapsible section.

1. Start the request
2. Wait for the first token
3. Render until the stream closes

```python
async def consume(stream, pane):
    first = None
    count = 0
    async for event in stream:
        if first is None:
            first = time.monotonic()
        count += 1
        await pane.write(event.text)
    return first, count


def rate(count, elapsed):
    return count / elapsed if elapsed else 0.0
```

| Model | TTFT (ms) | Tokens/s |
|-------|-----------|----------|
| alpha-{n} | 212 | 87.5 |
| beta-{n} | 340 | 61.2 |
| gamma-{n} | 95 | 143.0 |
| delta-{n} | 510 | 39.9 |

> Note: numbers above are synthetic; the point is to exercise headings,
> lists, a fenced code block, a table and a block quote.

"""

# BPE-ish: a word (with its leading spaces), a number, 1-3 punctuation chars, or
# a newline run with the next line's indentation. Averages ~3.6 chars/token.
TOKEN_RE = re.compile(r"[ \t]*[A-Za-z]{1,8}|[ \t]*[0-9]{1,3}|[ \t]*[^\sA-Za-z0-9]{1,3}|\n+[ \t]*|[ \t]+")


def make_tokens(n_tokens: int, seed: int = 0) -> list[str]:
    """Return at least n_tokens chunks (whole sections) of markdown."""
    tokens: list[str] = []
    n = seed
    while len(tokens) < n_tokens:
        n += 1
        text = "# Report\n\n" if not tokens else ""
        text += SECTION.format(n=n)
        toks = TOKEN_RE.findall(text)
        assert "".join(toks) == text, "tokeniser lost characters"
        tokens.extend(toks)
    return tokens[:n_tokens]


def count_top_level_blocks(source: str) -> int:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("gfm-like").parse(source)
    return sum(
        1
        for t in tokens
        if t.level == 0 and (t.type.endswith("_open") or t.type in ("fence", "code_block", "hr"))
    )


def rss_now_kb() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --------------------------------------------------------------------------
# Child: one benchmark run
# --------------------------------------------------------------------------


def run_child(args: argparse.Namespace) -> dict:
    from rich.markdown import Markdown as RichMarkdown
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.containers import VerticalScroll
    from textual.screen import Screen
    from textual.widgets import Markdown, Static

    N, R, D, mode = args.panes, args.rate, args.duration, args.mode
    width, height = (int(v) for v in args.size.split("x"))
    n_tokens = max(1, round(R * D))
    cols = math.ceil(math.sqrt(N))
    rows = math.ceil(N / cols)

    # Per-pane bookkeeping
    token_lists = [make_tokens(n_tokens, seed=i * 7) for i in range(N)]
    cum_end = [list(itertools.accumulate(len(t) for t in toks)) for toks in token_lists]
    produced = [0] * N  # tokens released by producer
    applied_chars = [0] * N  # chars whose append/update has completed
    painted_idx = [0] * N  # tokens that have reached a rendered frame
    lags: list[float] = []
    frames: list[float] = []
    state = {"t0": None, "window_end": None, "max_backlog": 0}
    sched_start = [0.0]

    def sched_time(k: int) -> float:
        return sched_start[0] + (k + 1) / R

    # Count frames and compute "time to screen" lag at every compositor refresh
    original_refresh = Screen._compositor_refresh

    def patched_refresh(self):  # type: ignore[no-untyped-def]
        original_refresh(self)
        if state["t0"] is None:
            return
        now = time.perf_counter()
        frames.append(now)
        for i in range(N):
            upto = bisect_right(cum_end[i], applied_chars[i])
            k = painted_idx[i]
            while k < upto:
                lags.append(now - sched_time(k))
                k += 1
            painted_idx[i] = k

    Screen._compositor_refresh = patched_refresh  # type: ignore[method-assign]

    class TrackedMarkdown(Markdown):
        """Markdown that records when append()/update() work has completed."""

        pane_index = 0

        def append(self, markdown: str):  # type: ignore[override]
            target = len(self.source) + len(markdown)
            awaitable = super().append(markdown)
            awaitable._future.add_done_callback(lambda _f: self._applied(target))
            return awaitable

        def update(self, markdown: str):  # type: ignore[override]
            target = len(markdown)
            awaitable = super().update(markdown)
            awaitable._future.add_done_callback(lambda _f: self._applied(target))
            return awaitable

        def _applied(self, target: int) -> None:
            i = self.pane_index
            if target > applied_chars[i]:
                applied_chars[i] = target

    class TrackedStatic(Static):
        """Reference: one Static per pane, whole text re-rendered on update."""

        pane_index = 0

        def set_text(self, text: str) -> None:
            if mode == "richmd50":
                self.update(RichMarkdown(text))
            else:
                self.update(Text(text))
            i = self.pane_index
            applied_chars[i] = max(applied_chars[i], len(text))

    static_mode = mode in ("static50", "richmd50")

    class BenchApp(App):
        CSS = f"""
        Screen {{ layout: grid; grid-size: {cols} {rows}; }}
        .pane {{ border: round $primary; height: 1fr; }}
        {args.extra_css}
        """

        def compose(self) -> ComposeResult:
            for i in range(N):
                with VerticalScroll(classes="pane", id=f"pane{i}"):
                    md = (TrackedStatic if static_mode else TrackedMarkdown)(id=f"md{i}")
                    md.pane_index = i
                    yield md

        def on_mount(self) -> None:
            for pane in self.query(".pane"):
                pane.anchor()
            self.set_timer(0.3, self.start_bench)

        async def start_bench(self) -> None:
            self.result = await self.bench()
            self.exit()

        async def bench(self) -> dict:
            queues = [asyncio.Queue() for _ in range(N)]
            mds = [self.query_one(f"#md{i}") for i in range(N)]
            rss_before = rss_now_kb()
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            state["t0"] = t0
            sched_start[0] = t0

            async def producer(i: int) -> None:
                toks = token_lists[i]
                q = queues[i]
                k = 0
                while k < n_tokens:
                    now = time.perf_counter()
                    due = min(n_tokens, int((now - t0) * R))
                    while k < due:
                        q.put_nowait((toks[k], k))
                        k += 1
                    produced[i] = k
                    if k >= n_tokens:
                        break
                    next_due = t0 + (k + 1) / R
                    await asyncio.sleep(max(0.01, next_due - time.perf_counter()))
                q.put_nowait(None)

            async def drain_nowait(q: asyncio.Queue, buf: list[str]) -> bool:
                """Move everything queued into buf. Returns True if end seen."""
                while True:
                    try:
                        item = q.get_nowait()
                    except asyncio.QueueEmpty:
                        return False
                    if item is None:
                        return True
                    buf.append(item[0])

            async def consumer(i: int) -> None:
                q, md = queues[i], mds[i]
                if mode == "append":
                    while (item := await q.get()) is not None:
                        await md.append(item[0])
                elif mode == "stream":
                    stream = Markdown.get_stream(md)
                    try:
                        while (item := await q.get()) is not None:
                            await stream.write(item[0])
                    finally:
                        await stream.stop()
                elif mode in ("update", "append50", "static50", "richmd50"):
                    everything: list[str] = []
                    last = 0.0
                    done = False
                    while not done:
                        item = await q.get()
                        if item is None:
                            done = True
                            new: list[str] = []
                        else:
                            new = [item[0]]
                            done = await drain_nowait(q, new)
                        wait = last + 0.05 - time.perf_counter()
                        if wait > 0 and not done:
                            await asyncio.sleep(wait)
                            done = await drain_nowait(q, new) or done
                        if not new:
                            continue
                        last = time.perf_counter()
                        everything.extend(new)
                        if static_mode:
                            md.set_text("".join(everything))
                        elif mode == "update":
                            await md.update("".join(everything))
                        else:
                            await md.append("".join(new))
                else:
                    raise ValueError(mode)

            producers = [asyncio.create_task(producer(i)) for i in range(N)]
            consumers = [asyncio.create_task(consumer(i)) for i in range(N)]

            # Sample backlog during the window
            window_end = t0 + D
            while time.perf_counter() < window_end:
                await asyncio.sleep(0.1)
                backlog = sum(produced[i] - bisect_right(cum_end[i], applied_chars[i]) for i in range(N))
                state["max_backlog"] = max(state["max_backlog"], backlog)
            t_window = time.perf_counter()
            applied_at_window = [bisect_right(cum_end[i], applied_chars[i]) for i in range(N)]
            produced_at_window = list(produced)
            await asyncio.gather(*producers)
            # Drain
            drained = True
            try:
                await asyncio.wait_for(asyncio.gather(*consumers), args.drain_cap)
            except TimeoutError:
                drained = False
            t_consumers_done = time.perf_counter()
            await asyncio.sleep(0.1)  # let the final frame render
            cpu1 = time.process_time()
            t1 = time.perf_counter()
            applied_total = [bisect_right(cum_end[i], applied_chars[i]) for i in range(N)]
            ok = True
            if drained and not static_mode:
                for i in range(N):
                    expected = "".join(token_lists[i])
                    if mds[i].source != expected:
                        ok = False
                    n_children = len(mds[i].children)
                    if n_children != count_top_level_blocks(expected):
                        ok = False
            window_frames = [f for f in frames if f <= t_window]
            lag_sorted = sorted(lags)

            def pct(p: float) -> float | None:
                if not lag_sorted:
                    return None
                return lag_sorted[min(len(lag_sorted) - 1, int(p * len(lag_sorted)))]

            return {
                "panes": N,
                "rate": R,
                "mode": mode,
                "duration": D,
                "tokens_per_pane": n_tokens,
                "avg_chunk_chars": sum(cum_end[0][-1:]) / n_tokens,
                "produced_at_window_per_pane": statistics.mean(produced_at_window),
                "applied_at_window_per_pane": statistics.mean(applied_at_window),
                "applied_tps_per_pane": statistics.mean(applied_at_window) / (t_window - t0),
                "backlog_at_window": sum(produced_at_window) - sum(applied_at_window),
                "max_backlog": state["max_backlog"],
                "drained": drained,
                "drain_s": max(0.0, t_consumers_done - (t0 + D)),
                "applied_total": sum(applied_total),
                "produced_total": N * n_tokens,
                "lag_p50": pct(0.50),
                "lag_p95": pct(0.95),
                "lag_max": lag_sorted[-1] if lag_sorted else None,
                "cpu_s": cpu1 - cpu0,
                "wall_s": t1 - t0,
                "cpu_ms_per_token": 1000 * (cpu1 - cpu0) / max(1, sum(applied_total)),
                "cpu_util": (cpu1 - cpu0) / (t1 - t0),
                "fps": len(window_frames) / (t_window - t0),
                "rss_before_mb": rss_before / 1024,
                "correct": ok if drained and not static_mode else None,
            }

    app = BenchApp()
    if args.real_terminal:
        # Real LinuxDriver writing escape sequences to our (pseudo-)terminal.
        app.run()
    else:
        app.run(headless=True, size=(width, height))
    result = getattr(app, "result", None)
    if result is None:
        raise SystemExit("benchmark did not produce a result")
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import textual

    result["textual"] = textual.__version__
    result["python"] = sys.version.split()[0]
    result["extra_css"] = args.extra_css
    result["speedups"] = "textual_speedups" in sys.modules
    return result


# --------------------------------------------------------------------------
# Parent: run the matrix, one subprocess per run
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


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


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
    header = (
        "| N | R | mode | rep | applied tok/s/pane | backlog@5s | drain s | lag p50 ms | lag p95 ms "
        "| lag max ms | CPU ms/tok | CPU util | fps | peak RSS MB | ok |"
    )
    print(header)
    print("|" + "|".join(["---"] * (header.count("|") - 1)) + "|")
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
            ms = lambda v: None if v is None else v * 1000  # noqa: E731
            print(
                f"| {panes} | {rate:g} | {mode} | {rep} | {r['applied_tps_per_pane']:.0f} "
                f"| {r['backlog_at_window']} | {fmt(r['drain_s'], '.2f')}{'' if r['drained'] else '+ (cap)'} "
                f"| {fmt(ms(r['lag_p50']), '.0f')} | {fmt(ms(r['lag_p95']), '.0f')} "
                f"| {fmt(ms(r['lag_max']), '.0f')} "
                f"| {r['cpu_ms_per_token']:.3f} | {r['cpu_util']:.2f} | {r['fps']:.0f} "
                f"| {r['peak_rss_mb']:.0f} | {fmt(r['correct'], '')} |"
            )
            sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
