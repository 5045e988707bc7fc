"""Starting a box, and lfg itself, as a normal user too: everything here runs as root, and a box
that holds only for one of them proves little (../shared/containers/README.md)."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.patience import PATIENCE

NOBODY_ID = 65534
NOBODY = ("setpriv", "--reuid", str(NOBODY_ID), "--regid", str(NOBODY_ID), "--clear-groups")
"""A prefix that starts the command as `nobody`: bubblewrap alone (`as_user`), or lfg itself on a
Python `nobody` may run (`person`: this one may lie in root's home, which `nobody` cannot enter)."""
USERS = {"root": (), "nobody": NOBODY} if os.geteuid() == 0 else {"user": ()}
"""Who starts the box: as root, root and nobody; as anyone else, that user."""
REPO = Path(__file__).resolve().parents[2]


def as_user(user: tuple[str, ...], argv: list[str]) -> list[str]:
    """A box's command line with bubblewrap started as `user`: after lfg's launcher
    (tools/sandbox_start.py), which runs as lfg does, from lfg's interpreter."""
    at = argv.index("bwrap")
    return [*argv[:at], *user, *argv[at:]]


def users_python(user: tuple[str, ...]) -> str | None:
    """A Python of this one's version that `user` may run, and run again from itself (this one may
    live under /root, which nobody cannot enter), and import lfg with: lfg runs from this checkout,
    its packages from this Python's (`PYTHONPATH`), where `user` may read them."""
    again = "import lfgtui, acp, subprocess, sys; subprocess.run([sys.executable, '-c', ''], check=True)"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": python_path()}
    for python in (f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}", sys.executable):
        tried = subprocess.run(
            [*user, python, "-c", again], cwd="/", env=env, capture_output=True, check=False
        )
        if tried.returncode == 0:
            return python
    return None


def python_path() -> str:
    """Where lfg and its packages are found by a Python that is not this venv's."""
    return os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])


@dataclass(frozen=True, slots=True)
class Person:
    """Whoever runs lfg in a test, as its own process: `prefix` starts it as them (none for the user
    the tests run as), with a folder of theirs (`folder`: their home, and what the test makes)."""

    prefix: tuple[str, ...]
    python: str
    folder: Path

    @property
    def home(self) -> Path:
        return self.folder / "home"

    @property
    def runtime(self) -> Path:
        """Their `XDG_RUNTIME_DIR`, where rootless podman keeps its state (none for root)."""
        return self.folder / "run"

    @property
    def locked(self) -> Path:
        """A folder of root's they may not enter, on their PATH as `su` keeps root's."""
        return self.folder / "locked"

    def env(self) -> dict[str, str]:
        """A login's environment: their home, XDG folders and runtime folder, lfg from this checkout,
        the engines' settings the tests set (the private dockerd's `DOCKER_HOST`) and nothing else of
        this one; this one's PATH, with a folder of root's they cannot enter on it."""
        path = os.environ.get("PATH", "/usr/bin:/bin")
        env = {
            "PATH": f"{path}{os.pathsep}{self.locked / 'bin'}" if self.prefix else path,
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / "data"),  # which no command's environment holds
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "PYTHONPATH": python_path(),
            "LFG_MODEL_CATALOGUE": "off",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        if os.geteuid() != 0 or self.prefix:
            env["XDG_RUNTIME_DIR"] = str(self.runtime)
        return env | {key: os.environ[key] for key in ("DOCKER_HOST", "CI") if key in os.environ}

    def run(self, *argv: str, timeout: float = 170) -> subprocess.CompletedProcess[str]:
        """`python ARGV` as this person, in their folder."""
        command = [*self.prefix, self.python, *argv]
        return subprocess.run(
            command,
            cwd=self.folder,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout * PATIENCE,
        )

    def close(self) -> None:
        """Their rootless podman's storage (files of their subordinate ids: removed in its own user
        namespace) and its pause process, then their folder."""
        storage = self.home / "data" / "containers"
        if storage.exists() and shutil.which("podman"):
            podman = [*self.prefix, "podman", "unshare", "rm", "-rf", str(storage)]
            subprocess.run(podman, cwd=self.folder, env=self.env(), capture_output=True, check=False)
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((self.runtime / "libpod" / "tmp" / "pause.pid").read_text()), 9)
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def person(user: str, box: str) -> Iterator[Person]:
    """`user` of `USERS` as a `Person` who runs lfg with `box`: in the `docker` group where the box is
    docker's (as a team gives its people the daemon's socket). Skipped where they cannot run lfg's
    Python, or (podman) have no subordinate ids for a rootless podman; under CI, which sets them up
    (.ci/run), failed instead."""
    prefix = USERS[user]
    if prefix and box == "docker" and not _group("docker"):
        _missing("no docker group (docker.io makes it) gives nobody the daemon's socket")
    if prefix and box == "docker":
        gid = str(grp.getgrnam("docker").gr_gid)
        prefix = (*prefix[: prefix.index("--clear-groups")], "--groups", gid)
    python = users_python(prefix)
    if python is None:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        _missing(f"{user} may run no Python {version} here, or not read lfg's checkout {REPO}")
    name = "nobody" if prefix else pwd.getpwuid(os.getuid()).pw_name
    if box == "podman" and name != "root" and not _subordinate(name):
        _missing(f"{name} has no subordinate ids in /etc/subuid and /etc/subgid for a rootless podman")
    assert python is not None
    folder = Path(tempfile.mkdtemp(prefix="lfg-person-", dir="/var/tmp"))  # a home is not under /tmp
    made = Person(prefix, python, folder)
    for path in (made.home, made.runtime):
        path.mkdir(mode=0o700)
    if prefix:
        for path in (folder, made.home, made.runtime):
            os.chown(path, NOBODY_ID, NOBODY_ID)
        (made.locked / "bin").mkdir(parents=True)
        made.locked.chmod(0o700)
    try:
        yield made
    finally:
        made.close()


def _missing(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{why}, and CI is set: .ci/run sets it up")
    pytest.skip(f"{why} (CI unset)")


def _subordinate(name: str) -> bool:
    """Whether `name` has subordinate uids and gids (what `--userns keep-id` maps from)."""
    try:
        listed = [Path(path).read_text().splitlines() for path in ("/etc/subuid", "/etc/subgid")]
    except OSError:
        return False
    return all(any(line.startswith(f"{name}:") for line in lines) for lines in listed)


def _group(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def lfg_itself_under_tmp() -> list[str]:
    """A sim agent script runs the sim agent on this test's interpreter and lfg's source, which lfg
    cannot know of (they are the script's, not the program's): where a clone lies under /tmp (a CI
    clone), the ticket names them in `sandbox_readable`, as a person would with such a script."""
    own = [Path(sys.prefix), Path(__file__).resolve().parents[2]]
    return [str(path) for path in own if path.is_relative_to("/tmp")]
