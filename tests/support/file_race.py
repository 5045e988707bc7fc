"""A hostile agent that races symbolic links against the files lfg reads and writes for it.

lfg serves an ACP agent's `fs/*` requests, and runs its own file tools, as the person, outside the
agent's box. This agent keeps swapping two folders of its worktree for links out of it, `d` for a
link to the person's home and `k` for one to `~/.ssh` (an atomic `renameat2(RENAME_EXCHANGE)` in a
tight loop, in a process of its own), while asking lfg, through the real ACP client's handlers and
lfg's own tools, to write `d/.bashrc` and read `k/id_ed25519` hundreds of times. `race` counts what
got out: writes that landed in the home, reads that returned the key, listings of `~/.ssh`.

Run as a module (`python -m tests.support.file_race FOLDER TRIES [walk]`), it races in FOLDER and
prints the counts as JSON: how a test runs it as another user (`setpriv`), since nobody cannot read
root's tmp. `walk` opens files as a kernel without `openat2` would (tools/beneath.py's own walk).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path

from lfgtui.events import EventFactory
from lfgtui.run.agents.client import AgentClient
from lfgtui.run.agents.updates import AgentView
from lfgtui.tools import BUILTIN_TOOLS, ToolContext, beneath, run_tool
from lfgtui.tools.toolbox import Toolbox

BASHRC = "# the person's own .bashrc\n"
HIDDEN = "the person's hidden key"
KEY = f"-----BEGIN OPENSSH PRIVATE KEY----- {HIDDEN}\n"
DECOY = "not a key\n"
SWAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2
def exchange(a, b):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), RENAME_EXCHANGE) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), a)
os.chdir(sys.argv[1])
open("swapping", "w").close()
while os.path.exists("swapping"):
    exchange("d", "d-link")
    exchange("k", "k-link")
    exchange("d", "d-link")
    exchange("k", "k-link")
"""


@dataclass(frozen=True, slots=True)
class Escapes:
    """What got out of the worktree, of how many tries."""

    writes: int = 0
    write_tries: int = 0
    reads: int = 0
    read_tries: int = 0
    listings: int = 0
    listing_tries: int = 0


def lay_out(folder: Path) -> tuple[Path, Path]:
    """A home with a `.bashrc` and a hidden key, and a worktree beside it with `d` and `k` (and the
    links to swap them for): the worktree and the home."""
    home, worktree = folder / "home", folder / "worktree"
    (home / ".ssh").mkdir(parents=True)
    (home / ".bashrc").write_text(BASHRC)
    (home / ".ssh" / "id_ed25519").write_text(KEY)
    (home / ".ssh" / "known_hosts").write_text("")
    (worktree / "d").mkdir(parents=True)
    (worktree / "k").mkdir()
    (worktree / "k" / "id_ed25519").write_text(DECOY)
    (worktree / "d-link").symlink_to(home, target_is_directory=True)
    (worktree / "k-link").symlink_to(home / ".ssh", target_is_directory=True)
    return worktree.resolve(), home


async def _yes(_: object) -> None:
    return None


async def _streamed(client: AgentClient) -> None:
    """Stream the client's inbox as an attempt does (a write waits until it is shown)."""
    while True:
        client.events(await client.inbox.get())


@contextlib.asynccontextmanager
async def swapping(worktree: Path) -> AsyncIterator[None]:
    """The hostile agent's swapper, running for the length of the block (it stops once its flag goes)."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", SWAPPER, str(worktree))
    try:
        while not (worktree / "swapping").exists() and process.returncode is None:
            await asyncio.sleep(0.001)
        assert process.returncode is None, "the swapper ended before it began"
        yield
    finally:
        (worktree / "swapping").unlink(missing_ok=True)
        await process.wait()
    assert process.returncode == 0, f"the swapper failed (exit code {process.returncode})"


async def race(folder: Path, tries: int) -> Escapes:
    """Race `tries` writes and reads through the ACP client's handlers and as many through lfg's own
    tools (write_file, read_file, search_files, list_dir), and count what got out."""
    worktree, home = lay_out(folder)
    ctx = ToolContext(workdir=worktree, env={})
    client = AgentClient(EventFactory("t", 1), Toolbox(BUILTIN_TOOLS, ctx, _yes), AgentView())
    streaming = asyncio.create_task(_streamed(client))
    counts = dict.fromkeys(asdict(Escapes()), 0)

    def landed_outside() -> bool:
        if (home / ".bashrc").read_text() == BASHRC:
            return False
        (home / ".bashrc").write_text(BASHRC)
        return True

    async with swapping(worktree):
        for attempt in range(tries):
            with contextlib.suppress(Exception):
                await client.write_text_file("s", str(worktree / "d" / ".bashrc"), f"agent {attempt}\n")
            counts["writes"] += landed_outside()
            await run_tool(BUILTIN_TOOLS["write_file"], {"path": "d/.bashrc", "content": "tool\n"}, ctx)
            counts["writes"] += landed_outside()
            counts["write_tries"] += 2
            with contextlib.suppress(Exception):
                read = await client.read_text_file("s", str(worktree / "k" / "id_ed25519"))
                counts["reads"] += HIDDEN in read.content
            for tool, arguments in (
                ("read_file", {"path": "k/id_ed25519"}),
                ("search_files", {"pattern": "BEGIN", "path": "k"}),
            ):
                outcome = await run_tool(BUILTIN_TOOLS[tool], arguments, ctx)
                counts["reads"] += HIDDEN in outcome.output
            counts["read_tries"] += 3
            listing = await run_tool(BUILTIN_TOOLS["list_dir"], {"path": "k"}, ctx)
            counts["listings"] += "known_hosts" in listing.output
            counts["listing_tries"] += 1
    streaming.cancel()
    return Escapes(**counts)


if __name__ == "__main__":
    if sys.argv[3:] == ["walk"]:
        beneath.openat2.usable = False
    print(json.dumps(asdict(asyncio.run(race(Path(sys.argv[1]), int(sys.argv[2]))))))
