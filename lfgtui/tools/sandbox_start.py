"""Start one bubblewrap box (tools/sandbox.py), run as a script (stdlib only, `python -I -S
sandbox_start.py SCOPE COVERS LIMITS BWRAP...`) in place of the boxed command, outside the box.

SCOPE `scoped`: the box starts in Landlock's scopes (tools/sandbox_scope.py): no-new-privileges first,
as Landlock asks of an unprivileged process, then the domain, which bubblewrap and the box inherit;
where Landlock will not, it fails rather than start the box unscoped.

COVERS: the Unix sockets bubblewrap covers (tools/sandbox_sockets.py), found before it starts (each
path's device, inode and change time then). One
deleted meanwhile (by its daemon, by another ticket's agent in its own worktree) fails bubblewrap's
start ("Can't create file at …": it cannot make a mount point on the read-only disk), and the box
would never start. bubblewrap says whether the box started (`--json-status-fd`: an `exit-code`
record only after it did); one that did not, while a covered socket had gone (its path is not that
socket any more: missing, or bound again), is started again without the covers of the sockets that
have gone, up to `TRIES` times; one gone before the first try is not covered at all. A socket bound
again where one went away as the box started is not covered, as one bound after the box started is
not (tools/sandbox_sockets.py): each try's covers are only ever fewer, so a socket that keeps coming
and going cannot keep the box from starting.

LIMITS: the box's bounds (tools/box_limits.py's `Limits`, as JSON), kept in a cgroup made for it
(`lfg-box-PID`) under each parent the kernel lets this process make one in (`cgroups`, found by
the process that makes it), joined before bubblewrap starts, so the box and all it starts are held;
where one it may make fails, it fails rather than start the box unbounded. Once the box has ended
this process leaves them and removes them.
"""

from __future__ import annotations

import ctypes
import json
import os
import stat
import struct
import sys
import time

TRIES = 5
"""How often a box whose covered sockets go away as it starts is started; the last one's failure is
the box's."""
SCOPES = 3
"""`LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL`; no file or network rights handled."""


def scope() -> None:
    """Enter a Landlock domain that scopes abstract sockets and signals (syscalls 444 and 446, the
    same on every architecture)."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = struct.pack("QQQ", 0, 0, SCOPES)
    ruleset = libc.syscall(444, attr, len(attr), 0)
    if ruleset < 0 or libc.prctl(38, 1, 0, 0, 0) or libc.syscall(446, ruleset, 0):
        sys.exit(f"lfg: Landlock would not scope the sandbox: {os.strerror(ctypes.get_errno())}")


REMOVE_TRIES = 100
"""How often an ended box's cgroup is removed while its last processes are still being reaped."""


def bounded(plan: list[tuple[str, list[tuple[str, str]]]]) -> list[str]:
    """Make and join a cgroup under each parent of `plan`, writing its files (a name starting with
    `?` only where the cgroup has it): the cgroups joined."""
    made: list[str] = []
    try:
        for parent, files in plan:
            swept(parent)
            child = os.path.join(parent, f"lfg-box-{os.getpid()}")
            os.mkdir(child)
            made.append(child)
            for name, value in files:
                path = os.path.join(child, name.lstrip("?"))
                if not name.startswith("?") or os.path.exists(path):
                    with open(path, "w") as file:
                        file.write(value)
            with open(os.path.join(child, "cgroup.procs"), "w") as file:
                file.write(str(os.getpid()))
    except OSError as exc:
        unbound(made)
        sys.exit(f"lfg: could not bound the box in a cgroup: {exc}")
    return made


def swept(parent: str) -> None:
    """Remove the cgroups a box's starter left when it was killed (`lfg-box-PID`, its PID gone)."""
    for name in os.listdir(parent):
        pid = name.removeprefix("lfg-box-")
        if name.startswith("lfg-box-") and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.rmdir(os.path.join(parent, name))
            except OSError:
                continue


def unbound(made: list[str]) -> None:
    """Leave each cgroup for its parent and remove it, once the processes left in it are gone."""
    for child in made:
        try:
            with open(os.path.join(os.path.dirname(child), "cgroup.procs"), "w") as file:
                file.write(str(os.getpid()))
        except OSError:
            continue
        for _ in range(REMOVE_TRIES):
            try:
                os.rmdir(child)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


def is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def without(argv: list[str], gone: set[str]) -> list[str]:
    """`argv` without the covers (`--ro-bind /dev/null PATH`) of the sockets `gone`."""
    kept: list[str] = []
    at = 0
    while at < len(argv):
        if argv[at : at + 2] == ["--ro-bind", "/dev/null"] and at + 2 < len(argv) and argv[at + 2] in gone:
            at += 3
            continue
        if argv[at] == "--":
            return [*kept, *argv[at:]]
        kept.append(argv[at])
        at += 1
    return kept


def started(argv: list[str]) -> tuple[int, bool]:
    """Run bubblewrap (`argv`, which may start with a prefix such as `setpriv`) to its end: its wait
    status, and whether the box started (else its mounts failed)."""
    read, write = os.pipe()
    at = argv.index("bwrap") + 1
    os.set_inheritable(write, True)
    pid = os.posix_spawnp(argv[0], [*argv[:at], "--json-status-fd", str(write), *argv[at:]], os.environ)
    os.close(write)
    said = b""
    while chunk := os.read(read, 4096):
        said += chunk
    os.close(read)
    _, status = os.waitpid(pid, 0)
    return status, b'"exit-code"' in said


def same(path: str, found: list[int]) -> bool:
    """Whether `path` is still the socket found there (its device, inode and change time: an inode
    freed is soon given to the next socket bound there)."""
    try:
        now = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISSOCK(now.st_mode) and [now.st_dev, now.st_ino, now.st_ctime_ns] == found


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I puts no folder on the path
    from box_limits import Limits, cgroups  # siblings, stdlib only
    from supervisor import exit_like

    if sys.argv[1] == "scoped":
        scope()
    covers: dict[str, list[int]] = json.loads(sys.argv[2])
    made = bounded(cgroups().plan(Limits(**json.loads(sys.argv[3]))))
    argv = sys.argv[4:]
    gone = {path for path in covers if not is_socket(path)}
    for _ in range(TRIES):
        status, ran = started(without(argv, gone))
        changed = {path for path, found in covers.items() if not same(path, found)}
        if ran or changed <= gone:  # started, or failed for a reason of bubblewrap's own
            break
        gone |= changed
        print("lfg: a covered Unix socket went away as the box started: started again", file=sys.stderr)
    unbound(made)
    exit_like(status)


if __name__ == "__main__":
    main()
