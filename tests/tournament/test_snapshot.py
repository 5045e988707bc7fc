"""A contestant's check runs on a snapshot of its work, in a fresh worktree removed after; what its
worktree holds after that reaches neither the check nor what lands (worktrees/snapshot.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.contest import CheckResult, Verdict
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tournament.referee import Referee
from lfgtui.worktrees.cleanup import remove_worktree
from lfgtui.worktrees.land import LandOptions, land
from lfgtui.worktrees.tree import Worktree
from tests.support.git import git, isolate_git
from tests.support.tournament import CHECK, CONTESTANTS, Told, calc_repo, tournament_tickets

PASSING = "def add(a, b):\n    return a + b\n"
SPOILED = "def add(a, b):\n    return 'changed after the check'\n"


class Spoiler(Told):
    """An audience that, told a check's result, changes the contestant's worktree at once: as a
    process the contestant left running, or a sibling, would after its diff was taken."""

    def __init__(self, run: Run) -> None:
        super().__init__()
        self.run = run

    def checked(self, ticket: str, attempt: int, result: CheckResult, t: float) -> None:
        super().checked(ticket, attempt, result, t)
        tree = self.run.states[ticket].worktree
        assert tree is not None
        (tree.workdir / "calc.py").write_text(SPOILED)


def run_shell(command: str) -> None:
    subprocess.run(command, shell=True, check=True, capture_output=True)


async def tournament(sim: SimServer, tmp_path: Path, check: str) -> tuple[Run, Spoiler, Path]:
    repo = calc_repo(tmp_path / "repo")
    loaded = load_tickets(
        tournament_tickets(tmp_path, repo, check=check), Config(path=None), BUILTIN_TOOLS, env={}
    )
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(yes=True), [], worktrees=tmp_path / "trees")
        told = Spoiler(run)
        referee = Referee(run)
        run.sinks += [referee, told]
        run.start()
        assert await run.wait() == dict.fromkeys(CONTESTANTS, Outcome.COMPLETED)
        await referee.settled()
    return run, told, repo


def winner_tree(run: Run, verdict: Verdict) -> Worktree:
    assert verdict.winner == "fix@tournament-pass"
    tree = run.states[verdict.winner].worktree
    assert tree is not None
    return tree


async def test_the_check_runs_in_a_fresh_worktree_and_land_lands_what_it_checked_not_later_changes(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    run, told, repo = await tournament(sim, tmp_path, f"{CHECK} && touch checked-here")
    (verdict,) = told.verdicts
    tree = winner_tree(run, verdict)
    assert told.checks["fix@tournament-pass"].passed
    assert not list(tree.path.rglob("checked-here")), "the check did not run in the contestant's worktree"
    assert (tree.workdir / "calc.py").read_text() == SPOILED, "the worktree changed after its check"
    winner = verdict.contestant("fix@tournament-pass")
    assert winner.diff is not None and "+    return a + b" in winner.diff.text, (
        "the diff shown is the checked one"
    )
    listed = git(repo, "worktree", "list", "--porcelain")
    assert "lfg-check-" not in listed, "each check's worktree is removed after it"
    before = git(repo, "rev-parse", "HEAD")
    landed = await land(tree, LandOptions(message="lfg: fix@tournament-pass"))
    assert (repo / "calc.py").read_text() == PASSING, "what landed is what was checked"
    assert git(repo, "rev-list", "--count", f"{before}..HEAD") == "1"
    assert "not what changed" in landed.archived and tree.path.is_dir(), landed.archived
    assert (tree.workdir / "calc.py").read_text() == SPOILED, "the later change is kept, not lost"
    loser = run.states["fix@tournament-fail"].worktree
    assert loser is not None and len(git(repo, "for-each-ref", "refs/lfg/checked/").splitlines()) == 3
    removed = await remove_worktree(loser, force=True)
    assert removed.removed and "fix=tournament-fail" not in git(repo, "for-each-ref", "refs/lfg/checked/")


async def test_without_a_history_the_land_command_merges_the_checked_snapshot(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    run, told, repo = await tournament(sim, tmp_path, CHECK)
    (verdict,) = told.verdicts
    winner_tree(run, verdict)
    command = verdict.land_command()
    assert command is not None
    run_shell(command)
    assert (repo / "calc.py").read_text() == PASSING
    assert git(repo, "log", "-1", "--format=%s") == "lfg: fix@tournament-pass"
