"""read_file and search_files in their killable child: bounded in time and memory, never blocking."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lfgtui.tools import BUILTIN_TOOLS, ToolContext, ToolOutcome, run_tool
from lfgtui.tools.reader import SEARCH_WINDOW, Refusal, open_regular
from tests.support.fleet import eventually
from tests.support.patience import PATIENCE

CATASTROPHIC = "(a+)+$"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path.resolve() / "work"
    folder.mkdir()
    return folder


async def call(ctx: ToolContext, name: str, **arguments: Any) -> ToolOutcome:
    return await run_tool(BUILTIN_TOOLS[name], arguments, ctx)


def reader_children(parent: int | None = None) -> list[int]:
    """The child processes of `parent` (this one's unless given) that run the reader script."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z" and b"reader.py" in cmdline:
            found.append(int(entry.name))
    return found


async def test_a_catastrophic_pattern_is_stopped_without_blocking_the_loop(workdir: Path) -> None:
    (workdir / "found.txt").write_text("an easy match\n")
    (workdir / "worst.txt").write_text("a" * 40 + "!\n")
    ctx = ToolContext(workdir=workdir, env={}, read_time_limit_s=2)
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    outcome = await call(ctx, "search_files", pattern=r"easy|(a+)+$")
    ticker.cancel()
    assert outcome.is_error
    lines = outcome.output.splitlines()
    assert lines[0] == "found.txt:1: an easy match"
    assert "took longer than 2 s (the time limit)" in lines[1] and "the pattern took too long" in lines[1]
    assert max(gaps) < 1.0
    assert reader_children() == []


async def test_a_cancelled_search_kills_its_child(workdir: Path) -> None:
    (workdir / "worst.txt").write_text("a" * 40 + "!\n")
    ctx = ToolContext(workdir=workdir, env={})
    search = asyncio.create_task(call(ctx, "search_files", pattern=CATASTROPHIC))
    for _ in range(round(200 * PATIENCE)):
        if reader_children():
            break
        await asyncio.sleep(0.025)
    assert reader_children()
    search.cancel()
    with pytest.raises(asyncio.CancelledError):
        await search
    assert reader_children() == []


LFG_LIKE = """
import asyncio, signal, sys
from pathlib import Path
from lfgtui.tools import BUILTIN_TOOLS, ToolContext, run_tool

async def main():
    ctx = ToolContext(workdir=Path(sys.argv[1]), env={}, read_time_limit_s=600)
    search = asyncio.ensure_future(run_tool(BUILTIN_TOOLS["search_files"], {"pattern": "(a+)+$"}, ctx))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, search.cancel)
    print("searching", flush=True)
    try:
        await search
    except asyncio.CancelledError:
        sys.exit(3)

asyncio.run(main())
"""


def test_sigterm_is_answered_during_a_catastrophic_search(workdir: Path) -> None:
    """lfg handles SIGTERM on its event loop, like this script: it must get to run."""
    (workdir / "worst.txt").write_text("a" * 40 + "!\n")
    lfg = subprocess.Popen([sys.executable, "-c", LFG_LIKE, str(workdir)], stdout=subprocess.PIPE)
    try:
        assert lfg.stdout is not None
        assert lfg.stdout.readline() == b"searching\n"
        eventually(lambda: reader_children(lfg.pid))  # the search runs
        lfg.terminate()
        assert lfg.wait(timeout=10 * PATIENCE) == 3
    finally:
        lfg.kill()
        lfg.wait()


PEAK_MEMORY = """
import asyncio, json, resource, sys
from pathlib import Path
from lfgtui.tools import BUILTIN_TOOLS, ToolContext, run_tool

async def main():
    ctx = ToolContext(workdir=Path(sys.argv[1]), env={})
    outcomes = [
        await run_tool(BUILTIN_TOOLS["read_file"], {"path": "huge.txt"}, ctx),
        await run_tool(BUILTIN_TOOLS["read_file"], {"path": "huge.txt", "offset": 2}, ctx),
        await run_tool(BUILTIN_TOOLS["search_files"], {"pattern": "never there"}, ctx),
        await run_tool(BUILTIN_TOOLS["search_files"], {"pattern": "^x+$"}, ctx),
    ]
    # VmHWM, not RUSAGE_SELF: Linux carries ru_maxrss across exec, so this process would report the
    # peak of the pytest process that started it. The readers are children of this small process.
    own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"peak_kib": peak, "outcomes": [[o.output, o.is_error] for o in outcomes]}))

asyncio.run(main())
"""


def test_a_huge_file_without_newlines_is_read_and_searched_in_bounded_memory(workdir: Path) -> None:
    huge = workdir / "huge.txt"
    with huge.open("wb") as file:
        file.write(b"x" * 20_000)  # text at the start, so it does not look binary
        file.truncate(200 * 1024 * 1024)  # a sparse 200 MB single line
    done = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, str(workdir)],
        capture_output=True,
        text=True,
        timeout=120 * PATIENCE,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["peak_kib"] < 100 * 1024
    first, past, missing, window = result["outcomes"]
    assert not first[1] and first[0].endswith(
        "[line 1 is longer than 65280 characters; showed the first 65280; read on with offset=2]"
    )
    assert past == ["offset 2 is past the end of 'huge.txt', which has 1 lines", True]
    assert missing == ["no matches for 'never there' under '.'", False]
    assert (
        window[0] == "no matches for '^x+$' under '.'"
    )  # only the first SEARCH_WINDOW characters are searched


