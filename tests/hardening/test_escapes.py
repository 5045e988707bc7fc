"""A model's text, reasoning, tool calls and a file it reads carry terminal escape sequences: none of
them reaches a terminal raw, in the TUI (a real `lfg run` on a pty), the headless progress lines,
NDJSON or `lfg ask`; the history keeps the raw text and NDJSON round-trips it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.fleet import eventually
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.terminal import Terminal

HOSTILE = (
    "Title \\u001b]0;pwned\\u0007 clip \\u001b]52;c;ZXZpbA==\\u0007 "
    "link \\u001b]8;;https://evil.example\\u001b\\\\here\\u001b]8;;\\u001b\\\\ "
    "wipe \\u001b[2Jwiped c1 \\u009b2Jc1wiped back\\rover [@click=app.quit]click[/] END-OF-ANSWER"
)
"""A TOML basic string: OSC 0 (title), OSC 52 (clipboard), OSC 8 (hyperlink), CSI and C1 CSI erase,
a carriage return, and Textual markup that would make a clickable action."""

RAW: str = tomllib.loads(f'text = "{HOSTILE}"')["text"]
"""The same text as the model sends it."""

FILE = "log \x1b]0;from-a-file\x07 \x1b[1;1H moved\n"

FORBIDDEN = [
    b"\x1b]0;pwned",
    b"pwned\x07",
    b"\x1b]52;",
    b"\x1b]8;;https://evil",
    b"\x1b[2Jwiped",
    b"\xc2\x9b2J",
    b"\x9b2Jc1",
    b"\x1b]0;from-a-file",
    b"\x1b[1;1H moved",
]


def hostile_lfg(tmp_path: Path) -> tuple[Lfg, Path]:
    lfg = Lfg(tmp_path)
    (lfg.workdir / "evil.log").write_text(FILE)
    lfg.scenario(
        "hostile",
        f"""
        ttft_ms = 10
        tokens_per_s = 2000
        [[call]]
        reasoning = "think \\u001b]0;pwned\\u0007 hard"
        [[call.tool_call]]
        name = "read_file"
        arguments = {{ path = "evil.log" }}
        [[call]]
        text = "{HOSTILE}"
        """,
    )
    tickets = lfg.tickets(
        '[[ticket]]\nid = "evil"\nprompt = "x"\nmodel = "hostile"\ntools = ["read_file"]\n\n'
        '[[ticket]]\nid = "loud"\nprompt = "x"\nmodel = "fault-500"\nmax_calls = 1\n'
    )
    return lfg, tickets


def assert_inert(output: bytes) -> None:
    for sequence in FORBIDDEN:
        assert sequence not in output, f"{sequence!r} reached the terminal"


def test_the_tui_shows_escape_sequences_without_obeying_them(tmp_path: Path) -> None:
    lfg, tickets = hostile_lfg(tmp_path)
    terminal = Terminal(columns=160, rows=50)
    process = terminal.start(lfg.args(tickets, "--no-history"), lfg.env)
    try:
        terminal.wait_for(b"END-OF-ANSWER")
        terminal.wait_for("␛]0;pwned␇".encode())
        asked, after = b"Cancel them and quit?", len(terminal.output)
        terminal.type(b"q")
        eventually(lambda: process.poll() is not None or asked in terminal.output[after:])
        if asked in terminal.output[after:]:  # the failing ticket may still be retrying: quitting asks first
            terminal.type(b"y")
        assert process.wait(timeout=30 * PATIENCE) in (0, 1, 130)
    finally:
        process.kill()
        terminal.hang_up()
    assert_inert(bytes(terminal.output))


def test_headless_lines_and_ask_are_inert_and_ndjson_is_lossless(tmp_path: Path) -> None:
    lfg, tickets = hostile_lfg(tmp_path)
    db = tmp_path / "h.sqlite3"
    progress = subprocess.run(
        lfg.args(tickets, "--headless", "--db", str(db)),
        env=lfg.env,
        capture_output=True,
        timeout=60 * PATIENCE,
    )
    assert progress.returncode == 1
    assert_inert(progress.stdout + progress.stderr)
    assert "␛]0;pwned␇".encode() in progress.stdout

    ndjson = subprocess.run(
        lfg.args(tickets, "--json", "--no-history"), env=lfg.env, capture_output=True, timeout=60 * PATIENCE
    )
    assert b"\x1b" not in ndjson.stdout and b"\xc2\x9b" not in ndjson.stdout
    events = [json.loads(line) for line in ndjson.stdout.splitlines()]
    text = "".join(e["text"] for e in events if e["type"] == "text" and e["ticket"] == "evil")
    assert text == RAW, "NDJSON keeps every character"
    results = [e["output"] for e in events if e["type"] == "tool_result"]
    assert results == [FILE]

    with sqlite3.connect(db) as conn:
        stored = "".join(
            t for (t,) in conn.execute("SELECT text FROM parts WHERE kind = 'text' ORDER BY seq")
        )
    assert RAW in stored, "the history keeps the raw text"

    ask = subprocess.run(
        [sys.executable, "-m", "lfgtui", "ask", "x", "--model", "hostile"],
        env=lfg.env,
        capture_output=True,
        timeout=60 * PATIENCE,
    )
    assert_inert(ask.stdout + ask.stderr)
    assert "think ␛]0;pwned␇ hard".encode() in ask.stderr


@pytest.mark.parametrize("mode", ["--headless", "--json"])
def test_a_provider_error_message_is_inert(tmp_path: Path, mode: str) -> None:
    lfg = Lfg(tmp_path)
    lfg.scenario(
        "angry",
        '[[call]]\ntext = "x"\n[[fault]]\nkind = "http"\nstatus = 400\n'
        'message = "bad \\u001b]0;pwned\\u0007 \\u001b[2Jwiped"\n',
    )
    tickets = lfg.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "angry"\n')
    done = subprocess.run(
        lfg.args(tickets, mode, "--no-history"), env=lfg.env, capture_output=True, timeout=60 * PATIENCE
    )
    assert done.returncode == 1
    assert_inert(done.stdout + done.stderr)
    assert b"pwned" in done.stdout
