"""MkDocs hook: the layer picture of docs/architecture.md, drawn from lfgtui's import graph at build.

`<!-- lfg-layers -->` becomes the rooms of `lfgtui/` (its packages and loose modules) by floor, from
the top down: a room's floor is one above the highest floor of what it imports, so every arrow points
down, and what shares a floor imports nothing of its floor. The graph is the one
`tests/test_imports.py` checks (this module is where it is read), so the picture cannot drift from the
code: a new import that reaches up moves a room, and a circle fails the tests before the docs.

Counted: every import, at a module's top level, under `if TYPE_CHECKING:` and inside functions, since
a type-only import is still a dependency a reader follows, and importing a module late (how a command
loads only what it needs) still depends on it. Not counted: a module's own packages (Python loads
those first anyway).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2] / "lfgtui"
LAYERS_MARK = "<!-- lfg-layers -->"


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package under `root`, by its dotted name."""
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def every_import(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    yield from (node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom))


def dependencies(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that module `name` (at `path`) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str] = []
    for node in every_import(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:  # `from package import module` depends on the module
            targets.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    ancestors = {name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)}
    return {t for t in targets if t in known and t != name and t not in ancestors}


def room(name: str) -> str:
    """The first level under lfgtui/ that `name` is in: a package, or a loose module."""
    return ".".join(name.split(".")[:2])


def room_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each room of the package and the other rooms it imports."""
    known = modules(root)
    graph: dict[str, set[str]] = {room(name): set() for name in known if name != root.name}
    for name, path in known.items():
        if name == root.name:
            continue
        graph[room(name)] |= {room(other) for other in dependencies(name, path, known) if other != root.name}
    for name, imported in graph.items():
        imported.discard(name)
    return graph


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """Each room's floor: 0 for one that imports no other room, else one above its highest import.
    The graph must have no circle (`tests/test_imports.py` checks)."""
    found: dict[str, int] = {}

    def floor(name: str) -> int:
        if name not in found:
            found[name] = 1 + max((floor(other) for other in graph[name]), default=-1)
        return found[name]

    for name in graph:
        floor(name)
    return found


def picture(root: Path = ROOT) -> str:
    """The rooms by floor, top floor first, as a code block: a package ends in `/`, a module in `.py`."""
    graph = room_graph(root)
    by_floor: dict[int, list[str]] = {}
    for name, level in floors(graph).items():
        short = name.split(".", 1)[1]
        by_floor.setdefault(level, []).append(f"{short}/" if (root / short).is_dir() else f"{short}.py")
    rows = [f" {level:>2}  {'  '.join(sorted(by_floor[level]))}" for level in sorted(by_floor, reverse=True)]
    return "```\n floor  rooms (each imports only from the floors below it)\n" + "\n".join(rows) + "\n```"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return markdown.replace(LAYERS_MARK, picture()) if LAYERS_MARK in markdown else markdown
