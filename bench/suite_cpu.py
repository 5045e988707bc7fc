"""Suite CPU: what each of the slowest test modules costs in CPU, its own and its processes'.

Not a test (nothing here runs in CI, nothing is asserted). Issue #77: `.ci/run` on the two-core CI
machine is CPU-bound at `-n 6`, so what shortens it is the CPU the tests spend, not their waits. It
takes the `--top` modules by the recorded run's wall time (tests/support/durations.json), or the
modules named, and runs each alone (`pytest -q MODULE`, no `-n`), `--repeat` rounds interleaved so
that other load on the machine falls on all alike, and prints per module: its tests, the recorded
wall, the wall now, and the CPU (user + system) of pytest and of every process it waited for (the
`lfg`s, workers, agents and servers the tests start), which a loaded machine stretches far less
than wall time.

Python's bytecode cache is on for them, as `.ci/run` has it (without it every `lfg` a test starts
compiles lfgtui anew). Where the CPU of a module goes, process by process and frame by frame:
`py-spy record --subprocesses --format raw -o out.raw -- python -m pytest -q MODULE`.

Run: `python bench/suite_cpu.py` (`--top 25`, a minute or three a module on two loaded cores);
`python bench/suite_cpu.py tests/broker/test_taking.py --repeat 3` for one module before and after.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import durations  # noqa: E402  (the record's reader, from the clone's root)


@dataclass(frozen=True)
class Measured:
    tests: str
    wall_s: float
    cpu_s: float


def slowest(top: int) -> list[tuple[str, float]]:
    """The `top` modules by the recorded run's summed wall time, slowest first."""
    walls: dict[str, float] = defaultdict(float)
    for name, measured in durations.recorded().items():
        walls[name.split("::", 1)[0]] += measured.total_s
    return sorted(walls.items(), key=lambda item: -item[1])[:top]


def run(module: str) -> Measured:
    """`pytest -q MODULE` to its end: its wall, and the CPU of pytest and everything it waited for."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", module]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    said = output.strip().splitlines()[-1] if output.strip() else ""
    counts = re.findall(r"(\d+) (passed|failed|skipped|errors?)", said)
    return Measured(
        ", ".join(f"{n} {what}" for n, what in counts) or said, wall, usage.ru_utime + usage.ru_stime
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("modules", nargs="*", help="test modules (default: the --top slowest recorded)")
    parser.add_argument("--top", type=int, default=25, help="how many of the slowest modules (default 25)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each, interleaved (default 1)")
    args = parser.parse_args()

    recorded = dict(slowest(10**6))
    modules = args.modules or [module for module, _ in slowest(args.top)]
    runs: dict[str, list[Measured]] = defaultdict(list)
    for _ in range(args.repeat):
        for module in modules:
            runs[module].append(measured := run(module))
            print(f"  {module}: {measured.wall_s:.1f} s wall, {measured.cpu_s:.1f} s CPU", file=sys.stderr)

    print("| module | tests | recorded wall s | wall s | CPU s (user+sys) | CPU / wall |")
    print("|---|---|---:|---:|---:|---:|")
    for module in sorted(modules, key=lambda m: -statistics.median(r.cpu_s for r in runs[m])):
        wall = statistics.median(r.wall_s for r in runs[module])
        cpu = statistics.median(r.cpu_s for r in runs[module])
        print(
            f"| {module} | {runs[module][-1].tests} | {recorded.get(module, 0):.0f} | {wall:.0f} | "
            f"{cpu:.1f} | {cpu / wall:.2f} |"
        )
    total = sum(statistics.median(r.cpu_s for r in runs[m]) for m in modules)
    print(f"\n{len(modules)} modules: {total:.0f} s of CPU (medians of {args.repeat} round(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
