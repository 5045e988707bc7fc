"""The tiers' record names tests that exist: a test renamed or moved would otherwise drop out of
tests/support/durations.json unseen; a test the record has not measured runs as slow, so the fast
subset (`pytest -m "not slow"`) never runs one whose cost nobody measured (27 once did, two of them
taking 3.6 s and 6.2 s); and CONTRIBUTING.md quotes the tiers as the record measured them, or its
figures would go stale as they once did."""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

import pytest

from tests.support import durations, markers, patience

ROOT = Path(__file__).parents[1]


def test_each_slow_test_listed_exists() -> None:
    assert markers.SLOW
    assert [nodeid for nodeid in sorted(markers.SLOW) if not exists(nodeid)] == []


def test_each_recorded_test_exists() -> None:
    assert markers.RECORD, "tests/support/durations.json: record a full run (tests/support/durations.py)"
    assert [name for name in sorted(markers.RECORD) if not exists(name)] == []


def test_a_test_the_record_has_not_measured_runs_as_slow_until_one_does(
    request: pytest.FixtureRequest,
) -> None:
    """This very test, read against a record without it, one measuring it quick and one slow."""
    name = durations.function_of(request.node.nodeid)
    assert {"slow", "unit"} & markers.kinds(request.node, {}) == {"slow"}
    assert {"slow", "unit"} & markers.kinds(request.node, {name: durations.Measured(0.01, 0.01, 1)}) == {
        "unit"
    }
    at_the_rule = durations.Measured(durations.SLOW_S, durations.SLOW_S, 1)
    assert {"slow", "unit"} & markers.kinds(request.node, {name: at_the_rule}) == set()
    assert "slow" in markers.kinds(request.node, {name: durations.Measured(0.6, 0.6, 1)})


class Collected:
    """A collected test as `markers` reads it: where it is, the fixtures it uses, its own markers (none
    of those `markers.apply` gave it, which in a busy run include a stretched timeout)."""

    def __init__(self, nodeid: str, *fixturenames: str, marks: tuple[pytest.MarkDecorator, ...] = ()) -> None:
        self.nodeid, self.fixturenames, self.marks = nodeid, list(fixturenames), [m.mark for m in marks]

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return next((mark for mark in self.marks if mark.name == name), None)


TIMED = "tests/test_markers.py::test_timed"


def test_a_test_the_record_measured_near_the_default_timeout_gets_a_margin_over_what_it_took() -> None:
    """A test read against records: 31 s measured (a loaded CI run failed one such as hung at 60 s)
    gets four times that; 10 s keeps the default, which is pyproject.toml's; one using the shared
    setup gets what that may take; a test naming its own timeout keeps it."""
    timed = Collected(TIMED)
    assert markers.timeout_s(timed, {TIMED: durations.Measured(31.0, 31.0, 1)}, 1) == 124
    assert markers.timeout_s(timed, {TIMED: durations.Measured(10.0, 10.0, 1)}, 1) is None
    assert markers.timeout_s(timed, {}, 1) is None
    pyproject = tomllib.loads(Path("pyproject.toml").read_text())
    assert pyproject["tool"]["pytest"]["ini_options"]["timeout"] == markers.DEFAULT_TIMEOUT_S
    scan_user = Collected(TIMED, "private_uses")
    assert markers.timeout_s(scan_user, {}, 1) == markers.SHARED_SETUP_TIMEOUT_S
    own = Collected(TIMED, marks=(pytest.mark.timeout(5),))
    assert markers.timeout_s(own, {TIMED: durations.Measured(31.0, 31.0, 1)}, 1) is None


