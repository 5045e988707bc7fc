"""Every bound a test puts on a wait stretches by the run's patience (tests/support/patience.py): a
fixed `asyncio.wait_for(run.wait(), 40)` failed a clean-clone `.ci/run` at `-n 6` on two cores, where
each worker has a third of a core, though nothing was wrong. So a test's own bound on a wait (an
`asyncio.wait_for` or `asyncio.timeout`, a subprocess's `timeout=`, a `process.wait(10)`, a
`deadline = time.monotonic() + 30`) says `* PATIENCE`, or goes through a shared wait (`until`,
`eventually`, `wait_for`) that stretches its own. What must stay short is listed in `SHORT_ON_PURPOSE`
with why; a bound only against a hang, far above the need, still stretches."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).parent

STRETCHING = frozenset({"until", "eventually", "wait_for", "wait_until", "two_turns", "wait_until_recorded"})
"""Waits of tests/ that stretch the bound they are given themselves: a `timeout=` to one is not checked
(asyncio's own `wait_for` is)."""

BOUND_KEYWORDS = frozenset({"timeout", "timeout_s", "deadline_s", "within_s"})

SHORT_ON_PURPOSE = {
    "broker/test_lead_asks.py::test_an_ask_no_coordinator_answers_waits_on_the_workers_own_stream_and_"
    "says_so: within_s=0.2": (
        "the worker's own wait for an answer no coordinator gives, which the test makes end"
    ),
    "alerts/test_notify.py::test_a_hanging_command_is_killed_with_its_children_after_its_timeout: "
    "timeout=0.3": "the notify command's own timeout, which the test makes fire",
    "run/agents/test_tool_output.py::test_a_chatty_commands_output_streams_bounded_and_a_killed_one_shows_"
    "what_it_printed: timeout_s=1": "run_command's own timeout, which its `sleep 30` makes fire",
    "sim/test_acp_agent.py::test_a_stalled_initialize_never_answers_and_the_agent_ends_with_stdin: 1": (
        "a window in which the stalled agent must not answer: the test expects the TimeoutError"
    ),
    "sim/test_reasoning_rules.py::test_ollama_streams_reasoning_and_hangs_on_reasoning_content: timeout=2": (
        "`chat_client` stretches it; the test expects the client's timeout on the hung stream"
    ),
    "tools/test_command.py::test_a_timeout_kills_the_command_and_its_children: timeout_s=0.5": (
        "run_command's own timeout, which the test makes fire"
    ),
    "tools/test_command.py::test_no_process_of_the_tree_outlives_the_command: timeout_s=1": (
        "run_command's own timeout, which the test makes fire"
    ),
    "tools/test_files.py::test_non_finite_numbers_are_invalid_arguments: timeout_s=value": (
        "a tool argument under test, not a wait"
    ),
    "ui/test_tool_log.py::test_a_command_is_shown_whole_however_long: timeout_s=2": (
        "an approval question's text, not a wait"
    ),
    "support/warm_lfg.py::run: timeout=timeout": "its caller's bound, passed on (the callers stretch it)",
    "test_warm_lfg.py::test_a_command_past_its_timeout_is_killed_and_its_output_so_far_kept: timeout=2": (
        "the timeout the test makes fire, on a ticket that stalls for good"
    ),
    "test_warm_lfg.py::test_a_kept_running_lfg_is_polled_waited_for_and_signalled_as_a_popen: 0.1": (
        "the wait the test makes time out, on a ticket that stalls for good"
    ),
}
"""`path::function: bound` of each bound that stays as it is, and why."""


def unstretched(source: str) -> Iterator[tuple[str, str]]:
    """(function, bound) of each wait bound in `source` that does not stretch by `PATIENCE`."""
    tree = ast.parse(source)
    for function, node in _nodes(tree):
        for bound, shown in _bounds(node):
            if not _stretched(bound):
                yield function, shown


def _nodes(tree: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """Each node with the outermost function (or `<module>`) it is in, and whether in a `while`."""

    def walk(node: ast.AST, function: str, looping: bool) -> Iterator[tuple[str, ast.AST]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(child, child.name if function == "<module>" else function, False)
                continue
            child._looping = looping  # type: ignore[attr-defined]
            yield function, child
            yield from walk(child, function, looping or isinstance(child, ast.While))

    yield from walk(tree, "<module>", False)


def _bounds(node: ast.AST) -> Iterator[tuple[ast.expr, str]]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        for clock, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(clock, ast.Call) and _called(clock) == ("time", "monotonic"):
                yield other, ast.unparse(other)
    if not isinstance(node, ast.Call):
        return
    owner, name = _called(node)
    if owner == "asyncio" and name == "wait_for" and len(node.args) > 1:
        yield node.args[1], ast.unparse(node.args[1])
    if owner == "asyncio" and name == "timeout" and node.args:
        yield node.args[0], ast.unparse(node.args[0])
    if (
        name in ("wait", "join", "communicate")
        and owner != "asyncio"
        and len(node.args) == 1
        and _number(node.args[0])
        and not node._looping  # type: ignore[attr-defined]  # in a poll loop it paces the poll
    ):
        yield node.args[0], ast.unparse(node.args[0])
    if name not in STRETCHING or owner == "asyncio":
        for keyword in node.keywords:
            if keyword.arg in BOUND_KEYWORDS and not _none_or_zero(keyword.value):
                yield keyword.value, f"{keyword.arg}={ast.unparse(keyword.value)}"


def _called(call: ast.Call) -> tuple[str | None, str | None]:
    function = call.func
    if isinstance(function, ast.Attribute):
        return (function.value.id if isinstance(function.value, ast.Name) else None), function.attr
    return None, function.id if isinstance(function, ast.Name) else None


def _number(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.BinOp):
        return _number(node.left) and _number(node.right)
    return False


def _none_or_zero(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value in (None, 0)


def _stretched(bound: ast.expr) -> bool:
    return any(
        (isinstance(n, ast.Name) and n.id == "PATIENCE")
        or (isinstance(n, ast.Attribute) and n.attr == "PATIENCE")
        for n in ast.walk(bound)
    )


def found_in_tests() -> list[str]:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if "node_modules" in path.parts or path == TESTS / "support" / "patience.py":
            continue
        where = path.relative_to(TESTS).as_posix()
        found += [f"{where}::{function}: {bound}" for function, bound in unstretched(path.read_text())]
    return found


def test_every_wait_bound_in_tests_stretches_by_the_runs_patience() -> None:
    assert [bound for bound in found_in_tests() if bound not in SHORT_ON_PURPOSE] == []


def test_each_bound_kept_short_on_purpose_is_still_there() -> None:
    assert sorted(set(SHORT_ON_PURPOSE) - set(found_in_tests())) == []


def test_the_check_finds_each_kind_of_fixed_bound_and_passes_a_stretched_one() -> None:
    source = """
async def waits(run, process, until):
    await asyncio.wait_for(run.wait(), 40)
    async with asyncio.timeout(RUN_S):
        pass
    subprocess.run(argv, timeout=60)
    process.wait(10)
    deadline = time.monotonic() + 30
    while not stop.wait(0.2):
        pass
    "".join(parts)
    await until(pilot, ready, timeout=5)
    await asyncio.wait_for(run.wait(), 40 * PATIENCE)
    process.communicate(timeout=None)
"""
    assert list(unstretched(source)) == [
        ("waits", "40"),
        ("waits", "RUN_S"),
        ("waits", "timeout=60"),
        ("waits", "10"),
        ("waits", "30"),
    ]
