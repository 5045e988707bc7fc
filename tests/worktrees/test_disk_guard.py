"""A boxed ticket that fills the disk its worktree is on, with bytes or with files (inodes), is
stopped (failed, `disk`), and the boxed ticket beside it, which wrote little, runs on to its end;
the run's history, on that same disk (as lfg's data folder holds both), records the whole run in
the room lfg kept beside it. On a real filesystem of the test's own (a tmpfs that lfg's worktrees
live on, mounted as root, as CI runs)."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.events import AttemptEnded, ErrorKind, Event, Outcome, TextDelta, WorktreeReady
from lfgtui.history.ballast import BALLAST_MB
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.git import repository
from tests.support.patience import PATIENCE
from tests.support.recording import load_recorded
from tests.support.streams import one_command

DISK_MB = 96
RESERVE_MB = 48
START = "while [ ! -e start ]; do sleep 0.05; done; "
"""A filler starts once the test says the quiet ticket has written what it writes."""
FILL = START + "i=0; while :; do head -c 1048576 /dev/zero > fill.$i || sleep 0.05; i=$((i+1)); done"
"""Writes a MiB a file for ever, going on when the disk is full: only lfg stops it."""
FILES = 2000
"""The test's disk's files (inodes): half of them its reserve's share, as its bytes are."""
MAKE_FILES = START + "mkdir many; i=0; while :; do touch many/$i || sleep 0.05; i=$((i+1)); done"
"""Makes empty files for ever (no bytes: files only), going on when none is left."""
WAIT = "echo small > small.txt; : > hold; while [ -e hold ]; do sleep 0.05; done; echo went"
"""Writes a little, then waits for the test to let it end (by removing a file: a full disk takes
no new one)."""


def fill_up(path: Path) -> None:
    """Writes `path` until its disk has no byte left, as another program on the machine might."""
    with path.open("wb", buffering=0) as file:
        try:
            while file.write(bytes(1 << 20)):
                pass
        except OSError as error:
            assert error.errno == errno.ENOSPC, error


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A filesystem of `DISK_MB` and `FILES` of its own."""
    if os.geteuid() != 0:
        pytest.skip("mounting a filesystem takes root (CI runs as root)")
    folder = tmp_path / "small"
    folder.mkdir()
    size = f"size={DISK_MB}m,nr_inodes={FILES}"
    subprocess.run(["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("filling", "said", "freed"),
    [
        (FILL, f"({RESERVE_MB} MiB): this ticket's folders there grew ", True),
        (
            MAKE_FILES,
            f"({RESERVE_MB} MiB: {FILES // 2} files, its share of the disk's): this ticket's folders",
            False,
        ),
    ],
    ids=["bytes", "files"],
)
async def test_the_ticket_that_fills_the_disk_is_stopped_and_the_other_runs_on(
    sim: SimServer, tmp_path: Path, scenario_dir: Path, small_disk: Path, filling: str, said: str, freed: bool
) -> None:
    """Fails before: the filler ran until the run's own end (the test's timeout), the disk full;
    with files, too, after only the bytes were watched; and the history stopped recording the run
    once the disk was full (its outcomes lost) before it kept room beside it."""
    fill, wait = (
        one_command(scenario_dir, name, line, timeout_s=600 * PATIENCE)
        for name, line in (("fill", filling), ("wait", WAIT))
    )
    tickets = tmp_path / "tickets.toml"
    tickets.write_text(
        f'[defaults]\nprovider = "sim"\nworkdir = "{repository(tmp_path / "repo")}"\nisolation = "worktree"\n'
        'sandbox = "bwrap"\ntools = ["run_command"]\n'
        f'[[ticket]]\nid = "filler"\nprompt = "Fill."\nmodel = "{fill}"\n'
        f'[[ticket]]\nid = "quiet"\nprompt = "Wait."\nmodel = "{wait}"\n'
    )
    loaded = load_tickets(tickets, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    trees: dict[str, Path] = {}

    def heard(event: Event) -> None:
        """Once the filler has ended, the quiet one may end too: on a disk full of bytes, whether
        the filler got there before lfg stopped it (a loaded machine's filler may not) or not."""
        events.append(event)
        if isinstance(event, WorktreeReady):
            trees[event.ticket] = Path(event.path)
        if isinstance(event, AttemptEnded) and event.ticket == "filler":
            if freed:
                fill_up(small_disk / "beside")
            (trees["quiet"] / "hold").unlink()

    async def start_filling() -> None:
        """The filler starts once the quiet ticket holds."""
        while "quiet" not in trees or not (trees["quiet"] / "hold").exists() or "filler" not in trees:
            await asyncio.sleep(0.05)
        (trees["filler"] / "start").touch()

    problems: list[str] = []
    db = small_disk / "history.sqlite3"
    async with (
        open_run_history(db, loaded, "lfg run", problems.append) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(
            loaded.tickets,
            providers,
            Approvals(yes=True),
            [heard],
            worktrees=small_disk / "trees",
            disk_reserve_mb=RESERVE_MB,
        )
        run.record(history)
        run.start()
        async with asyncio.timeout(240 * PATIENCE):
            _, outcomes = await asyncio.gather(start_filling(), run.wait())
    assert outcomes == {"filler": Outcome.FAILED, "quiet": Outcome.COMPLETED}, events[-12:]
    [ended] = [e for e in events if isinstance(e, AttemptEnded) and e.ticket == "filler"]
    assert ended.error is not None and ended.error.kind is ErrorKind.DISK
    message = ended.error.message
    assert message.startswith(f"the disk holding {trees['filler']} had ") and said in message, message
    assert message.endswith("in this attempt, the most of the boxed tickets writing on it"), message
    assert (trees["quiet"] / "small.txt").read_text() == "small\n"
    kept = f"the disk holding the history is full: lfg freed the {BALLAST_MB} MiB it keeps beside {db}"
    assert problems == ([f"{kept} to go on recording this run"] if freed else []), problems
    recorded = {t.ticket.id: t for t in load_recorded(db, history.run_id).tickets}
    assert [a.outcome for a in recorded["filler"].attempts] == [Outcome.FAILED]
    [quiet] = recorded["quiet"].attempts
    assert quiet.outcome is Outcome.COMPLETED
    assert "".join(e.text for e in quiet.events if isinstance(e, TextDelta)).endswith("done"), (
        "its whole stream"
    )
