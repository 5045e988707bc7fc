"""The private dockerd, for `lfg agents --check`'s line on a docker box (tests/support/engines.py)."""

from tests.support.engines import dockerd  # noqa: F401 (a fixture)
