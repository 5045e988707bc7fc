"""Waiting for a process that must exit, with a report of where it was when it did not: a bound
that trips in CI then says what the process waited on, not only that it waited."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.patience import PATIENCE


def exit_code(process: subprocess.Popen[bytes], within_s: float) -> int:
    """`process`'s exit code once it exits; past `within_s` (a bound against a hang, not a timing,
    stretched in a wide run: tests/support/patience.py), an AssertionError with every thread's stack,
    and the process killed."""
    try:
        return process.wait(timeout=within_s * PATIENCE)
    except subprocess.TimeoutExpired:
        report = where_it_waits(process.pid)
        process.kill()
        process.wait()
        raise AssertionError(
            f"pid {process.pid} did not exit within {within_s * PATIENCE:g} s:\n{report}"
        ) from None


def where_it_waits(pid: int) -> str:
    """Each Python thread's stack (py-spy, from the test extras) and each thread's kernel wait."""
    lines = []
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is not None:
        dump = subprocess.run(
            [spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60 * PATIENCE
        )
        lines.append(dump.stdout + dump.stderr)
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            name = (task / "comm").read_text().strip()
            wchan = (task / "wchan").read_text().strip()
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        lines.append(f"thread {task.name} {name}: state {state}, waits in {wchan or '-'}")
    return "\n".join(lines)
