"""How much longer a test may take in this run than the record measured: the record is of `-n 2` on
two cores, a worker a core; a wide run (the README's `-n 6` on CI's two cores) gives each worker a
third of a core, and a test that waits on servers and subprocesses still needs its share of CPU
while it waits. The per-test timeouts (tests/support/markers.py) and the suite's shared waits
(`until`, `eventually`, `wait_for`) stretch by `PATIENCE`, so that nothing fails as hung because the
run was wide, or the machine busy with more than the suite (at -n 2 on this two-core machine at a
load of 13 to 16, five tests of tests/run/agents/test_stalls.py failed their 10 s `until`): a hang
still fails, later."""

from __future__ import annotations

import os
from collections.abc import Mapping

RECORDED_WORKERS_PER_CORE = 1.0
"""The record's run: `-n 2` on the two-core CI machine."""


def patience(
    env: Mapping[str, str] = os.environ,
    cores: int = len(os.sched_getaffinity(0)),
    load: float = os.getloadavg()[0],
) -> float:
    """How many times the record's pace a wait allows: the workers per core of this run (xdist's
    `PYTEST_XDIST_WORKER_COUNT`, 1 without xdist, over the cores this process may run on), or the
    machine's load per core where others keep it busier than that (a developer's machine running
    more than the suite), over the record's; never under 1."""
    workers = int(env.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1.0, max(workers, load) / cores / RECORDED_WORKERS_PER_CORE)


PATIENCE = patience()
