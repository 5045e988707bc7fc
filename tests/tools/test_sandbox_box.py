"""The bubblewrap box itself, attacked from inside as root and as a normal user (`nobody`): no
capability to unmount what hides a key or remount the disk, a writable TMPDIR of its own, an
agent installed under `/tmp` still starts, and no Unix socket outside it answers (issue 72, item 4
and its MEDIUM findings; issue 78's TMPDIR and `/tmp` findings).

Only bubblewrap runs as `nobody` (`setpriv`), with commands that need only `/usr`: lfg's own
interpreter lies in root's home, which `nobody` cannot enter."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.providers.catalog import BUILTIN
from lfgtui.run.agents.process import sandboxed
from lfgtui.tools.sandbox import Sandbox, unavailable
from lfgtui.tools.sandbox_scope import scoped
from tests.support.box import USERS, as_user
from tests.support.patience import PATIENCE

STARTS = 30
"""Boxes started while a socket comes and goes (on main about a quarter failed to start)."""


@pytest.fixture(params=list(USERS))
async def user(request: pytest.FixtureRequest) -> tuple[str, ...]:
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    return USERS[request.param]


def _open_folder(parent: str) -> Iterator[Path]:
    """A folder under `parent` that `nobody` can enter and write (pytest's own is root's only)."""
    folder = Path(parent) / f"lfg-box-{secrets.token_hex(6)}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder outside /tmp, as a home or a project lies."""
    yield from _open_folder("/var/tmp")


@pytest.fixture
def in_tmp() -> Iterator[Path]:
    """A folder in the person's /tmp, as a CI clone lies."""
    yield from _open_folder("/tmp")


def boxed(
    user: tuple[str, ...], box: Sandbox, script: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv = as_user(user, box.wrap(["/bin/sh", "-c", script], cwd))
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60 * PATIENCE, check=False)


def test_the_box_keeps_no_capability_and_cannot_unhide_or_remount(
    user: tuple[str, ...], outside: Path
) -> None:
    """A `setup` run as root remounted `.git` writable and `umount ~/.ssh` showed the key: inside, no
    capability is left (even in a user namespace made inside), so each attack is refused."""
    tree, secret, protected = outside / "tree", outside / "ssh", outside / "repo.git"
    for folder in (tree, secret, protected):
        folder.mkdir()
        folder.chmod(0o777)
    (secret / "id_ed25519").write_text("PRIVATE-KEY\n")
    (secret / "id_ed25519").chmod(0o644)
    box = Sandbox((tree,), readable=(protected,), hidden=(secret,))
    script = f"""
        grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status
        umount {secret} && echo UNMOUNTED
        mount -o remount,rw,bind {protected} && echo REMOUNTED
        mount -o remount,rw / && echo ROOT-REMOUNTED
        unshare -Urm sh -c 'umount {secret} && echo NESTED-UNMOUNTED' 2>/dev/null
        unshare -Um sh -c 'umount {secret} && echo NESTED-UNMOUNTED' 2>/dev/null
        cat {secret}/id_ed25519
        echo hook > {protected}/post-checkout && echo PLANTED
        echo inside > {tree}/inside.txt && echo WROTE
        cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern && echo SYSCTL-SET
        grep -q '^root:' /etc/shadow && echo SHADOW-READ
    """
    done = boxed(user, box, script, tree)
    assert "CapEff:\t0000000000000000" in done.stdout and "CapPrm:\t0000000000000000" in done.stdout, done
    assert "NoNewPrivs:\t1" in done.stdout, done.stdout
    for escaped in ("UNMOUNTED", "REMOUNTED", "PRIVATE-KEY", "PLANTED", "SYSCTL-SET", "SHADOW-READ"):
        assert escaped not in done.stdout, done.stdout
    assert "WROTE" in done.stdout and (tree / "inside.txt").read_text() == "inside\n", done
    assert not (protected / "post-checkout").exists()


