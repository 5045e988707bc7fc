"""One measured run for `bench/agents.py` (its `--child`): N tickets in the real lfg app, either real
Claude Code agents or API panes, against a sim server of their own, in a process of their own.

The app is the real `LfgApp`, run headless (`run_test`, as `bench/render.py` runs it) at a size where
every pane is visible, so every update is drawn. Agent panes start the pinned `claude-agent-acp`
from tests/real_agents under lfg's supervisor, with the offline world the real-agent tests use
(lfgtui/sim/offline_agents.py: a home of their own, pointed at the sim with a made-up key); API
panes stream the same scenario from the same sim over the Anthropic Messages API through the
provider worker, as `lfg run` does. The sim runs in its own process, so its CPU is not lfg's.

What it notes, from inside lfg's UI process:
- every ACP `session/update` read off an agent's stdout (`AgentPipe.route`), and every text chunk
  event the panes get (the session's sink), with the CPU time of this process and of lfg's helper
  processes (the provider worker, or each agent's supervisor) at four moments: before the app starts, every
  pane streaming, the first pane done, every pane done;
- each agent's start-up: lfg starting its process (`start_agent`), `initialize` sent and answered,
  `session/new` sent and answered, its first `session/update`, its first text chunk;
- this process's resident memory at the end (every pane done, its whole answer on screen, completed
  agents idle as the TUI keeps them for a follow-up) and its peak, and the helpers' and agents'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from _procfs import cpu_s, machine_busy_s, process_children, subtree, tree_cpu_s

from lfgtui.sim.offline_agents import agents_bin, offline_env, settle_agents_home

AGENTS_BIN = agents_bin(Path(__file__).resolve().parents[1])

AGENT = "claude-code"
SIDE_CALLS = "claude-haiku-*=hello"
"""Claude Code's side calls to its small model get a short answer, as in examples/agents-offline.toml."""
AGENT_START_TIMEOUT_S = 600.0
"""Sixteen Node agents starting at once on two shared cores take tens of seconds; a bench must not
fail on that."""


@dataclass
class Startup:
    """When one agent reached each step of its start, in `time.monotonic()` seconds."""

    spawn: float
    started: float = 0.0
    initialize: float | None = None
    initialized: float | None = None
    new_session: float | None = None
    opened: float | None = None
    first_update: float | None = None
    first_text: float | None = None
    requests: dict[Any, str] = field(default_factory=dict)

    def steps(self) -> dict[str, float | None]:
        """Seconds from lfg starting the agent's process to each step."""

        def since(t: float | None) -> float | None:
            return None if t is None else t - self.spawn

        return {
            "process": since(self.started),
            "initialize answered": since(self.initialized),
            "session/new answered": since(self.opened),
            "first update": since(self.first_update),
            "first text": since(self.first_text),
        }


@dataclass
class Watch:
    """What the patched ACP transport and the session's sink saw."""

    updates: int = 0
    update_kinds: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    frames: int = 0
    starts: dict[object, Startup] = field(default_factory=dict)  # by the agent's stdout reader
    attempt_started: dict[str, float] = field(default_factory=dict)
    first_chunk: dict[str, float] = field(default_factory=dict)
    ended: dict[str, str] = field(default_factory=dict)  # outcome, by ticket


