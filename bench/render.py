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

`--acp` adds a run with every ticket on `sim-acp`: one sim ACP agent process per ticket, playing the
same scenario at the same pacing, its JSON-RPC read and parsed in the UI process (no provider
worker). Its lag runs from when the agent wrote the chunk to its stdout (`bench/_acp_stamps.py` wraps
the sim agent to note that), so it includes the time the line waits in the pipe for a busy UI, the
SDK's parsing and lfg's mapping; the ratio lines split those two waits out. lfg starts each agent
under its supervisor (on Linux), both below the process running the app: the supervisors' CPU is
lfg's and shows as "worker CPU" (lfg's processes besides the UI); the agents' CPU, summed from /proc,
shows apart as "agents CPU" and is not in lfg's CPU per token, since a real agent's own CPU is not
lfg's. "sim CPU" is the sim server's, the API panes' source, for comparison. "machine CPU" is every
core's busy time during the window (of `nproc`): lfg, the sim or the agents, and anything else
running on a shared machine. "of it drawing" is the part of the UI's CPU per token spent in pane
draws and screen updates (the loop thread's CPU in them); the rest is each token's way from the
pipe or the worker to the pane, and the app's own clocks.

    python bench/render.py                         # 16 x 200 tok/s and 1 x 2000 tok/s
    python bench/render.py --configs 4x50,16x200 --duration 8
    python bench/render.py --skip-baseline         # lfg only
    python bench/render.py --repeat 3              # three interleaved runs of each, and their medians
    python bench/render.py --inline                # and lfg with the streams in the UI process
    python bench/render.py --baselines stream,static50,richmd50   # and a baseline rendering Markdown
    python bench/render.py --acp --configs 16x50,16x200 --repeat 3   # and ACP agent panes
    python bench/render.py --otel --configs 16x200 --skip-baseline --repeat 3   # telemetry on vs off
    python bench/render.py --base /tmp/before --skip-baseline --configs 1x200,16x200,64x200 --repeat 3
    python bench/render.py --skip-baseline --configs 64x200@400x120,16x200   # each at its own size
    python bench/render.py --skip-baseline --configs 64x200 --provider-processes 1,2,4   # over k workers
    python bench/render.py --skip-baseline --ceiling 200 --provider-processes 1,2,4   # the ceiling at each k

`--provider-processes K,K` adds a run of lfg for each K, its streams read by at most K provider
worker processes of the SDK (`[run] provider_processes`; the plain `lfg` run takes lfg's default,
from the cores and the load); "workers CPU each" is each worker process's CPU. `--ceiling RATE`
finds, for each K (or lfg's default), the run's ceiling: the most panes at RATE tokens a second it
keeps up with (the UI caught up, every pane's end at most 150 ms late), trying 16, 32, 48, 64, 96,
128, 160, 192 and 256 panes until one does not keep up.

`--base DIR` adds the same lfg run with the lfgtui package in DIR (e.g. the code before a change:
`git worktree add /tmp/before main --detach`), its provider worker and sim server too, interleaved
with this tree's runs; the ratio lines compare the two. Every run starts in a temporary folder, since
lfg starts its child processes with `python -m`, which looks in the current folder first.

The measured window opens once the UI has caught up with the streams: every pane shows a chunk that
arrived at most 0.5 s before. With many fast panes the UI may start behind (it mounts the panes while
the first tokens arrive): "behind at start" is how far behind the screen was when every pane had its
first chunk, "first lag max" the longest any pane's first chunk waited to be shown, and "caught up s"
how long after the first chunk the window opened. Each answer streams `--catch-up` seconds longer than
the window needs, and the window opens at the latest then: a UI that never caught up is measured all
the same, "caught up s" reads `never` and its lag is its backlog.

Every answer ends a few seconds after the measured window; a run then waits for each pane to show
its last text. "end lag" is, per pane, from the last chunk's arrival to the frame showing it; "end
late" is how late that frame was on the stream's own timeline (one token per chunk, 1/rate apart
from the first chunk): a worker or a sim server that falls behind makes the end late, not lagged.

`--otel` adds a run exporting the run's traces and metrics as `lfg run --otel` does, to
`_otlp_sink.py` (a local OTLP/HTTP receiver in its own process, so its CPU is not lfg's), metrics
every second; the SDK's export threads run in the UI process and count in its CPU. Spans end with
their attempts, after the measured window: what the window measures per token is the telemetry's
sinks seeing every event, plus the metric exports.

`--history` makes every lfg run (this tree's, the base's, `--otel`'s...) record into a history file
of its own, as `lfg run` does by default (without it, nothing is recorded): the history writer's
thread runs in the UI process, so its CPU per token shows in the UI's.

    python bench/render.py --history --base /tmp/before --skip-baseline --configs 16x200,1x200 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _figures import figure, median_of, ms, ratio, table_head
from _render_lfg import child
from _trees import tree_env

BASELINE = Path(__file__).resolve().parent / "textual_baseline.py"


def run_config(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any] | str:
    with tempfile.TemporaryDirectory(prefix="lfg-render-") as folder:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=folder, env=env)
    if done.returncode != 0:
        return f"FAILED: {done.stderr.strip()[-300:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs",
        default="16x200,1x2000",
        help="PANESxRATE, comma separated; PANESxRATE@WIDTHxHEIGHT runs that one at its own size",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per run")
    parser.add_argument("--size", default="200x60", help="terminal size; every pane must be visible")
    parser.add_argument(
        "--catch-up",
        type=float,
        default=15.0,
        help="seconds the window may wait for the UI to catch up with the streams (every pane showing "
        "a chunk at most 0.5 s old); the answers stream that much longer",
    )
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
    parser.add_argument(
        "--acp",
        action="store_true",
        help="also run lfg with every ticket on sim-acp (one sim ACP agent process per pane, same pacing)",
    )
    parser.add_argument(
        "--otel",
        action="store_true",
        help="also run lfg exporting its telemetry as lfg run --otel does, to a local OTLP receiver "
        "(_otlp_sink.py, its own process; metrics every second), beside lfg without it",
    )
    parser.add_argument(
        "--history",
        action="store_true",
        help="every lfg run records into a history file of its own, as lfg run does by default "
        "(the writer's thread runs in the UI process: its CPU counts in the UI's)",
    )
    parser.add_argument(
        "--base",
        type=Path,
        help="also run lfg with the lfgtui package in this folder (the code before a change), as lfg-base",
    )
    parser.add_argument(
        "--provider-processes",
        default="",
        help="K,K,...: also run lfg with at most K provider worker processes of the SDK (lfg-kK)",
    )
    parser.add_argument(
        "--ceiling",
        type=float,
        help="RATE: the most panes at RATE tok/s each run keeps up with, for each --provider-processes K",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--panes", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    processes = [int(k) for k in args.provider_processes.split(",") if k]
    if args.ceiling is not None:
        ceilings(args, args.ceiling, processes)
        return
    baselines = [] if args.skip_baseline else args.baselines.split(",")
    columns = ["N", "R", "mode", "run", "tok/s/pane", "behind at start ms", "first lag max ms", "caught up s"]
    columns += ["backlog", "lag p50 ms", "lag p95 ms", "lag max ms"]
    columns += ["end lag p50 ms", "end lag max ms", "end late max ms", "ended"]
    columns += [
        "CPU util",
        "worker CPU",
        "UI ms/tok",
        "of it drawing",
        "CPU ms/tok",
        "fps",
        "sim CPU",
        "agents CPU",
        "agents ms/tok",
        "machine CPU",
        "workers CPU each",
    ]
    print(table_head(columns))
    ratios: list[str] = []
    for config in args.configs.split(","):
        shape, _, size = config.partition("@")
        panes, rate = (float(v) for v in shape.split("x"))
        commands = {"lfg": child_command(__file__, panes, rate, args, size or args.size)}
        envs = {"lfg-base": tree_env(args.base)} if args.base else {}
        if args.base:
            commands["lfg-base"] = commands["lfg"]
        if args.inline:
            commands["lfg-inline"] = [*commands["lfg"], "--inline"]
        if args.acp:
            commands["lfg-acp"] = [*commands["lfg"], "--acp"]
        if args.otel:
            commands["lfg-otel"] = [*commands["lfg"], "--otel"]
        for k in processes:
            commands[f"lfg-k{k}"] = [*commands["lfg"], "--processes", str(k)]
        for mode in baselines:
            command = child_command(str(args.baseline), panes, rate, args, size or args.size)
            commands[mode] = [*command, "--mode", mode]
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in commands}
        for number in range(1, args.repeat + 1):  # interleaved, so drift in the machine hits every mode
            for mode, command in commands.items():
                result = run_config(command, envs.get(mode))
                if isinstance(result, str):
                    print(f"| {panes:g} | {rate:g} | {mode} | {number} | {result} |")
                    continue
                runs[mode].append(result)
                print(row(panes, rate, mode, str(number), result))
                if result.get("caught_up") is False:
                    print(
                        f"  ({panes:g}x{rate:g} {mode} run {number}: the UI never caught up: still "
                        f"{result['behind_at_window']:.1f} s behind {args.catch_up:g} s after the first "
                        "token; the window's lag is that backlog)"
                    )
            sys.stdout.flush()
        medians = {mode: median_result(results) for mode, results in runs.items() if results}
        if args.repeat > 1:
            for mode, result in medians.items():
                print(row(panes, rate, mode, "median", result))
        if "lfg-base" in medians and "lfg" in medians:
            ratios.append(base_line(panes, rate, medians["lfg"], medians["lfg-base"]))
        for name in ("lfg", "lfg-acp"):
            ours = medians.get(name)
            for mode in baselines:
                theirs = medians.get(mode)
                if ours is not None and theirs is not None:
                    ratios.append(
                        f"{panes:g}x{rate:g} {name}/{mode}: "
                        f"lag p95 {ratio(ours['lag_p95'], theirs['lag_p95'])}, "
                        f"CPU util {ratio(ours['cpu_util'], theirs['cpu_util'])}, "
                        f"CPU per token: UI process {ratio(ui_ms_per_token(ours), ui_ms_per_token(theirs))}, "
                        f"UI + worker {ratio(ours['cpu_ms_per_token'], theirs['cpu_ms_per_token'])}"
                    )
        if "lfg-acp" in medians and "lfg" in medians:
            ratios.append(acp_line(panes, rate, medians["lfg-acp"], medians["lfg"]))
        if "lfg-otel" in medians and "lfg" in medians:
            ratios.append(otel_line(panes, rate, medians["lfg-otel"], medians["lfg"], runs["lfg-otel"]))
        sys.stdout.flush()
    if ratios:
        print("\nratios of medians (below 1 means the first is better):")
        print("\n".join(f"  {line}" for line in ratios))


def child_command(script: str, panes: float, rate: float, args: argparse.Namespace, size: str) -> list[str]:
    ours = script == __file__
    recording = (["--history"] if args.history and ours else []) + (
        ["--catch-up", f"{args.catch_up:g}"] if ours else []
    )
    return [
        sys.executable,
        str(Path(script).resolve()),
        "--child",
        "--panes",
        str(int(panes)),
        "--rate",
        f"{rate:g}",
        "--duration",
        str(args.duration),
        "--size",
        size,
        *recording,
    ]


def base_line(panes: float, rate: float, ours: dict[str, Any], base: dict[str, Any]) -> str:
    """This tree against the base tree: CPU per token, lag and the answers' ends."""
    ui_ours, ui_base = ui_ms_per_token(ours), ui_ms_per_token(base)
    cpu_ours, cpu_base = ours["cpu_ms_per_token"], base["cpu_ms_per_token"]
    draw_ours, draw_base = (figure(run.get("draw_ms_per_token"), ".3f") for run in (ours, base))
    return (
        f"{panes:g}x{rate:g} lfg/lfg-base: CPU per token: UI + worker {ratio(cpu_ours, cpu_base)} "
        f"({cpu_ours:.3f} vs {cpu_base:.3f} ms), UI process {ratio(ui_ours, ui_base)} "
        f"({ui_ours:.3f} vs {ui_base:.3f} ms), of it drawing {draw_ours} vs {draw_base} ms; "
        f"lag p50 {ratio(ours['lag_p50'], base['lag_p50'])}, "
        f"lag p95 {ratio(ours['lag_p95'], base['lag_p95'])}; "
        f"end lag max {ms(ours.get('end_lag_max'))} vs {ms(base.get('end_lag_max'))} ms, "
        f"end late max {ms(ours.get('end_late_max'))} vs {ms(base.get('end_late_max'))} ms; "
        f"machine CPU {figure(ours.get('machine_cpu'), '.2f')} vs {figure(base.get('machine_cpu'), '.2f')}; "
        f"per 1,000 tokens: pane draws {figure(ours.get('draws_per_ktok'), '.0f')} vs "
        f"{figure(base.get('draws_per_ktok'), '.0f')}, screen updates "
        f"{figure(ours.get('updates_per_ktok'), '.0f')} vs {figure(base.get('updates_per_ktok'), '.0f')}; "
        f"fps {figure(ours.get('fps'), '.0f')} vs {figure(base.get('fps'), '.0f')}"
    )


def ui_ms_per_token(result: dict[str, Any]) -> float:
    """CPU per token of the drawing process alone (the baselines have no other)."""
    worker = result.get("worker_cpu_util", 0.0)
    return float(result["cpu_ms_per_token"]) * result["cpu_util"] / (result["cpu_util"] + worker)


def acp_line(panes: float, rate: float, acp: dict[str, Any], api: dict[str, Any]) -> str:
    """ACP panes against API panes: what lfg's own process pays per update on each path (the ACP
    path parses JSON-RPC in the UI process; the API path has the worker parse), with the agents apart."""
    acp_ui, api_ui = ui_ms_per_token(acp), ui_ms_per_token(api)
    parts = [
        f"tok/s {ratio(acp['arrived_tps_per_pane'], api['arrived_tps_per_pane'])}",
        f"lag p50 {ratio(acp['lag_p50'], api['lag_p50'])}",
        f"lag p95 {ratio(acp['lag_p95'], api['lag_p95'])}",
        f"UI CPU util {ratio(acp['cpu_util'], api['cpu_util'])}",
        f"UI ms/tok {ratio(acp_ui, api_ui)} ({acp_ui:.3f} vs {api_ui:.3f}, "
        f"{acp_ui - api_ui:+.3f} ms per update)",
        f"lfg ms/tok (ACP: UI; API: UI + worker) {ratio(acp['cpu_ms_per_token'], api['cpu_ms_per_token'])}",
    ]
    unread = f"{ms(acp.get('unread_p50'))}/{ms(acp.get('unread_p95'))}"
    parse = f"{ms(acp.get('parse_p50'))}/{ms(acp.get('parse_p95'))}"
    agents = (
        f"{figure(acp.get('agents_cpu_util'), '.2f')} CPU, {figure(acp.get('agents_ms_per_token'), '.3f')}"
    )
    sim = figure(api.get("sim_cpu_util"), ".2f")
    sources = f"agents {figure(acp.get('agents_cpu_util'), '.2f')} vs sim server {sim}"
    return (
        f"{panes:g}x{rate:g} lfg-acp/lfg: {', '.join(parts)}; "
        f"ACP chunk waits p50/p95: agent's send to lfg's read {unread} ms, read to lfg event {parse} ms; "
        f"agents apart: {agents} ms/tok; the streams' sources' CPU: {sources}"
    )


def otel_line(
    panes: float, rate: float, on: dict[str, Any], off: dict[str, Any], runs: list[dict[str, Any]]
) -> str:
    """Telemetry on against off: what exporting costs per token and in lag, and what was exported."""
    exports = [run.get("otlp_exports", {}) for run in runs]
    sent = ", ".join(f"{path} {[e.get(path, 0) for e in exports]}" for path in ("/v1/metrics", "/v1/traces"))
    ui_on, ui_off = ui_ms_per_token(on), ui_ms_per_token(off)
    return (
        f"{panes:g}x{rate:g} lfg-otel/lfg: CPU per token: UI process {ratio(ui_on, ui_off)} "
        f"({ui_on:.3f} vs {ui_off:.3f} ms), "
        f"UI + worker {ratio(on['cpu_ms_per_token'], off['cpu_ms_per_token'])}, "
        f"lag p50 {ratio(on['lag_p50'], off['lag_p50'])}, lag p95 {ratio(on['lag_p95'], off['lag_p95'])}, "
        f"tok/s {ratio(on['arrived_tps_per_pane'], off['arrived_tps_per_pane'])}; "
        f"exports the receiver took, per run: {sent}"
    )


def median_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs (the figures of one median row may come from different runs)."""
    keys = [key for key, value in results[0].items() if isinstance(value, int | float) or value is None]
    return {key: median_of(results, key) for key in keys}


def row(panes: float, rate: float, mode: str, run: str, result: dict[str, Any]) -> str:
    tps = result.get("arrived_tps_per_pane", result.get("applied_tps_per_pane", 0.0))
    caught = figure(result.get("caught_up_s"), ".1f") if result.get("caught_up", True) else "never"
    return (
        f"| {panes:g} | {rate:g} | {mode} | {run} | {tps:.0f} | {ms(result.get('behind_at_start'))} "
        f"| {ms(result.get('first_lag_max'))} | {caught} | {result['backlog_at_window']:.0f} "
        f"| {ms(result['lag_p50'])} | {ms(result['lag_p95'])} | {ms(result['lag_max'])} "
        f"| {ms(result.get('end_lag_p50'))} | {ms(result.get('end_lag_max'))} "
        f"| {ms(result.get('end_late_max'))} | {figure(result.get('ended'), '.0f')} "
        f"| {result['cpu_util']:.2f} | {result.get('worker_cpu_util', 0):.2f} "
        f"| {ui_ms_per_token(result):.3f} | {figure(result.get('draw_ms_per_token'), '.3f')} "
        f"| {result['cpu_ms_per_token']:.3f} | {result['fps']:.0f} "
        f"| {figure(result.get('sim_cpu_util'), '.2f')} | {figure(result.get('agents_cpu_util'), '.2f')} "
        f"| {figure(result.get('agents_ms_per_token'), '.3f')} | {figure(result.get('machine_cpu'), '.2f')} "
        f"| {'/'.join(f'{used:.2f}' for used in result.get('worker_cpu_each') or [])} |"
    )


CEILING_PANES = (16, 32, 48, 64, 96, 128, 160, 192, 256)
KEPT_UP_LATE_S = 0.150
"""A run keeps up when the UI caught up and every pane's end was at most this late."""


def ceilings(args: argparse.Namespace, rate: float, processes: list[int]) -> None:
    """For each K (None: lfg's default), run more and more panes at `rate` until one does not keep
    up; print each run's row, then each K's ceiling."""
    found: dict[str, str] = {}
    for k in processes or [None]:
        name = "lfg" if k is None else f"lfg-k{k}"
        ceiling = "under 16"
        for panes in CEILING_PANES:
            side = math.ceil(math.sqrt(panes))  # every pane visible, as at 64 panes at 400x120
            size = f"{max(200, 50 * side)}x{max(60, 15 * side)}"
            command = child_command(__file__, panes, rate, args, size)
            result = run_config([*command, *(["--processes", str(k)] if k else [])], None)
            if isinstance(result, str):
                print(f"{name} {panes}x{rate:g}: {result}")
                break
            print(row(panes, rate, name, "1", result))
            sys.stdout.flush()
            late = result.get("end_late_max")
            if not result.get("caught_up", True) or late is None or late > KEPT_UP_LATE_S:
                break
            ceiling = f"{panes}x{rate:g}"
        found[name] = ceiling
    print("\nceilings (the most panes kept up with: caught up, every end at most 150 ms late):")
    print("\n".join(f"  {name}: {ceiling}" for name, ceiling in found.items()))


if __name__ == "__main__":
    main()
