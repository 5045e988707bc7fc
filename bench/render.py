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
worker). Its lag runs from when the agent wrote the chunk to its stdout (`bench/acp_stamps.py` wraps
the sim agent to note that), so it includes the time the line waits in the pipe for a busy UI, the
SDK's parsing and lfg's mapping; the ratio lines split those two waits out. lfg starts each agent
under its supervisor (on Linux), both below the process running the app: the supervisors' CPU is
lfg's and shows as "worker CPU" (lfg's processes besides the UI); the agents' CPU, summed from /proc,
shows apart as "agents CPU" and is not in lfg's CPU per token, since a real agent's own CPU is not
lfg's. "sim CPU" is the sim server's, the API panes' source, for comparison. "machine CPU" is every
core's busy time during the window (of `nproc`): lfg, the sim or the agents, and anything else
running on a shared machine.

    python bench/render.py                         # 16 x 200 tok/s and 1 x 2000 tok/s
    python bench/render.py --configs 4x50,16x200 --duration 8
    python bench/render.py --skip-baseline         # lfg only
    python bench/render.py --repeat 3              # three interleaved runs of each, and their medians
    python bench/render.py --inline                # and lfg with the streams in the UI process
    python bench/render.py --baselines stream,static50,richmd50   # and a baseline rendering Markdown
    python bench/render.py --acp --configs 16x50,16x200 --repeat 3   # and ACP agent panes
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
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "textual_baseline.py"
ACP_STAMPS = HERE / "acp_stamps.py"
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


