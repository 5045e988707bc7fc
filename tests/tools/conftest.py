"""The container engines' fixtures for the box tests here (tests/support/engines.py)."""

from tests.support.engines import dockerd, engine  # noqa: F401 (fixtures)
