"""A container engine that would not run lfg's box as designed is refused at start in one line that
says what to change: root's podman set to run each container in a user namespace of its own
(`PODMAN_USERNS`, `userns` in containers.conf) cannot mount lfg's image there, and a box's root
would not be the person's. podman installed without catatonit (its `--init`, a package it only
recommends) boxes with another init, and where there is none says so, not something else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lfgtui.tools import containers
from tests.support.engines import needed

NAMESPACE_HELD = (
    "import ctypes, sys\n"
    "assert ctypes.CDLL(None).unshare(0x10000000) == 0  # CLONE_NEWUSER\n"
    "print('in', flush=True)\n"
    "sys.stdin.read()\n"
)
"""A process in a user namespace of its own, held until its stdin ends."""


@pytest.fixture
def mapped_namespace() -> Iterator[Path]:
    """A user namespace whose root is the host's uid 100000 (as podman's `userns = "auto"` gives):
    its path for `PODMAN_USERNS=ns:PATH`."""
    if os.geteuid() != 0:
        pytest.skip("root's podman, and mapping another's ids, take root")
    held = subprocess.Popen(
        [sys.executable, "-c", NAMESPACE_HELD], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert held.stdin is not None and held.stdout is not None
    try:
        assert held.stdout.readline() == b"in\n"
        for name in ("uid_map", "gid_map"):
            Path(f"/proc/{held.pid}/{name}").write_text("0 100000 65536")
        yield Path(f"/proc/{held.pid}/ns/user")
    finally:
        held.stdin.close()
        held.wait()


@pytest.fixture
def probed() -> Iterator[None]:
    """`containers._probe` and the init it chose asked afresh in the test, and after it."""
    containers._probe.cache_clear()
    containers._init_path.cache_clear()
    try:
        yield
    finally:
        containers._probe.cache_clear()
        containers._init_path.cache_clear()


@pytest.fixture
def podman_without_its_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """podman as installed without catatonit: its configured init (containers.conf's `init_path`,
    lfg's `PODMAN_INIT`) is nowhere."""
    needed("podman")
    missing = tmp_path / "no-catatonit"
    conf = tmp_path / "containers.conf"
    conf.write_text(f'[engine]\ninit_path = "{missing}"\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(conf))
    monkeypatch.setattr(containers, "PODMAN_INIT", missing)


@pytest.mark.usefixtures("podman_without_its_init", "probed")
def test_podman_without_catatonit_boxes_with_another_init() -> None:
    """Fails before: every podman box failed to start ("container-init binary not found on the
    host"), and lfg said root's podman ran in a user namespace of its own."""
    assert shutil.which("tini-static") or shutil.which("tini"), "docker.io brings tini"
    assert containers._probe("podman") is None


@pytest.mark.usefixtures("podman_without_its_init", "probed")
def test_podman_with_no_init_at_all_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails before: the namespace line, naming a setting nobody made."""
    monkeypatch.setattr(containers, "INITS", ("lfg-no-such-init",))
    why = containers._probe("podman")
    assert why is not None and "cannot start a box here" in why, why
    assert "container-init binary not found" in why and "apt install catatonit" in why
    assert containers.OWN_NAMESPACE not in why


def test_roots_podman_in_a_user_namespace_of_its_own_is_refused_in_one_line(
    mapped_namespace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before: podman's own words only (`runc create failed: … error preparing rootfs: mount
    …/merged …: permission denied: OCI permission denied`), naming no setting."""
    needed("podman")
    monkeypatch.setenv("PODMAN_USERNS", f"ns:{mapped_namespace}")
    containers._probe.cache_clear()
    try:
        why = containers._probe("podman")
    finally:
        containers._probe.cache_clear()
    assert why == f'sandbox = "podman": {containers.OWN_NAMESPACE}'
    assert 'set userns = "host" for lfg (PODMAN_USERNS=host)' in why and "--rootfs" in why