def watch_agents(watch: Watch) -> None:
    """Note each agent's start-up steps and count its `session/update`s, by wrapping lfg's agent
    start and its stdio transport (the names `lfgtui.run.agents` has today, or had before)."""
    from lfgtui.run.agents.transport import AgentPipe

    try:  # where AgentSession.start starts the agent: its lifecycle's room, or the attempt before it had one
        from lfgtui.run.agents.session import lifecycle as starting
    except ImportError:
        from lfgtui.run.agents import attempt as starting  # type: ignore[no-redef]

    # every message read, updates included: `AgentPipe.route` where the pipe reads its stdout as a
    # protocol, `message` where it hands updates on itself from a reading task, `receive` (which
    # then returns every message to the SDK) in a tree from before that
    reading = next(name for name in ("route", "message", "receive") if hasattr(AgentPipe, name))
    start_agent, send, read = starting.start_agent, AgentPipe.send, getattr(AgentPipe, reading)

    async def timed_start(*args: Any, **kwargs: Any) -> Any:
        spawn = time.monotonic()
        started = await start_agent(*args, **kwargs)  # the process, with its stdout in a newer tree
        process = started[0] if isinstance(started, tuple) else started
        watch.starts[process.stdin] = Startup(spawn, started=time.monotonic())
        return started

    async def timed_send(self: AgentPipe, message: dict[str, Any]) -> None:
        start = watch.starts.get(self._writer)
        if start is not None and message.get("method") in ("initialize", "session/new"):
            start.requests[message.get("id")] = message["method"]
            setattr(
                start, "initialize" if message["method"] == "initialize" else "new_session", time.monotonic()
            )
        await send(self, message)

    def counted(self: AgentPipe, message: dict[str, Any] | None) -> None:
        start = watch.starts.get(self._writer)
        if message is None or start is None:
            return
        now = time.monotonic()
        if message.get("method") == "session/update":
            watch.updates += 1
            kind = str(((message.get("params") or {}).get("update") or {}).get("sessionUpdate"))
            watch.update_kinds[kind] = watch.update_kinds.get(kind, 0) + 1
            start.first_update = start.first_update or now
            if kind == "agent_message_chunk":
                start.first_text = start.first_text or now
        elif "method" not in message:
            answered = start.requests.pop(message.get("id"), None)
            if answered == "initialize":
                start.initialized = now
            elif answered == "session/new":
                start.opened = now

    def counted_route(self: AgentPipe, message: dict[str, Any]) -> None:
        counted(self, message)
        read(self, message)

    async def counted_receive(self: AgentPipe) -> dict[str, Any] | None:
        message = await read(self)
        counted(self, message)
        return message

    starting.start_agent = timed_start  # type: ignore[assignment]
    AgentPipe.send = timed_send  # type: ignore[method-assign]
    setattr(AgentPipe, reading, counted_route if reading == "route" else counted_receive)


def count_frames(screen: Any, watch: Watch) -> None:
    """Count the frames the app draws (each compositor refresh): a starved UI draws fewer, each
    showing more updates, which lowers its CPU per update."""
    refresh = screen._compositor_refresh

    def counted(self: Any) -> None:
        refresh(self)
        watch.frames += 1

    screen._compositor_refresh = counted


LEFT_OUT = ("text", "panes")
"""What `--leave-out` may take out of the app's drawing, to see what the rest costs."""


def leave_out(what: str | None) -> None:
    """Make the app skip part of its drawing (`agents.py --leave-out`): `text`, the answers are never
    rendered (each pane's body stays blank while its header, gauges and screen updates go on);
    `panes`, no pane is drawn at all (each only takes in what arrived). What is left is the floor
    of lfg's CPU per update without that drawing."""
    if what is None:
        return
    from lfgtui.ui.markdown.live import LiveMarkdown
    from lfgtui.ui.widgets.pane import TicketPane

    def blank_tail(self: LiveMarkdown, key: Any) -> None:
        self._tail, self._tail_key = [], None

    LiveMarkdown._render_tail = blank_tail  # type: ignore[method-assign]
    LiveMarkdown._render_finished = lambda self, block, key, was_tail: []  # type: ignore[method-assign]
    if what == "panes":

        def take_in(self: TicketPane, now: float, frame: int) -> None:
            self.dirty, self.urgent, self.drawn_frame = self.running, False, frame
            self.shown.catch_up()

        TicketPane.render_frame = take_in  # type: ignore[method-assign]


def pace(fps: float | None, streams: int | None) -> None:
    """Draw at another cadence than the app's (`agents.py --fps`, `--streams-per-frame`): `fps`
    frames a second instead of `FRAME_S`'s, and `streams` of the panes that only stream drawn each
    frame instead of `streams_per_frame`'s share (the focused pane, and a pane a person waits on,
    are still drawn on every frame). What a slower cadence would save of lfg's CPU per update."""
    from lfgtui.ui import app

    if fps is not None:
        app.FRAME_S = 1 / fps
    if streams is not None:
        app.streams_per_frame = lambda streaming: min(streaming, streams)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Sample:
    """CPU seconds so far of lfg's UI process and of its helpers, with the updates and chunks seen."""

    t: float
    ui: float
    helpers: float
    updates: int
    chunks: int
    frames: int
    machine: float  # every core's busy seconds so far (_procfs.machine_busy_s)


