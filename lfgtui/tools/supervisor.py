"""The supervisor of one `run_command` (Linux): runs `/bin/sh -c CMD` and leaves no process behind.

Killing the command's process group is not enough: `setsid cmd &`, `nohup … &` and double-forking
daemons leave the group and outlive it. This supervisor makes itself a child subreaper, so every
orphan of the command's tree is reparented to it rather than to init; when the shell exits, or when
lfg sends SIGTERM (timeout, cancel), it SIGKILLs every descendant it still has, scanning /proc until
none is left, then exits as the shell did. PR_SET_PDEATHSIG makes it do the same if lfg dies.

The parent runs this file as a script (`python -I -S supervisor.py`), so only the standard library
is imported and it starts in tens of milliseconds. The request comes as JSON on stdin: lfg's pid,
the command and its whole environment, passed on exactly (Python's own start-up may add LC_CTYPE
to the supervisor's environment); the command's stdin is /dev/null.

A coding agent runs under it too (`supervisor.py --request-fd N`): the request, read from that
descriptor, names a program (`argv`, its path absolute) instead of a shell command, and the program
keeps the supervisor's stdin, stdout and stderr, which carry its protocol and its log. Its `nice`
lowers the agent's CPU priority (see `lower_priority`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SHELL = "/bin/sh"
RESCAN_S = 0.01
WATCHED = {signal.SIGCHLD, signal.SIGTERM}
AUTOGROUP = "/proc/self/autogroup"
AUTOGROUP_RETRY_S = 0.1
"""Linux takes one change of an autogroup's nice a tenth of a second from a user, machine-wide:
agents starting together take turns."""
AUTOGROUP_WAIT_S = 5.0


def descendants(root: int) -> list[int]:
    """Every live (not zombie) process below `root`, from a scan of /proc, each after its parent:
    killed in that order, no shell outlives its command's child to say so and run the next line."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
        except OSError:  # it exited meanwhile
            continue
        if fields[0] not in (b"Z", b"X"):
            children.setdefault(int(fields[1]), []).append(int(name))
    found: dict[int, None] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found[child] = None
                todo.append(child)
    return list(found)


def reap(shell: int) -> int | None:
    """Collect every child that has exited (orphans reparented here included), without waiting;
    returns the shell's wait status if it was one of them."""
    status = None
    with contextlib.suppress(ChildProcessError):
        while (reaped := os.waitpid(-1, os.WNOHANG))[0] != 0:
            if reaped[0] == shell:
                status = reaped[1]
    return status


def kill_tree() -> None:
    """SIGKILL every descendant until none is left: a killed parent's children are reparented here
    and found by the next scan. Those that died since the last collection are collected too, not
    left to init as zombies (lfg reads a zombie container client as gone, but init may be slow)."""
    me = os.getpid()
    while alive := descendants(me):
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(RESCAN_S)
        reap(0)
    reap(0)


def exit_like(status: int | None) -> None:
    """Exit as the shell did: its exit code, or death by its signal (without a core dump)."""
    if status is None:  # lfg stopped the command and no longer cares
        sys.exit(128 + signal.SIGTERM)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
    sys.exit(os.waitstatus_to_exitcode(status))


def lower_priority(nice: int) -> None:
    """Lower this session's CPU priority by `nice` before the program starts, so that busy agents
    leave lfg's UI its share. The supervisor leads a session of its own, which Linux's autogroup
    scheduling weighs as much as lfg's whole session whatever its processes' nice: the session's
    group gets the nice too, where the kernel has autogroups. Best effort: a refusal leaves the
    priority as it was."""
    if nice <= 0:
        return
    with contextlib.suppress(OSError):
        os.nice(nice)
    deadline = time.monotonic() + AUTOGROUP_WAIT_S
    while True:
        try:
            group = os.open(AUTOGROUP, os.O_WRONLY)
        except OSError:  # no autogroups here
            return
        try:
            os.write(group, str(nice).encode())
            return
        except BlockingIOError:  # another session's change came less than 0.1 s ago
            if time.monotonic() > deadline:
                return
            time.sleep(AUTOGROUP_RETRY_S)
        except OSError:
            return
        finally:
            os.close(group)


def main() -> None:
    """Run the command, wait for the shell or for SIGTERM, then kill what is left.

    SIGCHLD and SIGTERM are blocked and taken with sigwaitinfo, so no signal can arrive at a moment
    that skips the cleanup; the shell starts with an empty mask and default dispositions.
    """
    passthrough = sys.argv[1:2] == ["--request-fd"]
    if passthrough:
        with os.fdopen(int(sys.argv[2]), "rb") as requested:
            request = json.loads(requested.read())
    else:
        request = json.loads(sys.stdin.read())
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    status: int | None = None
    if os.getppid() == request["parent"]:  # else lfg died before PR_SET_PDEATHSIG was set
        lower_priority(request.get("nice", 0))
        argv = request["argv"] if passthrough else [SHELL, "-c", request["command"]]
        stdin = [] if passthrough else [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
        shell = os.posix_spawn(
            argv[0],
            argv,
            request["env"],
            file_actions=stdin,
            setsigmask=(),
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
        while (status := reap(shell)) is None:
            if signal.sigwaitinfo(WATCHED).si_signo == signal.SIGTERM:
                break
    kill_tree()
    exit_like(status)


if __name__ == "__main__":
    main()
