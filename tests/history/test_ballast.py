"""The room a run's recording keeps beside the history file (history/ballast.py) is there while the
run records and gone once it closes; one a gone lfg left is removed by the next run to keep one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.history.ballast import BALLAST_MB, MIB
from lfgtui.history.writer import open_run_history
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS


def _a_gone_pid() -> int:
    """The pid of a process that has ended."""
    said = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(said.stdout)


def _kept(folder: Path) -> list[Path]:
    return sorted(folder.glob("history.sqlite3.reserve-*"))


async def test_the_room_is_kept_while_a_run_records_and_removed_as_it_closes(tmp_path: Path) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text('[[ticket]]\nid = "t"\nprompt = "x"\nprovider = "sim"\nmodel = "hello"\n')
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    gone = _a_gone_pid()
    left = tmp_path / f"history.sqlite3.reserve-{gone}-1"  # an lfg that died recording
    left.write_bytes(b"x")
    mine = tmp_path / f"history.sqlite3.reserve-{os.getpid()}-0"  # another run of this process's
    mine.write_bytes(b"x")
    problems: list[str] = []
    async with open_run_history(tmp_path / "history.sqlite3", loaded, "lfg run", problems.append) as history:
        assert history is not None
        [kept] = [room for room in _kept(tmp_path) if room != mine]
        assert kept == history.room.path and kept.stat().st_blocks * 512 >= BALLAST_MB * MIB, "allocated"
    assert problems == []
    assert _kept(tmp_path) == [mine], "its own removed, the gone lfg's too, a live run's kept"
