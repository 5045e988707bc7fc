"""A tournament through the broker: contestants and judge run on a worker (its own clone), and the
coordinator checks each contestant on a snapshot of the diff its worker reported, applied onto the
commit its worktree started from, in the coordinator's checkout; the judge, released, ranks them."""

from __future__ import annotations

import subprocess

from tests.support.fleet import Fleet, coordinate, ends, finish, ran_on
from tests.support.git import git
from tests.support.tournament import CHECK, CONTESTANTS, calc_repo, tournament_tickets

PASSING = "def add(a, b):\n    return a + b\n"


def test_a_tournament_through_the_broker_picks_its_winner_checked_on_the_reported_diff(fleet: Fleet) -> None:
    repo = calc_repo(fleet.lfg.workdir / "repo")
    clone = fleet.lfg.home / "w1-root"
    clone.mkdir()
    subprocess.run(["git", "clone", "-q", str(repo), str(clone / "repo")], check=True, capture_output=True)
    fleet.start("w1", "--root", str(clone))
    check = f"{CHECK} && touch checked-here"
    tickets = tournament_tickets(fleet.lfg.workdir, repo, 'judge = "sim/tournament-judge"\n', check=check)
    code, events, err = finish(coordinate(fleet, tickets))
    assert ends(events) == {**{(t, 1): "completed" for t in CONTESTANTS}, ("fix@judge", 1): "completed"}, err
    assert all(ran_on(events, t) == {"w1"} for t in (*CONTESTANTS, "fix@judge")), "all ran on the worker"
    checks = {e["ticket"]: e for e in events if e["type"] == "check"}
    assert checks["fix@tournament-pass"]["passed"] is True, checks["fix@tournament-pass"]["output"]
    assert checks["fix@tournament-fail"]["tests"]["failed"] == 1
    (verdict,) = [e for e in events if e["type"] == "verdict"]
    assert verdict["judge"] == "fix@judge" and verdict["judge_error"] is None, verdict
    assert verdict["winner"] == "fix@tournament-pass"
    assert code == 0, err
    assert not list(clone.rglob("checked-here")), "the check ran here, not in the worker's worktree"
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/lfg/checked/").splitlines()
    (winner,) = [r for r in refs if r.endswith("/fix=tournament-pass")]
    assert git(repo, "show", f"{winner}:calc.py") + "\n" == PASSING, (
        "the checked snapshot is the reported diff"
    )
    assert "lfg-check-" not in git(repo, "worktree", "list"), "each check's worktree is removed after it"
