"""A container box's read-only folders keep what is mounted beneath them read-only too: docker and
podman make only a read-only bind's top mount read-only, so a drive, a network folder or a tmpfs
mounted in the home was writable inside a box that said "your home read-only" (found attacking the
box for issue 78). Mounting one takes root, as CI runs."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lfgtui.tools import containers
from lfgtui.tools.containers import ContainerBox
from tests.support.patience import PATIENCE


@pytest.fixture
def mounted() -> Iterator[Path]:
    """A folder outside /tmp holding a tmpfs mounted at its `drive`, anyone's to write."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs takes root")
    folder = Path("/var/tmp") / f"lfg-beneath-{secrets.token_hex(6)}"
    (folder / "drive").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", str(folder / "drive")], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder / "drive")], check=False)
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_mount_beneath_a_read_only_folder_stays_read_only_in_the_box(
    engine: str, mounted: Path
) -> None:
    assert await containers.unavailable(engine) is None, "the engine makes lfg's image and a box"
    work = mounted / "work"
    work.mkdir()
    box = ContainerBox((work,), readable=(mounted,), engine=engine, ticket="beneath")
    script = f"echo in > {mounted}/drive/planted; echo in > {work}/own; echo ran"
    argv = box.wrap(["/bin/sh", "-c", script], work)
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=120 * PATIENCE
    )
    assert "ran" in done.stdout, done.stdout + done.stderr
    assert (work / "own").read_text() == "in\n", "its writable folder is written"
    assert not (mounted / "drive" / "planted").exists(), "the mount beneath a read-only folder was written"
