"""SIGINT, SIGTERM and SIGHUP against a real `lfg run` process in the TUI (on a pty) and headless.

Each signal cancels every ticket, the history file ends up with every attempt `cancelled` (never left
for recovery to mark `interrupted`) with the text that arrived, and the exit code names the signal.
Headless, a hangup is tested the way it really happens: the terminal goes away first, so every write
to it fails while the tickets stream on, and then SIGHUP arrives (the TUI: test_hangup.py). Headless
SIGINT and SIGTERM are tests/history/test_kill.py and tests/commands/test_run.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.signals import TICKETS, saved, wait_for_text
from tests.support.terminal import Terminal


def streamed(db: Path) -> int:
    found, _ = saved(db)
    return sum(len(found[ticket][1]) for ticket in "ab")


def run_on_a_terminal(tmp_path: Path, *extra: str) -> tuple[Lfg, Path, Terminal, subprocess.Popen[bytes]]:
    lfg = Lfg(tmp_path)
    db = tmp_path / "h.sqlite3"
    terminal = Terminal()
    process = terminal.start(lfg.args(lfg.tickets(TICKETS), "--db", str(db), *extra), lfg.env)
    wait_for_text(db)
    return lfg, db, terminal, process


def check_cancelled_and_flushed(db: Path) -> None:
    tickets, ended = saved(db)
    assert ended is not None
    assert {ticket: outcome for ticket, (outcome, _) in tickets.items()} == {
        "a": "cancelled",
        "b": "cancelled",
        "c": "cancelled",
    }
    assert tickets["a"][1] and tickets["b"][1], "the text that arrived is kept"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"])
def test_tui_signal_cancels_and_flushes(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    _, db, terminal, process = run_on_a_terminal(tmp_path)
    process.send_signal(sig)
    assert process.wait(timeout=30 * PATIENCE) == code
    terminal.hang_up()
    assert b"recorded as run" in terminal.output
    assert b"Traceback" not in terminal.output
    check_cancelled_and_flushed(db)


def test_headless_streams_on_after_the_terminal_is_gone_until_the_hangup(tmp_path: Path) -> None:
    """Headless output to a terminal that is gone is dropped while the tickets stream on (as under
    nohup); SIGHUP ends the run. The TUI ends at once: tests/hardening/test_hangup.py."""
    _, db, terminal, process = run_on_a_terminal(tmp_path, "--json")
    terminal.hang_up()
    wait_for_text(db, more_than=streamed(db) + 200)  # it streams on, writing to a terminal that is gone
    process.send_signal(signal.SIGHUP)
    assert process.wait(timeout=30 * PATIENCE) == 129
    check_cancelled_and_flushed(db)


def wait_until_loaded(process: subprocess.Popen[str], library: str) -> None:
    """Returns once `process` has loaded the extension module `library`: one moment of its imports
    and start, seen in its memory map rather than guessed from a delay."""
    maps = Path(f"/proc/{process.pid}/maps")
    if not maps.exists():
        pytest.skip("needs /proc to see what lfg has loaded")
    deadline = time.monotonic() + 30 * PATIENCE
    while library not in maps.read_text():
        assert process.poll() is None and time.monotonic() < deadline, f"lfg never loaded {library}"
        time.sleep(0.001)


@pytest.mark.parametrize(
    "library",
    ["_ssl", "_asyncio", "_json", "_decimal", "_sqlite3", "_hashlib", "_csv"],
)
def test_ctrl_c_while_lfg_starts_exits_130_without_a_traceback(tmp_path: Path, library: str) -> None:
    """SIGINT as soon as lfg has loaded each of the modules it loads in turn while it imports the
    command line (`_ssl`, `_asyncio`), checks the tickets and opens the history (`_sqlite3`, …), before
    its run cancels on SIGINT: whatever it was doing then, it ends as Ctrl-C ends a run, never with a
    traceback."""
    lfg = Lfg(tmp_path)
    args = lfg.args(lfg.tickets(TICKETS), "--headless", "--db", str(tmp_path / "h.sqlite3"))
    process = subprocess.Popen(args, env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_loaded(process, library)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30 * PATIENCE)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


REPLACED = """
import os, signal, sys
import lfgtui.commands.main as command_line

def main():
    if sys.argv[1:] == ["ctrl-c"]:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # lfg's handler raises KeyboardInterrupt here
        except KeyboardInterrupt:
            pass  # as CPython 3.11 loses it wording a failed `from M import name`
    raise TypeError("expected a message argument")

command_line.main = main
from lfgtui.commands import lfg
sys.exit(lfg())
"""


@pytest.mark.parametrize("ctrl_c", [True, False], ids=["ctrl-c", "none"])
def test_an_error_python_raises_in_place_of_a_ctrl_c_as_lfg_starts_ends_it_as_ctrl_c_does(
    ctrl_c: bool,
) -> None:
    """A CI run's Ctrl-C landed as ssl.py imported `_ssl`, where CPython 3.11 words a failed `from
    _ssl import RAND_egd` in Python code: the KeyboardInterrupt left it no message, and it raised
    TypeError "expected a message argument" instead, a traceback and exit 1. After a Ctrl-C, lfg
    ends as Ctrl-C ends it, whatever Python raised; without one, the error is lfg's as ever."""
    argv = [sys.executable, "-c", REPLACED, *(["ctrl-c"] if ctrl_c else [])]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30 * PATIENCE)
    if ctrl_c:
        assert (done.returncode, done.stderr) == (130, "lfg: interrupted\n")
    else:
        assert done.returncode == 1 and "TypeError: expected a message argument" in done.stderr, done.stderr


SWALLOWED = """
import os, signal
from lfgtui.commands import catch_ctrl_c, interrupted

class Finalized:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)

catch_ctrl_c()
assert not interrupted()
Finalized()  # the KeyboardInterrupt lands in __del__: "Exception ignored in", nothing raises here
print("seen" if interrupted() else "missed")
"""


def test_a_ctrl_c_python_swallows_in_a_finalizer_is_still_seen() -> None:
    """Python ignores a KeyboardInterrupt raised in a finalizer (as in an import's module lock
    callback, where Ctrl-C while lfg started once went unseen and the run went on): lfg remembers
    every Ctrl-C, and asks before it starts a run. Python's report of it ("Exception ignored in: …",
    a KeyboardInterrupt traceback: a CI run of the test above printed it) is not shown."""
    done = subprocess.run(
        [sys.executable, "-c", SWALLOWED], capture_output=True, text=True, timeout=30 * PATIENCE
    )
    assert done.stdout == "seen\n", done.stderr
    assert "Exception ignored" not in done.stderr and "KeyboardInterrupt" not in done.stderr, (
        "lfg has it: Python's report of it on stderr is not shown"
    )
