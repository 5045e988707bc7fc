"""A tournament's verdict made by hand, every number known: three contestants, the first passing and
crowned, for what shows a verdict (the TUI's table) without running a tournament."""

from __future__ import annotations

from lfgtui.contest import CheckResult, Contestant, Diff, Placing, SuiteCounts, Verdict
from lfgtui.cost.metrics import Metrics
from lfgtui.events import Outcome


def contestant(ticket: str, passed: bool, added: int, wall_s: float) -> Contestant:
    counts = SuiteCounts(passed=2) if passed else SuiteCounts(passed=1, failed=1)
    return Contestant(
        ticket=ticket,
        attempt=1,
        model=f"sim/{ticket.partition('@')[2]}",
        outcome=Outcome.COMPLETED,
        metrics=Metrics(),
        wall_s=wall_s,
        check=CheckResult("pytest", passed, "", counts),
        diff=Diff(added, 1, ("calc.py",), 1),
        branch=f"lfg/{ticket}",
        worktree=f"/trees/{ticket}",
        repo="/repo",
    )


def three_contestants() -> Verdict:
    """`fix@tournament-pass` wins over `fix@tournament-wordy` (more lines), and
    `fix@tournament-fail` (its check failed)."""
    contestants = (
        contestant("fix@tournament-pass", True, 3, 4.2),
        contestant("fix@tournament-wordy", True, 12, 6.8),
        contestant("fix@tournament-fail", False, 2, 3.1),
    )
    ranking = tuple(Placing(c.ticket, c.reasons()) for c in contestants)
    return Verdict("fix", contestants, ranking, "fix@tournament-pass", run_id="20261126-snapshot")
