"""What each test took in the last recorded full run, and the tiers chosen from it.

`LFG_RECORD_DURATIONS=1 python -m pytest -n 2` (a worker a core of the two-core CI machine, not the
README's wider command: tests/support/patience.py) records, for every test function that ran, the
longest of its items and the sum of them (setup, call and teardown each), into durations.json beside
this file. tests/support/markers.py marks from the record:

- `slow`: a function whose longest item took over `SLOW_S`, and one the record has not measured
  (added since): `-m "not slow"` is the fast subset, and it never runs a test unmeasured;
- `unit`: a function none of whose items took over `UNIT_S`, and that needs nothing of the kinds that
  are slow or need a service (no redis, agent, browser or snapshot): `-m unit`, the tier to run while
  you edit, whose recorded time `CONTRIBUTING.md` quotes (and tests/test_markers.py checks).

A record is of one machine on one day: record again on the loaded two-core CI machine, the one the
thresholds were chosen for, when the suite has changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

RECORD = Path(__file__).parent / "durations.json"
RECORDING = "LFG_RECORD_DURATIONS"
"""The variable that makes a run record its durations (any value but empty or 0)."""
SLOW_S = 0.5
"""An item over this (setup, call and teardown, in a full run with -n 2) makes its function slow."""
UNIT_S = 0.05
"""A function whose every item took at most this is in the unit tier (if it needs no service)."""
BUDGET_S_PER_TEST = 0.911
"""The suite's budget: the record's seconds per test (setup to teardown, summed over every test, over
how many), as of the last release. tests/test_markers.py fails when a new record passes it: raise it
only in a commit that says why the suite grew slower per test (a new kind of test, a server that
cannot be shared), and lower it when a record comes in under it."""


@dataclass(frozen=True, slots=True)
class Measured:
    """One test function's items in the recorded run: the longest, the sum, and how many."""

    longest_s: float
    total_s: float
    items: int


def function_of(nodeid: str) -> str:
    """`file::function` (or `file::Class::method`), every parametrization of it one (and without the
    `@group` that `--dist loadgroup` adds to a test of an xdist group)."""
    return nodeid.split("[", 1)[0].split("@", 1)[0]


def recorded(path: Path = RECORD) -> dict[str, Measured]:
    """The record, by function; empty where there is none."""
    if not path.is_file():
        return {}
    return {name: Measured(*values) for name, values in json.loads(path.read_text()).items()}


def measured(reports: Iterable[tuple[str, float]]) -> dict[str, Measured]:
    """Each function's items from (nodeid, seconds) of each phase of each item."""
    items: dict[str, float] = {}
    for nodeid, seconds in reports:
        items[nodeid] = items.get(nodeid, 0.0) + seconds
    found: dict[str, list[float]] = {}
    for nodeid, seconds in items.items():
        found.setdefault(function_of(nodeid), []).append(seconds)
    return {name: Measured(max(each), sum(each), len(each)) for name, each in found.items()}


def write(record: Mapping[str, Measured], path: Path = RECORD) -> None:
    """The record as sorted JSON, a function a line, in ms precision (diffs stay readable)."""
    lines = [
        f"  {json.dumps(name)}: [{m.longest_s:.3f}, {m.total_s:.3f}, {m.items}]"
        for name, m in sorted(record.items())
    ]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


@dataclass(frozen=True, slots=True)
class Tier:
    """A tier's size in the record: its tests (items) and the seconds they took, setup to teardown."""

    tests: int
    seconds: float

    def said(self) -> str:
        """How CONTRIBUTING.md quotes it (and tests/test_markers.py reads it back)."""
        return f"{self.tests:,} tests taking {self.seconds:,.0f} s"


def tiers(record: Mapping[str, Measured]) -> dict[str, Tier]:
    """The unit tier, the fast subset and the whole suite, as the record measured them."""

    def tier(names: Iterable[str]) -> Tier:
        chosen = [record[name] for name in names]
        return Tier(sum(m.items for m in chosen), sum(m.total_s for m in chosen))

    return {
        "unit": tier(name for name, m in record.items() if m.longest_s <= UNIT_S),
        "fast": tier(name for name, m in record.items() if m.longest_s <= SLOW_S),
        "all": tier(record),
    }


class Recorder:
    """The pytest plugin that records a run's durations (registered by tests/conftest.py when
    `RECORDING` is set); under xdist the controller sees every worker's reports and writes once. A
    skipped test is not recorded: its time says nothing of what it costs when it runs."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, float]] = []
        self.skipped: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reports.append((report.nodeid, report.duration))
        if report.skipped:
            self.skipped.add(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput") or not self.reports:  # a worker: the controller writes
            return
        ran = [(nodeid, seconds) for nodeid, seconds in self.reports if nodeid not in self.skipped]
        write(recorded() | measured(ran))


def recording() -> bool:
    return os.environ.get(RECORDING, "") not in ("", "0")
