"""A Unix socket the container box covers, deleted while the engine sets the container up (after
its client looked, before the engine mounts the cover): the engine fails making the cover's mount
point in a read-only folder and the box never starts. Forced here at that moment: the engine the
client starts is a script that deletes the socket, then runs the real engine.

The box's client cannot tell an engine that failed to start the container from a container that ran
and failed (the engines say no more than an exit code), so it starts nothing again (that could run
a command twice): it says in one line why the box did not start, and that ticket alone fails."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from lfgtui.tools import containers
from tests.support.patience import PATIENCE


@pytest.mark.parametrize("tethered", [True, False], ids=["command", "agent"])
def test_a_socket_deleted_as_the_engine_sets_the_box_up_fails_it_saying_so(
    engine: str, tethered: bool
) -> None:
    assert containers._probe(engine) is None
    outside = Path("/var/tmp") / f"lfg-race-{secrets.token_hex(6)}"
    tree = outside / "tree"
    tree.mkdir(parents=True)
    gone = socket.socket(socket.AF_UNIX)
    gone.bind(str(outside / "gone.sock"))
    box = containers.ContainerBox(
        (tree,), readable=(outside,), engine=engine, ticket="race", tethered=tethered
    )
    argv = box.wrap(["/bin/sh", "-c", "echo ran"], tree)
    request = json.loads(argv[-1])
    assert str(outside / "gone.sock") in request["covers"], "covered as found"
    deleting = outside / engine
    deleting.write_text(f'#!/bin/sh\nrm -f {outside / "gone.sock"}\nexec {request["engine"]} "$@"\n')
    deleting.chmod(0o755)
    argv[-1] = json.dumps(request | {"engine": str(deleting)})
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120 * PATIENCE
        )
    finally:
        gone.close()
        shutil.rmtree(outside, ignore_errors=True)
    assert "ran" not in done.stdout
    assert done.returncode != 0
    said = done.stderr.strip().splitlines()[-1]
    assert said == (
        f"lfg: the box did not start: the Unix socket {outside / 'gone.sock'} it covers went away"
        f" while {engine} set the container up"
    ), done.stderr
