"""Starting a program under lfg's supervisor, and stopping it with everything it started.

`supervisor.py` (Linux) is a child subreaper: every process the program starts, `setsid` and
double-forked daemons included, is reparented to it, and it kills them all when the program exits,
when lfg stops it (SIGTERM) or when lfg dies. A coding agent and a `--notify-command` hook run under
it this way, keeping the supervisor's stdin, stdout and stderr, which lfg chooses; an agent at a
lower CPU priority (its provider's `nice`), which the supervisor sets for its session before the
agent starts. Elsewhere the program leads a session of its own, whose process group is killed when
it is stopped, and is reniced as soon as it has started.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lfgtui.cancels import finish
from lfgtui.tools import supervisor
from lfgtui.tools.scripts import stdlib_script

SUPERVISED = sys.platform == "linux"
"""The supervisor needs Linux: a child subreaper, PR_SET_PDEATHSIG and /proc."""
REQUEST_PIPE_BYTES = 1024 * 1024
KILL_GRACE_S = 5.0


async def start_supervised(
    argv: Sequence[str], env: Mapping[str, str], nice: int = 0, **options: Any
) -> asyncio.subprocess.Process:
    """Start `argv` (its program an absolute path) with exactly `env`, in a session of its own,
    under the supervisor where there is one, its CPU priority lowered by `nice` (best effort);
    `options` are `create_subprocess_exec`'s (its stdin, stdout, stderr, cwd). Raises OSError when
    the program cannot be run, before anything starts."""
    if not os.access(argv[0], os.X_OK):
        raise FileNotFoundError(errno.ENOENT, "not found, or not an executable", argv[0])
    options = {**options, "start_new_session": True}
    if not SUPERVISED:
        process = await asyncio.create_subprocess_exec(*argv, env=dict(env), **options)
        if nice > 0:  # its process group, just started (the system caps the value at its lowest)
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PGRP, process.pid, os.getpriority(os.PRIO_PROCESS, 0) + nice)
        return process
    request = _request_pipe({"parent": os.getpid(), "argv": list(argv), "env": dict(env), "nice": nice})
    try:
        script = [*stdlib_script(Path(supervisor.__file__)), "--request-fd", str(request)]
        return await asyncio.create_subprocess_exec(*script, env={}, pass_fds=(request,), **options)
    finally:
        os.close(request)


def _request_pipe(request: dict[str, object]) -> int:
    """A pipe already holding the supervisor's request, so writing it never blocks the event loop;
    returns its reading end."""
    data = json.dumps(request).encode()
    read_end, write_end = os.pipe()
    try:
        with contextlib.suppress(OSError):  # kept at the default size where the system refuses
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, REQUEST_PIPE_BYTES)
        if len(data) >= fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ):
            raise OSError(errno.E2BIG, "the command line and environment are too large")
        os.write(write_end, data)
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return read_end


async def stop_supervised(process: asyncio.subprocess.Process) -> None:
    """Stop the program and everything it started, then reap it.

    The supervisor is asked first (SIGTERM: it kills the whole tree and exits); if it does not
    exit in time, or there is none, the process group is SIGKILLed. Each wait is bounded: a process
    stuck in the kernel may never exit. Cancelled on the way, the group is SIGKILLed and reaped all
    the same.
    """
    try:
        if SUPERVISED:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), KILL_GRACE_S)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        await reap(process, KILL_GRACE_S)


async def reap(process: asyncio.subprocess.Process, within_s: float) -> None:
    """Wait for a killed process to exit and be reaped, at most `within_s` (one stuck in the kernel
    may never exit), through any cancel, raised once it has. A process the loop has not reaped keeps
    its transport open after the task that stopped it ends: once the loop is closed that transport
    fails ("Event loop is closed") and the child is reaped by nobody."""
    with contextlib.suppress(TimeoutError):
        await finish(asyncio.wait_for(process.wait(), within_s))
