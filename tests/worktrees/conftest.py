"""The container engines' fixtures, for the container box's tests (tests/support/engines.py)."""

from tests.support.engines import box, dockerd, engine  # noqa: F401 (fixtures)
