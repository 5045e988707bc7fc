"""The container engines in tests: podman as it is installed and a private dockerd (its own data and
exec folders, no bridge, no iptables), stopped by its pid. Skipped only where an engine is not
installed and CI is unset; under CI (.ci/run installs them) a missing engine fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lfgtui.tools import containers
from lfgtui.tools.sandbox import unavailable
from tests.support.patience import PATIENCE

ENDED_WAIT_S = 45.0
"""How soon a container is gone once its ticket has ended: a container left for good is what the
tests catch. podman's own stop waits 10 s, and a clean CI run's podman, its lock held by the other
workers' boxes, still listed an ended agent's container after 15 s stretched by the run's patience
(its `podman ps` cut off mid-answer)."""
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""Where dockerd finds its runtime and docker-init, whatever PATH a test has set."""


def needed(*programs: str) -> None:
    """Skip where a program is missing, but fail under CI, which installs them (.ci/run)."""
    missing = [program for program in programs if shutil.which(program) is None]
    if not missing:
        return
    why = f"{', '.join(missing)} not installed"
    if os.environ.get("CI"):
        pytest.fail(f"{why}, and CI is set: .ci/run installs the container engines")
    pytest.skip(f"{why} (CI unset)")


def _answers(host: str) -> bool:
    env = {**os.environ, "DOCKER_HOST": host}
    done = subprocess.run(
        ["docker", "version"], capture_output=True, env=env, timeout=30 * PATIENCE, check=False
    )
    return done.returncode == 0


@pytest.fixture(scope="module")
def dockerd() -> Iterator[str]:
    """A dockerd of this module's own: its DOCKER_HOST."""
    needed("docker", "dockerd")
    root = Path(tempfile.mkdtemp(prefix="lfgd-", dir="/tmp"))  # short: its sockets' paths have a limit
    root.chmod(0o711)  # its socket reached by the `docker` group it gives it, as a team's is
    host = f"unix://{root}/d.sock"
    with (root / "log").open("wb") as log:
        daemon = subprocess.Popen(
            [
                "dockerd",
                *("-H", host, "--data-root", f"{root}/data", "--exec-root", f"{root}/exec"),
                *("--pidfile", f"{root}/d.pid", "--bridge=none", "--iptables=false", "--ip6tables=false"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PATH": f"{os.environ.get('PATH', '')}:{SYSTEM_PATH}"},
        )
    try:
        while not _answers(host):
            if daemon.poll() is not None:
                pytest.fail(f"dockerd did not start: {(root / 'log').read_text()[-2000:]}")
        yield host
    finally:
        daemon.terminate()
        try:
            daemon.wait(30 * PATIENCE)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        netns = root / "exec" / "netns" / "default"  # the host's, which dockerd leaves mounted there
        subprocess.run(["umount", str(netns)], capture_output=True, check=False)
        shutil.rmtree(root)


@pytest.fixture(params=containers.ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each engine, probed afresh (the private dockerd for docker)."""
    name: str = request.param
    needed(name)
    if name == "docker":
        monkeypatch.setenv("DOCKER_HOST", request.getfixturevalue("dockerd"))
    containers._probe.cache_clear()
    yield name
    containers._probe.cache_clear()


@pytest.fixture(params=["bwrap", *containers.ENGINES])
async def box(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each box: bubblewrap, and each container engine as `engine` gives it (docker its own daemon),
    probed afresh; skipped only where one cannot run here (the skip says why, and
    under CI a missing engine fails)."""
    name: str = request.param
    if name == "bwrap":
        if (why := await unavailable()) is not None:
            pytest.skip(why)
        return name
    needed(name)
    if name == "docker":
        monkeypatch.setenv("DOCKER_HOST", request.getfixturevalue("dockerd"))
    containers._probe.cache_clear()
    return name
