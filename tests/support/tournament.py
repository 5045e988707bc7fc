"""A tournament's repository and tickets: contestants on the sim write calc.py in their worktrees,
one passing the repository's tests, one failing one, one that does not compile."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from lfgtui.contest import CheckRan, CheckResult, Verdict, VerdictDecided
from lfgtui.events import Event
from tests.support.git import commit_all, repository

TESTS = """\
import unittest

from calc import add


class AddTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_zero(self):
        self.assertEqual(add(0, 0), 0)
"""
CHECK = f"{sys.executable} -B -m unittest"
CONTESTANTS = ("fix@tournament-pass", "fix@tournament-fail", "fix@tournament-broken")
ATTEMPTS = 'provider = "sim"\nmodel = "tournament-attempts"\nattempts = 3'
"""Three attempts of one sim model that take the three paths in turn (one passes, one fails, one
does not compile): `fix@1`, `fix@2`, `fix@3`."""


def calc_repo(folder: Path) -> Path:
    """A repository whose tests need a calc.py the contestants write."""
    repo = repository(folder)
    (repo / "test_calc.py").write_text(TESTS)
    commit_all(repo, "tests for add")
    return repo


def tournament_tickets(
    folder: Path, repo: Path, extra: str = "", check: str = CHECK, contestants: str | None = None
) -> Path:
    """The tournament's tickets file; `extra` adds fields to its ticket (a `judge`), `contestants`
    replaces the fields that make them (`models`, one per scenario: `CONTESTANTS`)."""
    path = folder / "tickets.toml"
    models = ", ".join(f'"sim/{ticket.partition("@")[2]}"' for ticket in CONTESTANTS)
    contestants = contestants or f"models = [{models}]"
    path.write_text(
        f'[[ticket]]\nid = "fix"\nprompt = "write add in calc.py"\n{contestants}\n'
        f'isolation = "worktree"\nworkdir = "{repo}"\ntools = ["write_file"]\nauto_approve = true\n'
        f"check = {check!r}\ncheck_timeout_s = 50\n{extra}"
    )
    return path


@dataclass
class Told:
    """A sink of the run that keeps its tournament facts: each contestant's last check, every verdict."""

    checks: dict[str, CheckResult] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        if isinstance(event, CheckRan):
            self.checked(event.ticket, event.attempt, event.result, event.t)
        elif isinstance(event, VerdictDecided):
            self.decided(event.verdict, event.t)

    def checked(self, ticket: str, attempt: int, result: CheckResult, t: float) -> None:
        self.checks[ticket] = result

    def decided(self, verdict: Verdict, t: float) -> None:
        self.verdicts.append(verdict)