async def test_a_match_within_the_search_window_of_a_long_line_is_found(workdir: Path) -> None:
    (workdir / "long.txt").write_text("a" * (SEARCH_WINDOW - 10) + "needle" + "b" * SEARCH_WINDOW + " far\n")
    ctx = ToolContext(workdir=workdir, env={})
    assert (await call(ctx, "search_files", pattern="needle")).output.startswith("long.txt:1: aaa")
    assert (await call(ctx, "search_files", pattern="far")).output == "no matches for 'far' under '.'"


async def test_fifos_and_devices_are_refused_without_blocking(workdir: Path) -> None:
    os.mkfifo(workdir / "pipe")
    ctx = ToolContext(workdir=workdir, env={})
    assert await call(ctx, "read_file", path="pipe") == ToolOutcome(
        "'pipe' is not a regular file", is_error=True
    )
    assert (await call(ctx, "search_files", pattern="x")).output == "no matches for 'x' under '.'"
    root = ToolContext(workdir=Path("/"), env={})
    assert await call(root, "read_file", path="dev/zero") == ToolOutcome(
        "'dev/zero' is not a regular file", is_error=True
    )


@pytest.mark.timeout(10)
def test_the_reader_checks_the_opened_file_not_its_name(workdir: Path) -> None:
    os.mkfifo(workdir / "pipe")
    with pytest.raises(Refusal, match="not a regular file"):
        open_regular(workdir / "pipe")  # O_NONBLOCK: opening a FIFO with no writer does not wait
    try:
        os.mknod(workdir / "null", 0o20600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("cannot create a device node here")
    with pytest.raises(Refusal, match="not a regular file"):
        open_regular(workdir / "null")


def _unread_kernel_log() -> int | None:
    """Bytes waiting in /proc/kmsg (klogctl SIZE_UNREAD, which reads nothing), or None if unknown."""
    libc = ctypes.CDLL(None, use_errno=True)
    size = libc.klogctl(9, None, 0)
    return None if size < 0 else int(size)


async def test_a_procfs_file_that_would_block_is_refused() -> None:
    if not os.access("/proc/kmsg", os.R_OK):
        pytest.skip("/proc/kmsg is not readable here")
    if _unread_kernel_log() != 0:
        pytest.skip("/proc/kmsg holds unread messages: reading them would take them from the system log")
    ctx = ToolContext(workdir=Path("/"), env={}, read_time_limit_s=5)
    outcome = await call(ctx, "read_file", path="proc/kmsg")
    assert outcome.is_error and "would block" in outcome.output
