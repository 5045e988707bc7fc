"""No import circles in lfgtui: each module can be read knowing only what it imports. And nothing reaches
up: what does one job for others (every package and module but the UI and the command line) never
imports the UI or the command line, the UI never imports the command line, and the engine (run/) never
imports the UI, a command, remote/, telemetry/ or the history (watching a run, exporting its telemetry
and recording it are built on the engine, not in it: the history reads a recorded run back itself). The
input layer (config/: config.toml, its checks, and the settings of the broker, telemetry and MCP
servers) never imports the features it configures, nor the engine or the history, so reading the config
loads no feature. The packages (and loose modules) of lfgtui/ form no circle either, so the folders can
be read from the bottom up as docs/architecture.md lists them. And no test module imports another
(tests/support/ holds what they share).

Counted for circles and for the folder rules: every import, at a module's top level, under `if
TYPE_CHECKING:` and inside functions, since a type-only import is still a dependency a reader follows,
and importing a module late (how a command loads only what it needs) still depends on it; two modules
that need each other share a type or a protocol a floor below them instead. Not counted: a module's
own packages (Python loads those first anyway).
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType


def load_graph() -> ModuleType:
    """The import graph as the docs' layer picture reads it (docs/hooks/layers.py): one reading of the
    imports for the picture and for these rules."""
    hook = Path(__file__).parents[1] / "docs" / "hooks" / "layers.py"
    spec = importlib.util.spec_from_file_location("docs_layers", hook)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GRAPH = load_graph()
modules, dependencies, every_import, room = GRAPH.modules, GRAPH.dependencies, GRAPH.every_import, GRAPH.room
UI = "lfgtui.ui"
COMMANDS = "lfgtui.commands"
ON_TOP = (UI, COMMANDS, "lfgtui.__main__")
"""What sits on top of the rest: the Textual app, and the commands (and `python -m lfgtui`) on top of it."""
ENGINE = "lfgtui.run"
REMOTE = "lfgtui.remote"
TELEMETRY = "lfgtui.telemetry"
BROKER = "lfgtui.broker"
HISTORY = "lfgtui.history"
TOURNAMENT = "lfgtui.tournament"
INPUT = "lfgtui.config"


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while (top := stack.pop()) != module:
                component.append(top)
            if component:
                found.append(sorted([module, *component]))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    known = modules()
    graph = {name: dependencies(name, path, known) for name, path in known.items()}
    assert graph["lfgtui.ui.app"] >= {"lfgtui.ui.run.controller"}, "the graph sees real imports"
    assert graph["lfgtui.ui.run.controller"] >= {"lfgtui.remote.following"}, "and imports for type checking"
    assert graph["lfgtui.ui.screens.run"] >= {"lfgtui.ui.screens.verdict"}, "and imports inside functions"
    assert circles(graph) == []


def within(module: str, packages: Iterable[str]) -> bool:
    return any(module == package or module.startswith(f"{package}.") for package in packages)


def reaching(importers: Callable[[str], bool], imported: Iterable[str]) -> list[str]:
    """Every import, inside functions too, of a module that `importers` takes, of one in `imported`."""
    known = modules()
    return sorted(
        f"{name} imports {other}"
        for name in known
        if importers(name)
        for other in dependencies(name, known[name], known)
        if within(other, imported)
    )


def test_nothing_below_the_ui_and_the_commands_imports_them() -> None:
    known = modules()
    late = dependencies("lfgtui.ui.run.controller", known["lfgtui.ui.run.controller"], known)
    assert "lfgtui.worktrees.git" in late, "the rule sees imports inside functions"
    assert within("lfgtui.commands.worktrees", ON_TOP) and not within("lfgtui.worktrees.tree", ON_TOP)
    assert reaching(lambda name: not within(name, ON_TOP), ON_TOP) == []


def test_the_ui_never_imports_a_command() -> None:
    assert reaching(lambda name: within(name, [UI]), [COMMANDS]) == []


UI_ROOMS = (
    "lfgtui.ui.app",
    "lfgtui.ui.run",
    "lfgtui.ui.screens",
    "lfgtui.ui.widgets",
    "lfgtui.ui.markdown",
    "lfgtui.ui.drawing",
    "lfgtui.ui.services",
)
"""The UI's rooms from the top floor down: the app; what a run is to the UI (its controller, handle and
feed); the screens; the widgets a screen is made of; Markdown into rows; the drawing engine (compositor,
drivers, palette); and what a command hands the app. A room imports only the rooms below it."""


def ui_room(name: str) -> int:
    return next(floor for floor, room in enumerate(UI_ROOMS) if within(name, [room]))


def test_the_ui_rooms_import_only_downwards() -> None:
    known = modules()
    ui_modules = [name for name in known if within(name, [UI]) and name != UI]
    assert {"lfgtui.ui.screens.run", "lfgtui.ui.markdown.live"} <= set(ui_modules)
    loose = [name for name in ui_modules if not any(within(name, [room]) for room in UI_ROOMS)]
    assert loose == [], "every module of the UI is in one of its rooms"
    upwards = sorted(
        f"{name} imports {other}"
        for name in ui_modules
        for other in dependencies(name, known[name], known)
        if within(other, [UI]) and other != UI and ui_room(other) < ui_room(name)
    )
    assert upwards == []


def test_the_engine_never_imports_the_ui_a_command_remote_telemetry_or_the_history() -> None:
    assert "lfgtui.run.agents.attempt" in modules(), "the engine's coding agents are under it"
    assert reaching(lambda name: within(name, [ENGINE]), [*ON_TOP, REMOTE, TELEMETRY, HISTORY]) == []


def test_the_history_never_imports_a_tournament() -> None:
    """The history records what a tournament decided (lfgtui/contest.py), not how: it stands beside
    tournament/, not above it."""
    assert "lfgtui.history.recorder" in modules(), "the history is read"
    assert reaching(lambda name: within(name, [HISTORY]), [TOURNAMENT]) == []


MOST_FLOORS = 14
"""The floors the house may have, bench/ counted (#57): a room that reaches one floor higher than it
needs to shows here before it piles up."""


def test_the_house_with_bench_has_at_most_fourteen_floors() -> None:
    known = modules()
    floors = GRAPH.floors(GRAPH.room_graph())
    bench = Path(__file__).parents[1] / "bench"
    imported = {
        room(other)
        for path in bench.glob("*.py")
        for other in dependencies(f"bench.{path.stem}", path, known)
        if other != "lfgtui"
    }
    assert "lfgtui.commands" in imported, "the bench's imports are read"
    bench_floor = 1 + max(floors[name] for name in imported)
    assert max(bench_floor, *floors.values()) + 1 <= MOST_FLOORS


MOST_LOOSE_MODULES = 12
"""The modules that may stand loose at the top of lfgtui/, `__init__.py` and `__main__.py` aside (#63):
a module with a home goes into its package's room, so the top stays a short list of the vocabulary and
the small helpers every floor shares."""


def test_at_most_twelve_loose_modules_stand_at_the_top_of_lfgtui() -> None:
    known = modules()
    loose = sorted(
        name
        for name, path in known.items()
        if name.count(".") == 1 and path.name != "__init__.py" and name != "lfgtui.__main__"
    )
    assert "lfgtui.inert" in loose and "lfgtui.run" not in loose, "loose modules are told from packages"
    assert len(loose) <= MOST_LOOSE_MODULES, loose


def test_settings_never_import_their_features() -> None:
    assert "lfgtui.config.broker" in modules() and "lfgtui.config.telemetry" in modules()
    features = [*ON_TOP, BROKER, TELEMETRY, ENGINE, HISTORY, REMOTE]
    assert reaching(lambda name: within(name, [INPUT]), features) == []


def test_no_test_module_imports_another() -> None:
    """What test modules share lives in tests/support/: importing a test module would also import
    (and, with its fixtures, entangle) the tests it holds."""
    tests = Path(__file__).parent
    reaching = {
        f"{path.relative_to(tests)} imports {node.module}"
        for path in tests.rglob("*.py")
        if "node_modules" not in path.parts  # the real agents' npm packages ship Python 2 scripts
        for node in every_import(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1].startswith("test_")
    }
    assert sorted(reaching) == []


def test_what_tests_share_is_in_tests_support() -> None:
    """A module under tests/ that holds no tests is a helper, and every helper is in tests/support/:
    one place to look, one way to import (`from tests.support.x import ...`)."""
    tests = Path(__file__).parent
    strays = sorted(
        str(path.relative_to(tests))
        for path in tests.rglob("*.py")
        if "node_modules" not in path.parts
        and not path.name.startswith("test_")
        and path.name not in ("conftest.py", "__init__.py")
        and path.parent != tests / "support"
    )
    assert strays == []


def test_no_two_packages_import_each_other_through_a_circle() -> None:
    graph = GRAPH.room_graph()
    assert "lfgtui.providers" in graph["lfgtui.config"], "the graph sees packages"
    assert circles(graph) == []


def test_the_layer_picture_puts_every_room_above_all_it_imports() -> None:
    graph = GRAPH.room_graph()
    floors = GRAPH.floors(graph)
    assert floors.keys() == graph.keys() and floors["lfgtui.inert"] == 0
    assert all(floors[name] > floors[other] for name, imported in graph.items() for other in imported)
    assert "commands/" in GRAPH.picture() and "inert.py" in GRAPH.picture()


def test_a_circle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