def helper_pids(skip: set[int]) -> tuple[list[int], list[int]]:
    """lfg's helper processes (this process's children but `skip`: the sim) and everything below them
    that is not lfg's: the agents under each supervisor. The provider worker has no children."""
    children = process_children()
    helpers = [pid for pid in children.get(os.getpid(), []) if pid not in skip]
    below = [pid for helper in helpers for pid in subtree(children, helper)[1:]]
    return helpers, below


def rss_kb(pid: int | str, field_name: str = "VmRSS") -> int:
    """A process's resident memory now (`VmRSS`) or at its peak (`VmHWM`), in KiB; 0 once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


async def run(args: argparse.Namespace, folder: Path, sim_url: str, sim_pid: int) -> dict[str, Any]:
    from textual.screen import Screen

    from lfgtui.config.load import Config
    from lfgtui.events import AttemptEnded, AttemptStarted, Event, TextDelta
    from lfgtui.providers.catalog import BUILTIN
    from lfgtui.providers.registry import Providers
    from lfgtui.providers.worker import ProviderWorker
    from lfgtui.tickets.load import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS
    from lfgtui.ui.app import LfgApp
    from lfgtui.ui.run.controller import RunController
    from lfgtui.ui.services import Services

    agents = args.mode == "agents"
    watch = Watch()
    if agents:
        watch_agents(watch)
    count_frames(Screen, watch)
    leave_out(args.leave_out)
    pace(args.fps, args.streams_per_frame)
    providers_used = dict(BUILTIN)
    providers_used[AGENT] = replace(
        BUILTIN[AGENT].with_agent(nice=args.agent_nice), connect_timeout_s=AGENT_START_TIMEOUT_S
    )
    providers_used["bench-api"] = replace(BUILTIN["anthropic"], name="bench-api", base_url=sim_url)
    config = Config(path=None, providers=providers_used)
    project = folder / "project"
    ticket = f'provider = "{AGENT}"\n' if agents else f'provider = "bench-api"\nmodel = "{args.scenario}"\n'
    tickets_file = folder / "tickets.toml"
    tickets_file.write_text(
        "".join(
            f'[[ticket]]\nid = "p{i}"\nprompt = "Write it up."\n{ticket}workdir = "{project}"\n\n'
            for i in range(int(args.tickets))
        )
    )
    tickets = load_tickets(tickets_file, config, BUILTIN_TOOLS, env=dict(os.environ)).tickets

    def record(event: Event) -> None:
        if isinstance(event, TextDelta):
            watch.chunks += 1
            watch.first_chunk.setdefault(event.ticket, event.t)
        elif isinstance(event, AttemptStarted):
            watch.attempt_started[event.ticket] = event.t
        elif isinstance(event, AttemptEnded):
            watch.ended[event.ticket] = event.outcome.value

    def sample() -> Sample:
        helpers, _ = helper_pids({sim_pid})
        updates = watch.updates if agents else watch.chunks
        used = sum(tree_cpu_s(helpers, reaped=False).values())
        now = time.monotonic()
        return Sample(now, time.process_time(), used, updates, watch.chunks, watch.frames, machine_busy_s())

    busy0, sim0 = machine_busy_s(), cpu_s(sim_pid)
    samples = {"start": sample()}  # before the worker and the app start: their start-up is the run's
    providers = Providers(config.providers, backend=None if agents else ProviderWorker())
    services = Services(providers, max_concurrency=int(args.tickets))
    app = LfgApp(services, RunController.live(services, tickets, "bench", sinks=[record]))
    width, height = (int(v) for v in args.size.split("x"))
    async with app.run_test(headless=True, size=(width, height)):
        deadline = time.monotonic() + args.timeout
        while len(watch.ended) < len(tickets):
            if "streaming" not in samples and len(watch.first_chunk) == len(tickets):
                samples["streaming"] = sample()
            if "first done" not in samples and watch.ended:
                samples["first done"] = sample()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(watch.ended)} of {len(tickets)} tickets ended in {args.timeout:g} s"
                )
            await asyncio.sleep(0.05)
        samples["end"] = sample()
        helpers, below = helper_pids({sim_pid})
        memory = {
            "ui_rss_mb": rss_kb("self") / 1024,
            "ui_peak_mb": rss_kb("self", "VmHWM") / 1024,
            "helpers_rss_mb": sum(rss_kb(pid) for pid in helpers) / 1024,
            "agents_rss_mb": sum(rss_kb(pid) for pid in below) / 1024,
        }
        agents_cpu = sum(tree_cpu_s(below, reaped=True).values())
        machine = machine_busy_s() - busy0
    failed = {t: outcome for t, outcome in watch.ended.items() if outcome != "completed"}
    if failed:
        raise RuntimeError(f"tickets that did not complete: {failed}")
    return figures(args, watch, samples, memory) | {
        "helpers": len(helpers),
        "agents_cpu_s": agents_cpu if agents else None,
        "sim_cpu_s": cpu_s(sim_pid) - sim0,
        "machine_cpu_s": machine,
    }


def figures(
    args: argparse.Namespace, watch: Watch, samples: dict[str, Sample], memory: dict[str, float]
) -> dict[str, Any]:
    """The run's figures: CPU per update over the whole run and while every pane streamed, memory,
    and each pane's start-up."""
    start, end = samples["start"], samples["end"]
    # every pane streaming until the first is done (or every one, when they all end between two looks)
    steady_from, steady_to = samples.get("streaming"), samples.get("first done", end)
    steady = steady_from is not None and steady_to is not None and steady_to.t > steady_from.t

    def per(a: Sample, b: Sample, what: str) -> dict[str, float]:
        updates, chunks = max(1, b.updates - a.updates), max(1, b.chunks - a.chunks)
        return {
            f"{what}_s": b.t - a.t,
            f"{what}_updates": b.updates - a.updates,
            f"{what}_chunks": b.chunks - a.chunks,
            f"{what}_ui_cpu_s": b.ui - a.ui,
            f"{what}_helpers_cpu_s": b.helpers - a.helpers,
            f"{what}_ui_ms_per_update": 1000 * (b.ui - a.ui) / updates,
            f"{what}_lfg_ms_per_update": 1000 * (b.ui - a.ui + b.helpers - a.helpers) / updates,
            f"{what}_ui_ms_per_chunk": 1000 * (b.ui - a.ui) / chunks,
            f"{what}_fps": (b.frames - a.frames) / (b.t - a.t),
            f"{what}_ui_cpu_util": (b.ui - a.ui) / (b.t - a.t),
            f"{what}_machine_cpu_util": (b.machine - a.machine) / (b.t - a.t),
        }

    result: dict[str, Any] = {"mode": args.mode, "tickets": int(args.tickets), **per(start, end, "run")}
    if steady and steady_from is not None and steady_to is not None:
        result |= per(steady_from, steady_to, "steady")
    result |= memory
    result["update_kinds"] = watch.update_kinds
    result["first_text_s"] = [watch.first_chunk[t] - s for t, s in watch.attempt_started.items()]
    result["startup"] = [start.steps() for start in watch.starts.values()]
    return result


