"""The README's test command installs `.[test]` and nothing else: every package a test imports must
come with the `test` extra (or lfg itself), not only with another extra a contributor may not have."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

CLONE = Path(__file__).parents[1]


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wanted(requirements: list[str], extras: frozenset[str]) -> list[Requirement]:
    """The requirements that apply with `extras` asked for (none: those without an extra's marker)."""
    chosen = []
    for written in requirements:
        requirement = Requirement(written)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras or {""}):
            chosen.append(requirement)
    return chosen


def installed_with_the_test_extra() -> set[str]:
    """The distributions `pip install -e '.[test]'` brings: lfg's own requirements and its `test`
    extra's, read from pyproject.toml (the installed metadata may predate an edit), then theirs."""
    project = tomllib.loads((CLONE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    found: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(written) for written in project["dependencies"]]
    asked, done = ["test"], set()
    while asked:  # `lfgtui[broker]` in the test extra asks for another extra of lfg's own
        extra = asked.pop()
        done.add(extra)
        for written in extras[extra]:
            requirement = Requirement(written)
            if normal(requirement.name) == "lfgtui":
                asked += [more for more in requirement.extras if more not in done]
            else:
                todo.append(requirement)
    while todo:
        requirement = todo.pop()
        key = (normal(requirement.name), frozenset(requirement.extras))
        if key in found:
            continue
        found.add(key)
        try:
            theirs = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += wanted(theirs, key[1])
    return {name for name, _ in found}


def imported_by_the_tests() -> dict[str, set[str]]:
    """Each third-party module the tests import, at any depth, with the files that import it."""
    found: dict[str, set[str]] = {}
    for path in (CLONE / "tests").rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("lfgtui", "tests"):
                    found.setdefault(top, set()).add(str(path.relative_to(CLONE)))
    return found


def test_every_package_a_test_imports_comes_with_the_test_extra() -> None:
    installed = installed_with_the_test_extra()
    by_module = metadata.packages_distributions()
    missing = {
        module: sorted(files)
        for module, files in imported_by_the_tests().items()
        if not {normal(dist) for dist in by_module.get(module, [])} & installed
    }
    assert missing == {}, "add their distributions to the test extra in pyproject.toml"
