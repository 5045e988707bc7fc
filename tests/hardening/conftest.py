"""The boxes' fixtures, for the hostile tests that run in each box (tests/support/engines.py)."""

from tests.support.engines import box, dockerd, engine  # noqa: F401 (fixtures)