def child(args: argparse.Namespace) -> None:
    """`agents.py --child`: one run in a fresh folder, on a sim server started for it; its figures
    as one JSON line."""
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"lfg-bench-agents-{os.getpid()}"
    (folder / "project").mkdir(parents=True)
    (folder / "project" / "README.md").write_text("# Widget\nRenders widgets.\n")
    port = free_port()
    sim_url = f"http://127.0.0.1:{port}"
    env = offline_env(os.environ, folder, sim_url, AGENTS_BIN)
    for name in ("home", "tmp"):
        (folder / name).mkdir(exist_ok=True)
    settle_agents_home(folder / "home", sim_url)
    os.environ.clear()
    os.environ.update(env)  # lfg's own state and log, and the agents' settings, in this folder
    os.chdir(folder / "project")
    rules = ["--model", SIDE_CALLS, "--model", f"claude-*={args.scenario}", "--unknown-model", "hello"]
    server = subprocess.Popen(
        [sys.executable, "-m", "lfgtui", "sim", "serve", "--port", str(port), *rules],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        result = asyncio.run(run(args, folder, sim_url, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)  # the agents' homes, sessions and logs
    print(json.dumps(result))


def agent_installed() -> Path | None:
    """The pinned claude-agent-acp from tests/real_agents, or None when it is not installed."""
    program = AGENTS_BIN / "claude-agent-acp"
    return program if program.exists() else None
