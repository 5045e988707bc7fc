"""tests/support/slow.txt, the list of slow tests, names tests that exist: a test renamed or moved would
otherwise drop out of the list unseen and slow the fast subset (`pytest -m "not slow"`) down."""

from __future__ import annotations

import importlib
from pathlib import Path

from tests.support import markers

ROOT = Path(__file__).parents[1]


def test_each_slow_test_listed_exists() -> None:
    assert markers.SLOW
    assert [nodeid for nodeid in sorted(markers.SLOW) if not exists(nodeid)] == []


def exists(nodeid: str) -> bool:
    """Whether `path::function` (or `path::Class::method`) names a test function."""
    path, *names = nodeid.split("::")
    if not (ROOT / path).is_file():
        return False
    found: object = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    for name in names:
        found = getattr(found, name, None)
    return callable(found) and names[-1].startswith("test")
