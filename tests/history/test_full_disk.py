"""`lfg run` whose history file stops taking writes mid-run, as on a full disk.

The disk is made full for real, for the lfg process alone: an RLIMIT_FSIZE of 0 set on it from
outside (`prlimit`) once its run is recorded makes every write that grows a file fail (EFBIG, with
SIGXFSZ ignored), so SQLite's writes fail as on a full disk; raising the limit gives it room again.
"""

from __future__ import annotations

import json
import resource
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE

STORY = '[[ticket]]\nid = "story"\nprompt = "x"\nmodel = "long-answer:repeat=12,tokens_per_s=400"\n'


def ignore_sigxfsz() -> None:
    """A write past the limit then fails with EFBIG instead of killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def disk(process: subprocess.Popen[str], full: bool) -> None:
    """The disk of `process` full (no file may grow) or with room again."""
    soft = 0 if full else resource.RLIM_INFINITY
    resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (soft, resource.RLIM_INFINITY))


def start(lfg: Lfg, tickets: Path, db: Path) -> subprocess.Popen[str]:
    """`lfg run --json` of `tickets`, whose disk is full from the story's first text on."""
    process = subprocess.Popen(
        lfg.args(tickets, "--json", "--yes", "--db", str(db)),
        env=lfg.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore_sigxfsz,
    )
    wait_for(process, "story", "text")  # the run is recorded, and the story streams on
    disk(process, full=True)
    return process


def wait_for(process: subprocess.Popen[str], ticket: str, kind: str) -> dict[str, Any]:
    """Read the run's NDJSON up to `ticket`'s first event of `kind`."""
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if event["ticket"] == ticket and event["type"] == kind:
            return event
    raise AssertionError(f"{ticket} never sent {kind}")


def outcomes(db: Path) -> dict[str, str | None]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        found = conn.execute(
            "SELECT t.ticket, a.outcome FROM attempts a JOIN tickets t ON t.id = a.ticket_id"
        ).fetchall()
    return dict(found)


def test_a_disk_given_room_before_the_run_ends_gets_every_ticket_s_outcome(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    gate = lfg.scenario(
        "wait-for-room",
        """
        ttft_ms = 10
        [[call]]
        text = "Waiting for room."
        [[call.tool_call]]
        name = "run_command"
        arguments = { command = "while [ ! -e room ]; do sleep 0.05; done" }
        [[call]]
        text = "There is room."
        """,
    )
    tickets = lfg.tickets(
        f'{STORY}\n[[ticket]]\nid = "gate"\nprompt = "x"\nmodel = "{gate}"\ntools = ["run_command"]\n'
    )
    db = tmp_path / "h.sqlite3"
    process = start(lfg, tickets, db)
    try:
        ended = wait_for(process, "story", "attempt_ended")  # while the file took nothing
        assert ended["outcome"] == "completed"
        disk(process, full=False)
        (lfg.workdir / "room").touch()
        _, err = process.communicate(timeout=60 * PATIENCE)
    finally:
        process.kill()
    assert "lfg: history stopped recording this run: " in err
    *_, last = err.splitlines()
    assert last.startswith("lfg: history stopped recording run "), err
    assert "it has how each ticket ended" in last
    assert "recorded as run" not in err
    assert process.returncode == 3
    assert outcomes(db) == {"story": "completed", "gate": "completed"}


def test_a_disk_full_to_the_end_says_what_the_history_lacks_and_exits_3(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    db = tmp_path / "h.sqlite3"
    process = start(lfg, lfg.tickets(STORY), db)
    try:
        _, err = process.communicate(timeout=60 * PATIENCE)
    finally:
        process.kill()
    *_, last = err.splitlines()
    assert last.startswith("lfg: history stopped recording run "), err
    assert last.endswith(
        "the file did not take how these ended, and will read them as interrupted: story (completed)"
    )
    assert "recorded as run" not in err
    assert process.returncode == 3
