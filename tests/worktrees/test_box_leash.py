"""The leash of an agent's container (tools/container_client.py) against the agent inside: a
hostile agent that kills every process of its box it may signal (its leash's watcher among them,
same uid, same pid namespace), then stays, ignoring its stdin's end and SIGTERM. Its client killed
(as lfg stops a ticket's agent), its container must end all the same."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from lfgtui.tools import containers
from tests.support.patience import PATIENCE

ENDED_WAIT_S = 15.0
HOSTILE = (
    "kill -KILL -1; kill -STOP 1; kill -KILL 1; cat /proc/1/environ >/dev/null 2>&1 && echo traced; "
    'echo disarmed; trap "" TERM HUP; exec sleep 600'
)
"""`kill -1` reaches every process the agent may signal but the container's first and itself; that
first one it tries to stop, kill and read (as a tracer would) too."""


def _listed(engine: str, ticket: str) -> list[str]:
    labels = (f"{containers.OWNER_LABEL}={containers._owner()}", f"{containers.TICKET_LABEL}={ticket}")
    filters = [part for label in labels for part in ("--filter", f"label={label}")]
    done = subprocess.run([engine, "ps", "-a", "-q", *filters], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_an_agent_that_kills_its_leash_watcher_still_ends_with_its_client(
    engine: str, tmp_path: Path
) -> None:
    assert containers._probe(engine) is None
    box = containers.ContainerBox((tmp_path,), engine=engine, ticket="hostile", tethered=False)
    client = subprocess.Popen(
        box.wrap(["/bin/sh", "-c", HOSTILE], tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert client.stdout is not None
        assert client.stdout.readline() == b"disarmed\n", (
            "it killed what it could, and could not read its first process"
        )
        assert _listed(engine, "hostile"), "its container runs"
        client.kill()
        client.wait()
        deadline = time.monotonic() + ENDED_WAIT_S * PATIENCE
        while (left := _listed(engine, "hostile")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, "the container outlived its client: the agent had disarmed its leash"
    finally:
        client.kill()
        client.wait()
        if left := _listed(engine, "hostile"):
            containers._remove(engine, *left)
