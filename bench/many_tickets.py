"""Benchmark of the TUI with many tickets: does startup and a frame's work stay flat as tickets grow?

Not a test (nothing here runs in CI; tests/ui/test_many_tickets.py counts the widgets and the
frame's work instead of timing them). For each size in `--sizes` it writes a tickets file of that
many tickets streaming a long answer at 50 tokens/s from the sim (in this process, so that every
size streams eight at once for the whole measure), opens the real `LfgApp` headless at `--size`
and prints:

- `mount s`: from creating the app to its first screen (every pane built, the window mounted);
- `widgets`: widgets mounted on the run screen (the panes in view, not one set per ticket);
- `cpu/s`: this process's CPU per second over `--seconds` while eight tickets stream and the
  others wait behind `max_concurrency`: the frame clock, the summary, the events and the sim;
- `key ms`: from a `down` key to the focus on the pane below, the window moved a row (the worst
  of five). The sim and the streams share this process's event loop, so compare sizes with each
  other rather than with `lfg run` in a terminal, whose streams run in the provider worker.

Run: `python bench/many_tickets.py`, or e.g. `python bench/many_tickets.py --sizes 100 3000 10000`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from textual.events import Key

from lfgtui.config.load import Config
from lfgtui.providers.registry import Providers
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.services import Services


async def measure(count: int, folder: Path, size: tuple[int, int], seconds: float) -> str:
    path = folder / f"tickets-{count}.toml"
    path.write_text(
        '[defaults]\nprovider = "sim"\nmodel = "long-answer:tokens_per_s=50"\n\n'
        + "".join(f'[[ticket]]\nid = "t{n:05d}"\nprompt = "x"\n\n' for n in range(count))
    )
    tickets = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={}).tickets
    async with SimServer(ScenarioLibrary()) as sim:
        services = Services(Providers(sim=sim))
        start = time.perf_counter()
        app = LfgApp(services, RunController.live(services, tickets))
        async with app.run_test(headless=True, size=size):
            mounted = time.perf_counter() - start
            widgets = len(app.screen.query("*"))
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.sleep(seconds)
            cpu_per_s = (time.process_time() - cpu) / (time.perf_counter() - wall)
            keys = 0.0
            screen = app.controller.screen
            for _ in range(5):
                current = screen.focused_pane
                assert current is not None
                below = screen.panes[screen.panes.index(current) + screen.columns]
                key = time.perf_counter()
                app.post_message(Key("down", None))
                while screen.focused_pane is not below:
                    await asyncio.sleep(0.001)
                keys = max(keys, time.perf_counter() - key)
            run = app.controllers[0].run
            assert run is not None
            run.cancel_all()
            await run.wait()
    return f"{count:>8} {mounted:>9.2f} {widgets:>8} {cpu_per_s:>6.2f} {keys * 1000:>7.0f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 300, 3000])
    parser.add_argument("--size", type=int, nargs=2, default=(160, 50), metavar=("COLUMNS", "LINES"))
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"{'tickets':>8} {'mount s':>9} {'widgets':>8} {'cpu/s':>6} {'key ms':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for count in args.sizes:
            print(await measure(count, Path(folder), tuple(args.size), args.seconds), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
