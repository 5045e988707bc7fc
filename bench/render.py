#!/usr/bin/env python3
"""How fast the real lfg app puts streamed tokens on screen, beside Textual's own baselines.

Each configuration runs in a fresh subprocess. The lfg run drives the real `LfgApp` (headless, at a
size where every pane is visible) against a standalone sim server in its own process, so the sim's
CPU is not counted. As `lfg run` does, it streams through the provider worker process, whose CPU
is shown apart and counted in CPU per token (`--inline` adds a run with the streams in the UI
process). For every text chunk it records when the chunk arrived (stamped where it was read off the
network) and when the first compositor frame after the pane's flush showed it; lag is the
difference. The baselines are `bench/textual_baseline.py` (Markdown.get_stream and a
plain Static every 50 ms), run in the same invocation on the same machine, so the ratios compare
like with like.

    python bench/render.py                         # 16 x 200 tok/s and 1 x 2000 tok/s
    python bench/render.py --configs 4x50,16x200 --duration 8
    python bench/render.py --skip-baseline         # lfg only
    python bench/render.py --repeat 3              # three interleaved runs of each, and their medians
    python bench/render.py --inline                # and lfg with the streams in the UI process
    python bench/render.py --baselines stream,static50,richmd50   # and a baseline rendering Markdown
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from bisect import bisect_right
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "textual_baseline.py"
LONG_ANSWER_TOKENS = 120  # roughly, per repeat of the long-answer scenario


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def cpu_s(pid: int | None) -> float:
    """CPU seconds a process has used so far (0 for none)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_lfg(
    panes: int, rate: float, duration: float, size: tuple[int, int], port: int, worker: bool
) -> dict[str, Any]:
    from textual.screen import Screen

    from lfgtui.config import Config
    from lfgtui.events import Event, TextDelta
    from lfgtui.providers.base import ProviderConfig
    from lfgtui.providers.catalog import BUILTIN
    from lfgtui.providers.registry import Providers
    from lfgtui.tickets import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS
    from lfgtui.ui.app import LfgApp
    from lfgtui.ui.pane import TicketPane

    bench = ProviderConfig(
        name="bench", kind="openai", base_url=f"http://127.0.0.1:{port}/v1", idle_timeout_s=30
    )
    config = Config(path=None, providers=dict(BUILTIN) | {"bench": bench})
    repeat = int(rate * (duration + 5) / LONG_ANSWER_TOKENS) + 1
    model = f"long-answer:tokens_per_s={rate:g},ttft_ms=100,repeat={repeat}"
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"lfg-bench-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    tickets_file = folder / "tickets.toml"
    tickets_file.write_text(
        "".join(
            f'[[ticket]]\nid = "p{i}"\nprompt = "go"\nprovider = "bench"\nmodel = "{model}"\n\n'
            for i in range(panes)
        )
    )
    tickets = load_tickets(tickets_file, config, BUILTIN_TOOLS, env={}).tickets

    arrivals: dict[str, list[float]] = {t.id: [] for t in tickets}  # arrival time of each chunk
    ends: dict[str, list[int]] = {t.id: [] for t in tickets}  # cumulative characters after each chunk
    flushed: dict[str, int] = dict.fromkeys(arrivals, 0)  # characters handed to the pane's last flush
    shown: dict[str, int] = dict.fromkeys(arrivals, 0)  # chunks already counted as on screen
    lags: list[float] = []
    frames: list[float] = []
    window = {"start": 0.0, "end": float("inf")}

    def record(event: Event) -> None:
        if isinstance(event, TextDelta):
            chars = (ends[event.ticket][-1] if ends[event.ticket] else 0) + len(event.text)
            arrivals[event.ticket].append(event.t)
            ends[event.ticket].append(chars)

    original_frame = TicketPane.render_frame

    def render_frame(self: TicketPane, now: float, frame: int) -> None:
        chunks = ends[self.ticket.id]
        flushed[self.ticket.id] = chunks[-1] if chunks else 0
        original_frame(self, now, frame)

    original_refresh = Screen._compositor_refresh

    def compositor_refresh(self: Screen[Any]) -> None:
        original_refresh(self)
        now = time.monotonic()
        frames.append(now)
        for ticket, upto_chars in flushed.items():
            upto = bisect_right(ends[ticket], upto_chars)
            for k in range(shown[ticket], upto):
                arrived = arrivals[ticket][k]
                if window["start"] <= arrived <= window["end"]:
                    lags.append(now - arrived)
            shown[ticket] = max(shown[ticket], upto)

    TicketPane.render_frame = render_frame  # type: ignore[method-assign]
    Screen._compositor_refresh = compositor_refresh  # type: ignore[method-assign]

    providers = Providers(config.providers, worker=worker)
    app = LfgApp(tickets, providers, sinks=[record], run_id="bench", max_concurrency=panes)
    async with app.run_test(headless=True, size=size) as pilot:
        while not all(arrivals.values()):
            await asyncio.sleep(0.05)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        window["start"] = time.monotonic()
        cpu0, worker0 = time.process_time(), cpu_s(providers.worker_pid)
        await asyncio.sleep(duration)
        window["end"] = time.monotonic()
        cpu1, worker1 = time.process_time(), cpu_s(providers.worker_pid)
        arrived = sum(
            bisect_right(a, window["end"]) - bisect_right(a, window["start"]) for a in arrivals.values()
        )
        backlog = sum(len(a) - shown[t] for t, a in arrivals.items())
        await pilot.pause(0.3)
        in_window = [f for f in frames if window["start"] <= f <= window["end"]]
    wall = window["end"] - window["start"]
    return {
        "mode": "lfg" if worker else "lfg-inline",
        "panes": panes,
        "rate": rate,
        "arrived_tps_per_pane": arrived / wall / panes,
        "backlog_at_window": backlog,
        "lag_p50": percentile(lags, 0.5),
        "lag_p95": percentile(lags, 0.95),
        "lag_max": max(lags, default=None),
        "cpu_util": (cpu1 - cpu0) / wall,
        "worker_cpu_util": (worker1 - worker0) / wall,
        "cpu_ms_per_token": 1000 * (cpu1 - cpu0 + worker1 - worker0) / max(1, arrived),
        "fps": len(in_window) / wall,
        "rss_before_mb": rss_before / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(args: argparse.Namespace) -> None:
    width, height = (int(v) for v in args.size.split("x"))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lfgtui", "sim", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        result = asyncio.run(
            run_lfg(args.panes, args.rate, args.duration, (width, height), port, worker=not args.inline)
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(json.dumps(result))


def run_config(command: list[str]) -> dict[str, Any] | str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return f"FAILED: {done.stderr.strip()[-300:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None or theirs == 0:
        return "-"
    return f"{ours / theirs:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default="16x200,1x2000", help="PANESxRATE, comma separated")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per run")
    parser.add_argument("--size", default="200x60", help="terminal size; every pane must be visible")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="textual_baseline.py to compare with")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--baselines",
        default="stream,static50",
        help="textual_baseline.py modes to run beside lfg; richmd50 (a Static re-rendering rich's "
        "Markdown of the whole answer every 50 ms) is the one that also renders Markdown",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of every mode, interleaved; medians and ratios of medians"
    )
    parser.add_argument(
        "--inline", action="store_true", help="also run lfg with provider streams in the UI process"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--panes", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    baselines = [] if args.skip_baseline else args.baselines.split(",")
    columns = ["N", "R", "mode", "run", "tok/s/pane", "backlog", "lag p50 ms", "lag p95 ms", "lag max ms"]
    columns += ["CPU util", "worker CPU", "UI ms/tok", "CPU ms/tok", "fps"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    ratios: list[str] = []
    for config in args.configs.split(","):
        panes, rate = (float(v) for v in config.split("x"))
        commands = {"lfg": child_command(__file__, panes, rate, args)}
        if args.inline:
            commands["lfg-inline"] = [*commands["lfg"], "--inline"]
        for mode in baselines:
            commands[mode] = [*child_command(str(args.baseline), panes, rate, args), "--mode", mode]
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in commands}
        for number in range(1, args.repeat + 1):  # interleaved, so drift in the machine hits every mode
            for mode, command in commands.items():
                result = run_config(command)
                if isinstance(result, str):
                    print(f"| {panes:g} | {rate:g} | {mode} | {number} | {result} |")
                    continue
                runs[mode].append(result)
                print(row(panes, rate, mode, str(number), result))
            sys.stdout.flush()
        medians = {mode: median_result(results) for mode, results in runs.items() if results}
        if args.repeat > 1:
            for mode, result in medians.items():
                print(row(panes, rate, mode, "median", result))
        ours = medians.get("lfg")
        for mode in baselines:
            theirs = medians.get(mode)
            if ours is not None and theirs is not None:
                ratios.append(
                    f"{panes:g}x{rate:g} lfg/{mode}: lag p95 {ratio(ours['lag_p95'], theirs['lag_p95'])}, "
                    f"CPU util {ratio(ours['cpu_util'], theirs['cpu_util'])}, "
                    f"CPU per token: UI process {ratio(ui_ms_per_token(ours), ui_ms_per_token(theirs))}, "
                    f"UI + worker {ratio(ours['cpu_ms_per_token'], theirs['cpu_ms_per_token'])}"
                )
        sys.stdout.flush()
    if ratios:
        print("\nratios of medians (below 1 means lfg is better):")
        print("\n".join(f"  {line}" for line in ratios))


def child_command(script: str, panes: float, rate: float, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        script,
        "--child",
        "--panes",
        str(int(panes)),
        "--rate",
        f"{rate:g}",
        "--duration",
        str(args.duration),
        "--size",
        args.size,
    ]


def ui_ms_per_token(result: dict[str, Any]) -> float:
    """CPU per token of the drawing process alone (the baselines have no other)."""
    worker = result.get("worker_cpu_util", 0.0)
    return float(result["cpu_ms_per_token"]) * result["cpu_util"] / (result["cpu_util"] + worker)


def median_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs (the figures of one median row may come from different runs)."""
    keys = [key for key, value in results[0].items() if isinstance(value, int | float) or value is None]
    merged: dict[str, Any] = {}
    for key in keys:
        values = [r[key] for r in results if r.get(key) is not None]
        merged[key] = statistics.median(values) if values else None
    return merged


def row(panes: float, rate: float, mode: str, run: str, result: dict[str, Any]) -> str:
    tps = result.get("arrived_tps_per_pane", result.get("applied_tps_per_pane", 0.0))
    return (
        f"| {panes:g} | {rate:g} | {mode} | {run} | {tps:.0f} | {result['backlog_at_window']:.0f} "
        f"| {ms(result['lag_p50'])} | {ms(result['lag_p95'])} | {ms(result['lag_max'])} "
        f"| {result['cpu_util']:.2f} | {result.get('worker_cpu_util', 0):.2f} "
        f"| {ui_ms_per_token(result):.3f} | {result['cpu_ms_per_token']:.3f} | {result['fps']:.0f} |"
    )


if __name__ == "__main__":
    main()
