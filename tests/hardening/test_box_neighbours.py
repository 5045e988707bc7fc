"""A boxed agent cannot read another box's files, nor the engine's store: rootless podman keeps its
store in the home (`podman info`'s GraphRoot), which a box shows read-only, and there, beside every
box's root, each container's configuration holds its environment, an agent's API keys among them.
Run by lfg as root and as a normal user (rootless podman), each engine (tests/support/box_neighbour.py)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.box import USERS, person
from tests.support.box_neighbour import Neighbours


@pytest.mark.timeout(240)  # two boxes, and as a normal user a rootless podman's first start
@pytest.mark.parametrize("user", list(USERS))
@pytest.mark.parametrize("hunter", ["container", "bwrap"])
async def test_a_box_reads_neither_another_boxs_environment_nor_the_engines_store(
    engine: str, user: str, hunter: str
) -> None:
    """Fails before as a normal user with podman: box `b` found box `a`'s secret in the store's
    `libpod/bolt_state.db` under the home, and listed the store."""
    with person(user, engine) as someone:
        kind = engine if hunter == "container" else hunter
        module = ("-m", "tests.support.box_neighbour", engine, kind, str(someone.folder))
        done = await asyncio.to_thread(someone.run, *module)
    assert done.returncode == 0, done.stderr
    found = Neighbours(**json.loads(done.stdout))
    assert found.a_was_up, found
    assert "hunted" in found.output and found.control in found.output, found.output
    assert found.secret not in found.output, f"another box's environment was read: {found.output}"
    for store in found.stores:  # covered (empty, or not there under a cover around it), wherever
        (listed,) = [line for line in found.output.splitlines() if line.startswith(f"listed {store}:")]
        assert listed == f"listed {store}:" or "No such file or directory" in listed, found.output
    assert "unmounted:" not in found.output, f"a store uncovered: {found.output}"
