"""`lfg run` killed with SIGKILL mid-stream: the file stays intact and the next start recovers it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.support import warm_lfg
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE

PROGRESS = """
    SELECT t.ticket, p.kind, p.text FROM parts p JOIN attempts a ON a.id = p.attempt_id
    JOIN tickets t ON t.id = a.ticket_id WHERE p.kind IN ('text', 'tool_call')
"""


def history(lfg: Lfg, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "lfgtui", "history", *args, "--db", str(db), "--config", str(lfg.config)]
    return subprocess.run(command, env=lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE)


def wait_until_recorded(db: Path, deadline_s: float = 30) -> dict[str, str]:
    """Poll the file as another process would, until both tickets have something on disk."""
    deadline = time.monotonic() + deadline_s * PATIENCE
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                try:
                    rows = conn.execute(PROGRESS).fetchall()
                except sqlite3.OperationalError:
                    rows = []
            seen = {(ticket, kind): text for ticket, kind, text in rows}
            if seen.get(("story", "text")) and ("tool", "tool_call") in seen:
                return {ticket: text for (ticket, _), text in seen.items()}
        time.sleep(0.05)
    raise AssertionError("the run never showed up in the history file")


def test_sigkill_mid_stream_leaves_a_readable_file_and_interrupted_attempts(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    hang = lfg.scenario(
        "hang-in-tool",
        """
        ttft_ms = 10
        tokens_per_s = 500
        [[call]]
        text = "Running the slow check."
        [[call.tool_call]]
        name = "run_command"
        arguments = { command = "echo $$ > hang.pid; exec sleep 30" }
        [[call]]
        text = "Never reached."
        """,
    )
    tickets = lfg.tickets(
        f'[[ticket]]\nid = "story"\nprompt = "Tell it."\nmodel = "long-answer:tokens_per_s=100,repeat=50"\n\n'
        f'[[ticket]]\nid = "tool"\nprompt = "Check."\nmodel = "{hang}"\ntools = ["run_command"]\n'
    )
    db = tmp_path / "history" / "h.sqlite3"
    process = warm_lfg.popen(
        lfg.args(tickets, "--json", "--yes", "--db", str(db)),
        env=lfg.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until_recorded(db)
        process.send_signal(signal.SIGKILL)
        stdout, _ = process.communicate(timeout=30 * PATIENCE)
    finally:
        process.kill()
        pid_file = lfg.workdir / "hang.pid"
        if pid_file.exists():  # on Linux the command's supervisor has already killed it when lfg died
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    events = [json.loads(line) for line in stdout.splitlines()]
    streamed = "".join(e["text"] for e in events if e["type"] == "text" and e["ticket"] == "story")

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        outcomes = conn.execute("SELECT outcome FROM attempts").fetchall()
        assert outcomes == [(None,), (None,)], "nothing has marked the attempts yet"
        saved = "".join(text for ticket, kind, text in conn.execute(PROGRESS) if ticket == "story")
    assert saved and streamed.startswith(saved), "the text up to the last batch is on disk"

    listed = history(lfg, db, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert run["outcomes"] == {"interrupted": 2} and run["ended_at"] is not None

    shown = history(lfg, db, "show", run["id"], "--json")
    tickets_json = {t["ticket"]: t for t in json.loads(shown.stdout)["run"]["tickets"]}
    (story,) = tickets_json["story"]["attempts"]
    (tool,) = tickets_json["tool"]["attempts"]
    assert story["outcome"] == tool["outcome"] == "interrupted"
    assert story["output_tokens"] > 0 and story["ttft_ms"] > 0
    call, result = [p for p in tool["parts"] if p["kind"] in ("tool_call", "tool_result")]
    assert call["name"] == result["name"] == "run_command" and call["call_id"] == result["call_id"]
    assert result["is_error"] and "interrupted" in result["text"]
    assert json.loads(result["meta"]) == {"synthetic": True}

    found = history(lfg, db, "search", '"Streaming section"', "--json")
    assert [hit["ticket"] for hit in json.loads(found.stdout)] == ["story"], "sealed on recovery, so indexed"


def test_sigterm_and_sigint_flush_the_cancelled_attempts_before_exiting(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    tickets = lfg.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "long-answer:repeat=50"\n')
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        db = tmp_path / f"{sig.name}.sqlite3"
        process = warm_lfg.popen(
            lfg.args(tickets, "--json", "--db", str(db)), env=lfg.env, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if '"type": "text"' in line:
                break
        process.send_signal(sig)
        rest, _ = process.communicate(timeout=30 * PATIENCE)
        assert process.returncode == code
        events = [json.loads(line) for line in [*lines, *rest.splitlines()]]
        streamed = "".join(e["text"] for e in events if e["type"] == "text")
        with sqlite3.connect(db) as conn:
            outcome, text = conn.execute(
                "SELECT a.outcome, group_concat(p.text, '') FROM attempts a "
                "JOIN parts p ON p.attempt_id = a.id AND p.kind = 'text'"
            ).fetchone()
            ended = conn.execute("SELECT ended_at FROM runs").fetchone()[0]
        assert outcome == "cancelled" and ended is not None
        assert text == streamed, "every token printed before the exit is in the file"
