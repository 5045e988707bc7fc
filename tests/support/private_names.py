"""The private names of lfg's dependencies that lfgtui/ uses, found in its source, and the register
(docs/dependencies.md) that says what each replaces: tests/test_private_names.py compares the two.

A use is an import from a dependency's private module (or of a private name); a private name read or
assigned on something of a dependency's (`getattr(x, "_name")` too); or a private method overridden,
or reached through `self`, in a class whose bases outside lfg define it. A name read on an object not
`self` counts as lfg's own when lfgtui defines it in the same module or in one the module imports
(outside the names its classes take over from a dependency); a class's bases are resolved by
importing its module. Not seen: a private name reached by a string built at run time, or an object's
whole state copied (`vars(copy).update(vars(table))` in `_MeasuredTable.of`, noted in the register).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import typing
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lfgtui"
REGISTER = ROOT / "docs" / "dependencies.md"


@dataclass(frozen=True)
class Use:
    module: str  # lfgtui.ui.markdown.render
    name: str  # the private name read, `_render`, or an import's whole dotted name
    where: str  # the class or function using it, `OpenTable.render`


@dataclass(frozen=True)
class Entry:
    """One section of the register: its rows (a name, a module, the functions using it) and fields."""

    title: str
    rows: tuple[tuple[str, str, frozenset[str]], ...]
    fields: dict[str, str]


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def ours(module: str) -> bool:
    return module == "lfgtui" or module.startswith("lfgtui.")


@cache
def defined_by(cls: type) -> frozenset[str]:
    """What a class outside lfgtui defines: its attributes, and what its methods assign to `self`."""
    names = set(vars(cls))
    node = class_node(cls)
    for each in ast.walk(node) if node is not None else ():
        if isinstance(each, ast.Attribute) and isinstance(each.ctx, ast.Store) and of_self(each):
            names.add(each.attr)
    return frozenset(names)


def class_node(cls: type) -> ast.ClassDef | None:
    """`cls`'s definition in its module's source, found by its qualified name (None where no source
    says it, or a class made in a function); inspect.getsource would parse the whole file again for
    each class, several hundred parses of textual's and the SDKs' modules."""
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        return None
    body = parsed(path).body if path else []
    found = None
    for name in cls.__qualname__.split("."):
        found = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == name), None)
        if found is None:
            return None
        body = found.body
    return found


@cache
def parsed(path: str) -> ast.Module:
    try:
        return ast.parse(Path(path).read_bytes(), path)
    except (OSError, SyntaxError):
        return ast.Module([], [])


def of_self(node: ast.Attribute) -> bool:
    """Whether `node` is `self.x`, `cls.x` or `super().x`."""
    value = node.value
    if isinstance(value, ast.Name):
        return value.id in ("self", "cls")
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super"


def inherited(bases: list[type]) -> frozenset[str]:
    """The names the classes outside lfgtui among `bases` and their ancestors define."""
    mro = {cls for base in bases for cls in base.__mro__}
    found = [defined_by(cls) for cls in mro if not ours(cls.__module__) and cls.__module__ != "builtins"]
    return frozenset().union(*found)


class Module:
    """One module of lfgtui, parsed, with what each of its classes inherits from outside lfgtui."""

    def __init__(self, path: Path) -> None:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        self.name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        self.tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        self.nodes = list(ast.walk(self.tree))  # walked once: every question below reads this list
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node
        self.inherited = {
            node: inherited(self.bases(node)) for node in self.nodes if isinstance(node, ast.ClassDef)
        }

    def bases(self, node: ast.ClassDef) -> list[type]:
        namespace = dict(vars(importlib.import_module(self.name)))
        function = self.enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        if function is not None:  # a class made in a function: its bases may be imported there
            imports = [each for each in ast.walk(function) if isinstance(each, (ast.Import, ast.ImportFrom))]
            exec(compile(ast.Module(imports, []), self.name, "exec"), namespace)
        found = []
        for base in node.bases:
            value = eval(ast.unparse(base), namespace)
            value = typing.get_origin(value) or value
            if value in (typing.NamedTuple, typing.TypedDict):
                continue  # typing's makers of plain classes
            assert isinstance(value, type), f"{self.name}: {node.name}'s base {ast.unparse(base)} is no class"
            found.append(value)
        return found

    def enclosing(self, node: ast.AST, kinds: tuple[type[ast.AST], ...] = (ast.ClassDef,)) -> ast.AST | None:
        while (node := self.parent.get(node)) is not None:  # type: ignore[assignment]
            if isinstance(node, kinds):
                return node
        return None

    def where(self, node: ast.AST) -> str:
        names = []
        while (node := self.parent.get(node)) is not None:  # type: ignore[assignment]
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                names.append(node.name)
        return ".".join(reversed(names))

    def own(self) -> set[str]:
        """The private names this module defines, not those its classes take over from a dependency."""
        names = set()
        for node in self.nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = node.name
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                name = node.id
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and of_self(node):
                name = node.attr
            elif isinstance(node, ast.alias):
                name = (node.asname or node.name).split(".")[0]
            else:
                continue
            cls = self.enclosing(node)
            if private(name) and (cls is None or name not in self.inherited[cls]):  # type: ignore[index]
                names.add(name)
        return names

    def imports(self) -> set[str]:
        """The lfgtui modules (and names in them) this module imports."""
        found = set()
        for node in self.nodes:
            if isinstance(node, ast.ImportFrom) and node.module and ours(node.module):
                found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if ours(alias.name)}
        return found

    def uses(self, visible: set[str]) -> list[Use]:
        found = []
        for node in self.nodes:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and not ours(node.module):
                hidden = any(private(part) for part in node.module.split("."))
                for alias in node.names:
                    if hidden or private(alias.name):
                        found += self.import_uses(node, alias, f"{node.module}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if not ours(alias.name) and any(private(part) for part in alias.name.split(".")):
                        found += self.import_uses(node, alias, alias.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and private(node.name):
                cls = self.parent.get(node)
                if isinstance(cls, ast.ClassDef) and node.name in self.inherited[cls]:
                    found.append(Use(self.name, node.name, f"{self.where(node)}.{node.name}".lstrip(".")))
            elif isinstance(node, ast.Attribute) and private(node.attr):
                found += self.attribute_use(node, node.value, node.attr, visible)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BY_NAME:
                named = node.args[1] if len(node.args) > 1 else None
                if isinstance(named, ast.Constant) and isinstance(named.value, str) and private(named.value):
                    found += self.attribute_use(node, node.args[0], named.value, visible)
        return found

    def attribute_use(self, node: ast.AST, value: ast.expr, name: str, visible: set[str]) -> list[Use]:
        """`value.name`: a dependency's if `value` is `self` in a class whose bases outside lfgtui
        define `name`, or another object and lfgtui defines no `name` the module can see."""
        cls = self.enclosing(node)
        if of_self(ast.Attribute(value=value, attr=name)) and isinstance(cls, ast.ClassDef):
            return [Use(self.name, name, self.where(node))] if name in self.inherited[cls] else []
        return [] if name in visible else [Use(self.name, name, self.where(node))]

    def import_uses(self, node: ast.AST, alias: ast.alias, name: str) -> list[Use]:
        """Where an imported private name is used: the function importing it, else each reference."""
        if self.enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef)) is not None:
            return [Use(self.name, name, self.where(node))]
        bound = alias.asname or alias.name.split(".")[0]
        return [
            Use(self.name, name, self.where(each))
            for each in self.nodes
            if isinstance(each, ast.Name) and each.id == bound
        ]

    def references(self, name: str) -> set[str]:
        """Where this module names `name` (a public name): the classes and functions that do."""
        return {
            self.where(node)
            for node in self.nodes
            if (isinstance(node, ast.Attribute) and node.attr == name)
            or (isinstance(node, ast.Name) and node.id == name)
        }


@cache
def modules() -> dict[str, Module]:
    return {module.name: module for module in map(Module, sorted(PACKAGE.rglob("*.py")))}


@cache
def scan() -> frozenset[Use]:
    """Every use of a dependency's private name in lfgtui/."""
    own = {name: module.own() for name, module in modules().items()}
    found: set[Use] = set()
    for module in modules().values():
        visible = own[module.name].union(*(own[m] for m in module.imports() if m in own))
        found |= set(module.uses(visible))
    return frozenset(found)