def test_a_wide_run_stretches_every_timeout_by_its_workers_per_core() -> None:
    """The record is of a worker a core (`-n 2` on two cores); at `-n 8` on two cores a test has a
    quarter of the CPU it had there, and fails as hung at four times what it would have: the default,
    a record's margin, and a test's own timeout alike (a run at -n 8 failed 25 of 101 slow tests at the
    default's 60 s, all passing at -n 2); a machine others keep busier than that stretches them as
    much."""
    assert patience.patience({}, cores=2, load=0.5) == 1
    assert patience.patience({"PYTEST_XDIST_WORKER_COUNT": "2"}, cores=2, load=1.5) == 1
    assert patience.patience({"PYTEST_XDIST_WORKER_COUNT": "2"}, cores=16, load=1.5) == 1
    assert patience.patience({"PYTEST_XDIST_WORKER_COUNT": "8"}, cores=2, load=1.5) == 4
    assert patience.patience({"PYTEST_XDIST_WORKER_COUNT": "2"}, cores=2, load=12.0) == 6  # others' load
    timed = Collected(TIMED)
    assert markers.timeout_s(timed, {TIMED: durations.Measured(31.0, 31.0, 1)}, 4) == 496
    assert markers.timeout_s(timed, {TIMED: durations.Measured(10.0, 10.0, 1)}, 4) == 240
    assert markers.timeout_s(timed, {}, 4) == 240
    scan_user = Collected(TIMED, "private_uses")
    assert markers.timeout_s(scan_user, {}, 4) == 4 * markers.SHARED_SETUP_TIMEOUT_S
    own = Collected(TIMED, marks=(pytest.mark.timeout(5),))
    assert markers.timeout_s(own, {}, 4) == 20


def test_the_tests_sharing_a_setup_wider_than_one_test_are_one_xdist_group() -> None:
    """`--dist loadgroup` runs a group on one worker: a module's dockerd and a session's scan are set
    up once in a wide run, not once on each worker that draws one of their tests."""
    history = Collected("tests/commands/test_history.py::test_list", "recorded", "tmp_path")
    assert markers.group(history) == "tests/commands/test_history.py"
    assert markers.group(Collected("tests/hardening/test_hangup.py::test_x", "recorded")) is None
    boxed = Collected("tests/worktrees/test_container_box.py::test_x[docker]", "box", "monkeypatch")
    assert markers.group(boxed) == "tests/worktrees/test_container_box.py"
    scan = Collected("tests/test_private_names.py::test_x", "private_uses")
    assert markers.group(scan) == "tests/test_private_names.py::private_uses"
    assert markers.group(Collected("tests/test_x.py::test_x", "tmp_path", "sim")) is None
    assert durations.function_of(
        "tests/commands/test_history.py::test_list@tests/commands/test_history.py"
    ) == ("tests/commands/test_history.py::test_list")


def test_every_fixture_wider_than_one_test_is_shared_as_its_scope_says() -> None:
    """Each fixture declared with a scope wider than a test (and each fixture that starts one by
    name, as `engine` starts `dockerd`) is in `SHARED_FIXTURES` with its scope, or one each worker
    sets up on purpose (`EACH_WORKERS_OWN`): one missing would be set up again on every worker of a
    wide run."""
    declared: dict[str, str] = {}
    starts: dict[str, str] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        where = path.relative_to(ROOT).as_posix()
        shared = where.startswith("tests/support/") or path.name == "conftest.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            key = node.name if shared else f"{where}::{node.name}"
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "pytest.fixture":
                    for keyword in decorator.keywords:
                        if keyword.arg == "scope" and isinstance(keyword.value, ast.Constant):
                            declared[key] = str(keyword.value.value)
                    for call in ast.walk(node):
                        if (
                            isinstance(call, ast.Call)
                            and isinstance(call.func, ast.Attribute)
                            and call.func.attr == "getfixturevalue"
                            and isinstance(call.args[0], ast.Constant)
                        ):
                            starts[key] = str(call.args[0].value)
    wider = {key: scope for key, scope in declared.items() if scope != "function"}
    assert wider, "the scan finds the suite's module and session fixtures"
    wider |= {key: wider[started] for key, started in starts.items() if started in wider}
    assert wider.keys() >= markers.EACH_WORKERS_OWN
    assert {key: wider[key] for key in wider.keys() - markers.EACH_WORKERS_OWN} == markers.SHARED_FIXTURES


