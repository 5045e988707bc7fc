"""The test runner's own word on what a check ran, where lfg can have it: pytest's report.

A check's exit code and output are what the processes it started made them, and the contestant's
code runs among them: a `calc.py` that prints `1 passed in 0.01s` and exits 0 as it is imported
passes a check judged by them. So every check runs with pytest told (`PYTEST_ADDOPTS`) to write its
JUnit XML report to a folder outside the checkout; once a pytest has run to its end the report says
how many tests ran, failed and erred, and its word is taken over the output's. A check whose command
runs pytest (`pytest`, `python -m pytest`) passes only when that report exists, at least one test ran,
and none failed or erred: a pytest that exited early (at import time, say) wrote none. Code under
test that rewrites the runner from inside its own process is beyond this: it is the contestant's
code, and a judge or the person reading the diff sees it.
"""

from __future__ import annotations

import os
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lfgtui.contest import SuiteCounts
from lfgtui.formats import plural

REPORT_NAME = "pytest-report.xml"
MAX_REPORT_BYTES = 16 * 1024 * 1024
"""The most of a report read: more is no report pytest writes for a check."""


def runs_pytest(command: str) -> bool:
    """Whether `command` starts pytest itself (`pytest -q`, `python -m pytest`, `py.test`)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return any(os.path.basename(word) in ("pytest", "py.test") for word in words)


def report_env(env: Mapping[str, str], folder: Path) -> dict[str, str]:
    """`env` with pytest told to write its report into `folder` (after any options already given)."""
    ours = f"--junitxml={shlex.quote(str(folder / REPORT_NAME))}"
    given = env.get("PYTEST_ADDOPTS", "")
    return {**env, "PYTEST_ADDOPTS": f"{given} {ours}".strip()}


@dataclass(frozen=True)
class Evidence:
    """What pytest's report says, or why it counts against the check (`refused`)."""

    tests: SuiteCounts | None
    refused: str = ""


def read_report(folder: Path, command: str) -> Evidence | None:
    """The report in `folder`; None when there is none and the command does not run pytest (no
    runner lfg can ask: the exit code and the output decide)."""
    path = folder / REPORT_NAME
    try:
        with path.open("rb") as file:
            data = file.read(MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        if not runs_pytest(command):
            return None
        return Evidence(None, "pytest wrote no report: it did not run to its end (it exited early)")
    except OSError as exc:
        return Evidence(None, f"pytest's report could not be read: {exc.strerror}")
    if len(data) > MAX_REPORT_BYTES:
        return Evidence(None, "pytest's report is too long to be one")
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return Evidence(None, "pytest's report is not valid XML")
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    counts = {key: 0 for key in ("tests", "failures", "errors", "skipped")}
    for suite in suites:
        for key in counts:
            value = suite.get(key, "0")
            counts[key] += int(value) if value.isdigit() else 0
    ran = counts["tests"] - counts["skipped"]
    tests = SuiteCounts(
        max(ran - counts["failures"] - counts["errors"], 0),
        counts["failures"],
        counts["errors"],
        counts["skipped"],
    )
    if ran < 1:
        return Evidence(tests, "no test ran, as pytest's report says")
    if counts["failures"] or counts["errors"]:
        bad = tests.failed + tests.errors
        return Evidence(tests, f"{plural(bad, 'test')} failed or erred, as pytest's report says")
    return Evidence(tests)
