#!/usr/bin/env python3
"""The frame clock's work for many streaming panes, frame by frame, counted rather than timed by the clock.

`render.py` streams from a sim at a wall-clock rate, so on a busy machine a starved UI draws fewer
frames and batches more tokens into each, which moves its CPU per token by tens of percent. This one
drives the real `LfgApp` (headless, every pane on screen) one frame at a time: before each frame it
hands every pane the same number of tokens (`--rate` / 20, the long-answer scenario's Markdown, as
`TextDelta` events applied to the pane), then runs the app's frame (`LfgApp._frame`, whose own timer
is stopped, and with no time budget: what a machine's load would cut is drawn) and the screen
update it causes. What it reports is per frame and per 1,000 tokens, the
same whatever the machine's load: pane draws, screen updates, and the CPU (`time.process_time`) of
the frame clock, of the screen update and of both with Textual's messages between. "start-up ms" is
the CPU from the app's start until every pane is on screen with its ticket under way (mounting the
panes; the tickets' requests run in this process too, against an in-process sim).

    python bench/frames.py                                    # 1, 16 and 64 panes at 200 tok/s
    python bench/frames.py --base /tmp/before --repeat 3      # against another tree, interleaved

`--base DIR` runs the same child with the lfgtui package in DIR (`git worktree add /tmp/before main
--detach`), alternating with this tree's, and prints the ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from _figures import ratio, table_head, table_row
from _trees import tree_env

CONFIGS = "1x200@200x60,16x200@200x60,64x200@400x120"
FPS = 20
FIGURES = ("start-up ms", "draws/frame", "pane Hz", "updates/ktok", "frame ms", "update ms", "UI ms/ktok")


def tokens() -> list[str]:
    """The long-answer scenario's text as the sim streams it: a word and the space after it."""
    import lfgtui.sim

    scenario = Path(lfgtui.sim.__file__).parent / "scenarios" / "long-answer.toml"
    text = tomllib.loads(scenario.read_text())["call"][0]["text"]
    return re.findall(r"\S+\s*", text)


async def measure(panes: int, rate: float, frames: int, size: tuple[int, int]) -> dict[str, float]:
    from dataclasses import replace

    from textual.screen import Screen

    import lfgtui.ui.app
    from lfgtui.config.load import Config
    from lfgtui.events import TextDelta
    from lfgtui.providers.catalog import BUILTIN
    from lfgtui.providers.registry import Providers
    from lfgtui.sim.scenario import ScenarioLibrary
    from lfgtui.sim.server import SimServer
    from lfgtui.tickets.load import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS
    from lfgtui.ui.app import LfgApp
    from lfgtui.ui.run.controller import RunController
    from lfgtui.ui.services import Services
    from lfgtui.ui.widgets.pane import PaneState, TicketPane

    words = tokens()
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"lfg-frames-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tickets.toml"
    silent = "long-answer:ttft_ms=3600000"  # under way, but its first token never comes: we bring them
    path.write_text(
        "".join(
            f'[[ticket]]\nid = "p{n}"\nprompt = "go"\nprovider = "sim"\nmodel = "{silent}"\n\n'
            for n in range(panes)
        )
    )
    updates = {"count": 0, "cpu": 0.0}
    original_refresh = Screen._compositor_refresh

    def compositor_refresh(self: Screen[Any]) -> None:
        start = time.process_time()
        original_refresh(self)
        updates["count"] += 1
        updates["cpu"] += time.process_time() - start

    Screen._compositor_refresh = compositor_refresh  # type: ignore[method-assign]
    draws = [0]
    original_draw = TicketPane.render_frame

    def render_frame(self: TicketPane, now: float, frame: int) -> None:
        draws[0] += 1
        original_draw(self, now, frame)

    TicketPane.render_frame = render_frame  # type: ignore[method-assign]
    async with SimServer(ScenarioLibrary()) as sim:
        loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={}).tickets
        waiting = {"sim": replace(BUILTIN["sim"], idle_timeout_s=86400.0)}  # no timeout while measured
        services = Services(Providers(waiting, sim=sim), max_concurrency=panes)
        app = LfgApp(services, RunController.live(services, loaded, "frames"))
        app._frame = lambda: None  # type: ignore[method-assign]  # its timer does nothing: we call it
        lfgtui.ui.app.FRAME_BUDGET_S = float("inf")  # the work the pacing asks for, whatever the load
        start = time.process_time()
        async with app.run_test(headless=True, size=size) as pilot:
            every = app.controller.screen.panes
            while not all(p.state is PaneState.RUNNING and p.on_screen for p in every):
                await asyncio.sleep(0.05)
            start_up = time.process_time() - start
            per_frame = rate / FPS
            sent, seq = 0, 0
            frame_cpu = total_cpu = 0.0
            updates["count"], updates["cpu"] = 0, 0.0
            drawn = draws[0]
            for frame in range(frames):
                due = round((frame + 1) * per_frame) - round(frame * per_frame)
                for pane in every:
                    for k in range(due):
                        seq += 1
                        word = words[(sent + k) % len(words)]
                        event = TextDelta(
                            ticket=pane.ticket.id, attempt=1, seq=seq, t=time.monotonic(), text=word
                        )
                        pane.apply(event, pane.metrics)
                sent += due
                start = time.process_time()
                LfgApp._frame(app)
                frame_cpu += time.process_time() - start
                await pilot.pause()
                app.screen._on_timer_update()
                total_cpu += time.process_time() - start
            drawn = draws[0] - drawn
            if not all(p.state is PaneState.RUNNING for p in every):
                raise RuntimeError("a ticket stopped running while measured: its figures would be off")
            await pilot.press("q", "y")
    arrived = sent * panes
    return {
        "start-up ms": 1000 * start_up,
        "draws/frame": drawn / frames,
        "pane Hz": FPS * drawn / frames / panes,
        "updates/ktok": 1000 * updates["count"] / arrived,
        "frame ms": 1000 * frame_cpu / frames,
        "update ms": 1000 * updates["cpu"] / frames,
        "UI ms/ktok": 1e6 * total_cpu / arrived,
    }


def run_child(config: str, frames: int, base: Path | None) -> dict[str, float]:
    env = tree_env(base)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", config, "--frames", str(frames)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default=CONFIGS, help="PANESxRATE@WIDTHxHEIGHT, comma separated")
    parser.add_argument("--frames", type=int, default=100, help="frames measured per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tree, interleaved")
    parser.add_argument("--base", type=Path, help="another tree to compare with")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        shape, size = args.child.split("@")
        panes, rate = shape.split("x")
        width, height = (int(v) for v in size.split("x"))
        print(json.dumps(asyncio.run(measure(int(panes), float(rate), args.frames, (width, height)))))
        return
    trees = {"lfg": None, **({"lfg-base": args.base} if args.base else {})}
    print(table_head(["config", "tree", "run", *FIGURES]))
    lines = []
    for config in args.configs.split(","):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for number in range(1, args.repeat + 1):
            for name, base in trees.items():
                result = run_child(config, args.frames, base)
                runs[name].append(result)
                print(table_row([config, name, str(number), *(f"{result[f]:.3f}" for f in FIGURES)]))
                sys.stdout.flush()
        if args.base:
            ours, theirs = ({f: statistics.median(r[f] for r in runs[n]) for f in FIGURES} for n in trees)
            lines.append(f"{config}: " + ", ".join(f"{f} {ratio(ours[f], theirs[f])}" for f in FIGURES))
    if lines:
        print("\nratios of medians, lfg/lfg-base (below 1 means this tree does less):")
        print("\n".join(f"  {line}" for line in lines))


if __name__ == "__main__":
    main()
