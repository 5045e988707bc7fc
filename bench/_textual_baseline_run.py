"""One run of `bench/textual_baseline.py` (its `--child` process): N panes streaming markdown in Textual.

A grid of N bordered, anchored panes, each fed by a producer releasing chunks on schedule and a
consumer applying them with one strategy (the modes in textual_baseline.py's docstring); it returns
the figures that docstring lists, one dict for one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import resource
import statistics
import sys
import time
from bisect import bisect_right

from _figures import percentile
from _markdown_corpus import count_top_level_blocks, make_tokens
from _procfs import rss_now_kb


def run_child(args: argparse.Namespace) -> dict:
    """The run `args` describe (panes, rate, mode, duration, size, extra CSS): its figures."""
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
                "lag_p50": percentile(lags, 0.50),
                "lag_p95": percentile(lags, 0.95),
                "lag_max": max(lags, default=None),
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