def test_a_wide_run_hands_out_the_longest_tests_first() -> None:
    """Longest first by the record's time per item (in collection order where equal, a test not
    measured as one just over the slow line): the last tests to start are the quickest, so no 30 s
    test starts as the other workers run out of work."""
    record = {
        "tests/a.py::test_quick": durations.Measured(0.01, 0.02, 2),
        "tests/a.py::test_long": durations.Measured(30.0, 30.0, 1),
        "tests/b.py::test_mid": durations.Measured(2.0, 4.0, 2),
        "tests/b.py::test_also_quick": durations.Measured(0.01, 0.01, 1),
    }
    items = [
        Collected("tests/a.py::test_quick[1]"),
        Collected("tests/a.py::test_quick[2]"),
        Collected("tests/a.py::test_long"),
        Collected("tests/b.py::test_new"),
        Collected("tests/b.py::test_mid[x]"),
        Collected("tests/b.py::test_also_quick"),
    ]
    ordered = markers.longest_first(items, record)
    assert [item.nodeid for item in ordered] == [
        "tests/a.py::test_long",
        "tests/b.py::test_mid[x]",
        "tests/b.py::test_new",
        "tests/a.py::test_quick[1]",
        "tests/a.py::test_quick[2]",
        "tests/b.py::test_also_quick",
    ]


def test_the_suite_keeps_to_its_budget_of_seconds_per_test() -> None:
    """The record's seconds per test stay within `BUDGET_S_PER_TEST`: the suite grew faster than the
    code once (a third of it the broker's, most of that waiting), and a record past the budget fails
    here until a commit raises it saying why."""
    suite = durations.tiers(markers.RECORD)["all"]
    assert suite.seconds / suite.tests <= durations.BUDGET_S_PER_TEST, (
        f"the record takes {suite.seconds / suite.tests:.3f} s a test, over the budget of "
        f"{durations.BUDGET_S_PER_TEST} (tests/support/durations.py): say why in the commit that raises it"
    )


def test_no_collected_test_the_record_has_not_measured_is_in_the_fast_subset(
    request: pytest.FixtureRequest,
) -> None:
    """Every test this run collected (the whole suite, run as CI runs it) that the record lacks is
    marked slow, and none of them unit."""
    unmeasured = [
        item for item in request.session.items if durations.function_of(item.nodeid) not in markers.RECORD
    ]
    assert [item.nodeid for item in unmeasured if not item.get_closest_marker("slow")] == []
    assert [item.nodeid for item in unmeasured if item.get_closest_marker("unit")] == []


SUITE_FIGURE = re.compile(r"\b\d[\d,.]* (?:tests?|minutes?|seconds?|s)\b")
"""A count of tests or a time, as CONTRIBUTING once quoted them ("About 1,490 of the 2,170 tests",
"63 s", "21 minutes"): stale within days, as nothing checked them."""


def test_contributing_quotes_the_tiers_as_the_record_measured_them() -> None:
    text = " ".join((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8").split())
    said = [tier.said() for tier in durations.tiers(markers.RECORD).values()]
    assert [quote for quote in said if quote not in text] == [], "CONTRIBUTING.md: say the tiers as recorded"
    stray = [figure for figure in SUITE_FIGURE.findall(text) if not any(figure in quote for quote in said)]
    assert stray == [], "CONTRIBUTING.md quotes a figure of the suite that the record does not keep true"
    assert SUITE_FIGURE.findall("About 1,490 of the 2,170 tests, 63 s, 21 minutes") == [
        "2,170 tests",
        "63 s",
        "21 minutes",
    ]


def exists(nodeid: str) -> bool:
    """Whether `path::function` (or `path::Class::method`) names a test function."""
    path, *names = nodeid.split("::")
    if not (ROOT / path).is_file():
        return False
    found: object = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    for name in names:
        found = getattr(found, name, None)
    return callable(found) and names[-1].startswith("test")
