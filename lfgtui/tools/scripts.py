"""How lfg runs its stdlib-only helper scripts (the supervisor, the file reader, a box's start, a
container's client): a module of its own, so that any module may start one (tools/sandbox.py, which
tools/base.py imports, too)."""

from __future__ import annotations

import sys
from pathlib import Path


def stdlib_script(script: Path) -> list[str]:
    """The command line that runs one of our stdlib-only helper scripts in a child Python.

    Run by path in isolated mode without `site` (`-I -S`), it imports neither lfgtui nor anything
    installed, so it starts in tens of milliseconds and no PYTHON* variable can change it.
    """
    return [sys.executable, "-I", "-S", str(script)]
