"""Benchmark of loading and checking a big tickets file: does the time grow linearly with its size?

Not a test (nothing here runs in CI; tests/test_tickets.py counts the work instead of timing it). For
each size in `--sizes` it writes a valid tickets file, each ticket with an id, a title, a prompt
quoting the output of its first dependency, two dependencies and tools, in two orders:

- `deps first`: each ticket depends on earlier ones, the way a file is usually written;
- `deps later`: each depends on later ones, so the cycle check walks one chain as deep as the file.

It prints the best of `--rounds` times of `load_tickets` for each, and that time as a multiple of the
smallest size's: linear checking keeps the multiple near the ratio of the sizes. With `--first-event`
it also times `lfg run FILE --json` from start to its first event line, once per size.

Run: `python bench/tickets.py`, or e.g. `python bench/tickets.py --sizes 1000 20000 --first-event`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS

ORDERS = {"deps first": (-1, -7), "deps later": (1, 7)}


def tickets_file(count: int, steps: tuple[int, ...]) -> str:
    """`count` tickets, ticket n depending on tickets n + step for each step that names one."""
    tickets = ['[defaults]\nprovider = "sim"\nmodel = "hello"\nmax_calls = 5\n']
    for number in range(count):
        others = [f"t{number + step:06d}" for step in steps if 0 <= number + step < count]
        quoted = f"{{{{ outputs.{others[0]} }}}}" if others else "nothing"
        depends_on = ", ".join(f'"{other}"' for other in others)
        tickets.append(
            f'[[ticket]]\nid = "t{number:06d}"\ntitle = "Ticket {number}"\nprompt = """\nGo on from\n'
            f'{quoted}\n"""\ndepends_on = [{depends_on}]\ntools = ["read_file", "list_dir"]\n'
            "max_tokens = 100\n"
        )
    return "\n".join(tickets)


def best_load(path: Path, rounds: int) -> float:
    """The fastest of `rounds` loads: the others measure whatever else the machine was doing."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
        times.append(time.perf_counter() - start)
    return min(times)


def first_event(path: Path, folder: Path) -> float:
    """Seconds from starting `lfg run --json` (offline, no history) to its first event line."""
    config = folder / "config.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LFG_")}
    env["XDG_CONFIG_HOME"] = str(folder / "config")
    command = [sys.executable, "-m", "lfgtui", "run", str(path), "--json", "--no-history"]
    start = time.monotonic()
    with subprocess.Popen(
        [*command, "--config", str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None
        process.stdout.readline()
        elapsed = time.monotonic() - start
        process.kill()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--first-event", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for order, steps in ORDERS.items():
            base: float | None = None
            for size in args.sizes:
                path = folder / f"{size}.toml"
                path.write_text(tickets_file(size, steps), encoding="utf-8")
                seconds = best_load(path, args.rounds)
                base = base or seconds
                line = f"{order:10}  {size:>7} tickets  load {seconds:7.3f} s  x{seconds / base:5.1f}"
                if args.first_event:
                    line += f"  first event {first_event(path, folder):7.2f} s"
                print(line, flush=True)


if __name__ == "__main__":
    main()
