"""Two boxes side by side, run by lfg as whoever starts this module: box `a` (an agent's container,
leashed, its first process lfg's) holds a secret in its environment and waits; box `b` (a command's,
in a container of the same engine or in bubblewrap) then hunts for it in all it can see (the home,
where rootless podman keeps its store and every box's configuration, its environment too; root's
store outside it) and tries to reach beneath the cover over the engine's store (a user namespace of
its own, where it may unmount). `probe` reports what `b` saw for a test to judge.

Run as a module (`python -m tests.support.box_neighbour ENGINE HUNTER FOLDER`, HUNTER the engine or
`bwrap`) it works in FOLDER, a folder of the user it runs as (a `Person`'s: its home is
FOLDER/home), and prints the findings as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lfgtui.tools import containers
from lfgtui.tools.containers import ContainerBox
from lfgtui.tools.sandbox import Sandbox
from tests.support.patience import PATIENCE

BOX_WAIT_S = 120.0


@dataclass(frozen=True, slots=True)
class Neighbours:
    """What box `b` printed, the secret box `a` held, the engine's stores, and whether `a` was up
    while `b` looked."""

    output: str
    secret: str
    control: str
    """What box `b` wrote itself, which its search must find."""
    stores: list[str]
    a_was_up: bool


def hunt(home: Path, stores: list[Path], secret: str, control: str, since: int) -> str:
    """Box `b`'s shell line: look for the secret everywhere it is shown, list each store, and unmount
    the cover over it in a user and mount namespace of its own before listing it again. Only files
    changed since `since` (by their ctime, which only the kernel sets), made before the secret was,
    can hold it: the search reads those, not root's whole home (gigabytes of toolchains, 50 s of a
    loaded machine's disk each time). A file of its own holding `control`, which the search must
    find, shows it reads what it should."""
    places = " ".join(shlex.quote(str(place)) for place in (home, *stores))
    patterns = f"-e {shlex.quote(secret)} -e {shlex.quote(control)}"
    lines = [
        f"printf '%s\\n' {shlex.quote(control)} > control.txt",
        f'find {places} /lfg /work "$PWD" -type f -newerct @{since} -exec grep -hoasF {patterns} {{}} + '
        "2>/dev/null; echo hunted",
    ]
    for store in stores:
        quoted = shlex.quote(str(store))
        lines += [
            f"echo listed {quoted}: $(ls -A {quoted} 2>&1)",
            f"unshare -Urm sh -c 'umount {quoted} && echo unmounted: $(ls -A {quoted})' 2>&1",
        ]
    return "\n".join(lines)


async def probe(engine: str, hunter: str, folder: Path) -> Neighbours:
    why = await containers.unavailable(engine)
    assert why is None, why
    home = Path.home().resolve()
    stores = list(containers._storage(engine))
    since = int(time.time()) - 2  # the ctimes' whole seconds, and a margin
    secret, control = (f"lfg-{kind}-{secrets.token_hex(8)}" for kind in ("neighbour", "control"))
    works = [folder / name for name in ("a", "b")]
    for work in works:
        work.mkdir()
    a = ContainerBox((works[0],), engine=engine, ticket="a", home_path=home, tethered=False)
    waiting = ["/bin/sh", "-c", 'echo "$LFG_SECRET" > /tmp/mine; echo up; read line']
    agent = await asyncio.create_subprocess_exec(
        *a.wrap(waiting, works[0]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "LFG_SECRET": secret},
    )
    assert agent.stdout is not None and agent.stdin is not None
    async with asyncio.timeout(BOX_WAIT_S * PATIENCE):
        up = await agent.stdout.readline() == b"up\n"
    b = (
        Sandbox((works[1],))
        if hunter == "bwrap"
        else ContainerBox((works[1],), engine=engine, ticket="b", home_path=home)
    )
    argv = b.wrap(["/bin/sh", "-c", hunt(home, stores, secret, control, since)], works[1])
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=BOX_WAIT_S * PATIENCE
    )
    agent.stdin.close()
    await agent.wait()
    return Neighbours(
        output=done.stdout + done.stderr,
        secret=secret,
        control=control,
        stores=[str(store) for store in stores],
        a_was_up=up,
    )


if __name__ == "__main__":
    print(json.dumps(asdict(asyncio.run(probe(sys.argv[1], sys.argv[2], Path(sys.argv[3]))))))
