"""The TUI's bindings as the docs' key reference lists them (docs/hooks/reference.py `screens`), for
the tests that check each key's one text (tests/ui/test_key_texts.py) and each request's key
(tests/ui/test_requests.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from textual.binding import Binding


def reference_hook() -> ModuleType:
    """docs/hooks/reference.py, loaded as the site's build loads it."""
    path = Path(__file__).parents[2] / "docs" / "hooks" / "reference.py"
    spec = importlib.util.spec_from_file_location("docs_reference_keys", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documented_bindings() -> list[tuple[str, Binding]]:
    """Every binding of every screen the key reference lists, with the screen's title."""
    return [(title, binding) for title, bindings in reference_hook().screens() for binding in bindings]


def bindings_by_id() -> dict[str, Binding]:
    """Those bindings by id (one without an id by its action)."""
    return {binding.id or binding.action: binding for _, binding in documented_bindings()}
