"""Running `git` for the worktrees: bounded, killable, in a clean environment, with inert errors.

Everything git prints is untrusted: errors carry git's stderr made inert and bounded; stdout is
returned raw for the caller to make inert when it shows it. Every git runs with a time limit in its
own process group, killed whole on timeout or cancellation, so a hung git (or a stuck filter) cannot
hang lfg.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lfgtui.inert import inert

GIT_TIMEOUT_S = 60.0
"""The most one git command may take unless its caller allows more (a checkout of a large repository)."""
KILL_WAIT_S = 5.0
OUTPUT_LIMIT = 1024 * 1024
"""The most bytes of stdout read from one git command (the diff text has its own bound)."""
ERROR_LIMIT = 64 * 1024
MESSAGE_CHARS = 400
"""The most characters of git's stderr quoted in an error."""

_REPOSITORY_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_GRAFT_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_NAMESPACE",
)
"""Variables that point git at another repository (what `git rev-parse --local-env-vars` lists): set
when lfg is started from a git hook or alias, they would make `git -C` ignore the folder we give."""
_NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
_PLUMBING = (
    "--no-pager",
    *("-c", "core.fsmonitor=false"),
    *("-c", "color.ui=false"),
    *("-c", "advice.detachedHead=false"),
    *("-c", "advice.addEmbeddedRepo=false"),
)
"""Every git starts no fsmonitor daemon; our own plumbing also runs no hook (`_NO_HOOKS`: a checkout
would run post-checkout). Landing a change runs the repository's hooks as git's own commands would
(`hooks=True`): a commit runs pre-commit and commit-msg, a push pre-push."""


class GitError(Exception):
    """Why git could not do what lfg asked (make, read or remove a worktree, or run at all): one
    sentence a user can act on."""


@dataclass(frozen=True)
class _Output:
    code: int
    out: bytes
    err: bytes
    truncated: bool


def _git_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _REPOSITORY_ENV}
    env.update(
        GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", PAGER="cat", LC_ALL="C", GIT_OPTIONAL_LOCKS="0", **extra
    )
    return env


def quoted(stderr: bytes) -> str:
    """git's stderr as one bounded, inert line."""
    text = inert(" ".join(stderr.decode(errors="replace").split()))
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "\u2026"


async def _read(
    stream: asyncio.StreamReader,
    limit: int,
    at_limit: Callable[[], None] | None,
    sink: Callable[[bytes], None] | None = None,
) -> tuple[bytes, bool]:
    """Up to `limit` bytes of `stream`, and whether there was more. Past the limit, reading stops
    after calling `at_limit` (which kills the writer), or without it goes on dropping the rest, so
    the writer never blocks on a full pipe. With `sink`, every chunk goes to it instead, unbounded
    (the sink keeps what it needs)."""
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(64 * 1024):
        if sink is not None:
            sink(chunk)
            continue
        room = limit - len(kept)
        kept += chunk[:room]
        if len(chunk) > room:
            truncated = True
            if at_limit is not None:
                at_limit()
                break
    return bytes(kept), truncated


async def _write(process: asyncio.subprocess.Process, data: bytes | None) -> None:
    """Give git its input, then end it; git exiting before it read all of it is not an error here."""
    if data is None or process.stdin is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(data)
        await process.stdin.drain()
        process.stdin.close()


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    config: tuple[str, ...] = (),
    timeout_s: float | None = None,
    limit: int = OUTPUT_LIMIT,
    hooks: bool = False,
    sink: Callable[[bytes], None] | None = None,
    stdin: bytes | None = None,
) -> _Output:
    """Run `git -C cwd [-c config]… args` bounded in time and output; a stdout longer than `limit` is
    cut and git killed. `sink` receives the whole stdout as it comes instead (its `out` is then
    empty). `hooks` lets the repository's hooks run; `stdin` is written to git's input. Raises
    GitError when git is missing or does not finish in time."""
    timeout_s = GIT_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        process = await asyncio.create_subprocess_exec(
            "git",
            "-C",
            str(cwd),
            *_PLUMBING,
            *(() if hooks else _NO_HOOKS),
            *(option for setting in config for option in ("-c", setting)),
            *args,
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_git_env(env or {}),
            start_new_session=True,
        )
    except FileNotFoundError:
        raise GitError('git is not installed (or not on PATH); isolation = "worktree" needs it') from None
    except OSError as exc:
        raise GitError(f"could not run git: {inert(str(exc))}") from None
    assert process.stdout is not None and process.stderr is not None  # piped above
    try:
        async with asyncio.timeout(timeout_s):
            (out, truncated), (err, _), _ = await asyncio.gather(
                _read(process.stdout, limit, lambda: _kill_group(process), sink),
                _read(process.stderr, ERROR_LIMIT, None),
                _write(process, stdin),
            )
            code = await process.wait()
    except TimeoutError:
        raise GitError(
            f"git {args[0]} did not finish within {timeout_s:g} s in {cwd} (a stuck filter or lock?)"
        ) from None
    finally:
        if process.returncode is None:
            _kill_group(process)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), KILL_WAIT_S)
    return _Output(code, out, err, truncated)


async def checked(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    config: tuple[str, ...] = (),
    timeout_s: float | None = None,
    hooks: bool = False,
) -> bytes:
    """`git` whose failure is a GitError quoting git."""
    result = await git(cwd, *args, env=env, config=config, timeout_s=timeout_s, hooks=hooks)
    if result.code != 0 and not result.truncated:
        raise GitError(f"git {args[0]} failed in {cwd}: {quoted(result.err) or f'exit {result.code}'}")
    return result.out


def line(out: bytes) -> str:
    """git's one-line answer (a path, a sha, a count) without its newline."""
    return out.decode(errors="replace").rstrip("\n")
