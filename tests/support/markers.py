"""The suite's markers (registered in pyproject.toml), given in one place (tests/conftest.py applies them
at collection) rather than in each test file, so that `pytest -m "not slow"` and the like select by what a
test needs or costs.

- `redis`: starts a real redis-server (tests/broker, or a broker fixture elsewhere).
- `real_agents`: drives the real coding agents from npm (tests/real_agents).
- `browser`: drives Chromium through Playwright (its skip condition names Chromium).
- `snapshot`: compares an SVG screenshot of the app (pytest-textual-snapshot's `snap_compare`).
- `hypothesis`: a property test (hypothesis generates its examples).
- `slow`: every test of the kinds that are slow as a whole (the real agents, the browser), each test
  the last recorded run measured over `SLOW_S` (durations.py), each test the record has not measured
  (added since: what it costs is unknown until a recorded run measures it, so the fast subset never
  runs a test unmeasured), and each using a fixture of `SHARED_SLOW_FIXTURES`.
- `unit`: a test the last recorded run measured at `UNIT_S` or less per item (durations.py): the tier
  to run while you edit.

And `timeout` (pytest-timeout's), where a test names none: `TIMEOUT_MARGIN` times what the record
measured of it, when that passes the suite's default (pyproject.toml): a test measured at 31 s on
the loaded CI machine had less than twice that before a slower run there failed it as hung.

And `xdist_group`, for a wide run (`-n 6 --dist loadgroup`, the README's test command): the tests that
share a setup wider than one test (`SHARED_FIXTURES`) run on one worker, which pays that setup once.
Under it the tests are handed out longest first (`longest_first`), so that no long test starts
last and leaves the other workers idle at the end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest

from tests.support import durations
from tests.support.patience import PATIENCE

SLOW_KINDS = frozenset({"real_agents", "browser"})
"""Kinds whose every test counts as slow: each starts Chromium or Node agents."""

REDIS_FIXTURES = frozenset({"redis_server", "start_redis", "fleet"})
SHARED_SLOW_FIXTURES = frozenset({"private_uses"})
"""Session fixtures whose one setup takes over `SLOW_S` (`private_uses` imports and parses all of
lfgtui/): the record charges it to whichever test ran first and reads the others as instant, so
every test using one counts as slow, or the unit tier would pay it through a test measured at 4 ms."""

TIMEOUT_MARGIN = 4
DEFAULT_TIMEOUT_S = 60
"""pyproject.toml's `timeout`: what a test that names none gets, unless its record asks more."""
SHARED_SETUP_TIMEOUT_S = 240
"""A test using a fixture of `SHARED_SLOW_FIXTURES` (`private_uses`: 13 s recorded on CI, 45 s on a
machine at load 10, where the default failed it)."""

SHARED_FIXTURES = {
    "tests/test_private_names.py::private_uses": "session",
    "tests/commands/test_history.py::recorded": "module",
    "dockerd": "module",
    "engine": "module",
    "box": "module",
}
"""The suite's fixtures wider than one test (`path::name` where a test module defines one, the name
alone for tests/support's), and what they are shared by: a test using one is in that fixture's group
(the fixture for a session's, its module for a module's), so that a wide run sets each up once rather
than once per worker (`engine` and `box` start their module's `dockerd`). tests/test_markers.py finds
every fixture declared wider than a test and checks it is here."""
EACH_WORKERS_OWN = frozenset({"warm_lfg_started"})
"""Session fixtures every worker sets up for itself on purpose, never grouped: `warm_lfg_started`
(autouse) starts the worker's warm interpreter (tests/support/warm_lfg.py)."""

RECORD = durations.recorded()
SLOW = frozenset(name for name, m in RECORD.items() if m.longest_s > durations.SLOW_S)
"""Tests (by file and function, every parametrization included) measured over `SLOW_S`."""


def kinds(item: pytest.Item, record: Mapping[str, durations.Measured] = RECORD) -> set[str]:
    """The markers one collected test gets from where it lives, what it uses and what `record`
    measured of it."""
    path = item.nodeid.split("::", 1)[0]
    found = set()
    fixtures = set(getattr(item, "fixturenames", ()))
    if path.startswith("tests/broker/") or fixtures & REDIS_FIXTURES:
        found.add("redis")
    if path.startswith("tests/real_agents/"):
        found.add("real_agents")
    if any("Chromium" in str(mark.kwargs.get("reason", "")) for mark in item.iter_markers("skipif")):
        found.add("browser")
    if "snap_compare" in fixtures:
        found.add("snapshot")
    if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
        found.add("hypothesis")
    measured = record.get(durations.function_of(item.nodeid))
    if (
        found & SLOW_KINDS
        or measured is None
        or measured.longest_s > durations.SLOW_S
        or fixtures & SHARED_SLOW_FIXTURES
    ):
        found.add("slow")
    elif measured.longest_s <= durations.UNIT_S and not found & {"redis", "snapshot"}:
        found.add("unit")
    return found


def timeout_s(
    item: pytest.Item, record: Mapping[str, durations.Measured] = RECORD, patience: float = PATIENCE
) -> int | None:
    """The timeout one collected test gets beyond the default: None where it names its own or its
    record is within the default's margin; in a wide run (`patience` over 1: tests/support/patience.py)
    every test gets that many times what it would have, its own or the default too."""
    measured = record.get(durations.function_of(item.nodeid))
    if (own := item.get_closest_marker("timeout")) is not None:
        wanted = float(own.args[0] if own.args else own.kwargs.get("timeout", DEFAULT_TIMEOUT_S))
        return None if patience == 1 else math.ceil(wanted * patience)
    if set(getattr(item, "fixturenames", ())) & SHARED_SLOW_FIXTURES:
        wanted = SHARED_SETUP_TIMEOUT_S  # whichever test runs first pays the setup: the record cannot say
    elif measured is None:
        wanted = DEFAULT_TIMEOUT_S
    else:
        wanted = max(DEFAULT_TIMEOUT_S, math.ceil(measured.longest_s * TIMEOUT_MARGIN))
    return None if wanted == DEFAULT_TIMEOUT_S and patience == 1 else math.ceil(wanted * patience)


def group(item: pytest.Item) -> str | None:
    """The xdist group of a test using a fixture of `SHARED_FIXTURES`, or None."""
    path = item.nodeid.split("::", 1)[0]
    for name in sorted(getattr(item, "fixturenames", ())):
        for shared in (f"{path}::{name}", name):
            if shared in SHARED_FIXTURES:
                return shared if SHARED_FIXTURES[shared] == "session" else path
    return None


def longest_first(
    items: list[pytest.Item], record: Mapping[str, durations.Measured] = RECORD
) -> list[pytest.Item]:
    """The tests by what the record measured of each item, longest first (in collection order where
    equal, and a test not measured as one just over `SLOW_S`): a wide run hands them out in this order,
    so that the last to start are the shortest."""

    def took(item: pytest.Item) -> float:
        measured = record.get(durations.function_of(item.nodeid))
        return durations.SLOW_S if measured is None else measured.total_s / measured.items

    return sorted(items, key=took, reverse=True)


def apply(items: list[pytest.Item]) -> None:
    for item in items:
        for name in sorted(kinds(item)):
            item.add_marker(name)
        if (seconds := timeout_s(item)) is not None:
            item.add_marker(pytest.mark.timeout(seconds), append=False)  # before a test's own
        if (name := group(item)) is not None:
            item.add_marker(pytest.mark.xdist_group(name))
