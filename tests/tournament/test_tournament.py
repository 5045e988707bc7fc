"""A tournament on the sim: three contestants write calc.py in their worktrees (one passes the tests,
one fails one, one does not compile), each is checked there, and the verdict ranks them by the rule."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from lfgtui.commands.headless import Progress
from lfgtui.config.load import Config
from lfgtui.contest import CheckRan, SuiteCounts, Verdict, VerdictDecided
from lfgtui.cost.metrics import MetricsBook
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tournament.referee import Referee
from tests.support.git import git, isolate_git
from tests.support.lfg import Lfg, command
from tests.support.tournament import CONTESTANTS, Told, calc_repo, tournament_tickets


def assert_summary(verdict: Verdict) -> None:
    """The headless closing table's section of the tournament: best first, the winner marked."""
    out = io.StringIO()
    progress = Progress(out, MetricsBook(), 0.0)
    winner = verdict.contestant("fix@tournament-pass").check
    assert winner is not None
    progress(CheckRan(ticket="fix@tournament-pass", attempt=1, seq=0, t=0.5, result=winner))
    progress(VerdictDecided(ticket="fix", attempt=0, seq=1, t=1.0, verdict=verdict))
    assert out.getvalue().splitlines() == [
        "[   0.5s] fix@tournament-pass  check passed (2 passed)",
        "[   1.0s] tournament fix: fix@tournament-pass wins of 3 contestants",
    ]
    summary = progress.table().split("tournament fix: fix@tournament-pass wins of 3 contestants\n")[-1]
    header, first, second, third, land = summary.splitlines()
    assert header.split() == [
        "contestant",
        "model",
        "check",
        "diff",
        "TTFT",
        "tok/s",
        "tokens",
        "cost",
        "cache",
        "wall",
    ]
    assert first.split()[:2] == ["★", "fix@tournament-pass"] and "passed (2 passed)" in first
    assert second.split()[0] == "fix@tournament-fail" and "failed (1 passed, 1 failed)" in second
    assert third.split()[0] == "fix@tournament-broken" and "failed (0 passed, 1 error)" in third
    assert land == f"land the winner: {verdict.land_command()}"


def run_shell(command: str) -> None:
    subprocess.run(command, shell=True, check=True, capture_output=True)


async def test_the_verdict_ranks_the_passing_contestant_first_and_landing_it_merges_its_work(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    repo = calc_repo(tmp_path / "repo")
    loaded = load_tickets(tournament_tickets(tmp_path, repo), Config(path=None), BUILTIN_TOOLS, env={})
    told = Told()
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(yes=True), [], worktrees=tmp_path / "trees")
        referee = Referee(run)
        run.sinks += [referee, told]
        run.start()
        assert await run.wait() == dict.fromkeys(CONTESTANTS, Outcome.COMPLETED)
        await referee.settled()
    passed, failed, broken = (told.checks[ticket] for ticket in CONTESTANTS)
    assert (passed.passed, passed.tests) == (True, SuiteCounts(passed=2))
    assert (failed.passed, failed.tests) == (False, SuiteCounts(passed=1, failed=1))
    assert (broken.passed, broken.tests) == (False, SuiteCounts(errors=1))
    assert "SyntaxError" in broken.output and broken.output.endswith("[exit code 1]")
    (verdict,) = told.verdicts
    assert verdict.tournament == "fix" and verdict.judge is None
    assert verdict.winner == "fix@tournament-pass"
    assert [placing.ticket for placing in verdict.ranking] == list(CONTESTANTS)
    assert verdict.ranking[1].reasons[:2] == ("check failed (1 passed, 1 failed)", "diff +2 \u22120, 1 file")
    assert verdict.ranking[2].reasons[:2] == ("check failed (0 passed, 1 error)", "diff +3 \u22120, 1 file")
    winner = verdict.contestant("fix@tournament-pass")
    assert winner.diff is not None and winner.diff.files == ("calc.py",)
    assert winner.model == "sim/tournament-pass" and winner.wall_s is not None and winner.wall_s > 0
    assert winner.metrics.output_tokens and winner.metrics.ttft_s is not None
    assert winner.row()[:4] == (
        "fix@tournament-pass",
        "sim/tournament-pass",
        "passed (2 passed)",
        "+2 \u22120, 1 file",
    )
    assert_summary(verdict)
    assert not (repo / "calc.py").exists(), "the contestants worked in their worktrees"
    land = verdict.land_command()
    assert land is not None
    before = git(repo, "rev-parse", "HEAD")
    run_shell(land)
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert git(repo, "rev-parse", "HEAD~1") == before
    assert git(repo, "log", "-1", "--format=%s") == "lfg: fix@tournament-pass"


def test_headless_ndjson_says_each_check_and_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    lfg = Lfg(tmp_path)
    repo = calc_repo(tmp_path / "repo")
    code, events, stderr = lfg.run(tournament_tickets(tmp_path, repo))
    assert code == 0, stderr
    checks = {e["ticket"]: e for e in events if e["type"] == "check"}
    assert (checks["fix@tournament-pass"]["passed"], checks["fix@tournament-pass"]["tests"]) == (
        True,
        {"passed": 2, "failed": 0, "errors": 0, "skipped": 0},
    )
    assert checks["fix@tournament-broken"]["passed"] is False
    assert "SyntaxError" in checks["fix@tournament-broken"]["output"]
    (verdict,) = [e for e in events if e["type"] == "verdict"]
    assert events[-1] is verdict, "the verdict comes once every contestant is checked"
    assert (verdict["ticket"], verdict["attempt"], verdict["judge"]) == ("fix", None, None)
    assert verdict["winner"] == "fix@tournament-pass"
    assert [placing["ticket"] for placing in verdict["ranking"]] == list(CONTESTANTS)
    assert verdict["ranking"][0]["reasons"][0] == "check passed (2 passed)"
    rows = {row["ticket"]: row for row in verdict["contestants"]}
    assert rows["fix@tournament-fail"]["diff"] == {"added": 2, "removed": 0, "files": ["calc.py"], "count": 1}
    assert rows["fix@tournament-fail"]["check"]["tests"]["failed"] == 1
    assert rows["fix@tournament-pass"]["outcome"] == "completed" and rows["fix@tournament-pass"]["wall_s"] > 0
    run_id = verdict["land"].split()[2]
    assert verdict["land"] == f"lfg land {run_id} fix@tournament-pass", "a recorded run lands with lfg land"
    before = git(repo, "rev-parse", "HEAD")
    landed = command(lfg, *verdict["land"].split()[1:], "--config", str(lfg.config))
    assert landed.returncode == 0, landed.stderr
    assert git(repo, "rev-list", "--count", f"{before}..HEAD") == "1", "the base moved by the winner's commit"
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
