"""The first process of an agent's container (tools/containers.py), in place of the engine's
`--init`: run as a script (stdlib only, `python -I -S box_init.py LEASH PROGRAM ARGS...`).

The agent runs as the same uid, in the same pid namespace, as anything else in its container, so a
watcher of its leash beside it is one the agent may kill or stop (a stopped watcher never reads the
leash's end): `kill -KILL -1` disarmed the shell watcher lfg had, and the container outlived its
client. The namespace's first process is the one it cannot: the kernel gives it only the signals it
handles (never SIGKILL or SIGSTOP from inside), and, not dumpable, it cannot be traced or its
memory and descriptors read. So this process watches the leash itself: read to its end (the client
gone, however it died; no client ever, for a container started after its client died), it exits, and
every process of the container dies with it. It starts the agent on the container's stdin, stdout
and stderr and keeps none of them, passes on the signals an engine's client forwards, reaps every
orphan as an init does, and exits as the agent did (128 + its signal, as a shell says it).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

PR_SET_DUMPABLE = 4
PASSED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
"""What an engine's client forwards to the container (docker's signal proxy), passed to the agent."""
NOT_STARTED = 127


def watch(leash: int) -> None:
    """Exit once the leash is read to its end: nothing is ever written, it ends when its client does."""
    while os.read(leash, 64):
        pass
    os._exit(128 + signal.SIGKILL)


def main() -> None:
    leash_path, argv = sys.argv[1], sys.argv[2:]
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        why = os.strerror(ctypes.get_errno())
        sys.exit(f"lfg: the box's first process could not make itself untraceable: {why}")
    leash = os.open(leash_path, os.O_RDONLY | os.O_NONBLOCK)  # no client: its end at once, not a wait
    os.set_blocking(leash, True)
    try:  # Python ignores these two, which an exec keeps ignored
        agent = os.posix_spawnp(argv[0], argv, os.environ, setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
    except OSError as exc:
        print(f"lfg: cannot start {argv[0]} in the box: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(NOT_STARTED)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    for signum in PASSED:
        signal.signal(signum, lambda passed, _: os.kill(agent, passed))
    threading.Thread(target=watch, args=(leash,), daemon=True).start()
    while True:
        pid, status = os.wait()
        if pid == agent:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