def machine_busy_s() -> float:
    """CPU seconds every core of the machine has spent busy so far: on a shared machine, how much
    else ran (the sim, the agents, anyone's tests) beside what a run measures."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    )  # steal (time the hypervisor gave elsewhere) is not this machine's; guest time is in user
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def process_children() -> dict[int, list[int]]:
    """Each live process's children, by parent id in /proc (there is no psutil)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone while we looked
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def subtree(children: dict[int, list[int]], root: int) -> list[int]:
    """`root` and every process below it."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def tree_cpu_s(pids: list[int], reaped: bool) -> dict[int, float]:
    """CPU seconds of each process still there; with `reaped`, its reaped children's too (so nothing
    an agent started and waited for is missed, and nothing live is counted twice)."""
    used: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = sum(int(v) for v in fields[11 : 15 if reaped else 13]) / os.sysconf("SC_CLK_TCK")
    return used


def split_agents(
    children: dict[int, list[int]], agents: list[int], skip: set[int]
) -> tuple[list[int], list[int]]:
    """The agents' processes, and lfg's own around them (each agent's supervisor, on Linux): every
    process below this one but the agents' trees and `skip`'s (the provider worker's)."""
    theirs = [pid for agent in agents for pid in subtree(children, agent)]
    skipped = {pid for root in skip for pid in subtree(children, root)}
    mine = [pid for pid in subtree(children, os.getpid())[1:] if pid not in skipped]
    return theirs, [pid for pid in mine if pid not in set(theirs)]


def watch_acp_reads() -> dict[str, list[float]] | None:
    """When each agent message chunk's line was read off an agent's stdout, per session, in order:
    the moment before the SDK parses it in the UI process and lfg maps it to an event. Patches
    lfg's stdio transport (`AgentPipe.receive`); None if lfg has none, so that split is left out."""
    try:
        from lfgtui.acp.transport import AgentPipe
    except ImportError:
        return None
    reads: dict[str, list[float]] = {}
    original_receive = AgentPipe.receive

    async def receive(self: AgentPipe) -> dict[str, Any] | None:
        message = await original_receive(self)
        if message is not None and message.get("method") == "session/update":
            params = message.get("params") or {}
            if (params.get("update") or {}).get("sessionUpdate") == "agent_message_chunk":
                reads.setdefault(params.get("sessionId", ""), []).append(time.monotonic())
        return message

    AgentPipe.receive = receive  # type: ignore[method-assign]
    return reads


async def run_lfg(
    panes: int,
    rate: float,
    duration: float,
    size: tuple[int, int],
    port: int | None,
    worker: bool,
    acp: bool = False,
    sim_pid: int | None = None,
) -> dict[str, Any]:
    """One lfg run: `acp` puts every ticket on the sim ACP agent, else on the sim server at `port`
    (process `sim_pid`, whose CPU is shown apart: the load the API panes' source puts on the machine)."""
    from acp_stamps import read_agent, read_stamps  # beside this file
    from textual.screen import Screen

    from lfgtui.config import Config
    from lfgtui.events import Event, TextDelta
    from lfgtui.providers.base import ProviderConfig
    from lfgtui.providers.catalog import BUILTIN
    from lfgtui.providers.registry import Providers
    from lfgtui.providers.worker import ProviderWorker
    from lfgtui.tickets import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS
    from lfgtui.ui.app import LfgApp
    from lfgtui.ui.pane import TicketPane
    from lfgtui.ui.services import Services
    from lfgtui.ui.session import Session

    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"lfg-bench-{os.getpid()}"
    stamps = folder / "stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    providers_used = dict(BUILTIN)
    if acp:  # sim-acp's own agent, through a wrapper noting when it sent each chunk (see acp_stamps.py)
        stamped = (sys.executable, str(ACP_STAMPS), str(stamps), "--scenario", "{model}")
        providers_used["bench-acp"] = replace(BUILTIN["sim-acp"], name="bench-acp", command=stamped)
    if port is not None:
        providers_used["bench"] = ProviderConfig(
            name="bench", kind="openai", base_url=f"http://127.0.0.1:{port}/v1", idle_timeout_s=30
        )
    config = Config(path=None, providers=providers_used)
    repeat = int(rate * (duration + 5) / LONG_ANSWER_TOKENS) + 1
    model = f"long-answer:tokens_per_s={rate:g},ttft_ms=100,repeat={repeat}"
    if acp:  # each agent's stderr log goes here, not among the person's own agent logs
        os.environ["XDG_STATE_HOME"] = str(folder / "state")
    provider = "bench-acp" if acp else "bench"
    tickets_file = folder / "tickets.toml"
    tickets_file.write_text(
        "".join(
            f'[[ticket]]\nid = "p{i}"\nprompt = "go"\nprovider = "{provider}"\n'
            f'model = "{model}{f"#p{i}" if acp else ""}"\n\n'  # the agent wrapper's tag: its ticket
            for i in range(panes)
        )
    )
    tickets = load_tickets(tickets_file, config, BUILTIN_TOOLS, env={}).tickets

    arrivals: dict[str, list[float]] = {t.id: [] for t in tickets}  # when lfg got each chunk
    ends: dict[str, list[int]] = {t.id: [] for t in tickets}  # cumulative characters after each chunk
    flushed: dict[str, int] = dict.fromkeys(arrivals, 0)  # characters handed to the pane's last flush
    shown_at: dict[str, list[float]] = {t.id: [] for t in tickets}  # the frame that first showed each chunk
    frames: list[float] = []
    window = {"start": 0.0, "end": float("inf")}
    reads = watch_acp_reads() if acp else None  # ACP: per session, when lfg read each chunk's line

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
            shown = shown_at[ticket]
            shown += [now] * (bisect_right(ends[ticket], upto_chars) - len(shown))

    TicketPane.render_frame = render_frame  # type: ignore[method-assign]
    Screen._compositor_refresh = compositor_refresh  # type: ignore[method-assign]

    providers = Providers(config.providers, backend=ProviderWorker() if worker else None)
    services = Services(providers, max_concurrency=panes)
    app = LfgApp(services, Session(services, tickets, run_id="bench", sinks=[record]))
    async with app.run_test(headless=True, size=size) as pilot:
        while not all(arrivals.values()):
            await asyncio.sleep(0.05)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        told = {t: read_agent(stamps, t) for t in arrivals} if acp else {}  # pid, session of each agent
        if None in told.values():
            raise RuntimeError(
                f"agents that did not say who they are: {[t for t, a in told.items() if not a]}"
            )
        agent_pids = [a[0] for a in told.values() if a]
        worker_tree = {p for p in [providers.worker_pid] if p}
        agents, helpers = split_agents(process_children(), agent_pids, worker_tree) if acp else ([], [])
        window["start"] = time.monotonic()
        cpu0, worker0, busy0 = time.process_time(), cpu_s(providers.worker_pid), machine_busy_s()
        sim0 = cpu_s(sim_pid)
        agents0, helpers0 = tree_cpu_s(agents, reaped=True), tree_cpu_s(helpers, reaped=False)
        await asyncio.sleep(duration)
        window["end"] = time.monotonic()
        cpu1, worker1, busy1 = time.process_time(), cpu_s(providers.worker_pid), machine_busy_s()
        sim1 = cpu_s(sim_pid)
        agents1, helpers1 = tree_cpu_s(agents, reaped=True), tree_cpu_s(helpers, reaped=False)
        arrived = sum(
            bisect_right(a, window["end"]) - bisect_right(a, window["start"]) for a in arrivals.values()
        )
        backlog = sum(len(a) - len(shown_at[t]) for t, a in arrivals.items())
        await pilot.pause(0.3)
        in_window = [f for f in frames if window["start"] <= f <= window["end"]]
    wall = window["end"] - window["start"]
    agents_cpu = sum(used - agents0[pid] for pid, used in agents1.items() if pid in agents0)
    worker1 += sum(used - helpers0[pid] for pid, used in helpers1.items() if pid in helpers0)
    # lag from when the chunk was ready for lfg: the worker's read off the network, or the agent's send
    sent = {t: read_stamps(stamps, t) if acp else a for t, a in arrivals.items()}
    lags: list[float] = []
    unread: list[float] = []
    parsing: list[float] = []
    for ticket, times in sent.items():
        if len(times) < len(arrivals[ticket]):
            raise RuntimeError(f"agent of {ticket}: {len(times)} stamps for {len(arrivals[ticket])} chunks")
        for k, seen in enumerate(shown_at[ticket]):
            if window["start"] <= times[k] <= window["end"]:
                lags.append(seen - times[k])
        agent = told.get(ticket)
        read = reads.get(agent[1], []) if reads is not None and agent else []
        for k, made in enumerate(arrivals[ticket][: len(read)]):
            if window["start"] <= times[k] <= window["end"]:
                unread.append(read[k] - times[k])
                parsing.append(made - read[k])
    return {
        "mode": "lfg-acp" if acp else "lfg" if worker else "lfg-inline",
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
        "machine_cpu": (busy1 - busy0) / wall,
        "sim_cpu_util": (sim1 - sim0) / wall if sim_pid else None,
        "agents": len(told) if acp else None,
        "agent_processes": len(agents) if acp else None,
        "helper_processes": len(helpers) if acp else None,
        "agents_ended": len(agents0) - len(agents1) if acp else None,  # their CPU after the end is lost
        "agents_cpu_util": agents_cpu / wall if acp else None,
        "agents_ms_per_token": 1000 * agents_cpu / max(1, arrived) if acp else None,
        "unread_p50": percentile(unread, 0.5),  # ACP: in the pipe, from the agent's send to lfg's read
        "unread_p95": percentile(unread, 0.95),
        "parse_p50": percentile(parsing, 0.5),  # ACP: from lfg's read to its event (SDK and mapping)
        "parse_p95": percentile(parsing, 0.95),
        "rss_before_mb": rss_before / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(args: argparse.Namespace) -> None:
    width, height = (int(v) for v in args.size.split("x"))
    if args.acp:  # the agents play the scenario themselves: no sim server
        result = asyncio.run(
            run_lfg(args.panes, args.rate, args.duration, (width, height), None, worker=True, acp=True)
        )
        print(json.dumps(result))
        return
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
            run_lfg(
                args.panes,
                args.rate,
                args.duration,
                (width, height),
                port,
                worker=not args.inline,
                sim_pid=server.pid,
            )
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
    parser.add_argument(
        "--acp",
        action="store_true",
        help="also run lfg with every ticket on sim-acp (one sim ACP agent process per pane, same pacing)",
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
    columns += [
        "CPU util",
        "worker CPU",
        "UI ms/tok",
        "CPU ms/tok",
        "fps",
        "sim CPU",
        "agents CPU",
        "agents ms/tok",
        "machine CPU",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    ratios: list[str] = []
    for config in args.configs.split(","):
        panes, rate = (float(v) for v in config.split("x"))
        commands = {"lfg": child_command(__file__, panes, rate, args)}
        if args.inline:
            commands["lfg-inline"] = [*commands["lfg"], "--inline"]
        if args.acp:
            commands["lfg-acp"] = [*commands["lfg"], "--acp"]
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
        sys.stdout.flush()
    if ratios:
        print("\nratios of medians (below 1 means the first is better):")
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
        f"{number(acp.get('agents_cpu_util'), '.2f')} CPU, {number(acp.get('agents_ms_per_token'), '.3f')}"
    )
    sim = number(api.get("sim_cpu_util"), ".2f")
    sources = f"agents {number(acp.get('agents_cpu_util'), '.2f')} vs sim server {sim}"
    return (
        f"{panes:g}x{rate:g} lfg-acp/lfg: {', '.join(parts)}; "
        f"ACP chunk waits p50/p95: agent's send to lfg's read {unread} ms, read to lfg event {parse} ms; "
        f"agents apart: {agents} ms/tok; the streams' sources' CPU: {sources}"
    )


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
        f"| {ui_ms_per_token(result):.3f} | {result['cpu_ms_per_token']:.3f} | {result['fps']:.0f} "
        f"| {number(result.get('sim_cpu_util'), '.2f')} | {number(result.get('agents_cpu_util'), '.2f')} "
        f"| {number(result.get('agents_ms_per_token'), '.3f')} | {number(result.get('machine_cpu'), '.2f')} |"
    )


def number(value: float | None, spec: str) -> str:
    """A figure some modes lack (the agents' CPU of an API run, say) as `-`."""
    return "-" if value is None else format(value, spec)


if __name__ == "__main__":
    main()
