"""A tournament as data: each contestant's check result, its diff, its row of the table, and the
verdict that ranks them. The referee (tournament/referee.py) decides it by the rule of
tournament/verdict.py or a judge's ranking; the history records it, the screens, the headless output
and the watchers show it, none of them needing the tournament's machinery, so they stand beside it
rather than above it. How the rule ranks (`Contestant.rule_key`) and how a judge's ranking is
overruled (`Verdict.by_judge`) is told in tournament/verdict.py. A check's result and a verdict
reach them as facts of the run (`CheckRan`, `VerdictDecided`: events.py `RunFact`), through the run's
one fan-out of events.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field, replace

from lfgtui.cost.metrics import Metrics
from lfgtui.events import RunFact
from lfgtui.formats import compared, plural
from lfgtui.outcome import Outcome
from lfgtui.worktrees.size import diff_size

_DIFF_FILE = re.compile(r"^diff --git a/(.*) b/", re.MULTILINE)


@dataclass(frozen=True)
class SuiteCounts:
    """What a test runner's summary said: tests passed, failed, in error and skipped."""

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0

    def label(self) -> str:
        """`2 passed, 1 failed, 1 error`: the passed always, the others when there are any."""
        others = ((self.failed, f"{self.failed} failed"), (self.errors, plural(self.errors, "error")))
        skipped = ((self.skipped, f"{self.skipped} skipped"),)
        return ", ".join([f"{self.passed} passed", *(said for count, said in (*others, *skipped) if count)])


@dataclass(frozen=True)
class CheckResult:
    """A contestant's `check`: whether it passed (exit code 0 within its timeout), its output as
    `run_command` keeps it (the tail, then the exit code or why it was killed), the test counts in it."""

    command: str
    passed: bool
    output: str
    tests: SuiteCounts | None
    trusted: tuple[str, ...] = ()
    """The files the contestant changed that the check ran on as its configuration, so its result
    trusts them (a record's field: this lfg puts such files back instead, `restored`)."""
    restored: tuple[str, ...] = ()
    """The files of the person's check (tournament/guard.py) the contestant changed, put back as the
    base has them in the check's checkout (tournament/referee.py), so the contestant's own did not run."""
    left_out: tuple[str, ...] = ()
    """The same the contestant added (the base has none), left out of the check's checkout."""
    refused: str = ""
    """Why the test runner's own report fails a check that exited 0 (tournament/report.py): `pytest
    wrote no report`, `no test ran`; empty when it did not."""

    def label(self) -> str:
        """`passed (2 passed)`; with `; with the base's test_calc.py` when files were put back,
        `; without the contestant's conftest.py` when files were left out, and why the runner's
        report refused it."""
        said = "passed" if self.passed else "failed"
        notes = [] if self.tests is None else [self.tests.label()]
        if self.refused:
            notes.append(self.refused)
        if self.trusted:
            notes.append(f"on the contestant's {', '.join(self.trusted)}")
        if self.restored:
            notes.append(f"with the base's {', '.join(self.restored)}")
        if self.left_out:
            notes.append(f"without the contestant's {', '.join(self.left_out)}")
        return f"{said} ({'; '.join(notes)})" if notes else said


@dataclass(frozen=True)
class Diff:
    """What a contestant changed in its worktree: lines added and removed, and the files."""

    added: int
    removed: int
    files: tuple[str, ...]
    count: int
    """Files changed, as git counts them (the names come from the diff's text, which may be cut)."""
    text: str = field(default="", repr=False)
    """The unified diff itself (what a judge reads); empty until the attempt's last diff."""

    @classmethod
    def of(cls, added: int, removed: int, files: int, text: str | None) -> Diff:
        return cls(added, removed, tuple(dict.fromkeys(_DIFF_FILE.findall(text or ""))), files, text or "")

    @property
    def lines(self) -> int:
        return self.added + self.removed

    def label(self) -> str:
        return diff_size(self.added, self.removed, self.count)


