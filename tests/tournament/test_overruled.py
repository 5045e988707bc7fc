"""A judge never crowns a contestant whose check failed or that did not complete: its pick is
overruled, saying why, and the winner is its best that passed; none passed, no winner to land. Run
through the real CLI (`lfg run --headless`) on the sim, contestants and judge alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.git import git, isolate_git
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.tournament import calc_repo, tournament_tickets


def headless(lfg: Lfg, tickets: Path) -> tuple[int, str]:
    done = subprocess.run(
        lfg.args(tickets, "--headless"), env=lfg.env, capture_output=True, text=True, timeout=120 * PATIENCE
    )
    return done.returncode, done.stdout + done.stderr


def test_a_judge_that_ranks_a_failed_check_first_is_overruled_and_the_best_that_passed_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    lfg = Lfg(tmp_path)
    repo = calc_repo(tmp_path / "repo")
    tickets = tournament_tickets(tmp_path, repo, 'judge = "sim/tournament-judge-reversed"\n')
    code, out = headless(lfg, tickets)
    said = (
        "tournament fix: fix@tournament-pass wins of 3 contestants, ranked by fix@judge; the judge's "
        "pick fix@tournament-broken was overruled: check failed (0 passed, 1 error), and only a passed "
        "check wins"
    )
    assert said in out, out
    (land,) = [line for line in out.splitlines() if line.startswith("land the winner: ")]
    assert land.endswith(" fix@tournament-pass"), land
    table = out.split(said + "\n")[-1].splitlines()
    assert table[1].split()[0] == "fix@tournament-broken", "the ranking stays the judge's"
    assert table[3].split()[:2] == ["★", "fix@tournament-pass"], "the star on the winner"
    assert code == 0, out


def test_no_winner_nothing_to_land_and_no_judge_asked_when_no_contestant_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing completed: nothing to rank, so the judge (a paid call) is not asked, and every
    contestant is in the verdict's table."""
    isolate_git(tmp_path, monkeypatch)
    lfg = Lfg(tmp_path)
    repo = calc_repo(tmp_path / "repo")
    contestants = 'provider = "sim"\nmodel = "fault-404"\nattempts = 2'
    tickets = tournament_tickets(tmp_path, repo, 'judge = "sim/tournament-judge"\n', contestants=contestants)
    head = git(repo, "rev-parse", "HEAD")
    _, out = headless(lfg, tickets)
    (verdict,) = [line for line in out.splitlines() if "tournament fix: " in line and "[" in line]
    said = "tournament fix: no winner, no contestant passed its check; the judge fix@judge was not asked"
    assert said in verdict, verdict
    assert "fix@judge  started" not in out, "the judge made no call"
    table = out.split(said + "\n")[-1].splitlines()
    assert sorted(row.split()[0] for row in table[1:3]) == ["fix@1", "fix@2"], out
    assert "land the winner" not in out and " wins of " not in out, out
    assert git(repo, "rev-parse", "HEAD") == head


RIGGED = (
    "import pytest\\n\\n\\n@pytest.hookimpl(hookwrapper=True)\\n"
    "def pytest_runtest_makereport(item, call):\\n    outcome = yield\\n"
    "    outcome.get_result().outcome = 'passed'\\n"
)
"""A conftest.py that reports every test as passed, whatever it did."""


def test_a_contestants_own_conftest_does_not_run_in_its_check_the_bases_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allowed only write_file, a contestant writes a conftest.py that passes every test: its check
    runs on a snapshot of its work with conftest.py as the base has it (none), so its wrong add fails,
    every place that shows the check says so, and the honest contestant wins."""
    isolate_git(tmp_path, monkeypatch)
    lfg = Lfg(tmp_path)
    lfg.scenario(
        "rigger",
        f"""\
        ttft_ms = 20
        [[call]]
        text = "I'll write add, and make sure the tests agree."
        [[call.tool_call]]
        name = "write_file"
        arguments = {{ path = "calc.py", content = "def add(a, b):\\n    return a - b\\n" }}
        [[call.tool_call]]
        name = "write_file"
        arguments = {{ path = "conftest.py", content = "{RIGGED}" }}
        [[call]]
        text = "Done."
        """,
    )
    repo = calc_repo(tmp_path / "repo")
    check = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -B -m pytest -q -p no:cacheprovider"
    contestants = 'models = ["sim/rigger", "sim/tournament-pass"]'
    tickets = tournament_tickets(tmp_path, repo, check=check, contestants=contestants)
    code, out = headless(lfg, tickets)
    assert "fix@rigger  check failed (1 passed, 1 failed; without the contestant's conftest.py)" in out, out
    assert "fix@tournament-pass  check passed (2 passed)\n" in out, out
    assert "tournament fix: fix@tournament-pass wins of 2 contestants" in out, out
    (row,) = [line for line in out.splitlines() if line.split()[:1] == ["fix@rigger"] and "sim/" in line]
    assert "without the contestant's conftest.py" in row, "the verdict's table says it too"
    assert code == 0, out
