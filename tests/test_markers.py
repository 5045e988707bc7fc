"""The tiers' record names tests that exist: a test renamed or moved would otherwise drop out of
tests/support/durations.json unseen; a test the record has not measured runs as slow, so the fast
subset (`pytest -m "not slow"`) never runs one whose cost nobody measured (27 once did, two of them
taking 3.6 s and 6.2 s); and CONTRIBUTING.md quotes the tiers as the record measured them, or its
figures would go stale as they once did."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

from tests.support import durations, markers

ROOT = Path(__file__).parents[1]


def test_each_slow_test_listed_exists() -> None:
    assert markers.SLOW
    assert [nodeid for nodeid in sorted(markers.SLOW) if not exists(nodeid)] == []


def test_each_recorded_test_exists() -> None:
    assert markers.RECORD, "tests/support/durations.json: record a full run (tests/support/durations.py)"
    assert [name for name in sorted(markers.RECORD) if not exists(name)] == []


def test_a_test_the_record_has_not_measured_runs_as_slow_until_one_does(
    request: pytest.FixtureRequest,
) -> None:
    """This very test, read against a record without it, one measuring it quick and one slow."""
    name = durations.function_of(request.node.nodeid)
    assert {"slow", "unit"} & markers.kinds(request.node, {}) == {"slow"}
    assert {"slow", "unit"} & markers.kinds(request.node, {name: durations.Measured(0.01, 0.01, 1)}) == {
        "unit"
    }
    at_the_rule = durations.Measured(durations.SLOW_S, durations.SLOW_S, 1)
    assert {"slow", "unit"} & markers.kinds(request.node, {name: at_the_rule}) == set()
    assert "slow" in markers.kinds(request.node, {name: durations.Measured(0.6, 0.6, 1)})


class ScanUser:
    """A collected test as `markers` reads it, using the shared setup `private_uses`."""

    def __init__(self, item: pytest.Item) -> None:
        self.nodeid, self.fixturenames = item.nodeid, ["private_uses"]
        self.get_closest_marker = item.get_closest_marker


def test_a_test_the_record_measured_near_the_default_timeout_gets_a_margin_over_what_it_took(
    request: pytest.FixtureRequest,
) -> None:
    """This very test, read against records: 31 s measured (a loaded CI run failed one such as hung
    at 60 s) gets four times that; 10 s keeps the default, which is pyproject.toml's; one using the
    shared setup gets what that may take; a test naming its own timeout keeps it."""
    name = durations.function_of(request.node.nodeid)
    assert markers.timeout_s(request.node, {name: durations.Measured(31.0, 31.0, 1)}) == 124
    assert markers.timeout_s(request.node, {name: durations.Measured(10.0, 10.0, 1)}) is None
    assert markers.timeout_s(request.node, {}) is None
    pyproject = tomllib.loads(Path("pyproject.toml").read_text())
    assert pyproject["tool"]["pytest"]["ini_options"]["timeout"] == markers.DEFAULT_TIMEOUT_S
    assert markers.timeout_s(ScanUser(request.node), {}) == markers.SHARED_SETUP_TIMEOUT_S
    request.node.add_marker(pytest.mark.timeout(5))
    assert markers.timeout_s(request.node, {name: durations.Measured(31.0, 31.0, 1)}) is None


def test_no_collected_test_the_record_has_not_measured_is_in_the_fast_subset(
    request: pytest.FixtureRequest,
) -> None:
    """Every test this run collected (the whole suite, run as CI runs it) that the record lacks is
    marked slow, and none of them unit."""
    unmeasured = [
        item for item in request.session.items if durations.function_of(item.nodeid) not in markers.RECORD
    ]
    assert [item.nodeid for item in unmeasured if not item.get_closest_marker("slow")] == []
    assert [item.nodeid for item in unmeasured if item.get_closest_marker("unit")] == []


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
