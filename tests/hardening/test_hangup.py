"""A terminal that goes away under every TUI command: `lfg run`, `resume`, `replay`, `attach`, the
history screen, and the `lfg attach` that `lfg web` starts for each browser tab.

The terminal is a real pty whose other side is closed, as when an ssh connection drops or the tmux
server is killed: reads end, writes fail with EIO. With `controlling`, the pty is the process's
controlling terminal and the kernel also sends SIGHUP; without it, nothing but the dead terminal tells
the app. Either way the command exits 129 (bounded waits, not timings), records what it ran, releases
its run's lock and leaves no child behind.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lfgtui.history.lock import RunLock
from tests.support import warm_lfg
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.signals import TICKETS, saved, wait_for_text
from tests.support.stuck import exit_code
from tests.support.terminal import Terminal

EXIT_HANGUP = 129
GONE_WITHIN_S = 30
"""A bound on the wait, so that a command that never exits fails instead of hanging the suite."""

WITH_AN_AGENT = (
    TICKETS + '\n[[ticket]]\nid = "agent"\nprompt = "x"\nprovider = "sim-acp"\n'
    'model = "long-answer:repeat=50,tokens_per_s=60"\n'
)
QUICK = '[[ticket]]\nid = "q"\nprompt = "Say hello."\nmodel = "hello"\n'


def descendants(pid: int) -> set[int]:
    """Every process started by `pid`, and by those, as /proc tells now."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_id(db: Path) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (found,) = conn.execute("SELECT id FROM runs ORDER BY started_at DESC").fetchone()
    return str(found)


SILENT = (
    "import select; p = select.poll(); p.register(0, 0); print('ready', flush=True); "
    f"raise SystemExit(0 if p.poll({GONE_WITHIN_S * 1000}) else 1)"
)
"""A program that says it is ready, then writes nothing and waits for its terminal to hang up."""


def test_the_terminal_hangs_up_under_a_program_that_writes_nothing_more() -> None:
    """The harness: closing the terminal's other side hangs it up at once, though the program wrote
    nothing since (a read of it still waiting kept it open: an idle app never saw the hangup)."""
    terminal = Terminal()
    process = terminal.start([sys.executable, "-c", SILENT], dict(os.environ))
    terminal.wait_for(b"ready")
    terminal.hang_up()
    assert exit_code(process, GONE_WITHIN_S) == 0, "it saw no hangup"


def hang_up_and_check(terminal: Terminal, process: subprocess.Popen[bytes]) -> None:
    """Close the terminal under `process`: it exits 129 and leaves nothing it started running."""
    children = descendants(process.pid)
    terminal.hang_up()
    assert exit_code(process, GONE_WITHIN_S) == EXIT_HANGUP
    assert not [child for child in children if alive(child)], "a child outlived the hangup"


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[Lfg, Path, str]]:
    """A finished run in a history file, for the commands that open one."""
    lfg = Lfg(tmp_path)
    db = tmp_path / "h.sqlite3"
    done = subprocess.run(
        lfg.args(lfg.tickets(QUICK), "--json", "--db", str(db)),
        env=lfg.env,
        capture_output=True,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 0, done.stderr
    yield lfg, db, run_id(db)


@pytest.mark.parametrize("controlling", [True, False], ids=["sighup", "eof-only"])
def test_lfg_run_ends_recorded_and_unlocked_when_its_terminal_goes(tmp_path: Path, controlling: bool) -> None:
    lfg = Lfg(tmp_path)
    db = tmp_path / "h.sqlite3"
    terminal = Terminal()
    lfg.env["XDG_STATE_HOME"] = str(lfg.home / "state")  # the coding agent's log
    args = lfg.args(lfg.tickets(WITH_AN_AGENT), "--db", str(db))
    process = terminal.start(args, lfg.env, controlling=controlling)
    wait_for_text(db)
    hang_up_and_check(terminal, process)
    tickets, ended = saved(db)
    assert ended is not None
    assert {ticket: outcome for ticket, (outcome, _) in tickets.items()} == dict.fromkeys(
        "abc", "cancelled"
    ) | {"agent": "cancelled"}
    assert tickets["a"][1] and tickets["b"][1], "the text that arrived is kept"
    assert not RunLock.alive(db, run_id(db))


@pytest.mark.parametrize("controlling", [True, False], ids=["sighup", "eof-only"])
@pytest.mark.parametrize("command", ["resume", "replay", "history"])
def test_a_recorded_run_opened_in_the_tui_ends_when_its_terminal_goes(
    recorded: tuple[Lfg, Path, str], command: str, controlling: bool
) -> None:
    lfg, db, run = recorded
    terminal = Terminal()
    verb = "replay" if command == "replay" else "resume"
    args = [sys.executable, "-m", "lfgtui", verb, run, "--db", str(db), "--config", str(lfg.config)]
    process = terminal.start(args, lfg.env, controlling=controlling)
    terminal.wait_for(b"simulator")  # the ticket's answer is on screen
    if command == "history":
        terminal.type(b"/")
        terminal.wait_for(b"search prompts")
    hang_up_and_check(terminal, process)
    assert not RunLock.alive(db, run)


@pytest.fixture
def serving(recorded: tuple[Lfg, Path, str], tmp_path: Path) -> Iterator[tuple[Lfg, str, Path]]:
    """`lfg serve` of the recorded run: its URL and token file."""
    lfg, db, run = recorded
    token = tmp_path / "token"
    token.write_text("t" * 32)
    token.chmod(0o600)
    args = [sys.executable, "-m", "lfgtui", "serve", run, "--db", str(db), "--token-file", str(token)]
    server = warm_lfg.popen(args, env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert server.stdout is not None
    try:
        line = b""
        while b"http://" not in line:
            line = server.stdout.readline()
            assert line, "lfg serve ended before it served"
        url = line[line.index(b"http://") :].split()[0].decode()
        yield lfg, url, token
    finally:
        server.terminate()
        server.wait(timeout=30 * PATIENCE)


@pytest.mark.parametrize("controlling", [True, False], ids=["sighup", "eof-only"])
def test_lfg_attach_ends_when_its_terminal_goes(serving: tuple[Lfg, str, Path], controlling: bool) -> None:
    lfg, url, token = serving
    terminal = Terminal()
    args = [sys.executable, "-m", "lfgtui", "attach", url, "--token-file", str(token)]
    args += ["--config", str(lfg.config)]
    process = terminal.start(args, lfg.env, controlling=controlling)
    terminal.wait_for(b"simulator")
    hang_up_and_check(terminal, process)


def test_a_browser_tab_ends_when_the_web_server_goes(serving: tuple[Lfg, str, Path]) -> None:
    """The `lfg attach` textual-serve starts per tab talks to it over pipes: when they close (the server
    died), it exits 129 instead of running on unseen."""
    lfg, url, token = serving
    env = lfg.env | {"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}
    args = [sys.executable, "-m", "lfgtui", "attach", url, "--token-file", str(token)]
    tab = warm_lfg.popen(
        args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert tab.stdin is not None and tab.stdout is not None
    assert tab.stdout.readline() == b"__GANGLION__\n"
    os.read(tab.stdout.fileno(), 65536)  # it draws
    children = descendants(tab.pid)
    tab.stdin.close()
    tab.stdout.close()
    assert exit_code(tab, GONE_WITHIN_S) == EXIT_HANGUP
    assert not [child for child in children if alive(child)]