@dataclass(frozen=True)
class Contestant:
    """One contestant's latest attempt, as the table shows it."""

    ticket: str
    attempt: int
    model: str
    """`provider/model`, as the attempt started; empty when it never started."""
    outcome: Outcome
    metrics: Metrics
    wall_s: float | None
    check: CheckResult | None
    """None when the attempt did not complete (nothing to check)."""
    diff: Diff | None
    branch: str | None
    worktree: str | None
    """Where it worked: the worktree's top folder, on `branch`."""
    repo: str | None
    """The checkout its worktree was made from, where landing merges `branch`."""
    snapshot: str | None = None
    """The commit of its work its check ran on (worktrees/snapshot.py), in `repo`: what lands."""

    @property
    def passed(self) -> bool:
        """Whether it may win: its attempt completed and its check passed."""
        return self.outcome is Outcome.COMPLETED and self.check is not None and self.check.passed

    def rule_key(self) -> tuple[float, ...]:
        """Where the rule puts it: lower is better."""
        worst = math.inf
        return (
            self.outcome is not Outcome.COMPLETED,
            not self.passed,
            worst if self.diff is None else self.diff.lines,
            _or(self.metrics.cost_usd, worst),
            _or(self.wall_s, worst),
        )

    def standing(self) -> str:
        """How its attempt and its check ended: `check passed (2 passed)`, `did not complete: failed`."""
        if self.outcome is not Outcome.COMPLETED:
            return f"did not complete: {self.outcome.value}"
        return "not checked" if self.check is None else f"check {self.check.label()}"

    def reasons(self) -> tuple[str, ...]:
        """The facts the rule ranked it by, in the rule's order."""
        from lfgtui.cost.prices import format_usd

        return (
            self.standing(),
            "no diff" if self.diff is None else f"diff {self.diff.label()}",
            f"cost {format_usd(self.metrics.cost_usd, self.metrics.cost_estimated)}",
            f"wall time {self.wall()}",
        )

    def wall(self) -> str:
        return "-" if self.wall_s is None else f"{self.wall_s:.1f}s"

    def row(self) -> tuple[str, ...]:
        """A row of the table: ticket, model, check (or how the attempt ended, when it did not
        complete), diff, TTFT, tok/s, tokens, cost, prompt cache hit rate, wall time."""
        check = self.outcome.value if self.check is None else self.check.label()
        diff = "-" if self.diff is None else self.diff.label()
        _, *measured = compared(self.metrics, self.outcome.value, self.wall())
        return (self.ticket, self.model, check, diff, *measured)


NOT_ASKED = "it was not asked: no contestant completed, so there was nothing to rank"
"""A judge's `judge_error` when the referee made no call to it (tournament/referee.py)."""

TABLE_HEADER = ("contestant", "model", "check", "diff", "TTFT", "tok/s", "tokens", "cost", "cache", "wall")


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


