"""run_command with real subprocesses, and the environment it is given."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from lfgtui.tools import BUILTIN_TOOLS, ToolContext, ToolOutcome, command_env, run_tool, without_keys
from tests.support.patience import PATIENCE


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path.resolve()


@pytest.fixture
def ctx(workdir: Path) -> ToolContext:
    return ToolContext(workdir=workdir, env={"PATH": os.environ["PATH"]})


async def run(ctx: ToolContext, command: str, **arguments: Any) -> ToolOutcome:
    return await run_tool(BUILTIN_TOOLS["run_command"], {"command": command, **arguments}, ctx)


def is_gone(pid: int) -> bool:
    """True once `pid` has exited: no such process, or a zombie waiting for its reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def wait_until_gone(pid: int) -> bool:
    """SIGKILL is delivered asynchronously; give the kernel a moment rather than assert on timing."""
    for _ in range(round(200 * PATIENCE)):
        if is_gone(pid):
            return True
        await asyncio.sleep(0.025)
    return False


async def test_output_and_exit_code(ctx: ToolContext) -> None:
    assert await run(ctx, "echo hello") == ToolOutcome("hello\n[exit code 0]")
    assert await run(ctx, "true") == ToolOutcome("(no output)\n[exit code 0]")


async def test_a_non_zero_exit_is_an_error_with_the_output(ctx: ToolContext) -> None:
    outcome = await run(ctx, "echo out; echo err >&2; echo more; exit 3")
    assert outcome == ToolOutcome("out\nerr\nmore\n[exit code 3]", is_error=True)


async def test_a_command_killed_by_a_signal_says_so(ctx: ToolContext) -> None:
    outcome = await run(ctx, "kill -TERM $$")
    assert outcome == ToolOutcome("(no output)\n[killed by signal 15: Terminated]", is_error=True)


async def test_it_runs_in_the_workdir_with_stdin_closed(ctx: ToolContext) -> None:
    assert await run(ctx, "pwd") == ToolOutcome(f"{ctx.workdir}\n[exit code 0]")
    assert await run(ctx, "cat", timeout_s=10 * PATIENCE) == ToolOutcome("(no output)\n[exit code 0]")


async def test_a_timeout_kills_the_command_and_its_children(ctx: ToolContext) -> None:
    outcome = await run(ctx, "echo started; sleep 30 & echo $! > child.pid; wait", timeout_s=0.5)
    assert outcome == ToolOutcome(
        "started\n[timed out after 0.5 s; killed the command and every process it started]", is_error=True
    )
    assert await wait_until_gone(int((ctx.workdir / "child.pid").read_text()))


async def test_the_default_timeout_comes_from_the_context(workdir: Path) -> None:
    ctx = ToolContext(workdir=workdir, env={}, command_timeout_s=0.5)
    outcome = await run(ctx, "sleep 30")
    assert outcome.is_error
    assert outcome.output.endswith("[timed out after 0.5 s; killed the command and every process it started]")


async def test_cancelling_the_call_kills_the_command(ctx: ToolContext) -> None:
    call = asyncio.create_task(run(ctx, "sleep 30 & echo $! > child.pid; wait"))
    pid_file = ctx.workdir / "child.pid"
    for _ in range(round(400 * PATIENCE)):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.025)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await wait_until_gone(int(pid_file.read_text()))


ESCAPES = {
    "setsid": "setsid sleep {marker} &",
    "nohup": "nohup sh -c 'sleep {marker}' >/dev/null 2>&1 &",
    "daemon": "sh -c '(setsid sleep {marker} </dev/null >/dev/null 2>&1 &) ; exit 0' &",
}
ENDINGS = ("normal exit", "timeout", "cancel")


def with_marker(marker: str) -> list[int]:
    """Live processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and not is_gone(int(entry.name)):
            found.append(int(entry.name))
    return found


async def wait_for_marker(marker: str) -> None:
    for _ in range(round(400 * PATIENCE)):
        if with_marker(marker):
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"no process with {marker} started")


@pytest.mark.skipif(sys.platform != "linux", reason="the supervisor that kills a whole tree needs Linux")
@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("escape", ESCAPES)
async def test_no_process_of_the_tree_outlives_the_command(
    ctx: ToolContext, escape: str, ending: str
) -> None:
    marker = f"1001.{os.getpid()}{list(ESCAPES).index(escape)}{ENDINGS.index(ending)}"
    started = ESCAPES[escape].format(marker=marker)
    if ending == "normal exit":
        outcome = await run(ctx, f"{started} sleep 0.5; echo done", timeout_s=30 * PATIENCE)
        assert outcome == ToolOutcome("done\n[exit code 0]")
    elif ending == "timeout":
        outcome = await run(ctx, f"{started} sleep 30", timeout_s=1)
        assert outcome.is_error and "timed out after 1 s" in outcome.output
    else:
        call = asyncio.create_task(run(ctx, f"{started} sleep 30"))
        await wait_for_marker(marker)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    for _ in range(round(200 * PATIENCE)):
        if not with_marker(marker):
            break
        await asyncio.sleep(0.025)
    assert with_marker(marker) == []


LFG_DIES = """
import asyncio, sys
from pathlib import Path
from lfgtui.tools import BUILTIN_TOOLS, ToolContext, run_tool

