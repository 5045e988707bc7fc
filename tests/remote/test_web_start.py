"""`lfg web FILE` before it serves: a run that never starts leaves no folder holding its token, and
`lfg web` stopped while its run starts stops that run too, never leaving it running, nobody's."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import warm_lfg
from tests.support.lfg import Lfg, free_port
from tests.support.patience import PATIENCE


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    made = Lfg(tmp_path)
    made.env["TMPDIR"] = str(tmp_path / "temp")  # where lfg web makes its folder (tempfile)
    (tmp_path / "temp").mkdir()
    return made


def web(lfg: Lfg, tickets: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "lfgtui", "web", str(tickets), "--port", str(free_port())]
    command += ["--config", str(lfg.config), "--db", str(lfg.workdir / "history.db")]
    return warm_lfg.popen(command, env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def folders(lfg: Lfg) -> list[Path]:
    return sorted(Path(lfg.env["TMPDIR"]).glob("lfg-web-*"))


def running(pid: int) -> bool:
    """Whether process `pid` is alive (a zombie, ended but not yet reaped, is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def its_run(process: subprocess.Popen[str], fifo: Path) -> tuple[int, int]:
    """The pid of the `lfg run` lfg web started, once it waits in the read of its tickets file
    (`fifo`), and the write end of that file, opened once the run opened it to read."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    if not children.exists():
        pytest.skip("needs /proc to find lfg web's run")
    deadline = time.monotonic() + 60 * PATIENCE
    writer = None
    while True:
        assert process.poll() is None and time.monotonic() < deadline, "lfg web never started its run"
        if writer is None:
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO: nobody reads it yet
                assert exc.errno == errno.ENXIO, exc
        pids = children.read_text().split()
        wchan = Path(f"/proc/{pids[0]}/wchan") if pids else None
        if writer is not None and wchan is not None and wchan.read_text().endswith("pipe_read"):
            return int(pids[0]), writer
        time.sleep(0.01)


def test_a_missing_tickets_file_leaves_no_folder_holding_the_token(lfg: Lfg) -> None:
    process = web(lfg, lfg.workdir / "missing.toml")
    _, stderr = process.communicate(timeout=60 * PATIENCE)
    assert process.returncode == 2, stderr
    assert "missing.toml" in stderr
    assert folders(lfg) == []


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_lfg_web_stopped_while_its_run_starts_stops_the_run(lfg: Lfg, sent: int, code: int) -> None:
    """The tickets file is a FIFO nobody writes, so the run is known to be starting, not guessed."""
    fifo = lfg.workdir / "tickets.toml"
    os.mkfifo(fifo)
    process = web(lfg, fifo)
    run, writer = its_run(process, fifo)
    try:
        process.send_signal(sent)
        process.communicate(timeout=60 * PATIENCE)
        assert process.returncode == code
        assert not running(run), "the run lfg web started is left running"
        assert folders(lfg) == [], "its token's folder is left"
    finally:
        os.close(writer)
        if running(run):
            os.kill(run, signal.SIGKILL)
