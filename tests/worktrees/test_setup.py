"""`setup`: run once in a new worktree before the ticket's work; a failure fails the ticket."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.config.validation import ValidationError
from lfgtui.events import AttemptEnded, ErrorKind, Outcome, Status
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.prepare import prepare
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS, command_env
from lfgtui.tools.base import ToolContext
from lfgtui.worktrees.tree import create_worktree
from tests.support.git import commit_all, repository
from tests.support.worktree_runs import run_in, tickets

COUNT = 'setup = "ls notes 2>/dev/null | wc -l >> .setup-runs; echo set up"\n'
"""Counts its runs in the worktree, each with how many files the work had written by then."""


def _project(tmp_path: Path) -> Path:
    repo = repository(tmp_path / "repo")
    (repo / ".gitignore").write_text(".setup-runs\n")
    commit_all(repo, "ignore the count")
    return repo


async def test_setup_runs_once_in_each_new_worktree_before_the_work(sim: SimServer, tmp_path: Path) -> None:
    repo = _project(tmp_path)
    events, outcomes, run_id = await run_in(sim, tmp_path, repo, tmp_path / "h.sqlite3", COUNT)
    assert outcomes == {"one": Outcome.COMPLETED, "two": Outcome.COMPLETED}
    for ticket in ("one", "two"):
        tree = tmp_path / "trees" / run_id / ticket
        assert (tree / ".setup-runs").read_text().split() == ["0"], "once, before anything was written"
        assert (tree / "notes" / "summary.md").is_file()
        said = [e.message for e in events if type(e) is Status and e.ticket == ticket]
        assert any(
            m.startswith("setup: ls notes") and "set up" in m and "[setup: exit code 0]" in m for m in said
        )
    assert not (repo / ".setup-runs").exists(), "it ran in the worktree, not in the checkout"


async def test_a_failing_setup_fails_the_ticket_with_its_output(sim: SimServer, tmp_path: Path) -> None:
    repo = _project(tmp_path)
    failing = 'setup = "echo no toolchain here >&2; exit 3"\n'
    events, outcomes, _ = await run_in(sim, tmp_path, repo, tmp_path / "h.sqlite3", failing)
    assert outcomes == {"one": Outcome.FAILED, "two": Outcome.FAILED}
    ended = next(e for e in events if isinstance(e, AttemptEnded))
    assert ended.error is not None and ended.error.kind is ErrorKind.WORKTREE
    assert "setup failed (exit code 3)" in ended.error.message
    assert "no toolchain here" in ended.error.message
    assert not sim.log, "the work never started"


async def test_setup_never_runs_again_in_the_same_worktree(tmp_path: Path) -> None:
    """A follow-up, steer, resume or retry makes the same worktree ready again: nothing runs."""
    repo = _project(tmp_path)
    tree = await create_worktree(repo, "run", "t", tmp_path / "trees")
    context = ToolContext(workdir=tree.workdir, env=command_env({"PATH": "/usr/bin:/bin"}, (), tree.workdir))
    command = "echo ran >> .setup-runs"
    first = await prepare(tree, command, context)
    again = await prepare(await create_worktree(repo, "run", "t", tmp_path / "trees"), command, context)
    assert first and again == []
    assert (tree.path / ".setup-runs").read_text() == "ran\n"


def test_setup_without_a_worktree_or_blank_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "sim"\nsetup = "npm ci"\n'
        '[[ticket]]\nid = "b"\nprompt = "p"\nprovider = "sim"\nisolation = "worktree"\nsetup = " "\n'
    )
    with pytest.raises(ValidationError) as caught:
        load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    said = str(caught.value)
    assert "ticket 'a': setup runs in a new worktree: set isolation = \"worktree\"" in said
    assert "setup" in said and "a shell command (not blank)" in said


async def test_a_fork_runs_setup_in_its_new_worktree_and_the_parent_not_again(
    sim: SimServer, tmp_path: Path
) -> None:
    repo = _project(tmp_path)
    path = tickets(tmp_path, repo, COUNT)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(yes=True), [], worktrees=tmp_path / "trees")
        run.start()
        await run.wait()
        parent = run.states["one"].worktree
        assert parent is not None
        run.fork("one", "Now add a second section.")
        await run.wait()
    fork = run.states["one-fork1"]
    assert fork.outcome is Outcome.COMPLETED and fork.worktree is not None
    assert (parent.path / ".setup-runs").read_text().split() == ["0"], "the parent's ran once"
    assert (fork.worktree.path / ".setup-runs").read_text().split() == ["1"], (
        "once in the fork's new worktree (an ignored file is not copied by a fork), which holds the "
        "parent's notes"
    )
