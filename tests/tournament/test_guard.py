"""Which files of a contestant's change are the person's check, and which its output
(tournament/guard.py): the rule, on paths alone."""

from __future__ import annotations

from lfgtui.tournament.guard import Guarded, guarded, is_check_file, named_paths


def test_the_command_names_paths_from_where_it_runs_never_that_folder_or_one_above() -> None:
    named = named_paths("cd .. && pytest -q --rootdir=spec checks ../lib/x.py /etc/passwd .", "sub")
    assert named == {"sub/spec", "sub/checks", "lib/x.py", "sub/pytest", "sub/cd", "sub/&&"}
    assert named_paths("sh 'unbalanced", ".") == frozenset()


def test_tests_and_runner_configuration_are_the_persons_by_name() -> None:
    for path in (
        "test_calc.py",
        "pkg/calc_test.py",
        "tests/__init__.py",
        "web/a.spec.ts",
        "GNUmakefile",
        "sub/.npmrc",
        ".pytest.ini",
        "jest.config.mjs",
        "site.pth",
    ):
        assert is_check_file(path), path
    for path in ("calc.py", "src/testing_utils.py", "latest.py", "ok.txt"):
        assert not is_check_file(path), path


def test_what_the_check_names_is_the_persons_when_the_base_has_it_else_the_contestants_output() -> None:
    changed = (
        "ok.txt",
        "calc.py",
        "checks/adds.py",
        "checks/new.py",
        "out/a.txt",
        "test_calc.py",
        "conftest.py",
    )
    named = {"ok.txt", "checks", "out"}
    in_base = {"calc.py", "checks/adds.py", "test_calc.py"}
    assert guarded(changed, named, in_base, {"checks"}) == Guarded(
        restored=("checks/adds.py", "test_calc.py"), left_out=("checks/new.py", "conftest.py")
    )
