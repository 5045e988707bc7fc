"""A hostile agent races symbolic links against the files lfg reads and writes for it, outside its
box (issue #72): swapping `d` for a link to the home and `k` for one to `~/.ssh` in a tight loop
while asking, through the ACP client's `fs/*` handlers and lfg's own file tools, to write
`d/.bashrc` and read `k/id_ed25519` hundreds of times. Nothing lands in the home and no read,
search or listing shows what is there: with the kernel's `openat2`, with lfg's own walk (a kernel
without it), as root and as nobody. (On the old confine-then-open code, 100 tries let 2 to 6 writes
and 13 to 24 reads out.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lfgtui.tools import beneath
from tests.support.box import NOBODY, NOBODY_ID, REPO, python_path, users_python
from tests.support.file_race import Escapes, race

TRIES = 100


@pytest.fixture(params=["openat2", "walk"])
def opening(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How files are opened beneath the workdir: by the kernel, or by lfg's walk as on a kernel
    without `openat2` (before Linux 5.6, or a container's seccomp filter)."""
    if request.param == "walk":
        monkeypatch.setattr(beneath.openat2, "usable", False)
    elif not beneath.openat2.available():
        pytest.skip("this kernel has no openat2")
    return str(request.param)


def no_escapes(tries: int) -> Escapes:
    return Escapes(0, 2 * tries, 0, 3 * tries, 0, tries)


@pytest.mark.timeout(120)
async def test_a_racing_agent_gets_nothing_out(tmp_path: Path, opening: str) -> None:
    escapes = await race(tmp_path, TRIES)
    assert escapes == no_escapes(TRIES), escapes


@pytest.fixture
def nobodys_folder() -> Iterator[Path]:
    """A folder of nobody's in /tmp (nobody cannot enter root's pytest tmp)."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as nobody needs root and setpriv")
    folder = Path(tempfile.mkdtemp(prefix="lfg-race-"))
    os.chown(folder, NOBODY_ID, NOBODY_ID)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["openat2", "walk"])
def test_a_racing_agent_gets_nothing_out_as_nobody(nobodys_folder: Path, how: str) -> None:
    """As a user without root's power to read and write anything, lfg's walk enters folders it may
    only search (O_PATH), and the race comes out the same. lfg comes from this checkout (its
    folder), what it needs from this Python's packages."""
    python = users_python(NOBODY)
    if python is None:
        pytest.skip(f"nobody may run no Python {sys.version_info.major}.{sys.version_info.minor} here")
    command = [*NOBODY, python, "-m", "tests.support.file_race", str(nobodys_folder), str(TRIES)]
    done = subprocess.run(
        [*command, *(["walk"] if how == "walk" else [])],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": python_path()},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    escapes = Escapes(**json.loads(done.stdout))
    assert escapes == no_escapes(TRIES), escapes
