"""Being told when a run needs you: the bell and desktop notifications a real `lfg run` writes to its
terminal (read off a pty), `--quiet`, `[ui] notify`, and `--notify-command` in a headless run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.terminal import Terminal

TERMINAL_NAMES = (
    "TMUX",
    "TERM_PROGRAM",
    "LC_TERMINAL",
    "ITERM_SESSION_ID",
    "KITTY_WINDOW_ID",
    "WEZTERM_PANE",
    "GHOSTTY_RESOURCES_DIR",
    "VTE_VERSION",
)
"""Variables that tell lfg which terminal it is in: cleared, so the bytes do not depend on where the
tests run."""

TICKETS = (
    '[[ticket]]\nid = "build"\nprompt = "x"\nmodel = "writer"\ntools = ["write_file", "run_command"]\n\n'
    '[[ticket]]\nid = "broken"\nprompt = "x"\nmodel = "fault-401"\n'
)


def plain_env(lfg: Lfg, **extra: str) -> dict[str, str]:
    return {k: v for k, v in lfg.env.items() if k not in TERMINAL_NAMES} | extra


def tui(lfg: Lfg, env: dict[str, str], *flags: str) -> bytes:
    """Run the two tickets in the TUI until `build` asks for approval, deny it, quit; what it wrote."""
    terminal = Terminal(columns=140, rows=40)
    process = terminal.start(lfg.args(lfg.tickets(TICKETS), "--no-history", *flags), env)
    try:
        terminal.wait_for(b"approve")
        terminal.wait_for(b"HTTP 401")
        terminal.type(b"q")
        terminal.wait_for(b"Cancel them and quit?")  # `build` waits for its approval
        terminal.type(b"y")
        assert process.wait(timeout=30 * PATIENCE) in (0, 1)
    finally:
        process.kill()
        terminal.hang_up()
    return bytes(terminal.output)


def test_the_tui_rings_and_notifies_when_a_ticket_needs_approval_or_fails(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    output = tui(lfg, plain_env(lfg))
    assert b"\x07\x1b]9;lfg: build needs approval: write_file: notes/summary.md\x07" in output
    assert b"\x1b]777;notify;lfg: build needs approval;write_file: notes/summary.md\x07" in output
    assert b"\x1b]777;notify;lfg: broken failed;HTTP 401 auth: Incorrect API key provided" in output


def test_inside_tmux_the_notification_is_passed_through(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    output = tui(lfg, plain_env(lfg, TMUX="/tmp/tmux-test/default,1,0"))
    assert (
        b"\x1bPtmux;\x1b\x1b]777;notify;lfg: build needs approval;write_file: notes/summary.md\x07\x1b\\"
        in output
    )


def test_quiet_and_the_notify_list_keep_the_terminal_silent(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    assert b"]777;notify" not in tui(lfg, plain_env(lfg), "--quiet")
    lfg.config.write_text('[ui]\nnotify = ["done"]\n')
    output = tui(lfg, plain_env(lfg))
    assert b"needs approval" not in output and b"broken failed" not in output, "only the end is asked for"


def test_a_headless_run_hands_each_event_to_the_notify_command(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    received = tmp_path / "events.jsonl"
    done = subprocess.run(
        lfg.args(
            lfg.tickets(TICKETS), "--headless", "--no-history", "--notify-command", f"cat >> {received}"
        ),
        env=lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 1
    events = [json.loads(line) for line in received.read_text().splitlines()]
    kinds = sorted((event["kind"], event["ticket"]) for event in events)
    assert kinds == [("done", None), ("failed", "broken"), ("failed", "build")] or kinds == [
        ("done", None),
        ("failed", "broken"),
    ]
    (finished,) = [event for event in events if event["kind"] == "done"]
    assert finished["counts"]["failed"] >= 1 and finished["title"] == "lfg: run finished"
