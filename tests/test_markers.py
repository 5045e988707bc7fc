"""The tiers' records name tests that exist: a test renamed or moved would otherwise drop out of
tests/support/durations.json or slow.txt unseen and slow the fast subset (`pytest -m "not slow"`)
down; slow.txt holds only tests the record has not measured; and CONTRIBUTING.md quotes the tiers as
the record measured them, or its figures would go stale as they once did."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from tests.support import durations, markers

ROOT = Path(__file__).parents[1]


def test_each_slow_test_listed_exists() -> None:
    assert markers.SLOW
    assert [nodeid for nodeid in sorted(markers.SLOW) if not exists(nodeid)] == []


def test_each_recorded_test_exists() -> None:
    assert markers.RECORD, "tests/support/durations.json: record a full run (tests/support/durations.py)"
    assert [name for name in sorted(markers.RECORD) if not exists(name)] == []


def test_slow_txt_holds_only_tests_the_record_has_not_measured() -> None:
    """The record marks what it measured; a line of slow.txt it also measured is one that recording
    would have dropped (`durations.prune_listed`), left from before."""
    assert sorted(durations.listed_slow() & markers.RECORD.keys()) == []


SUITE_FIGURE = re.compile(r"\b\d[\d,.]* (?:tests?|minutes?|seconds?|s)\b")
"""A count of tests or a time, as CONTRIBUTING once quoted them ("About 1,490 of the 2,170 tests",
"63 s", "21 minutes"): stale within days, as nothing checked them."""


def test_contributing_quotes_the_tiers_as_the_record_measured_them() -> None:
    text = " ".join((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8").split())
    said = [tier.said() for tier in durations.tiers(markers.RECORD).values()]
    assert [quote for quote in said if quote not in text] == [], "CONTRIBUTING.md: say the tiers as recorded"
    stray = [figure for figure in SUITE_FIGURE.findall(text) if not any(figure in quote for quote in said)]
    assert stray == [], "CONTRIBUTING.md quotes a figure of the suite that the record does not keep true"
    assert SUITE_FIGURE.findall("About 1,490 of the 2,170 tests, 63 s, 21 minutes") == [
        "2,170 tests",
        "63 s",
        "21 minutes",
    ]


def exists(nodeid: str) -> bool:
    """Whether `path::function` (or `path::Class::method`) names a test function."""
    path, *names = nodeid.split("::")
    if not (ROOT / path).is_file():
        return False
    found: object = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    for name in names:
        found = getattr(found, name, None)
    return callable(found) and names[-1].startswith("test")
