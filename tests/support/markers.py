"""The suite's markers (registered in pyproject.toml), given in one place (tests/conftest.py applies them
at collection) rather than in each test file, so that `pytest -m "not slow"` and the like select by what a
test needs or costs.

- `redis`: starts a real redis-server (tests/broker, or a broker fixture elsewhere).
- `real_agents`: drives the real coding agents from npm (tests/real_agents).
- `browser`: drives Chromium through Playwright (its skip condition names Chromium).
- `snapshot`: compares an SVG screenshot of the app (pytest-textual-snapshot's `snap_compare`).
- `hypothesis`: a property test (hypothesis generates its examples).
- `slow`: every test of the kinds that are slow as a whole (the real agents, the browser), plus each
  test listed in slow.txt beside this file, measured over `SLOW_S` seconds on the loaded two-core CI
  machine (except tests/test_imports.py: the layering rules every change must keep).
"""

from __future__ import annotations

from pathlib import Path

import pytest

SLOW_KINDS = frozenset({"real_agents", "browser"})
"""Kinds whose every test counts as slow: each starts Chromium or Node agents."""

REDIS_FIXTURES = frozenset({"redis_server", "start_redis", "fleet"})

SLOW_S = 0.5
"""The threshold slow.txt was measured against: setup, call and teardown, in a full run with -n 2."""

SLOW = frozenset(
    line
    for line in (Path(__file__).parent / "slow.txt").read_text().splitlines()
    if line and not line.startswith("#")
)
"""Tests (by file and function, every parametrization included) measured over `SLOW_S`."""


def kinds(item: pytest.Item) -> set[str]:
    """The markers one collected test gets from where it lives and what it uses."""
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
    if found & SLOW_KINDS or item.nodeid.split("[", 1)[0] in SLOW:
        found.add("slow")
    return found


def apply(items: list[pytest.Item]) -> None:
    for item in items:
        for name in sorted(kinds(item)):
            item.add_marker(name)
