"""An npm agent's `engines.node` read as npm writes it, so a Node too old is named at install and a
range lfg cannot read is said to be unreadable rather than taken as met."""

from __future__ import annotations

import pytest

from lfgtui.agents_registry.node import parse_version, satisfies


@pytest.mark.parametrize(
    ("node", "wanted", "fits"),
    [
        ("v20.20.2", ">=22", False),
        ("v22.0.0", ">=22", True),
        ("v22.11.0", ">=22.12.0", False),
        ("v20.20.2", "^20.10.0", True),
        ("v21.0.0", "^20.10.0", False),
        ("v20.1.0", ">=18 <21", True),
        ("v22.1.0", ">= 18 < 21", False),
        ("v20.0.0", "18.x || 20.x", True),
        ("v19.0.0", "18.x || 20.x", False),
        ("v18.2.9", "~18.2", True),
        ("v18.3.0", "~18.2", False),
        ("v25.0.0", "*", True),
        ("v20.0.0", "lts/iron", None),
    ],
)
def test_a_node_version_is_held_to_an_npm_engines_range(node: str, wanted: str, fits: bool | None) -> None:
    version = parse_version(node)
    assert version is not None
    assert satisfies(version, wanted) is fits
