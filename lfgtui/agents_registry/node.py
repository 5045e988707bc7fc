"""Whether the Node on the PATH is one an npm agent says it needs (its package.json's `engines.node`),
so a person learns it at install with the versions named, not from an agent that dies at start.

Ranges as npm writes them: `>=22`, `^20.10.0`, `~18.2`, `22.x`, `>=18 <23`, alternatives joined by
`||`. A range lfg cannot read is reported as such, never taken as met or unmet silently.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?")
_COMPARATOR = re.compile(r"^(>=|<=|>|<|=|\^|~)?\s*(v?[\dx*]+(?:\.[\dx*]+){0,2})$")

Version = tuple[int, int, int]


def parse_version(text: str) -> Version | None:
    found = _VERSION.match(text.strip())
    if found is None:
        return None
    return tuple(int(p) if p and p.isdigit() else 0 for p in found.groups())  # type: ignore[return-value]


def node_version(env: Mapping[str, str]) -> Version | None:
    """The version of `node` on the PATH, or None when there is none (or it does not say)."""
    program = shutil.which("node", path=env.get("PATH"))
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "--version"], capture_output=True, text=True, timeout=30, env=dict(env)
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_version(done.stdout)


def _bounds(operator: str, text: str) -> list[tuple[str, Version]]:
    """One comparator as lower/upper bounds."""
    parts = text.lstrip("v").split(".")
    given = [int(p) for p in parts if p.isdigit()]  # `22.x` gives [22]
    base: Version = tuple([*given, 0, 0, 0][:3])  # type: ignore[assignment]
    if operator in (">=", ">", "<=", "<"):
        return [(operator, base)]
    if operator == "^":
        if base[0] > 0 or len(given) < 2:
            upper: Version = (base[0] + 1, 0, 0)
        elif base[1] > 0 or len(given) < 3:
            upper = (0, base[1] + 1, 0)
        else:
            upper = (0, 0, base[2] + 1)
        return [(">=", base), ("<", upper)]
    if operator == "~" or len(given) < 3:  # `~1.2`, or a partial version `22` / `22.x`
        if not given:
            return []  # `*` / `x`: any version
        upper = (base[0] + 1, 0, 0) if len(given) == 1 else (base[0], base[1] + 1, 0)
        return [(">=", base), ("<", upper)]
    return [(">=", base), ("<=", base)]


def _holds(version: Version, bounds: list[tuple[str, Version]]) -> bool:
    checks = {
        ">=": lambda b: version >= b,
        ">": lambda b: version > b,
        "<=": lambda b: version <= b,
        "<": lambda b: version < b,
    }
    return all(checks[operator](bound) for operator, bound in bounds)


def satisfies(version: Version, wanted: str) -> bool | None:
    """Whether `version` is in the npm range `wanted`; None when lfg cannot read the range."""
    for alternative in wanted.split("||"):
        text = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", alternative.strip())
        if not text or text in ("*", "x"):
            return True
        bounds: list[tuple[str, Version]] = []
        for comparator in text.split():
            found = _COMPARATOR.match(comparator)
            if found is None:
                return None
            bounds += _bounds(found.group(1) or "", found.group(2))
        if _holds(version, bounds):
            return True
    return False


def shown(version: Version) -> str:
    return "v" + ".".join(map(str, version))
