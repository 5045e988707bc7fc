#!/usr/bin/env python3
"""The UI process's CPU per streamed token on the whole way from the provider worker's pipe to the
pane, without a screen: the parent reading the worker's batches, the tool loop, the call's retries,
the local runner, the scheduler's `_emit` and the sinks a TUI run has (the history, the run screen's
attention tracker and metrics lookup as `RunController.heard` does them, `RunAlerts`, told of the
screen tracker's changes where the tree has it keep none of its own), against another tree in the
same invocation.

`render.py` measures the same path inside the whole live view, where the frame clock's drawing takes
most of the CPU and a starved run batches more: its ratio cannot resolve this path's share. Here a
`Run` streams `--panes` tickets at `--rate` tokens/s each from a sim server in its own process,
through the real `ProviderWorker`, and the UI process's CPU (`time.process_time()`: the loop and
the history's writer thread) is counted over `--seconds` once every ticket streams; the pane is a
sink that does nothing. The worker's and the sim's CPU are theirs, shown apart.

    python bench/event_chain.py
    python bench/event_chain.py --base /tmp/before --repeat 3   # against another tree, interleaved

`--base DIR` runs the same child with the lfgtui package in DIR (`git worktree add /tmp/before main
--detach`), alternating with this tree's, and prints the ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _figures import ratio, table_head, table_row
from _procfs import cpu_s, tree_cpu_s
from _trees import child_json, worker_pids

LONG_ANSWER_TOKENS = 120  # roughly, per repeat of the long-answer scenario
MARGIN_S = 20.0  # how much longer than the window each answer streams: the last ticket starts late


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def chain(panes: int, rate: float, seconds: float, port: int, sim_pid: int) -> dict[str, Any]:
    """One run of `panes` tickets through the worker into no-op panes; its figures."""
    from lfgtui.alerts.moments import RunAlerts
    from lfgtui.alerts.states import Attentions
    from lfgtui.config.load import Config
    from lfgtui.cost.metrics import Metrics
    from lfgtui.events import Event, TextDelta
    from lfgtui.history.writer import open_run_history
    from lfgtui.providers.base import ProviderConfig
    from lfgtui.providers.catalog import BUILTIN
    from lfgtui.providers.registry import Providers
    from lfgtui.providers.worker import ProviderWorker
    from lfgtui.run.approvals import Approvals
    from lfgtui.run.scheduler import Run
    from lfgtui.tickets.load import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS

    folder = Path(tempfile.mkdtemp(prefix="lfg-chain-"))
    bench = ProviderConfig(
        name="bench", kind="openai", base_url=f"http://127.0.0.1:{port}/v1", idle_timeout_s=30
    )
    config = Config(path=None, providers={**BUILTIN, "bench": bench})
    repeat = int(rate * (seconds + MARGIN_S) / LONG_ANSWER_TOKENS) + 1
    model = f"long-answer:tokens_per_s={rate:g},ttft_ms=100,repeat={repeat}"
    path = folder / "tickets.toml"
    path.write_text(
        "".join(
            f'[[ticket]]\nid = "p{i}"\nprompt = "go"\nprovider = "bench"\nmodel = "{model}"\n\n'
            for i in range(panes)
        )
    )
    tickets_file = load_tickets(path, config, BUILTIN_TOOLS, env={})
    tickets = tickets_file.tickets
    providers = Providers(config.providers, backend=ProviderWorker())
    firsts: set[str] = set()
    counted = [0]

    def count(event: Event) -> None:
        if type(event) is TextDelta:
            firsts.add(event.ticket)
            counted[0] += 1

    run = Run(tickets, providers, Approvals(askable=True, forms=True), [count], max_concurrency=panes)
    attention = Attentions({t.id: t.depends_on for t in tickets})
    book = run.book
    kinds = frozenset({"asked", "approval", "failed", "done"})
    told = "told" in inspect.signature(RunAlerts).parameters  # the run screen's tracker is the alerts'
    alerts = RunAlerts(run, kinds, [], told=True) if told else RunAlerts(run, kinds, [])

    def show(event: Event) -> None:  # RunController.heard, its pane doing nothing
        book.attempts.get((event.ticket, event.attempt)) or Metrics()
        changed = attention.apply(event)
        if changed and told:
            alerts.attended(changed, event)

    problems: list[str] = []
    history = open_run_history(folder / "history.db", tickets_file, "bench", problems.append)
    async with history as recording:
        assert recording is not None, problems
        run.sinks.insert(0, show)
        run.sinks.append(alerts)
        run.record(recording)
        run.start()
        while len(firsts) < panes:
            await asyncio.sleep(0.05)
        tokens0, cpu0, worker0, sim0 = (
            counted[0],
            time.process_time(),
            sum(tree_cpu_s(list(worker_pids(providers)), reaped=False).values()),
            cpu_s(sim_pid),
        )
        wall0 = time.perf_counter()
        await asyncio.sleep(seconds)
        tokens = counted[0] - tokens0
        cpu, worker, sim = (
            time.process_time() - cpu0,
            sum(tree_cpu_s(list(worker_pids(providers)), reaped=False).values()) - worker0,
            cpu_s(sim_pid) - sim0,
        )
        wall = time.perf_counter() - wall0
        run.cancel_all()
        await run.wait()
    await providers.aclose()
    return {
        "tokens": tokens,
        "tok_s": tokens / wall,
        "ui_us": cpu / tokens * 1e6,
        "worker_us": worker / tokens * 1e6,
        "sim_us": sim / tokens * 1e6,
        "ui_cores": cpu / wall,
    }


def child(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lfgtui", "sim", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        return asyncio.run(chain(args.panes, args.rate, args.seconds, port, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=10)


def run_child(args: argparse.Namespace, base: Path | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", "--panes", str(args.panes), "--rate", str(args.rate)]
    command += ["--seconds", str(args.seconds)]
    return child_json(command, base)


FIGURES = ["tok_s", "ui_us", "worker_us", "sim_us", "ui_cores"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--panes", type=int, default=16, help="tickets streaming at once")
    parser.add_argument("--rate", type=float, default=200, help="tokens per second of each")
    parser.add_argument("--seconds", type=float, default=8.0, help="the measured window")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tree, interleaved")
    parser.add_argument("--base", type=Path, help="another tree to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    trees = {"lfg": None, **({"lfg-base": args.base} if args.base else {})}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    load = os.getloadavg()[0]
    print(f"{args.panes} tickets x {args.rate:g} tok/s, {args.seconds:g} s measured; load {load:.2f}")
    print(table_head(["tree", "run", "tok/s", "UI µs/tok", "worker µs/tok", "sim µs/tok", "UI cores"]))
    for number in range(1, args.repeat + 1):
        for name, base in trees.items():
            result = run_child(args, base)
            runs[name].append(result)
            cells = [
                f"{result['tok_s']:.0f}",
                *(f"{result[k]:.1f}" for k in FIGURES[1:4]),
                f"{result['ui_cores']:.2f}",
            ]
            print(table_row([name, str(number), *cells]))
    print(f"load after: {os.getloadavg()[0]:.2f}")
    if args.base:
        medians = {
            name: {k: statistics.median(r[k] for r in rs) for k in FIGURES} for name, rs in runs.items()
        }
        ours, theirs = medians["lfg"], medians["lfg-base"]
        print("\nratios of medians, lfg/lfg-base (below 1 means this tree is cheaper):")
        print("  " + ", ".join(f"{k} {ratio(ours[k], theirs[k])}" for k in FIGURES))


if __name__ == "__main__":
    main()