def test_the_box_has_a_writable_tmpdir_of_its_own(user: tuple[str, ...], outside: Path) -> None:
    """With TMPDIR outside /tmp, Claude Code failed at once (`EROFS mkdir $TMPDIR/claude-0`): inside,
    TMPDIR is the box's own /tmp, and what is written there never reaches the person's."""
    tree, theirs = outside / "tree", outside / "tmpdir"
    tree.mkdir(mode=0o777)
    theirs.mkdir(mode=0o777)
    tree.chmod(0o777)
    theirs.chmod(0o777)
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(theirs)}
    made = f"claude-0-{secrets.token_hex(6)}"  # this test's own: a real Claude Code beside it makes claude-0
    done = boxed(user, Sandbox((tree,)), f'mkdir "$TMPDIR/{made}" && echo "made in $TMPDIR"', tree, env)
    assert done.stdout.strip() == "made in /tmp", done
    assert not list(theirs.iterdir()) and not (Path("/tmp") / made).exists()


def test_an_agent_installed_under_tmp_starts_in_the_box(
    user: tuple[str, ...], in_tmp: Path, outside: Path
) -> None:
    """The box's /tmp is empty, so a clone's agent there failed (`execvp … No such file or
    directory`): lfg binds the program's install and its script's interpreter back, read-only."""
    prefix = in_tmp / "clone" / ".venv"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib").mkdir()
    (prefix / "lib" / "site.txt").write_text("from the venv\n")
    (prefix / "bin" / "python3").symlink_to("/usr/bin/python3")
    agent = prefix / "bin" / "agent"
    agent.write_text(f"#!{prefix}/bin/python3\nprint(open('{prefix}/lib/site.txt').read().strip())\n")
    other = outside / "bin" / "other-agent"  # outside /tmp, its interpreter inside
    other.parent.mkdir()
    other.write_text(agent.read_text())
    for path in (in_tmp, in_tmp / "clone", prefix, prefix / "bin", prefix / "lib", other.parent):
        path.chmod(0o755)
    for script in (agent, other):
        script.chmod(0o755)
    tree = outside / "tree"
    tree.mkdir(mode=0o777)
    tree.chmod(0o777)
    env = {"PATH": f"{prefix / 'bin'}:{other.parent}:/usr/bin:/bin"}
    for program in ("agent", "other-agent"):
        config = replace(BUILTIN["sim-acp"], agent=replace(BUILTIN["sim-acp"].agent, command=(program,)))
        launch = sandboxed(config, Sandbox((tree,)), tree, None, env, outside / "copy")
        argv = as_user(user, list(launch.agent.command))
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=60 * PATIENCE, check=False
        )
        assert done.stdout.strip() == "from the venv", (program, done)
        written = subprocess.run(
            [
                *user,
                *Sandbox((tree,), readable=(prefix,)).wrap(["/bin/sh", "-c", f"echo x > {prefix}/x"], tree),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert "Read-only file system" in written.stderr, "bound read-only"


class Listeners:
    """A Unix socket in a folder the box sees, one in /run, an abstract one and a loopback port: the
    doors a box must not leave open (docker.sock, the session bus, a served API)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "daemon.sock"
        self.run = Path("/run") / f"lfg-box-{secrets.token_hex(6)}.sock"
        self.abstract = f"\0lfg-box-{secrets.token_hex(6)}"
        self.sockets: list[socket.socket] = []
        for where in (str(self.path), str(self.run), self.abstract):
            unix = socket.socket(socket.AF_UNIX)
            unix.bind(where)
            unix.listen(8)
            self.sockets.append(unix)
        for path in (self.path, self.run):
            path.chmod(0o777)
        tcp = socket.create_server(("127.0.0.1", 0))
        self.port = tcp.getsockname()[1]
        self.sockets.append(tcp)

    def probe(self) -> str:
        """A program for inside: connects to each, printing what answered."""
        targets = [str(self.path), str(self.run), "@" + self.abstract[1:]]
        return f"""
import socket
for name in {targets!r}:
    unix = socket.socket(socket.AF_UNIX)
    try:
        unix.connect(name.replace("@", "\\0", 1) if name.startswith("@") else name)
        print("reached", name)
    except OSError as exc:
        print("refused", name, exc)
try:
    socket.create_connection(("127.0.0.1", {self.port}), timeout=5)
    print("reached loopback")
except OSError as exc:
    print("refused loopback", exc)
"""

    def close(self) -> None:
        for each in self.sockets:
            each.close()
        self.path.unlink(missing_ok=True)
        self.run.unlink(missing_ok=True)


@pytest.fixture
def listeners(outside: Path) -> Iterator[Listeners]:
    if not os.access("/run", os.W_OK):
        pytest.skip("makes a socket in /run")
    made = Listeners(outside)
    try:
        yield made
    finally:
        made.close()


@pytest.mark.parametrize("network", [True, False], ids=["network", "no-network"])
def test_no_unix_socket_outside_the_box_answers(
    user: tuple[str, ...], outside: Path, listeners: Listeners, network: bool
) -> None:
    """Unix sockets on the disk are covered either way; with the network on loopback answers, and
    abstract sockets too where the kernel has no Landlock scopes (as the pane says); none without it."""
    tree = outside / "tree"
    tree.mkdir(mode=0o777)
    tree.chmod(0o777)
    box = Sandbox((tree,), network=network)
    done = subprocess.run(
        as_user(user, box.wrap(["/usr/bin/python3", "-c", listeners.probe()], tree)),
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 4, done
    assert lines[0].startswith("refused") and lines[1].startswith("refused"), lines
    reached = ["reached" in line for line in lines[2:]]
    assert reached == [network and not scoped(), network], lines
    said = box.allows()
    assert "no capability even as root" in said
    if network and scoped():
        assert "the Unix and abstract sockets outside cut" in said and "loopback ports reachable" in said
    elif network:
        assert (
            "loopback ports and abstract sockets reachable" in said and "Unix sockets outside hidden" in said
        )
    else:
        assert "no Unix, abstract or loopback socket outside reachable, nor any provider" in said


def test_a_socket_gone_before_the_box_starts_is_not_covered_and_the_rest_are(
    user: tuple[str, ...], outside: Path
) -> None:
    """A socket found as the box was made and deleted before it starts (its daemon stopped): the box
    starts all the same (bubblewrap failed making the cover's mount point on the read-only disk), and
    the socket that stayed is still covered."""
    tree = outside / "tree"
    tree.mkdir(mode=0o777)
    tree.chmod(0o777)
    kept, gone = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
    kept.bind(str(outside / "kept.sock"))
    kept.listen(1)
    (outside / "kept.sock").chmod(0o777)
    gone.bind(str(outside / "gone.sock"))
    probe = f"import socket; socket.socket(socket.AF_UNIX).connect({str(outside / 'kept.sock')!r})"
    argv = Sandbox((tree,)).wrap(["/usr/bin/python3", "-c", probe], tree)
    assert str(outside / "gone.sock") in argv, "covered as found"
    (outside / "gone.sock").unlink()
    gone.close()
    try:
        done = subprocess.run(
            as_user(user, argv), capture_output=True, text=True, timeout=60 * PATIENCE, check=False
        )
    finally:
        kept.close()
    # Another test's socket coming and going as this box starts costs a start, said, not this one.
    assert f"Can't create file at {outside / 'gone.sock'}" not in done.stderr, done.stderr
    assert "ConnectionRefusedError" in done.stderr, done.stderr


def test_a_socket_coming_and_going_as_boxes_start_never_keeps_one_from_starting(
    user: tuple[str, ...], outside: Path
) -> None:
    """A process binding and deleting a socket in a folder the boxes see, over and over (a hostile
    agent in its own worktree, a daemon restarting), while boxes start: each starts, whether the
    socket was there as it was found, as bubblewrap mounted its cover, or neither."""
    tree, path = outside / "tree", str(outside / "flapping.sock")
    tree.mkdir(mode=0o777)
    tree.chmod(0o777)
    stop = threading.Event()

    def flap() -> None:
        while not stop.is_set():
            with socket.socket(socket.AF_UNIX) as flapping:
                flapping.bind(path)
                os.unlink(path)

    flapper = threading.Thread(target=flap)
    flapper.start()
    try:
        runs = [
            subprocess.run(
                as_user(user, Sandbox((tree,)).wrap(["/bin/true"], tree)),
                capture_output=True,
                text=True,
                timeout=60 * PATIENCE,
                check=False,
            )
            for _ in range(STARTS)
        ]
    finally:
        stop.set()
        flapper.join()
    failed = [done.stderr for done in runs if done.returncode != 0]
    assert not failed, failed
