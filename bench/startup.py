"""Startup: wall time of short `lfg` commands, against the interpreter's own startup.

Not a test (nothing here runs in CI, nothing is asserted). Issue #15 asks for `lfg --help` and
`lfg history list` under 150 ms, each command importing only what it needs. It runs, `--runs` times
each, interleaved and in a rotating order so that other load on the machine falls on all alike:

- the baselines `python -c pass` and `python -c "import argparse"`, with the same interpreter;
- `lfg --help`, `lfg --version`, `lfg sim list`;
- `lfg history list --db FILE` on a one-run history that `lfg run --headless` records first;

and prints the median and best wall time of each, its ratio to `python -c pass` and the time it adds.

The children get their own bytecode cache (PYTHONPYCACHEPREFIX in a temporary folder, warmed by one
untimed run of each command): an installed lfg runs from .pyc files, while a source tree that cannot
be written or PYTHONDONTWRITEBYTECODE would add compiling to every run. Keys, LFG_* variables and the
user's config and data folders are left out.

Run: `python bench/startup.py`; `--src DIR` measures the lfgtui package in DIR instead (e.g. a
read-only `git worktree add /tmp/orig HEAD`) to compare before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TICKET = '[[ticket]]\nid = "hello"\nprompt = "Say hello."\nprovider = "sim"\nmodel = "hello"\n'


def lfg_command() -> list[str]:
    """The `lfg` console script next to this interpreter, as a user runs it; else `python -m lfgtui`."""
    script = Path(sys.executable).parent / "lfg"
    return [sys.executable, str(script)] if script.exists() else [sys.executable, "-m", "lfgtui"]


def child_env(folder: Path, src: Path | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith("LFG_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env |= {
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_DATA_HOME": str(folder / "data"),
        "PYTHONPYCACHEPREFIX": str(folder / "pycache"),
    }
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), *filter(None, [env.get("PYTHONPATH")])])
    return env


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21, help="timed runs of each command (default 21)")
    parser.add_argument("--src", type=Path, help="a folder holding the lfgtui package to measure")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lfg-startup-") as tmp:
        folder = Path(tmp)
        env = child_env(folder, args.src)
        lfg = lfg_command()
        tickets = folder / "tickets.toml"
        tickets.write_text(TICKET)
        db = folder / "history.sqlite3"
        recorded = subprocess.run(
            [*lfg, "run", str(tickets), "--headless", "--db", str(db)],
            env=env,
            capture_output=True,
            text=True,
        )
        if recorded.returncode != 0:
            sys.exit(f"lfg run failed ({recorded.returncode}):\n{recorded.stderr}")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            'python -c "import argparse"': [sys.executable, "-c", "import argparse"],
            "lfg --help": [*lfg, "--help"],
            "lfg --version": [*lfg, "--version"],
            "lfg history list --db FILE": [*lfg, "history", "list", "--db", str(db)],
            "lfg sim list": [*lfg, "sim", "list"],
        }
        where = subprocess.run(
            [sys.executable, "-c", "import lfgtui; print(lfgtui.__path__[0])"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"{' '.join(lfg)}  (lfgtui from {where})")
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        for command in commands.values():  # untimed: fills the bytecode cache
            wall(command, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for round_ in range(args.runs):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(wall(commands[name], env))
        base = statistics.median(times["python -c pass"])
        print(f"{args.runs} runs each, load {os.getloadavg()[0]:.2f} at the end\n")
        print(f"{'command':30} {'median':>9} {'best':>9} {'x pass':>7} {'+ over pass':>12}")
        for name, seconds in times.items():
            median = statistics.median(seconds)
            print(
                f"{name:30} {median * 1000:6.1f} ms {min(seconds) * 1000:6.1f} ms "
                f"{median / base:6.2f}x {(median - base) * 1000:+9.1f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
