"""What an `lfg` process does as it exits (issue #77)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE

FROZEN_AT_EXIT = (
    "import atexit, gc, sys\n"
    "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr))\n"
    "from lfgtui.commands import lfg\n"
    "sys.exit(lfg())\n"
)


def test_lfg_leaves_what_it_holds_to_its_exit_unwalked_by_the_collector(tmp_path: Path) -> None:
    """The collector's passes at exit would walk every object the imports made: lfg freezes them
    once its command is done, its exit code and output unchanged."""
    lfg = Lfg(tmp_path)
    tickets = lfg.tickets('[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n')
    args = ["run", str(tickets), "--config", str(lfg.config), "--json"]
    done = subprocess.run(
        [sys.executable, "-c", FROZEN_AT_EXIT, *args],
        env=lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 0, done.stderr
    assert '"outcome": "completed"' in done.stdout
    frozen = int(done.stderr.rsplit("frozen ", 1)[1].split()[0])
    assert frozen > 10_000, done.stderr
