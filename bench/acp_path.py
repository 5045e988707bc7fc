#!/usr/bin/env python3
"""The CPU lfg spends on each coding-agent update before any screen: the ACP path alone.

`agents.py` and `render.py --acp` measure an agent pane whole, UI and all, and on a shared machine
their CPU per update moves by tens of percent from run to run. This one runs only what lfg does
with an agent's updates on their way to a pane: `--agents` sim ACP agents (`lfgtui.sim.acp_agent`,
each its own process under lfg's supervisor, as a ticket starts one) each play one answer at
`--rate` chunks a second, and one attempt each (`run_acp`) reads their JSON-RPC, maps the updates
and yields the events, which are only counted. It prints the CPU time of this process (the one
that would be lfg's UI process) per text chunk while every agent streams, and the supervisors' CPU
over the whole run (they only start the agents: their share of an update is nil).

    python bench/acp_path.py
    python bench/acp_path.py --base /tmp/before --repeat 3   # against another tree, interleaved

`--base DIR` runs the same child with the lfgtui package in DIR (`git worktree add /tmp/before main
--detach`), alternating with this tree's, and prints the ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _figures import ratio, table_head, table_row
from _procfs import process_children, tree_cpu_s
from _trees import tree_env

FIGURES = (
    "steady_us_per_chunk",
    "steady_helpers_us_per_chunk",
    "run_us_per_chunk",
    "chunks",
    "steady_chunks",
)


async def child(agents: int, rate: float, repeat: int, nice: int) -> dict[str, float]:
    from lfgtui.events import AttemptEnded, EventFactory, TextDelta
    from lfgtui.providers.base import ModelCall, UserMessage
    from lfgtui.providers.catalog import BUILTIN
    from lfgtui.run.agents.attempt import run_acp
    from lfgtui.run.agents.launch import AgentLaunch
    from lfgtui.run.tool_loop import AttemptTask
    from lfgtui.tools import ToolContext
    from lfgtui.tools.toolbox import Toolbox

    async def never_asked(call: Any) -> str:
        return "no approvals in this bench"

    scenario = f"long-answer:tokens_per_s={rate:g},ttft_ms=100,repeat={repeat}"
    command = (sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}")
    launch = AgentLaunch(BUILTIN["sim-acp"].with_agent(command=command, nice=nice), dict(os.environ))
    chunks = [0] * agents
    streaming: set[int] = set()
    marks: dict[str, tuple[float, int]] = {}

    def mark(name: str) -> None:
        if name not in marks:
            marks[name] = (time.process_time(), sum(chunks), helpers_cpu())

    async def one(n: int, workdir: Path) -> None:
        toolbox = Toolbox({}, ToolContext(workdir=workdir, env={}), never_asked)
        task = AttemptTask(ModelCall(model=scenario, messages=(UserMessage("Write it up."),)))
        async for event in run_acp(launch, task, EventFactory(f"p{n}", 1), toolbox):
            if isinstance(event, TextDelta):
                chunks[n] += 1
                streaming.add(n)
                if len(streaming) == agents:
                    mark("streaming")
            elif isinstance(event, AttemptEnded):
                if event.outcome.value != "completed":
                    raise RuntimeError(f"p{n}: {event.outcome.value}: {event.error}")
                if "streaming" in marks:  # else an agent ended before the last began: no steady window
                    mark("first done")

    with tempfile.TemporaryDirectory(prefix="lfg-acp-path-") as folder:
        mark("start")
        await asyncio.gather(*(one(n, Path(folder)) for n in range(agents)))
        mark("end")
    if "first done" not in marks:
        raise RuntimeError("no moment had every agent streaming: a longer answer (--length) makes one")
    (cpu0, n0, helpers0), (cpu1, n1, helpers1) = marks["streaming"], marks["first done"]
    (start_cpu, _, _), (end_cpu, total, _) = marks["start"], marks["end"]
    return {
        "steady_us_per_chunk": (cpu1 - cpu0) / max(1, n1 - n0) * 1e6,
        "steady_helpers_us_per_chunk": (helpers1 - helpers0) / max(1, n1 - n0) * 1e6,
        "run_us_per_chunk": (end_cpu - start_cpu) / max(1, total) * 1e6,
        "chunks": total,
        "steady_chunks": n1 - n0,
    }


def helpers_cpu() -> float:
    """CPU seconds so far of this process's children (the agents' supervisors), not of the agents."""
    helpers = process_children().get(os.getpid(), [])
    return sum(tree_cpu_s(helpers, reaped=False).values())


def run_child(args: argparse.Namespace, base: Path | None) -> dict[str, float]:
    env = tree_env(base)
    command = [sys.executable, __file__, "--child", "--agents", str(args.agents), "--rate", f"{args.rate:g}"]
    command += ["--length", str(args.length), "--agent-nice", str(args.agent_nice)]
    with tempfile.TemporaryDirectory(prefix="lfg-acp-path-") as folder:  # `python -m` looks here first
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder)
    if done.returncode != 0:
        raise SystemExit(f"the child failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=16, help="sim ACP agents at once")
    parser.add_argument("--rate", type=float, default=200, help="chunks a second each agent streams")
    parser.add_argument(
        "--length", type=int, default=24, help="repeats of the long answer (about 94 chunks each)"
    )
    parser.add_argument(
        "--agent-nice", type=int, default=10, help="the agents' nice (lfg's default for sim-acp: 10)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tree, interleaved")
    parser.add_argument("--base", type=Path, help="another tree to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.agents, args.rate, args.length, args.agent_nice))))
        return
    trees = {"lfg": None, **({"lfg-base": args.base} if args.base else {})}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    columns = ["steady µs/chunk", "steady helpers µs/chunk", "run µs/chunk", "chunks", "steady chunks"]
    print(table_head(["tree", "run", *columns]))
    for number in range(1, args.repeat + 1):
        for name, base in trees.items():
            result = run_child(args, base)
            runs[name].append(result)
            cells = [f"{result[f]:.1f}" for f in FIGURES[:3]] + [f"{result[f]:.0f}" for f in FIGURES[3:]]
            print(table_row([name, str(number), *cells]), flush=True)
    medians = {
        name: {f: statistics.median(r[f] for r in results) for f in FIGURES} for name, results in runs.items()
    }
    if args.base:
        ours, theirs = medians["lfg"], medians["lfg-base"]
        print("\nratios of medians, lfg/lfg-base (below 1 means this tree is cheaper):")
        print("  " + ", ".join(f"{f} {ratio(ours[f], theirs[f])}" for f in FIGURES[:3]))


if __name__ == "__main__":
    main()
