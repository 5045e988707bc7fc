"""Whether a container's client has ended, as lfg reads it to remove that container at its attempt's
end (tools/container_client.py `started`): a client that has exited is gone even before it is reaped
(its supervisor killed and died, and init has yet to collect it), else its container would be kept
as a live agent's and left behind."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from lfgtui.tools import container_client, containers


def state(pid: int) -> bytes:
    return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]


def test_a_client_that_exited_unreaped_is_gone_and_a_live_one_is_not() -> None:
    live = subprocess.Popen(["sleep", "600"])
    try:
        since = container_client.started(live.pid)
        assert since.isdigit() and not containers._gone(str(live.pid), since)
        live.kill()
        while state(live.pid) != b"Z":  # dead, not yet waited for: a zombie until `wait`
            time.sleep(0.01)
        assert container_client.started(live.pid) == "gone"
        assert containers._gone(str(live.pid), since)
    finally:
        live.kill()
        live.wait()
    assert containers._gone(str(live.pid), since), "reaped: its pid is free or another process's"
    assert container_client.started(os.getpid()).isdigit()
