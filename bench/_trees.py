"""The environment that runs another tree's lfgtui package: the benches' `--base DIR`.

Shared by the scripts beside it (`from _trees import tree_env`). Their child processes start with
`python -m` or a script, so the tree put first on PYTHONPATH is the one they import, and so do the
processes those start (the provider worker, the sim).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any


def tree_env(tree: Path | None) -> dict[str, str] | None:
    """This process's environment with the lfgtui package in `tree` first on PYTHONPATH; None (the
    child inherits this process's own) for no tree."""
    if tree is None:
        return None
    paths = [str(tree.resolve()), *filter(None, [os.environ.get("PYTHONPATH")])]
    return os.environ | {"PYTHONPATH": os.pathsep.join(paths)}


def child_json(command: list[str], tree: Path | None) -> Any:
    """Run a bench's child (`command`, in the bench folder) with `tree`'s package and return the JSON
    of the last line it printed."""
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, env=tree_env(tree), cwd=Path(__file__).parent
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker_pids(holder: Any) -> tuple[int, ...]:
    """The provider worker's processes of `holder` (a `Providers` or a `ProviderWorker`), in this
    tree or in a base tree from before a child for each SDK (which had one, `worker_pid` or `pid`)."""
    for many in ("worker_pids", "pids"):
        if (pids := getattr(holder, many, None)) is not None:
            return tuple(pids)
    one = getattr(holder, "worker_pid", None) or getattr(holder, "pid", None)
    return (one,) if one else ()
