"""The rule that ranks contestants without a judge, and the test counts read from a check's output."""

from __future__ import annotations

from lfgtui.contest import CheckResult, Contestant, Diff, SuiteCounts
from lfgtui.cost.metrics import Metrics
from lfgtui.outcome import Outcome
from lfgtui.tournament.verdict import rank, suite_counts

PYTEST_FAILED = """\
F.s                                                                      [100%]
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________
=========================== short test summary info ============================
FAILED test_calc.py::test_add - assert -1 == 5
1 failed, 1 passed, 1 skipped in 0.03s
"""
PYTEST_ERRORS = "==== 2 passed, 1 error, 1 xfailed, 3 warnings in 1.20s ====\n"
UNITTEST = "..F\n------\nRan 3 tests in 0.001s\n\nFAILED (failures=1, skipped=1)\n[exit code 1]"


def test_pytest_and_unittest_summaries_are_counted_and_other_output_is_not() -> None:
    assert suite_counts(PYTEST_FAILED) == SuiteCounts(passed=1, failed=1, skipped=1)
    assert suite_counts(PYTEST_ERRORS) == SuiteCounts(passed=2, errors=1, skipped=1)
    assert suite_counts(UNITTEST) == SuiteCounts(passed=1, failed=1, skipped=1)
    assert suite_counts("Ran 2 tests in 0.000s\n\nOK\n") == SuiteCounts(passed=2)
    assert suite_counts("make: *** [test] Error 2\n") is None
    assert suite_counts(f"{UNITTEST}\n{PYTEST_FAILED}") == SuiteCounts(passed=1, failed=1, skipped=1), (
        "the last"
    )
    assert SuiteCounts(passed=3, errors=2).label() == "3 passed, 2 errors"


def contestant(ticket: str, passed: bool | None, lines: int, cost: float | None, wall: float) -> Contestant:
    check = None if passed is None else CheckResult("make test", passed, "", None)
    outcome = Outcome.FAILED if passed is None else Outcome.COMPLETED
    metrics = Metrics()
    if cost is not None:
        metrics.agent_cost_usd = cost
    diff = Diff.of(lines, 0, 1, None)
    return Contestant(ticket, 1, "sim/x", outcome, metrics, wall, check, diff, None, None, None)


def test_the_rule_ranks_a_passed_check_then_the_smaller_diff_then_cost_then_wall_time() -> None:
    contestants = (
        contestant("t@did-not-complete", None, 1, 0.0, 1.0),
        contestant("t@failed-small", False, 1, 0.0, 1.0),
        contestant("t@passed-big", True, 50, 0.0, 1.0),
        contestant("t@passed-costly", True, 10, 0.5, 1.0),
        contestant("t@passed-slow", True, 10, 0.1, 9.0),
        contestant("t@passed-fast", True, 10, 0.1, 2.0),
    )
    verdict = rank("t", contestants)
    assert [placing.ticket for placing in verdict.ranking] == [
        "t@passed-fast",
        "t@passed-slow",
        "t@passed-costly",
        "t@passed-big",
        "t@failed-small",
        "t@did-not-complete",
    ]
    assert verdict.winner == "t@passed-fast"
    assert verdict.ranking[-1].reasons[0] == "did not complete: failed"
    assert verdict.land_command() is None, "a contestant without a worktree has nothing to land"


def test_no_winner_when_no_contestant_passed_its_check() -> None:
    verdict = rank("t", (contestant("t@1", False, 3, None, 1.0), contestant("t@2", False, 2, None, 1.0)))
    assert [placing.ticket for placing in verdict.ranking] == ["t@2", "t@1"]
    assert verdict.winner is None
    assert verdict.summary() == "tournament t: no winner, no contestant passed its check"
