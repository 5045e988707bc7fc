"""How a tournament is decided: a check's test counts, and the rule's ranking
(the data it ranks, `Contestant` and `Verdict`, is in lfgtui/contest.py).

The rule, without a judge: a contestant whose attempt completed before one that did not; then one
whose check passed; then the smaller diff (lines added and removed); then the lower cost; then the
shorter wall time; then the order of the tickets file. The winner is the first, when its check
passed: a tournament no contestant passed has no winner.

With a judge (judge.py), its ranking replaces the rule's, and the winner is the judge's first
contestant that completed and passed its check: a judge's pick that failed its check (or did not
complete) never wins, whatever the judge says, and the verdict says why it was overruled (`overruled`);
no contestant passed, no winner. A judge that fails leaves the rule's ranking, and the verdict says
why it failed.
"""

from __future__ import annotations

import re

from lfgtui.contest import Contestant, Placing, SuiteCounts, Verdict

_PYTEST = re.compile(r"^=*\s*(\d+ \w+(?:, \d+ \w+)*) in [\d.]+s", re.MULTILINE)
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)
_UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \(([^)]*)\))?\s*$", re.MULTILINE)


def suite_counts(output: str) -> SuiteCounts | None:
    """The counts in the last pytest or unittest summary of a check's output; None when it has none."""
    found: SuiteCounts | None = None
    at = -1
    for match in _PYTEST.finditer(output):
        counts = dict.fromkeys(("passed", "failed", "errors", "skipped"), 0)
        for count, word in _PYTEST_COUNT.findall(match.group(1)):
            key = {"error": "errors", "xfailed": "skipped", "xpassed": "passed"}.get(word, word)
            counts[key] += int(count)
        found, at = SuiteCounts(**counts), match.start()
    for ran in _UNITTEST_RAN.finditer(output):
        end = _UNITTEST_END.search(output, ran.end())
        if end is None or ran.start() < at:
            continue
        said = dict(
            (key.strip(), int(value))
            for key, _, value in (item.partition("=") for item in (end.group(2) or "").split(","))
            if value.strip().isdigit()
        )
        failed, errors = said.get("failures", 0), said.get("errors", 0)
        skipped = said.get("skipped", 0) + said.get("expected failures", 0)
        passed = int(ran.group(1)) - failed - errors - skipped
        found, at = SuiteCounts(max(passed, 0), failed, errors, skipped), ran.start()
    return found


def rank(tournament: str, contestants: tuple[Contestant, ...]) -> Verdict:
    """The verdict by the rule (module docstring); the sort is stable, so ties keep the file's order."""
    ranked = sorted(contestants, key=Contestant.rule_key)
    ranking = tuple(Placing(c.ticket, c.reasons()) for c in ranked)
    winner = ranked[0].ticket if ranked and ranked[0].passed else None
    return Verdict(tournament, contestants, ranking, winner)
