"""An agent's process: started under lfg's supervisor, stopped with everything it started.

On Linux the agent runs under `tools/supervisor.py` (`tools/supervised.py` starts it, as for a
`--notify-command` hook; `run_command` uses it too), a child subreaper that
kills every process the agent started when the agent exits, when lfg stops it, and when lfg itself
dies (even by SIGKILL), so no agent or tool of one outlives lfg. Elsewhere it runs in its own process
group, which is killed when it is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from lfgtui.providers.base import ProviderConfig
from lfgtui.run.agents.agent_state import seeded
from lfgtui.tools.containers import ContainerBox
from lfgtui.tools.sandbox import PRIVATE_TMP, Sandbox
from lfgtui.tools.sandbox_home import home_view, installed_in
from lfgtui.tools.supervised import reap, start_supervised

STOP_WAIT_S = 2.0
"""How long the agent has to exit after its stdin closes, and again after SIGTERM."""


async def start_agent(
    command: Sequence[str], env: Mapping[str, str], workdir: Path, nice: int
) -> tuple[asyncio.subprocess.Process, BinaryIO]:
    """Start the agent in `workdir` with exactly `env`, its CPU priority lowered by `nice` (its
    provider's: busy agents must not starve lfg's UI), its stdin and stderr piped to lfg (its stderr
    for `agent_log.AgentLog`); its stdout is a pipe of lfg's own, whose reading end comes back with
    the process for `transport.AgentPipe` to read as a protocol. Raises OSError when it cannot be
    started (its program is not found, say)."""
    program = shutil.which(command[0], path=env.get("PATH", os.defpath))
    if program is None:
        raise FileNotFoundError(errno.ENOENT, "not found on the agent's PATH", command[0])
    pipe = asyncio.subprocess.PIPE
    read_end, write_end = os.pipe()
    try:
        process = await start_supervised(
            [program, *command[1:]], env, nice, stdin=pipe, stdout=write_end, stderr=pipe, cwd=workdir
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return process, os.fdopen(read_end, "rb", buffering=0)


def sandboxed(
    config: ProviderConfig,
    sandbox: Sandbox,
    workdir: Path,
    home: Path | None,
    env: Mapping[str, str],
    copy: Path,
) -> ProviderConfig:
    """`config` whose agent starts inside `sandbox` (tools/sandbox.py), in `workdir`: its own state
    in `home` (tools/sandbox_home.py's `AGENT_STATE`) the ticket's copy kept in `copy`
    (agent_state.py), and that home hidden as the ticket's `sandbox_home` says, its install and
    toolchains (on `env`'s PATH) still readable, also where the sandbox's own `/tmp` would hide them."""
    command = config.agent.command
    path = env.get("PATH", os.defpath)
    inside = dataclasses.replace(
        sandbox, readable=(*sandbox.readable, *installed_in(PRIVATE_TMP, command[0], path))
    )
    if home is not None:
        view = home_view(home, sandbox.home, command[0], (), env, own=sandbox.writable)
        state = seeded(copy, home, command[0], env)
        inside = dataclasses.replace(
            inside,
            writable=(*inside.writable, *state.logins()),
            readable=(*inside.readable, *view.readable),
            hidden=(*inside.hidden, *view.hidden),
            bound=state.binds(),
        )
    if isinstance(inside, ContainerBox):  # its protocol on stdin: its container ends with it
        inside = dataclasses.replace(inside, tethered=False)
    agent = dataclasses.replace(config.agent, command=tuple(inside.wrap(command, workdir)))
    return dataclasses.replace(config, agent=agent)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """End the agent: stdin closed first (an ACP agent exits on it), then SIGTERM, then SIGKILL. Its
    process group is killed at the end whatever happens, even when this is cancelled (lfg quitting),
    so nothing it started lives on, and it is reaped (`reap`) before this returns or is cancelled."""
    try:
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        for signum in (None, signal.SIGTERM, signal.SIGKILL):
            if signum is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signum)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_WAIT_S)
                return
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await reap(process, STOP_WAIT_S)
