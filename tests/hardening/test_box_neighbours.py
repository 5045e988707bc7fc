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
async def test_a_box_reads_neither_another_boxs_environment_nor_the_engines_store(
    engine: str, user: str
) -> None:
    """Fails before as a normal user with podman: box `b` found box `a`'s secret in the store's
    `libpod/bolt_state.db` under the home, and listed the store."""
    with person(user, engine) as someone:
        module = ("-m", "tests.support.box_neighbour", engine, str(someone.folder))
        done = await asyncio.to_thread(someone.run, *module)
    assert done.returncode == 0, done.stderr
    found = Neighbours(**json.loads(done.stdout))
    assert found.a_was_up, found
    assert "hunted" in found.output, found.output
    assert found.secret not in found.output, f"another box's environment was read: {found.output}"
    for store, in_home in zip(found.stores, found.stores_in_home, strict=True):
        if in_home:  # shown by the home's bind: covered, empty, and no namespace uncovers it
            assert f"listed {store}:\n" in found.output, found.output
    assert "unmounted:" not in found.output, f"a store uncovered: {found.output}"
