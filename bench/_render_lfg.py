"""One measured run of the real lfg app: `bench/render.py`'s child process (`render.py --child`).

It drives `LfgApp` headless against a standalone sim server in its own process (or, with `--acp`,
one sim ACP agent per ticket through `_acp_stamps.py`) and prints one JSON line of figures: when each
streamed chunk was ready for lfg, when a frame first showed it, and the CPU of lfg's processes, the
sim's and the agents'. See render.py's docstring for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
from bisect import bisect_right
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.request import urlopen

from _figures import percentile
from _procfs import cpu_s, machine_busy_s, process_children, subtree, tree_cpu_s
from _trees import worker_pids

if TYPE_CHECKING:
    from lfgtui.run.scheduler import Run
    from lfgtui.tickets.ticket import TicketFile

ACP_STAMPS = Path(__file__).resolve().parent / "_acp_stamps.py"
OTLP_SINK = Path(__file__).resolve().parent / "_otlp_sink.py"
LONG_ANSWER_TOKENS = 120  # roughly, per repeat of the long-answer scenario
STREAM_MARGIN_S = 8.0  # how much longer than the window each answer streams: the last pane starts late
END_WAIT_S = 30.0  # the most a run waits after its answers' end for every one to show
CAUGHT_UP_S = 0.5
"""The UI has caught up once every pane shows a chunk that arrived at most this long ago: until
then the window waits (up to `catch_up`), so that it measures the steady state, not a start-up
backlog being worked off."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    lfg's stdio transport (`AgentPipe.route`, or the method an older tree read with); None if lfg
    has none, so that split is left out."""
    try:
        from lfgtui.run.agents.transport import AgentPipe
    except ImportError:
        return None
    reads: dict[str, list[float]] = {}
    reading = next(name for name in ("route", "message", "receive") if hasattr(AgentPipe, name))
    original = getattr(AgentPipe, reading)  # as in _agents_run.py

    def note(message: dict[str, Any] | None) -> None:
        if message is not None and message.get("method") == "session/update":
            params = message.get("params") or {}
            if (params.get("update") or {}).get("sessionUpdate") == "agent_message_chunk":
                reads.setdefault(params.get("sessionId", ""), []).append(time.monotonic())

    def route(self: AgentPipe, message: dict[str, Any]) -> None:
        note(message)
        original(self, message)

    async def receive(self: AgentPipe) -> dict[str, Any] | None:
        message = await original(self)
        note(message)
        return message

    setattr(AgentPipe, reading, route if reading == "route" else receive)
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
    otel: bool = False,
    history: bool = False,
    catch_up: float = 0.0,
    processes: int | None = None,
) -> dict[str, Any]:
    """One lfg run: `acp` puts every ticket on the sim ACP agent, else on the sim server at `port`
    (process `sim_pid`, whose CPU is shown apart: the load the API panes' source puts on the machine).
    `otel` exports its telemetry as `lfg run --otel` does, where `$OTEL_EXPORTER_OTLP_ENDPOINT` says.
    `history` records the run into a history file in the run's folder, as `lfg run` does by default:
    its writer thread runs in the UI process, so its CPU counts in the UI's. `processes` is how many
    provider worker processes may read the streams (as `[run] provider_processes`; None: lfg's default),
    sized to the run and warmed before it starts, as `lfg run` does.

    The window opens once the UI has caught up with the streams (`CAUGHT_UP_S`), at most `catch_up`
    seconds after the first chunk arrived (the answers stream that much longer); a UI that never
    caught up is measured all the same and said so (`caught_up`), its lag then its backlog."""
    from _acp_stamps import read_agent, read_stamps  # beside this file
    from textual.screen import Screen

    from lfgtui.commands.common import Notices
    from lfgtui.commands.telemetry import TelemetryOut
    from lfgtui.config.load import Config
    from lfgtui.events import AttemptEnded, Event, TextDelta
    from lfgtui.providers.base import ProviderConfig
    from lfgtui.providers.catalog import BUILTIN
    from lfgtui.providers.registry import Providers
    from lfgtui.providers.worker import ProviderWorker
    from lfgtui.sim.scenario import split_tokens
    from lfgtui.tickets.load import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS
    from lfgtui.ui.app import LfgApp
    from lfgtui.ui.run.controller import RunController
    from lfgtui.ui.services import Services
    from lfgtui.ui.widgets.pane import TicketPane

    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"lfg-bench-{os.getpid()}"
    stamps = folder / "stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    providers_used = dict(BUILTIN)
    if acp:  # sim-acp's own agent, through a wrapper noting when it sent each chunk (see _acp_stamps.py)
        stamped = (sys.executable, str(ACP_STAMPS), str(stamps), "--scenario", "{model}")
        providers_used["bench-acp"] = replace(
            BUILTIN["sim-acp"].with_agent(command=stamped), name="bench-acp"
        )
    if port is not None:
        providers_used["bench"] = ProviderConfig(
            name="bench", kind="openai", base_url=f"http://127.0.0.1:{port}/v1", idle_timeout_s=30
        )
    config = Config(path=None, providers=providers_used)
    streaming_s = duration + STREAM_MARGIN_S + catch_up  # how long each answer streams, about
    repeat = int(rate * streaming_s / LONG_ANSWER_TOKENS) + 1
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
    ticket_file = load_tickets(tickets_file, config, BUILTIN_TOOLS, env={})
    tickets = ticket_file.tickets

    arrivals: dict[str, list[float]] = {t.id: [] for t in tickets}  # when lfg got each token
    ends: dict[str, list[int]] = {t.id: [] for t in tickets}  # cumulative characters after each token
    flushed: dict[str, int] = dict.fromkeys(arrivals, 0)  # characters handed to the pane's last flush
    shown_at: dict[str, list[float]] = {t.id: [] for t in tickets}  # the frame that first showed each chunk
    ended: set[str] = set()  # tickets whose attempt ended (the pane flushes its last text at once)
    frames: list[float] = []
    draws: list[float] = []  # when each pane draw (render_frame) began
    window = {"start": 0.0, "end": float("inf")}
    reads = watch_acp_reads() if acp else None  # ACP: per session, when lfg read each chunk's line

    def record(event: Event) -> None:
        if isinstance(event, TextDelta):  # a token at a time: the worker sends what one read brought as one
            chars = ends[event.ticket][-1] if ends[event.ticket] else 0
            for token in split_tokens(event.text) or [event.text]:
                chars += len(token)
                arrivals[event.ticket].append(event.t)
                ends[event.ticket].append(chars)
        elif isinstance(event, AttemptEnded):
            ended.add(event.ticket)
            flushed[event.ticket] = ends[event.ticket][-1] if ends[event.ticket] else 0

    original_frame = TicketPane.render_frame

    drawing = [0.0]  # the loop thread's CPU seconds in pane draws and screen updates

    def render_frame(self: TicketPane, now: float, frame: int) -> None:
        chunks = ends[self.ticket.id]
        flushed[self.ticket.id] = chunks[-1] if chunks else 0
        draws.append(time.monotonic())
        started = time.thread_time()
        original_frame(self, now, frame)
        drawing[0] += time.thread_time() - started

    original_refresh = Screen._compositor_refresh

    def compositor_refresh(self: Screen[Any]) -> None:
        started = time.thread_time()
        original_refresh(self)
        drawing[0] += time.thread_time() - started
        now = time.monotonic()
        frames.append(now)
        for ticket, upto_chars in flushed.items():
            shown = shown_at[ticket]
            shown += [now] * (bisect_right(ends[ticket], upto_chars) - len(shown))

    TicketPane.render_frame = render_frame  # type: ignore[method-assign]
    Screen._compositor_refresh = compositor_refresh  # type: ignore[method-assign]

    backend = ProviderWorker() if worker else None
    if backend is not None and hasattr(backend, "plan"):  # a base tree from before may not size it
        backend.plan(panes, processes)
    providers = Providers(config.providers, backend=backend)
    await providers.warm({t.provider for t in tickets})
    services = Services(providers, max_concurrency=panes)
    controller = RunController.live(services, tickets, "bench", sinks=[record])
    app = LfgApp(services, controller)
    telemetry = TelemetryOut.open(argparse.Namespace(otel=True), config, Notices()) if otel else None
    exported = telemetry.exporting_run(controller.run) if telemetry is not None else contextlib.nullcontext()
    history_file = folder / "history.db" if history else None
    async with (
        recorded(controller.run, ticket_file, history_file) as problems,
        exported,
        app.run_test(headless=True, size=size) as pilot,
    ):
        while not all(arrivals.values()):
            await asyncio.sleep(0.05)
        first_arrival = min(a[0] for a in arrivals.values())
        behind_at_start = behind(arrivals, shown_at, time.monotonic())
        while (late := behind(arrivals, shown_at, time.monotonic())) > CAUGHT_UP_S:
            if time.monotonic() > first_arrival + catch_up:
                break
            await asyncio.sleep(0.05)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        told = {t: read_agent(stamps, t) for t in arrivals} if acp else {}  # pid, session of each agent
        if None in told.values():
            raise RuntimeError(
                f"agents that did not say who they are: {[t for t, a in told.items() if not a]}"
            )
        agent_pids = [a[0] for a in told.values() if a]
        workers = list(worker_pids(providers))
        worker_tree = set(workers)
        agents, helpers = split_agents(process_children(), agent_pids, worker_tree) if acp else ([], [])
        window["start"] = time.monotonic()
        workers0 = tree_cpu_s(workers, reaped=False)
        cpu0, worker0, busy0 = time.process_time(), sum(workers0.values()), machine_busy_s()
        drawn0 = drawing[0]
        sim0 = cpu_s(sim_pid)
        agents0, helpers0 = tree_cpu_s(agents, reaped=True), tree_cpu_s(helpers, reaped=False)
        await asyncio.sleep(duration)
        window["end"] = time.monotonic()
        workers1 = tree_cpu_s(workers, reaped=False)
        cpu1, worker1, busy1 = time.process_time(), sum(workers1.values()), machine_busy_s()
        drawn1 = drawing[0]
        sim1 = cpu_s(sim_pid)
        agents1, helpers1 = tree_cpu_s(agents, reaped=True), tree_cpu_s(helpers, reaped=False)
        backlog = sum(len(a) - len(shown_at[t]) for t, a in arrivals.items())
        await pilot.pause(0.3)
        in_window = [f for f in frames if window["start"] <= f <= window["end"]]
        deadline = max(time.monotonic(), first_arrival + streaming_s) + END_WAIT_S
        while time.monotonic() < deadline and not all(
            t in ended and len(shown_at[t]) == len(a) for t, a in arrivals.items()
        ):
            await asyncio.sleep(0.05)
    wall = window["end"] - window["start"]
    # counted once the UI took in every chunk: one that lags takes in the window's chunks after it
    arrived = sum(
        bisect_right(a, window["end"]) - bisect_right(a, window["start"]) for a in arrivals.values()
    )
    if not arrived:  # the UI took in none of the window's chunks, even after the answers' end
        newest = max(a[-1] for a in arrivals.values())
        raise RuntimeError(
            f"the UI never caught up: {behind_at_start:.1f} s behind when every pane had its first "
            f"chunk, {late:.1f} s when the window opened; the newest chunk it took in by "
            f"{END_WAIT_S:g} s after the answers' end arrived {window['start'] - newest:.1f} s "
            "before the window"
        )
    first_lags = [shown_at[t][0] - a[0] for t, a in arrivals.items() if shown_at[t]]
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
    if problems:
        raise RuntimeError(f"the history did not record the run: {problems}")
    ends_lag, ends_late = end_lags(arrivals, shown_at, rate)
    return {
        "end_lag_p50": percentile(ends_lag, 0.5),
        "end_lag_max": max(ends_lag, default=None),
        "end_late_max": max(ends_late, default=None),
        "ended": len(ends_lag),
        "mode": "lfg-acp" if acp else "lfg-otel" if otel else "lfg-inline" if not worker else "lfg",
        "history_mb": history_file.stat().st_size / 1e6 if history_file is not None else None,
        "panes": panes,
        "rate": rate,
        "arrived_tps_per_pane": arrived / wall / panes,
        "backlog_at_window": backlog,
        "behind_at_start": behind_at_start,
        "first_lag_p50": percentile(first_lags, 0.5),
        "first_lag_max": max(first_lags, default=None),
        "caught_up": late <= CAUGHT_UP_S,
        "caught_up_s": window["start"] - first_arrival if late <= CAUGHT_UP_S else None,
        "behind_at_window": late,
        "lag_p50": percentile(lags, 0.5),
        "lag_p95": percentile(lags, 0.95),
        "lag_max": max(lags, default=None),
        "cpu_util": (cpu1 - cpu0) / wall,
        "worker_cpu_util": (worker1 - worker0) / wall,
        "worker_cpu_each": [(used - workers0.get(pid, 0.0)) / wall for pid, used in workers1.items()],
        "cpu_ms_per_token": 1000 * (cpu1 - cpu0 + worker1 - worker0) / max(1, arrived),
        "draw_ms_per_token": 1000 * (drawn1 - drawn0) / max(1, arrived),  # of the UI's: pane draws
        "fps": len(in_window) / wall,  # and screen updates (the rest is the tokens' way to the panes)
        "draws_per_ktok": 1000 * sum(window["start"] <= d <= window["end"] for d in draws) / arrived,
        "updates_per_ktok": 1000 * len(in_window) / arrived,  # screen updates (compositor refreshes)
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


@contextlib.asynccontextmanager
async def recorded(run: Run | None, tickets: TicketFile, path: Path | None) -> AsyncIterator[list[str]]:
    """`run` recorded into a history file at `path` as `lfg run` records it (None: not recorded) until
    the block ends; yields the problems the history reported."""
    from lfgtui.history.writer import open_run_history

    problems: list[str] = []
    async with open_run_history(path, tickets, "bench", problems.append) as history:
        if history is not None and run is not None:
            run.record(history)
        yield problems


def behind(arrivals: dict[str, list[float]], shown_at: dict[str, list[float]], now: float) -> float:
    """How far the screen is behind the streams at `now`: the most any pane's newest chunk on screen
    (its first chunk, when none is) arrived before `now`. Chunks the UI has yet to take in are not in
    `arrivals` yet, so an intake that lags counts too: the newest it took in are old."""
    return max((now - a[max(0, len(shown_at[t]) - 1)] for t, a in arrivals.items() if a), default=0.0)


def end_lags(
    arrivals: dict[str, list[float]], shown_at: dict[str, list[float]], rate: float
) -> tuple[list[float], list[float]]:
    """Each ended pane's end lag, from its last chunk's arrival to the frame showing it, and how late
    that frame was on the sim's timeline: one token per chunk, 1/rate apart from the first chunk's
    arrival (a source or a worker falling behind makes the end late, not lagged). Panes whose last
    chunk was never shown are left out (`ended` counts those in)."""
    lags: list[float] = []
    late: list[float] = []
    for ticket, times in arrivals.items():
        if times and len(shown_at[ticket]) == len(times):
            lags.append(shown_at[ticket][-1] - times[-1])
            late.append(shown_at[ticket][-1] - (times[0] + (len(times) - 1) / rate))
    return lags, late


def child(args: argparse.Namespace) -> None:
    """`render.py --child`: one run as `args` say, on a sim server started for it; its figures as JSON."""
    width, height = (int(v) for v in args.size.split("x"))
    if args.acp:  # the agents play the scenario themselves: no sim server
        result = asyncio.run(
            run_lfg(
                args.panes,
                args.rate,
                args.duration,
                (width, height),
                None,
                worker=True,
                acp=True,
                history=args.history,
                catch_up=args.catch_up,
            )
        )
        print(json.dumps(result))
        return
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lfgtui", "sim", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    with otlp_sink() if args.otel else contextlib.nullcontext() as sink:
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
                    otel=args.otel,
                    history=args.history,
                    catch_up=args.catch_up,
                    processes=args.processes,
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
        if sink is not None:
            result["otlp_exports"] = json.loads(urlopen(f"{sink}/stats", timeout=10).read())
    print(json.dumps(result))


@contextlib.contextmanager
def otlp_sink() -> Iterator[str]:
    """`_otlp_sink.py` in a process of its own while the block runs, lfg's OTLP exports pointed at it
    (metrics every second, so that some are sent within the measured window, as spans are once
    their attempts end); yields its URL."""
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(OTLP_SINK), str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        sink.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        os.environ |= {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_METRIC_EXPORT_INTERVAL": "1000"}
        yield url
    finally:
        sink.terminate()
        sink.wait(timeout=10)
