"""run_command with real subprocesses, and the environment it is given."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from lfgtui.tools import BUILTIN_TOOLS, ToolContext, ToolOutcome, run_tool, safe_env


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
    for _ in range(200):
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
    assert await run(ctx, "cat", timeout_s=10) == ToolOutcome("(no output)\n[exit code 0]")


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
    for _ in range(400):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.025)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await wait_until_gone(int(pid_file.read_text()))


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
    assert "ONLY_THIS" in names
    assert "HOME" not in names


def test_safe_env_drops_secrets_and_keeps_the_rest() -> None:
    environ = {
        "PATH": "/bin",
        "HOME": "/home/me",
        "LANG": "C.UTF-8",
        "OPENAI_API_KEY": "sk-1",
        "github_token": "gh-1",
        "CLIENT_SECRET": "s-1",
        "AWS_SECRET_ACCESS_KEY": "aws-1",
        "DB_PASSWORD": "pw-1",
        "MY_PROVIDER_KEY": "k-1",
        "KEYBOARD": "us",
    }
    kept = {"PATH": "/bin", "HOME": "/home/me", "LANG": "C.UTF-8", "KEYBOARD": "us"}
    assert safe_env(environ, ["my_provider_key"]) == kept


async def test_run_command_does_not_see_api_keys(workdir: Path) -> None:
    environ = {**os.environ, "OPENAI_API_KEY": "sk-do-not-leak", "ACME_KEY": "acme-do-not-leak"}
    ctx = ToolContext(workdir=workdir, env=safe_env(environ, ["ACME_KEY"]))
    outcome = await run(ctx, "env")
    assert not outcome.is_error
    assert "do-not-leak" not in outcome.output
    assert "OPENAI_API_KEY" not in outcome.output
    assert f"PATH={os.environ['PATH']}\n" in outcome.output
