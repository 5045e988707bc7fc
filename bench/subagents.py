"""Benchmark of a coding agent with thousands of sub-agents: does the tree stay quick to draw?

Not a test (tests/run/agents/test_subagent_tree.py counts the rows mounted instead of timing them).
For each count in `--counts`, the sim ACP agent delegates that many sub-agents one after another
(`--subagent Scan --subagents N`), each announced, running, with its own text, a tool call and a
cost, then done, amid one ticket's answer. It prints:

- `tui s`: the real `LfgApp` headless (Pilot), from the first sub-agent in the parent's tree to the
  ticket completed with every sub-agent in it and a frame drawn after;
- `rows`: the sub-agent rows mounted then (widgets: a few folded rows draw what is visible);
- `stall ms`: the longest the app's loop went without running a 1 ms ticker meanwhile (what a
  key pressed then would wait);
- `headless s`: `lfg run --headless` on the same ticket, from its first `sub-agent started` line
  to its ending line (the lines' own times: the agent's start-up is left out).

Both include the sim agent's own work sending the updates; compare counts, and trees, with each
other. Run: `python bench/subagents.py`, or e.g. `python bench/subagents.py --counts 100 1000 10000`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.services import Services
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.ui.widgets.subagents import SubagentRow

TICKET = (
    '[[ticket]]\nid = "p"\nprompt = "x"\nprovider = "{provider}"\nmodel = "hello:ttft_ms=0,tokens_per_s=0"\n'
)
AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--subagent", "Scan", "--subagents"]


async def tui(count: int, folder: Path, give_up_s: float) -> str:
    path = folder / "tickets.toml"
    path.write_text(TICKET.format(provider="sim-acp"))
    sim = BUILTIN["sim-acp"]
    assert sim.agent is not None
    command = (*AGENT, str(count), "--scenario", "{model}")
    providers = Providers({"sim-acp": sim.with_agent(command=command)})
    tickets = load_tickets(path, Config(path=None), BUILTIN_TOOLS).tickets
    services = Services(providers)
    app = LfgApp(services, RunController.live(services, tickets))
    stall = 0.0
    async with app.run_test(headless=True, size=(160, 50)) as pilot:
        pane = app.controller.panes["p"]
        tree = pane.subagents
        while not tree.children:
            await asyncio.sleep(0.01)
        start = last = time.perf_counter()
        done = start + give_up_s
        while not (pane.state is PaneState.COMPLETED and len(tree.children) == count):
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            stall, last = max(stall, now - last), now
            if now > done:
                return f"{count:>7} {'> ' + str(give_up_s):>8}"
        await pilot.pause()
        took = time.perf_counter() - start
        rows = len(app.screen.query(SubagentRow))
    return f"{count:>7} {took:>8.2f} {rows:>6} {stall * 1000:>9.0f}"


STAMP = re.compile(r"^\[\s*([0-9.]+)s\]")


def headless(count: int, folder: Path, timeout: float) -> str:
    config = folder / "config" / "lfgtui"
    config.mkdir(parents=True, exist_ok=True)
    command = ", ".join(f'"{part}"' for part in [*AGENT, str(count), "--scenario", "{model}"])
    (config / "config.toml").write_text(f'[providers.many]\nkind = "acp"\ncommand = [{command}]\n')
    path = folder / "many.toml"
    path.write_text(TICKET.format(provider="many"))
    env = os.environ | {"XDG_CONFIG_HOME": str(folder / "config"), "XDG_STATE_HOME": str(folder / "state")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lfgtui", "run", str(path), "--headless", "--no-history"],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout + 60,
            cwd=folder,
        )
    except subprocess.TimeoutExpired:
        return f"> {timeout:.0f}"
    lines = done.stdout.splitlines()
    first = next(line for line in lines if "sub-agent started" in line)
    last = next(line for line in lines if "✓ completed" in line)
    times = [float(match[1]) for line in (first, last) if (match := STAMP.match(line))]
    return f"{times[1] - times[0]:>10.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--timeout", type=float, default=120.0, help="give up on one count after this")
    args = parser.parse_args()
    print(f"{'count':>7} {'tui s':>8} {'rows':>6} {'stall ms':>9} {'headless s':>10}")
    for count in args.counts:
        with tempfile.TemporaryDirectory() as folder:
            shown = await tui(count, Path(folder), args.timeout)
            print(f"{shown} {headless(count, Path(folder), args.timeout)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
