"""No function in lfgtui/ is over `MOST_LINES` lines (#63): one that long holds several jobs, each of
which reads better as a function that names it (as the sim agent's options became a function per
concern, `lfgtui/sim/acp_agent.py` `build_parser`, once 268 lines)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "lfgtui"
MOST_LINES = 150
"""From a function's `def` to its last line, its docstring and nested functions counted."""


def lengths(source: str) -> dict[str, int]:
    """Each function's lines in `source`, by its name (a method as `Class.method`)."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                assert child.end_lineno is not None
                found[f"{prefix}{child.name}"] = child.end_lineno - child.lineno + 1
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_no_function_in_lfgtui_is_over_150_lines() -> None:
    measured = {
        f"{path.relative_to(PACKAGE.parent)}::{name}": lines
        for path in sorted(PACKAGE.rglob("*.py"))
        for name, lines in lengths(path.read_text(encoding="utf-8")).items()
    }
    assert "lfgtui/sim/acp_agent.py::build_parser" in measured, "every module is read"
    assert {name: lines for name, lines in measured.items() if lines > MOST_LINES} == {}


def test_a_method_and_a_nested_function_are_measured() -> None:
    source = "class A:\n    async def b(self):\n        def c():\n            pass\n\n        return c\n"
    assert lengths(source) == {"A.b": 5, "A.b.c": 2}