ctx = ToolContext(workdir=Path(sys.argv[1]), env={"PATH": "/usr/bin:/bin"})
asyncio.run(run_tool(BUILTIN_TOOLS["run_command"], {"command": sys.argv[2]}, ctx))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the supervisor that kills a whole tree needs Linux")
async def test_no_process_of_the_tree_outlives_lfg(ctx: ToolContext) -> None:
    marker = f"1001.{os.getpid()}9"
    command = f"setsid sleep {marker} & sleep 30"
    lfg = await asyncio.create_subprocess_exec(sys.executable, "-c", LFG_DIES, str(ctx.workdir), command)
    await wait_for_marker(marker)
    lfg.kill()
    await lfg.wait()
    for _ in range(round(200 * PATIENCE)):
        if not with_marker(marker):
            break
        await asyncio.sleep(0.025)
    assert with_marker(marker) == []


async def test_long_output_keeps_the_tail(workdir: Path) -> None:
    ctx = ToolContext(workdir=workdir, env={"PATH": os.environ["PATH"]}, output_limit=2000)
    outcome = await run(ctx, "seq 1 100000; exit 1")
    total = sum(len(f"{n}\n") for n in range(1, 100001))
    assert outcome.is_error
    assert len(outcome.output) <= 2000
    assert outcome.output.startswith(f"[… {total - (2000 - 256)} bytes of earlier output dropped]\n")
    assert outcome.output.endswith("\n99999\n100000\n[exit code 1]")


async def test_the_tail_never_starts_inside_a_character(workdir: Path) -> None:
    ctx = ToolContext(workdir=workdir, env={"PATH": os.environ["PATH"]}, output_limit=1024)
    outcome = await run(ctx, "for i in $(seq 1 2000); do printf 'é'; done; printf x")
    assert "\ufffd" not in outcome.output
    assert outcome.output.startswith("[… 3234 bytes of earlier output dropped]\néé")
    assert outcome.output.endswith("éx\n[exit code 0]")


async def test_the_environment_is_exactly_the_one_given(ctx: ToolContext) -> None:
    given = ToolContext(workdir=ctx.workdir, env={"PATH": os.environ["PATH"], "ONLY_THIS": "1"})
    lines = (await run(given, "env")).output.splitlines()
    names = {line.split("=", 1)[0] for line in lines[:-1]}
    assert names - {"PWD"} == {"PATH", "ONLY_THIS"}  # /bin/sh sets PWD itself


LEAKY_ENVIRON = {
    "AZURE_OPENAI_KEY": "leak-azure",
    "STRIPE_KEY": "leak-stripe",
    "PRIVATE_KEY": "leak-private",
    "GH_PAT": "leak-gh",
    "DB_PWD": "leak-pwd",
    "DATABASE_URL": "postgres://u:leak-pw@h/db",
    "SSH_AUTH_SOCK": "/tmp/ssh-leak/agent.1",
    "OPENAI_API_KEY": "leak-openai",
    "ACME_KEY": "leak-acme",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "VIRTUAL_ENV": "/opt/venv",
}


async def test_run_command_gets_only_allowlisted_variables(workdir: Path) -> None:
    source = without_keys({**os.environ, **LEAKY_ENVIRON}, ["ACME_KEY", "OPENAI_API_KEY"])
    ctx = ToolContext(workdir=workdir, env=command_env(source, [], workdir))
    outcome = await run(ctx, "env")
    assert not outcome.is_error
    assert "leak" not in outcome.output
    names = {line.split("=", 1)[0] for line in outcome.output.splitlines()[:-1]}
    assert {"LC_ALL", "TZ", "PATH"} <= names
    assert not names & LEAKY_ENVIRON.keys() - {"LC_ALL", "TZ"}
    assert f"PATH={os.environ['PATH']}\n" in outcome.output
    assert f"PWD={workdir}\n" in outcome.output


async def test_env_passthrough_passes_named_variables_but_never_a_configured_key(workdir: Path) -> None:
    source = without_keys({**os.environ, **LEAKY_ENVIRON}, ["acme_key"])
    ctx = ToolContext(
        workdir=workdir, env=command_env(source, ["VIRTUAL_ENV", "ACME_KEY", "UNSET_ONE"], workdir)
    )
    outcome = await run(ctx, "env")
    assert "VIRTUAL_ENV=/opt/venv\n" in outcome.output
    assert "ACME_KEY" not in outcome.output and "UNSET_ONE" not in outcome.output
