"""What a contestant may not change for its own check: the person's check, told apart from the
contestant's output.

The check is the person's: their tests, the configuration the test runner reads without being told,
and what the check command names. A contestant that changes any of these changes what its own check
does (a `conftest.py` that passes every test, an edited test, a `GNUmakefile` that `make` prefers to
the `Makefile`, an `.npmrc` whose `script-shell` is `/bin/true`), so in the check's checkout
(worktrees/snapshot.py) each such file the contestant changed is put back as the base has it
(`Guarded.restored`), and each such file it added is left out (`Guarded.left_out`):

- a **test file**: `test_*.py`, `*_test.py`, `*.test.js`, `*.spec.ts`, … or any file in a folder
  named `test`, `tests`, `testing`, `spec`, `specs` or `__tests__` (so `tests/__init__.py` too);
- a **runner's configuration** (`CHECK_CONFIG`, `CHECK_CONFIG_PREFIXES`, `*.pth`), in any folder;
- a file the command names, or any file in a folder it names, when the base has that file or folder.

One thing the contestant makes stays whatever its name: a file or folder the command names that the
base does not have (`check = "test -f ok.txt"`) is what the check tests, the contestant's output.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass

CHECK_CONFIG = frozenset(
    {
        "conftest.py",
        "pytest.ini",
        ".pytest.ini",
        "pytest.toml",
        ".pytest.toml",
        "tox.ini",
        "setup.cfg",
        "pyproject.toml",
        "noxfile.py",
        "sitecustomize.py",
        "usercustomize.py",
        ".coveragerc",
        "Makefile",
        "makefile",
        "GNUmakefile",
        "package.json",
        ".npmrc",
        ".yarnrc",
        ".yarnrc.yml",
        ".pnpmfile.cjs",
        "bunfig.toml",
        ".babelrc",
    }
)
"""File names (in any folder) a test runner or build tool reads as its configuration unasked."""
CHECK_CONFIG_PREFIXES = ("jest.config.", "vitest.config.", "vite.config.", "babel.config.", ".mocharc")
"""Name beginnings of the same (`jest.config.js`, `.mocharc.yml`)."""
_TEST_NAME = re.compile(r"^test_.+\.py$|^.+_test\.(py|go|rb|rs)$|^tests?\.py$|\.(test|spec)\.[cm]?[jt]sx?$")
_TEST_FOLDERS = frozenset({"test", "tests", "testing", "spec", "specs", "__tests__"})


@dataclass(frozen=True)
class Guarded:
    """Of what a contestant changed, what its check's checkout holds as the base has it instead."""

    restored: tuple[str, ...] = ()
    """Files the base has, put back as it has them."""
    left_out: tuple[str, ...] = ()
    """Files the contestant added, left out (the base has none)."""


def is_check_file(path: str) -> bool:
    """Whether `path` (relative to the repository's top) is a test file or a runner's configuration."""
    *folders, name = path.split("/")
    return (
        name in CHECK_CONFIG
        or name.startswith(CHECK_CONFIG_PREFIXES)
        or name.endswith(".pth")
        or _TEST_NAME.search(name) is not None
        or any(folder in _TEST_FOLDERS for folder in folders)
    )


def named_paths(command: str, subdir: str) -> frozenset[str]:
    """The paths (relative to the repository's top) the words of `command` name, read from `subdir`
    where it runs: `sh check.sh`, `pytest tests`, `--rootdir=spec`. The folder the check runs in and
    any above it are not names of anything in particular, nor is a path outside the repository."""
    try:
        words = shlex.split(command)
    except ValueError:  # an unbalanced quote: the shell would refuse it too
        return frozenset()
    found: set[str] = set()
    for word in words:
        name = word.partition("=")[2] if word.startswith("-") else word  # `--rootdir=spec`: spec
        if name and not name.startswith("/"):
            path = posixpath.normpath(posixpath.join(subdir, name)).removeprefix("./")
            if path not in (".", "..") and not path.startswith("../") and path not in _above(subdir):
                found.add(path)
    return frozenset(found)


def _above(subdir: str) -> set[str]:
    parts = subdir.split("/") if subdir != "." else []
    return {"/".join(parts[:n]) for n in range(1, len(parts) + 1)}


def folders_of(path: str) -> list[str]:
    """`a/b/c.py`: `a`, `a/b`."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]


def guarded(
    changed: Collection[str], named: Collection[str], in_base: Collection[str], named_folders: Collection[str]
) -> Guarded:
    """Of `changed` (the paths the contestant added, changed or deleted), what the check's checkout
    holds as the base has it (module docstring). `named` are the paths the command names, `in_base`
    those of `changed` the base has, `named_folders` those of `named` that are folders in the base."""
    restored: list[str] = []
    left_out: list[str] = []
    for path in changed:
        base_has = path in in_base
        if path in named:
            person = base_has  # named and new: what the check tests, the contestant's output
        else:
            person = is_check_file(path) or any(folder in named_folders for folder in folders_of(path))
        if person:
            (restored if base_has else left_out).append(path)
    return Guarded(tuple(restored), tuple(left_out))
