"""Start one container's engine client (`docker run` or `podman run`), run as a script (stdlib
only, `python -I -S container_client.py REQUEST`) in place of the boxed command.

A container sees none of the client's environment unless named: this passes each variable of its
own environment (the command's or the agent's, exactly as lfg built it) by name (`-e NAME`, so no
value shows on a command line), but what the box sets itself (`inside`: `TMPDIR`, its own `/tmp`).
The engine's own settings (`DOCKER_HOST`, `CONTAINERS_CONF`, `XDG_RUNTIME_DIR`, and the `HOME` and
XDG folders rootless podman keeps its store in), lfg's, are added for the client alone: none goes in
that the command's own environment does not hold, and where it holds another value (its own `HOME`)
that value goes in. A Unix socket lfg covered (`covers`) that is gone by the time the client starts
is not covered (the engine would fail making the cover's mount point on a read-only folder). One
deleted while the engine sets the container up still fails its start; the engines say no more than
an exit code, which a command inside could give too, so nothing is started again (a command could
run twice): the box's failure is said in one line, naming the socket.

Killing the client does not stop its container: the engine's daemon or monitor runs it. So each
container is tethered to its client, and everything in it is killed when the client dies however it
dies (SIGKILL included). A command's by its stdin (`tether`): a pipe only the client holds open,
read to its end by the tether script inside (tools/containers.py). An agent's stdin is its protocol,
whose end an agent may ignore (and SIGTERM with it), so its container gets a FIFO (`leash`) that
this script holds open for writing while it waits on the engine (which does not inherit it: the
engine's own helpers, podman's monitor, would outlive the client holding it); the container's first
process (tools/box_init.py), which the agent can neither kill nor stop, reads it to its end. Each
container is labelled with its client (`CLIENT_LABEL`), so lfg removes one whose client has ended.

The engine runs in an empty folder of its own, removed once it ends, not in the command's (the
agent's worktree): podman's monitor leaves an empty file `oom` in its folder when the kernel kills
the box at its memory, which would be in what the agent lands.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile

CLIENT_LABEL = "lfgtui.client"
NOT_STARTED = (125, 126)
"""How docker and podman exit when they could not make or start the container (126 also a command
inside that could not be run: a covered socket gone meanwhile is said only with one of these)."""


def started(pid: int) -> str:
    """When the process `pid` started (clock ticks after boot), or "gone": a pid and this name one
    process, never a later one given the same pid. A process that has exited and is not yet reaped
    (its parent died too, and init has yet to collect it) is gone: its container's tether is cut."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        return "gone" if fields[0] in (b"Z", b"X") else fields[19].decode()
    except (OSError, IndexError):
        return "gone"


def socket_now(path: str) -> list[int] | None:
    """The socket at `path` as it is now (device, inode, change time: `sandbox_start.same`), or None
    where none is."""
    try:
        now = os.lstat(path)
    except OSError:
        return None
    return [now.st_dev, now.st_ino, now.st_ctime_ns] if stat.S_ISSOCK(now.st_mode) else None


def _uncovered(options: list[str], gone: set[str]) -> list[str]:
    """`options` without the covers (`--mount SPEC`) of the sockets `gone`."""
    kept: list[str] = []
    for part in options:
        if part in gone and kept and kept[-1] == "--mount":
            kept.pop()
            continue
        kept.append(part)
    return kept


def main() -> None:
    request = json.loads(sys.argv[1])
    settings: dict[str, str] = request["settings"]
    env = dict(os.environ)
    inside: dict[str, str] = request["inside"]
    differs = {name for name, value in settings.items() if env.get(name, value) != value}
    kept = {*inside, *differs}
    passed = [part for name in sorted(env) if name not in kept for part in ("-e", name)]
    passed += [part for name in sorted(differs) for part in ("-e", f"{name}={env[name]}")]
    passed += [part for name, value in inside.items() for part in ("-e", f"{name}={value}")]
    env.update(settings)
    engine = request["engine"]
    client = ["--label", f"{CLIENT_LABEL}={os.getpid()}/{started(os.getpid())}"]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I puts no folder on the path
    from sandbox_start import same  # a sibling script's, stdlib only
    from supervisor import exit_like

    covers: dict[str, str] = request["covers"]
    found = {path: identity for path in covers if (identity := socket_now(path)) is not None}
    gone = {spec for path, spec in covers.items() if path not in found}
    argv = [engine, *_uncovered(request["options"], gone), *client, *passed, *request["command"]]
    os.chdir(scratch := tempfile.mkdtemp(prefix="lfg-engine-"))  # not the command's folder
    if request["tether"]:
        read, _ = os.pipe()  # its write end held by the client alone: closed when it dies
        engine_pid = os.posix_spawn(engine, argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, read, 0)])
        os.close(read)
    else:
        os.open(request["leash"], os.O_RDWR)  # a FIFO, held: opened without waiting for its reader
        os.chmod(request["leash"], 0o400)  # no one else opens it to write, the agent inside neither
        engine_pid = os.posix_spawn(engine, argv, env)
    _, status = os.waitpid(engine_pid, 0)
    shutil.rmtree(scratch, ignore_errors=True)
    went = [path for path, identity in found.items() if not same(path, identity)]
    if went and os.WIFEXITED(status) and os.WEXITSTATUS(status) in NOT_STARTED:
        where, name = ", ".join(went), os.path.basename(engine)
        said = f"the Unix socket {where} it covers went away while {name} set the container up"
        print(f"lfg: the box did not start: {said}", file=sys.stderr)
    exit_like(status)


if __name__ == "__main__":
    main()
