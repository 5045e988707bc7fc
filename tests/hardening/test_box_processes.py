"""A boxed agent cannot take every process of the host: each container box's cgroup holds at most
`NPROC` of them (a fork bomb inside docker's box, as root, whom no process limit holds, took every
pid of the host; podman's own default held its box)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from lfgtui.tools import containers
from lfgtui.tools.containers import ContainerBox
from tests.support.patience import PATIENCE

PIDS_MAX = "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null"
"""The cgroup's process limit, where cgroups v2 or v1 keep it."""


async def test_a_container_box_holds_a_bounded_number_of_processes(engine: str, tmp_path: Path) -> None:
    """Fails before with docker: `max`."""
    assert await containers.unavailable(engine) is None, "the engine makes lfg's image and a box"
    box = ContainerBox((tmp_path,), engine=engine, ticket="forks")
    argv = box.wrap(["/bin/sh", "-c", PIDS_MAX], tmp_path)
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=120 * PATIENCE
    )
    limits = done.stdout.split()
    assert limits and all(limit.isdigit() and int(limit) <= containers.NPROC for limit in limits), (
        done.stdout + done.stderr
    )