BY_NAME = frozenset({"getattr", "setattr", "hasattr", "delattr"})
"""Built-ins that read or write an attribute named by a string."""

ROW = re.compile(r"^\| `(?P<name>[\w.]+)` \| `(?P<path>lfgtui/[\w/]+\.py)`: (?P<where>.+) \|$")
FIELD = re.compile(r"^- \*\*(?P<field>[^*]+):\*\* (?P<text>.*)$")
FIELDS = ("Dependency", "What lfg does with it", "Why", "Upstream", "Pinned by")


def register(text: str | None = None) -> list[Entry]:
    """The register's sections, each with its rows and its fields (a field's text runs on over the
    indented lines after it)."""
    text = REGISTER.read_text(encoding="utf-8") if text is None else text
    entries = []
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title, *lines = section.splitlines()
        rows, fields, field = [], {}, None
        for line in lines:
            if (row := ROW.match(line)) is not None:
                rows.append(
                    (row["name"], module_of(row["path"]), frozenset(re.findall(r"`([\w.]+)`", row["where"])))
                )
            elif (found := FIELD.match(line)) is not None:
                field = found["field"]
                fields[field] = found["text"]
            elif field is not None and line.startswith("  "):
                fields[field] += " " + line.strip()
            else:
                field = None
        entries.append(Entry(title, tuple(rows), fields))
    return entries


def module_of(path: str) -> str:
    """`lfgtui/ui/app.py` as the module it is, `lfgtui.ui.app`."""
    return path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")


BUDGET = re.compile(r"a budget of \*\*(?P<names>\d+) names\*\*")
OVER = re.compile(
    r"^- Over the budget: `(?P<name>[\w.]+)` \(`(?P<path>lfgtui/[\w/]+\.py)`\): (?P<why>.*)$", re.MULTILINE
)


@dataclass(frozen=True)
class Budget:
    """The rows the register may hold (#63): `names`, and one more for each line `over` it, which names
    the row it adds (its name and module) and says why it cannot be avoided."""

    names: int
    over: tuple[tuple[str, str, str], ...]

    def allows(self) -> int:
        return self.names + len(self.over)


def budget(text: str | None = None) -> Budget:
    """The budget the register's opening states, and the lines over it."""
    text = REGISTER.read_text(encoding="utf-8") if text is None else text
    opening = re.split(r"^## ", text, flags=re.MULTILINE)[0]
    stated = BUDGET.search(opening)
    assert stated is not None, "docs/dependencies.md states no budget (a budget of **N names**)"
    over = tuple((line["name"], module_of(line["path"]), line["why"]) for line in OVER.finditer(opening))
    return Budget(int(stated["names"]), over)


def matches(row_name: str, use: Use) -> bool:
    """Whether a register row's dotted name is the name a use found: the same import, or a name read
    ending the row's (`rich.table.Table._render` for `_render`)."""
    return row_name == use.name or row_name.endswith("." + use.name)
