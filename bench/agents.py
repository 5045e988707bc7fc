#!/usr/bin/env python3
"""What real Claude Code agents cost lfg, against API panes streaming the same answer in the same run.

For each count of tickets (8 and 16 by default) it runs, each in a fresh process (`_agents_run.py`):

- **agents**: N tickets on `claude-code`, the pinned `claude-agent-acp` that `npm ci --prefix
  tests/real_agents` installs, each a real agent process (Node, which starts Claude Code's own CLI)
  talking to a `lfg sim serve` of its own that answers Claude Code's models with the scenario;
- **api**: N tickets on the Anthropic Messages API of the same kind of sim, the same scenario, through
  the provider worker as `lfg run` streams.

Both in the real `LfgApp`, headless (`run_test`, as `bench/render.py`), every pane on screen. It prints:

- **lfg ms/update**: CPU time of lfg's own processes per update the panes received: its UI process
  (which reads and parses the agents' JSON-RPC) plus its helpers (each agent's supervisor; for API
  panes, the provider worker that reads the streams), never the agents' own Node processes nor the
  sim. An agent's update is one ACP `session/update` read off its stdout (text chunks, and its
  usage, commands and other notes); an API pane's is one streamed text chunk. `UI ms/update` is the
  UI process alone; `ms/chunk` divides by the text chunks instead (like for like: the same text).
  `run` counts from before the app and the provider worker start to every pane done (their start-ups
  and the agents' included); `steady` from every pane streaming to the first one done.
  `steady fps` is the frames the app drew a second then, `steady UI cores` the cores its UI process
  used and `steady machine cores` every core's busy time (lfg, the agents' Node processes, anything
  else on a shared machine): a UI short of CPU draws fewer frames, each showing more updates, which
  lowers its CPU per update.
- **memory**: the UI process's resident memory (RSS) with every pane done and its answer on screen
  (completed agents idle, kept for a follow-up as the TUI does), its peak, and the helpers' (the
  supervisors, or the worker); the agents' own RSS apart.
- **start-up** of each agent, from lfg starting its process: the process running, `initialize`
  answered, `session/new` answered, its first update, its first text; min, median and max. For both
  kinds, the time from the attempt's start to its first text chunk.
- **ratios** agents/api of the medians over `--repeat` interleaved runs.

Not run in CI; the figures depend on the machine, so compare only ratios from one run. Without the
agents installed it says so and exits 0.

    python bench/agents.py                       # 8 and 16 tickets, 50 tok/s each
    python bench/agents.py --tickets 16 --repeat 3 --rate 100
    python bench/agents.py --base /tmp/before --no-api   # this tree's agents against another's

`--base DIR` adds runs of the agents with the lfgtui package in DIR (`git worktree add /tmp/before
main --detach`), interleaved with this tree's, and a ratio line agents/agents-base.

`--leave-out text` runs the same with the answers never rendered (the panes' bodies stay blank; their
headers, gauges and the screen updates go on), `--leave-out panes` with no pane drawn at all: what
lfg's CPU per update is without that drawing, the floor that making it cheaper can reach.
`--fps N` and `--streams-per-frame N` draw at another cadence than the app's (its frame clock at N
a second; N of the panes that only stream drawn each frame, the focused one always): what drawing
less often would save.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from _agents_run import AGENT, LEFT_OUT, agent_installed, child
from _figures import figure, median_of, ratio, table_head, table_row
from _trees import tree_env

from lfgtui.providers.catalog import BUILTIN

MODES = ("api", "agents")
BASE = "agents-base"
STEPS = ("process", "initialize answered", "session/new answered", "first update", "first text")
COLUMNS = {
    "run_s": ("wall s", ".1f"),
    "run_updates": ("updates", ".0f"),
    "run_chunks": ("text chunks", ".0f"),
    "run_ui_cpu_s": ("UI CPU s", ".2f"),
    "run_helpers_cpu_s": ("helpers CPU s", ".2f"),
    "run_ui_ms_per_update": ("UI ms/update", ".3f"),
    "run_lfg_ms_per_update": ("lfg ms/update", ".3f"),
    "run_ui_ms_per_chunk": ("UI ms/chunk", ".3f"),
    "steady_ui_ms_per_update": ("steady UI ms/update", ".3f"),
    "steady_lfg_ms_per_update": ("steady lfg ms/update", ".3f"),
    "steady_fps": ("steady fps", ".1f"),
    "steady_ui_cpu_util": ("steady UI cores", ".2f"),
    "steady_machine_cpu_util": ("steady machine cores", ".2f"),
    "ui_rss_mb": ("UI RSS MB", ".0f"),
    "ui_peak_mb": ("UI peak MB", ".0f"),
    "helpers_rss_mb": ("helpers RSS MB", ".0f"),
    "agents_cpu_s": ("agents CPU s", ".1f"),
    "agents_rss_mb": ("agents RSS MB", ".0f"),
    "sim_cpu_s": ("sim CPU s", ".1f"),
    "machine_cpu_s": ("machine CPU s", ".1f"),
}
RATIOS = (
    "run_lfg_ms_per_update",
    "run_ui_ms_per_update",
    "run_ui_ms_per_chunk",
    "steady_lfg_ms_per_update",
    "steady_ui_ms_per_update",
    "ui_rss_mb",
    "ui_peak_mb",
)


def measure(args: argparse.Namespace, kind: str, tickets: int) -> dict[str, Any] | str:
    """One run of `kind` (a mode, or `agents-base`: the agents with the lfgtui package in
    `--base`) in a fresh process: its figures, or why it failed."""
    mode, env = kind, None
    if kind == BASE:
        mode, env = "agents", tree_env(args.base)
    command = [sys.executable, __file__, "--child", "--mode", mode, "--tickets", str(tickets)]
    command += ["--scenario", args.scenario, "--size", args.size, "--timeout", str(args.timeout)]
    command += ["--agent-nice", str(args.agent_nice)]
    if args.leave_out:
        command += ["--leave-out", args.leave_out]
    if args.fps is not None:
        command += ["--fps", f"{args.fps:g}"]
    if args.streams_per_frame is not None:
        command += ["--streams-per-frame", str(args.streams_per_frame)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout + 120, env=env)
    if done.returncode != 0:
        return f"FAILED: {done.stderr.strip()[-600:]}"
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def spread(values: list[float]) -> str:
    """min / median / max, in seconds."""
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", default="8,16", help="counts of tickets, comma separated")
    parser.add_argument("--rate", type=float, default=50, help="tokens per second each answer streams at")
    parser.add_argument(
        "--length", type=int, default=8, help="repeats of the long answer (about 94 chunks each)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="interleaved runs of each kind; medians and ratios"
    )
    parser.add_argument("--size", default="200x60", help="terminal size; every pane must be visible")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one run may take")
    parser.add_argument(
        "--agent-nice",
        type=int,
        default=BUILTIN[AGENT].agent.nice,
        help="the agents' provider's nice (default: lfg's; 0: the agents as the UI's equals)",
    )
    parser.add_argument(
        "--base",
        type=Path,
        help="also run the agents with the lfgtui package in this folder (the code before a change)",
    )
    parser.add_argument("--no-api", action="store_true", help="leave the API panes' runs out")
    parser.add_argument(
        "--leave-out",
        choices=LEFT_OUT,
        help="skip drawing the answers' text, or every pane, to see what the rest costs",
    )
    parser.add_argument("--fps", type=float, help="frames the app draws a second (default: the app's, 20)")
    parser.add_argument(
        "--streams-per-frame",
        type=int,
        help="streaming panes, besides the focused one, each frame draws (default: the app's, about 2·√n)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if agent_installed() is None:
        print(
            "skipped: Claude Code's ACP agent (tests/real_agents/node_modules/.bin/claude-agent-acp) is "
            "not installed; run npm ci --prefix tests/real_agents (Node 20 or later)"
        )
        return
    args.scenario = f"long-answer:tokens_per_s={args.rate:g},ttft_ms=100,repeat={args.length}"
    left = f" (left out: {args.leave_out})" if args.leave_out else ""
    cadence = "".join(
        f", {what} {value:g}"
        for what, value in (("fps", args.fps), ("streams a frame", args.streams_per_frame))
        if value is not None
    )
    print(f"scenario: {args.scenario}{left}{cadence}\n")
    print(table_head(["N", "panes", "run", *(label for label, _ in COLUMNS.values())]))
    ratio_lines: list[str] = []
    startup_lines: list[str] = []
    measured = [*MODES[args.no_api :], *([BASE] if args.base else [])]
    for count in (int(n) for n in args.tickets.split(",")):
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in measured}
        for number in range(1, args.repeat + 1):  # interleaved, so drift in the machine hits both
            for mode in measured:
                result = measure(args, mode, count)
                if isinstance(result, str):
                    print(table_row([str(count), mode, str(number), result]))
                    continue
                runs[mode].append(result)
                print(row(count, mode, str(number), result), flush=True)
        medians = {mode: {key: median_of(results, key) for key in COLUMNS} for mode, results in runs.items()}
        if args.repeat > 1:
            for mode, result in medians.items():
                print(row(count, mode, "median", result))
        helpers = {mode: (m["ui_rss_mb"] or 0) + (m["helpers_rss_mb"] or 0) for mode, m in medians.items()}
        first = {mode: [s for r in runs[mode] for s in r["first_text_s"]] for mode in measured}
        medians_first = {mode: statistics.median(v) if v else None for mode, v in first.items()}
        for theirs in ("api", BASE):
            if theirs not in measured:
                continue
            ours, base = medians["agents"], medians[theirs]
            parts = [f"{COLUMNS[key][0]} {ratio(ours[key], base[key])}" for key in RATIOS]
            parts.append(f"lfg RSS (UI + helpers) {ratio(helpers['agents'], helpers[theirs])}")
            started = ratio(medians_first["agents"], medians_first[theirs])
            parts.append(f"attempt start to first text {started}")
            ratio_lines.append(f"{count} agents/{theirs}: " + ", ".join(parts))
        startup_lines.append(f"{count} tickets, seconds, min / median / max over every pane:")
        for mode in measured:
            startup_lines.append(f"  {mode}: attempt start to first text chunk {spread(first[mode])}")
        for step in STEPS:
            values = [s[step] for r in runs["agents"] for s in r["startup"] if s[step] is not None]
            startup_lines.append(f"  agents: lfg starting the agent to {step} {spread(values)}")
        kinds: dict[str, int] = {}
        for result in runs["agents"]:
            for kind, n in result["update_kinds"].items():
                kinds[kind] = kinds.get(kind, 0) + n
        startup_lines.append(f"  agents' updates by kind: {json.dumps(kinds)}")
    print("\nstart-up:\n" + "\n".join(startup_lines))
    print(
        "\nratios of medians (agents / api or agents-base; below 1 means this tree's agent panes cost less):"
    )
    print("\n".join(f"  {line}" for line in ratio_lines))


def row(count: int, mode: str, run: str, result: dict[str, Any]) -> str:
    cells = [figure(result.get(key), spec) for key, (_, spec) in COLUMNS.items()]
    return table_row([str(count), mode, run, *cells])


if __name__ == "__main__":
    main()
