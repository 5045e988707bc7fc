"""The sim as a tournament's judge: a ranking of the contestants a judge's prompt lists.

lfg's judge prompt (tournament/judge.py) gives each contestant a `# Contestant X` heading whose first
line says its check's result (`Check (COMMAND): passed (2 passed)`, or `Did not complete: …`). The
sim reads those and ranks deterministically: a passed check first, then a failed one, then one not
checked; among equals, the most tests passed, then the label. Each reason says what it read.
`reversed` ranks worst first, so a test can tell the judge's ranking from lfg's own rule.
"""

from __future__ import annotations

import json
import re

_SECTION = re.compile(r"^# Contestant ([A-Z]+)\n\n(.*)$", re.MULTILINE)
_CHECK = re.compile(r"^Check \(.*\): (passed|failed)(?: \((\d+) passed)?")


def ranking(prompt: str, reverse: bool = False) -> str:
    """The JSON ranking of the contestants in `prompt` (an empty ranking when it lists none)."""
    found = []
    for label, first in _SECTION.findall(prompt):
        check = _CHECK.match(first)
        standing = 2 if check is None else 0 if check.group(1) == "passed" else 1
        tests = int(check.group(2)) if check is not None and check.group(2) else 0
        passed = f"{tests} test{'' if tests == 1 else 's'} passed"  # the sim imports no formats (a circle)
        said = first if check is None else f"check {check.group(1)}, {passed}"
        found.append(((standing, -tests, label), label, said))
    ranked = sorted(found, reverse=reverse)
    return json.dumps(
        {"ranking": [{"label": label, "reason": f"{label}: {said}"} for _, label, said in ranked]}
    )
