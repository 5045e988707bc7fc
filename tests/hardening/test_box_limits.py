"""A boxed agent cannot take the host down: in each box (bubblewrap, docker, podman) a fork bomb, a
memory hog and a command filling `/tmp` are held by the kernel at the box's bounds (small, set by
the test: tools/box_limits.py), and a box beside it still runs. Where the kernel gives lfg no cgroup
for bubblewrap's box (run as a normal user here), the pane's line says so."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from lfgtui.tools import containers
from lfgtui.tools.box_limits import Limits
from lfgtui.tools.containers import ContainerBox
from lfgtui.tools.sandbox import Sandbox
from tests.support.box import person
from tests.support.patience import PATIENCE

SMALL = Limits(memory_mb=96, processes=48, cpus=1, tmp_mb=8)
FORKS = 200
FORK_BOMB = f"""
import os, sys, time
made = 0
for _ in range({FORKS}):
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    except OSError:
        break
    made += 1
print("forked", made, flush=True)
time.sleep(600)
"""
MEMORY_HOG = """
held = []
for _ in range(512):
    held.append(bytearray(1 << 20))
print("survived", flush=True)
"""
FILL_TMP = """
import os
written = 0
try:
    with open(os.path.join(os.environ["TMPDIR"], "fill"), "wb") as file:
        for _ in range(64):
            file.write(b"x" * (1 << 20))
            file.flush()
            written += 1
except OSError as exc:
    print("refused", exc.errno, flush=True)
print("wrote", written, flush=True)
"""


def _box(kind: str, folder: Path, limits: Limits) -> Sandbox:
    if kind == "bwrap":
        return Sandbox((folder,), limits=limits)
    return ContainerBox((folder,), engine=kind, ticket="limits", limits=limits)


async def _start(kind: str, folder: Path, script: str, limits: Limits = SMALL) -> asyncio.subprocess.Process:
    if kind != "bwrap":
        assert await containers.unavailable(kind) is None, "the engine makes lfg's image and a box"
    argv = _box(kind, folder, limits).wrap([sys.executable, "-c", script], folder)
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        cwd=folder,  # where the command runs: nothing of the engine's may be left in it
    )


async def _ran(kind: str, folder: Path, script: str, limits: Limits = SMALL) -> tuple[int, str]:
    process = await _start(kind, folder, script, limits)
    output, _ = await asyncio.wait_for(process.communicate(), 120 * PATIENCE)
    return process.returncode or 0, output.decode(errors="replace")


async def _neighbour_runs(kind: str, folder: Path) -> None:
    """A box beside the attack's, with the default bounds, starts and ends as it should."""
    beside = folder / "beside"
    beside.mkdir(exist_ok=True)
    code, said = await _ran(kind, beside, "print('alive')", Limits())
    assert (code, said.split()[-1:]) == (0, ["alive"]), said


@pytest.mark.timeout(300)
async def test_a_fork_bomb_is_held_at_the_boxs_processes(box: str, tmp_path: Path) -> None:
    """Fails before with bubblewrap (as root no process limit held it: 200 forked) and docker."""
    bomb = await _start(box, tmp_path, FORK_BOMB)
    try:
        assert bomb.stdout is not None
        line = (await asyncio.wait_for(bomb.stdout.readline(), 120 * PATIENCE)).decode(errors="replace")
        assert line.startswith("forked "), line + (await bomb.stdout.read(2000)).decode(errors="replace")
        assert int(line.split()[1]) < SMALL.processes, line
        await _neighbour_runs(box, tmp_path)  # while the bomb holds every process it may
    finally:
        os.killpg(bomb.pid, signal.SIGKILL)
        await bomb.wait()


@pytest.mark.timeout(300)
async def test_a_memory_hog_is_killed_at_the_boxs_memory(box: str, tmp_path: Path) -> None:
    """Fails before: 512 MiB held, `survived`; and podman's monitor left an empty file `oom` in the
    command's folder (the agent's worktree, so in what it lands)."""
    code, said = await _ran(box, tmp_path, MEMORY_HOG)
    assert "survived" not in said and code != 0, said
    assert not os.listdir(tmp_path), "nothing left where the command ran"
    await _neighbour_runs(box, tmp_path)


@pytest.mark.timeout(300)
async def test_filling_tmp_stops_at_the_boxs_size(box: str, tmp_path: Path) -> None:
    """Fails before: 64 MiB written (a tmpfs of half the host's memory)."""
    _, said = await _ran(box, tmp_path, FILL_TMP)
    wrote = [int(line.split()[1]) for line in said.splitlines() if line.startswith("wrote ")]
    assert "refused 28" in said and wrote and wrote[0] <= SMALL.tmp_mb, said  # ENOSPC
    await _neighbour_runs(box, tmp_path)


NORMAL_USERS_BOX = f"""
import json, subprocess, sys
from pathlib import Path
from lfgtui.tools.box_limits import Limits
from lfgtui.tools.sandbox import Sandbox
folder = Path.cwd() / "tree"
folder.mkdir()
box = Sandbox((folder,), limits=Limits(tmp_mb=8))
argv = box.wrap([sys.executable, "-c", {FILL_TMP!r}], folder)
filled = subprocess.run(argv, capture_output=True, text=True)
print(json.dumps([box.allows(), filled.stdout + filled.stderr]))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: nobody's cgroups are root's, none delegated")
def test_a_normal_users_bwrap_box_says_what_the_kernel_lets_it_not_bound() -> None:
    """Run as nobody, lfg may make no cgroup here (v1's hierarchies are root's; v2 delegates none to
    nobody): the pane's line says so at the ticket's start, and /tmp is still bounded."""
    with person("nobody", "bwrap") as someone:
        done = someone.run("-c", NORMAL_USERS_BOX)
    assert done.returncode == 0, done.stderr
    said, filled = json.loads(done.stdout)
    assert "the rest read-only; NOT BOUNDED: memory, processes, CPUs (the kernel gives" in said, said
    assert "at most 8 MiB in /tmp" in said, said
    assert "refused 28" in filled, filled


CPU_QUOTA = """
import glob
paths = {line.strip().split(":", 2)[2] for line in open("/proc/self/cgroup")}
found = []
for path in ("", *paths):  # a container sees its own cgroup's at the top; bubblewrap's box, the host's
    for name in glob.glob(f"/sys/fs/cgroup/cpu*{path}/cpu.cfs_quota_us") + [f"/sys/fs/cgroup{path}/cpu.max"]:
        try:
            found.append(open(name).read().split()[0])
        except OSError:
            pass
print("quota", *found)
"""
"""The CPU quota of each cgroup the box's process is in, where cgroup v1 or v2 keeps it."""


@pytest.mark.timeout(300)
async def test_a_boxs_cpus_are_its_cgroups_quota(box: str, tmp_path: Path) -> None:
    """The box's CPUs are its cgroup's quota (`sandbox_cpus` 0.5: 50 ms of each 100 ms). Fails
    before: no quota (`-1`, `max`)."""
    _, said = await _ran(box, tmp_path, CPU_QUOTA, Limits(cpus=0.5))
    assert "50000" in said.split(), said
