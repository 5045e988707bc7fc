"""How much longer a test may take in this run than the record measured: the record is of `-n 2` on
two cores, a worker a core; a wide run (the README's `-n 6` on CI's two cores) gives each worker a
third of a core, and a test that waits on servers and subprocesses still needs its share of CPU
while it waits. The per-test timeouts (tests/support/markers.py) and the suite's shared waits
(`until`, `eventually`, `wait_for`) stretch by `PATIENCE`, so that nothing fails as hung because the
run was wide: a hang still fails, later."""

from __future__ import annotations

import os
from collections.abc import Mapping

RECORDED_WORKERS_PER_CORE = 1.0
"""The record's run: `-n 2` on the two-core CI machine."""


def patience(env: Mapping[str, str] = os.environ, cores: int | None = os.cpu_count()) -> float:
    """How many times the record's pace a wait allows: the workers per core of this run (xdist's
    `PYTEST_XDIST_WORKER_COUNT`, 1 without xdist) over the record's, and never under 1."""
    workers = int(env.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1.0, workers / (cores or 1) / RECORDED_WORKERS_PER_CORE)


PATIENCE = patience()