@dataclass(frozen=True)
class Placing:
    """A contestant's place in the ranking and why."""

    ticket: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    """A tournament's result: its contestants (in the file's order), the ranking, best first, and the
    winner (None when no contestant's check passed)."""

    tournament: str
    contestants: tuple[Contestant, ...]
    ranking: tuple[Placing, ...]
    winner: str | None
    judge: str | None = None
    """The judge's ticket (`ID@judge`); None: the tournament has none, the rule ranked."""
    judge_error: str | None = None
    """Why the judge failed (its attempt did not complete, or it answered no valid ranking twice): the
    ranking is then the rule's. None when it ranked, or there is no judge."""
    labels: tuple[tuple[str, str], ...] = ()
    """(label, contestant's ticket) for each neutral label the judge saw, in label order."""
    run_id: str | None = None
    """The recorded run it is a verdict of, which `lfg land` lands the winner from; None when the run
    is not recorded (`--no-history`)."""

    def contestant(self, ticket: str) -> Contestant:
        return next(c for c in self.contestants if c.ticket == ticket)

    def land_command(self) -> str | None:
        """The command that lands the winner: `lfg land RUN TICKET` for a recorded run (`M` on the
        verdict does the same); else, since `lfg land` reads the history, the git commands that take
        its work into the branch checked out in the repository the run started from: merge the commit
        its check ran on (else commit its worktree on its branch, then merge that branch). None
        without a winner in a worktree."""
        if self.winner is None:
            return None
        winner = self.contestant(self.winner)
        if winner.worktree is None or winner.branch is None or winner.repo is None:
            return None
        if self.run_id is not None:
            return f"lfg land {shlex.quote(self.run_id)} {shlex.quote(self.winner)}"
        tree, repo = shlex.quote(winner.worktree), shlex.quote(winner.repo)
        message = shlex.quote(f"lfg: {self.winner}")
        if winner.snapshot is not None:  # what its check ran on, not what its worktree holds now
            return f"git -C {repo} merge -m {message} {shlex.quote(winner.snapshot)}"
        commit = f"git -C {tree} add -A && git -C {tree} commit -m {message}"
        return f"{commit} && git -C {repo} merge {shlex.quote(winner.branch)}"

    def label_of(self, ticket: str) -> str | None:
        """The label the judge saw a contestant under; None without a judge."""
        return next((label for label, labelled in self.labels if labelled == ticket), None)

    @property
    def judged(self) -> bool:
        """Whether the ranking is the judge's."""
        return self.judge is not None and self.judge_error is None

    def ranked_by(self) -> str:
        """Who ranked, in words: the judge, or the rule (and why the judge did not)."""
        if self.judged:
            return f"the judge {self.judge}, on the diffs and checks under neutral labels"
        rule = "the rule: check passed, then the smaller diff, the cost, the wall time"
        if self.judge is None:
            return rule
        if self.judge_error == NOT_ASKED:
            return f"{rule} (the judge {self.judge} {self.judge_error})"
        return f"{rule} (the judge {self.judge} failed: {self.judge_error})"

    def overruled(self) -> str | None:
        """Why the judge's first pick does not win (it did not complete, or its check failed), in
        words; None when it wins, or the judge did not rank."""
        if not self.judged or not self.ranking:
            return None
        pick = self.contestant(self.ranking[0].ticket)
        if pick.passed:
            return None
        why = f"{pick.standing()}, and only a passed check wins"
        return f"the judge's pick {pick.ticket} was overruled: {why}"

    def summary(self) -> str:
        """One line: who won, or that nobody did (and that the judge failed, or its pick was
        overruled, when it was)."""
        failed = "was not asked" if self.judge_error == NOT_ASKED else "failed"
        notes = "" if self.judge is None or self.judged else f"; the judge {self.judge} {failed}"
        notes += "" if (why := self.overruled()) is None else f"; {why}"
        if self.winner is None:
            return f"tournament {self.tournament}: no winner, no contestant passed its check{notes}"
        count = plural(len(self.contestants), "contestant")
        by = f", ranked by {self.judge}{notes}" if self.judged else notes
        return f"tournament {self.tournament}: {self.winner} wins of {count}{by}"

    def by_judge(
        self, judge: str, labels: tuple[tuple[str, str], ...], ranked: tuple[Placing, ...]
    ) -> Verdict:
        """This verdict (the rule's) as the judge ranked it: `ranked` already mapped back to tickets;
        the winner is its first contestant that passed (none passed: no winner), whatever the judge
        said of the others."""
        passed = {c.ticket for c in self.contestants if c.passed}
        winner = next((placing.ticket for placing in ranked if placing.ticket in passed), None)
        return replace(self, ranking=ranked, winner=winner, judge=judge, labels=labels)

    def judge_failed(self, judge: str, labels: tuple[tuple[str, str], ...], why: str) -> Verdict:
        """This verdict (the rule's) with the judge that failed, and why."""
        return replace(self, judge=judge, judge_error=why, labels=labels)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRan(RunFact):
    """A contestant's check has ended (tournament/referee.py): `ticket` and `attempt` are the attempt
    it checked, `t` when it ended."""

    result: CheckResult


@dataclass(frozen=True, slots=True, kw_only=True)
class VerdictDecided(RunFact):
    """A tournament's verdict, decided at `t`: `ticket` is the tournament (the id written in the
    file), `attempt` 0 (a verdict is of no one attempt)."""

    verdict: Verdict


FACTS: tuple[type[RunFact], ...] = (CheckRan, VerdictDecided)
"""Every fact of the run (events.py `RunFact`): tests/test_translations.py holds every consumer of
events to say what it does with each."""
