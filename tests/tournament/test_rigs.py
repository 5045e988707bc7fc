"""A contestant cannot rig its own check (tournament/guard.py, tournament/report.py): each rig below
leaves `add` broken and changes what the check does instead; its check fails, saying what was put
back, left out or refused, and the honest contestant wins. And the opposite: a file the check names
that the base does not have is the contestant's output, kept for its check."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tournament.referee import Referee
from tests.support.git import commit_all, isolate_git, repository
from tests.support.tournament import TESTS, Told, tournament_tickets

PYTEST = f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -B -m pytest -q -p no:cacheprovider"
BROKEN = "def add(a, b):\n    return a - b\n"
"""`add` as every rig leaves it: `test_zero` passes, `test_add` fails."""
EMPTY_TEST = "def test_add():\n    pass\n"


@dataclass(frozen=True)
class Rig:
    """A repository's base files, the person's check, what the rigger writes, and what its check's
    result must say."""

    writes: dict[str, str]
    said: str
    check: str = PYTEST
    base: dict[str, str] = field(default_factory=lambda: {"test_calc.py": TESTS})
    needs: str | None = None


RIGS = {
    "the person's test file": Rig({"test_calc.py": EMPTY_TEST}, "with the base's test_calc.py"),
    "a folder the check names": Rig(
        {"checks/adds.py": EMPTY_TEST},
        "with the base's checks/adds.py",
        check=f"{PYTEST} -o python_files=*.py checks",
        base={"checks/adds.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"},
    ),
    ".pytest.ini": Rig(
        {".pytest.ini": '[pytest]\naddopts = -k "not test_add"\n'}, "without the contestant's .pytest.ini"
    ),
    "tests/__init__.py": Rig(
        {"tests/__init__.py": "import calc\n\ncalc.add = lambda a, b: a + b\n"},
        "without the contestant's tests/__init__.py",
        base={"tests/test_calc.py": TESTS},
    ),
    "GNUmakefile": Rig(
        {"GNUmakefile": 'test:\n\t@echo "1 passed in 0.01s"\n'},
        "without the contestant's GNUmakefile",
        check="make -s test",
        base={"test_calc.py": TESTS, "Makefile": f"test:\n\t{PYTEST}\n"},
        needs="make",
    ),
    ".npmrc": Rig(
        {".npmrc": "script-shell=/bin/true\n"},
        "without the contestant's .npmrc",
        check="npm test --silent",
        base={
            "test_calc.py": TESTS,
            "package.json": json.dumps({"name": "calc", "version": "1.0.0", "scripts": {"test": PYTEST}}),
        },
        needs="npm",
    ),
    "exiting at import time": Rig(
        {"calc.py": 'import os\n\nprint("1 passed in 0.01s")\nos._exit(0)\n'},
        "pytest wrote no report: it did not run to its end (it exited early)",
    ),
    "conftest.py": Rig(
        {
            "conftest.py": "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\n"
            "def pytest_runtest_makereport(item, call):\n    outcome = yield\n"
            "    outcome.get_result().outcome = 'passed'\n"
        },
        "without the contestant's conftest.py",
    ),
}


def write_scenario(folder: Path, name: str, writes: dict[str, str]) -> None:
    """A sim contestant that writes `writes` with `write_file` (JSON strings are TOML strings)."""
    calls = "".join(
        f'[[call.tool_call]]\nname = "write_file"\narguments = {{ path = {json.dumps(path)}, '
        f"content = {json.dumps(content)} }}\n"
        for path, content in writes.items()
    )
    (folder / f"{name}.toml").write_text(
        f'ttft_ms = 20\n[[call]]\ntext = "Writing."\n{calls}[[call]]\ntext = "Done."\n'
    )


async def tournament(
    sim: SimServer, tmp_path: Path, base: dict[str, str], check: str, contestants: tuple[str, ...]
) -> Told:
    repo = repository(tmp_path / "repo")
    for path, content in base.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content)
    commit_all(repo, "the person's check")
    models = ", ".join(f'"sim/{name}"' for name in contestants)
    tickets = tournament_tickets(tmp_path, repo, check=check, contestants=f"models = [{models}]")
    loaded = load_tickets(tickets, Config(path=None), BUILTIN_TOOLS, env={})
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(yes=True), [], worktrees=tmp_path / "trees")
        told, referee = Told(), Referee(run)
        run.sinks += [referee, told]
        run.start()
        ids = [f"fix@{name}" for name in contestants]
        assert await run.wait() == dict.fromkeys(ids, Outcome.COMPLETED)
        await referee.settled()
    return told


@pytest.mark.parametrize("rig", RIGS.values(), ids=RIGS.keys())
async def test_a_rigged_check_fails_saying_what_was_put_back_or_refused_and_the_honest_contestant_wins(
    rig: Rig, sim: SimServer, scenario_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if rig.needs is not None and shutil.which(rig.needs) is None:
        pytest.skip(f"{rig.needs} is not installed")
    isolate_git(tmp_path, monkeypatch)
    write_scenario(scenario_dir, "rigger", {"calc.py": BROKEN, **rig.writes})
    told = await tournament(sim, tmp_path, rig.base, rig.check, ("rigger", "tournament-pass"))
    rigged, honest = told.checks["fix@rigger"], told.checks["fix@tournament-pass"]
    assert not rigged.passed, rigged.label() + rigged.output
    assert rig.said in rigged.label(), rigged.label()
    assert honest.passed, honest.label() + honest.output
    assert honest.tests is not None and honest.tests.failed == 0 and honest.tests.passed >= 1
    (verdict,) = told.verdicts
    assert verdict.winner == "fix@tournament-pass"


async def test_a_file_the_check_names_that_the_base_lacks_is_the_contestants_output_and_passes_its_check(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    write_scenario(scenario_dir, "maker", {"ok.txt": "made\n"})
    told = await tournament(
        sim, tmp_path, {"README.md": "#\n"}, "test -f ok.txt", ("maker", "tournament-pass")
    )
    made, other = told.checks["fix@maker"], told.checks["fix@tournament-pass"]
    assert made.passed and made.label() == "passed", made.label() + made.output
    assert not other.passed
    (verdict,) = told.verdicts
    assert verdict.winner == "fix@maker"
