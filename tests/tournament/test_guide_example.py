"""The tournament guide's "Try it offline" example, run as written: its shell steps make the
repository, its tickets file is used as it stands, and its command runs (`lfg` as this tree's
`python -m lfgtui`), on the sim, with a judge. A field the example gets wrong (a model named
`sim/tournament-attempts`, read as provider sim's model `sim/tournament-attempts`) fails it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import warm_lfg
from tests.support.git import git, isolate_git
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "tournaments.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def example() -> list[tuple[str, str]]:
    """The (language, text) of each code block of the guide's "Try it offline" section."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("\n### Try it offline\n", 1)[1].split("\n#", 1)[0]
    return _BLOCK.findall(section)


def test_the_guides_offline_example_runs_as_written_and_crowns_the_attempt_that_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    for variable, value in (("NAME", "Person"), ("EMAIL", "person@example.com")):
        for who in ("AUTHOR", "COMMITTER"):
            monkeypatch.setenv(f"GIT_{who}_{variable}", value)
    lfg = Lfg(tmp_path)
    (make, setup), (toml, tickets), (sh, run) = example()
    assert (make, toml, sh) == ("sh", "toml", "sh")
    subprocess.run(["sh", "-e", "-c", setup], cwd=tmp_path, env=lfg.env, check=True, timeout=30 * PATIENCE)
    repo = tmp_path / "calc"
    (repo / "tickets.toml").write_text(tickets)
    head = git(repo, "rev-parse", "HEAD")
    words = shlex.split(run)
    assert words[0] == "lfg"
    done = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", *words[1:]],
        cwd=repo,
        env=lfg.env,
        timeout=120 * PATIENCE,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert not re.search(r"(?<![0-9a-f.$])404(?![0-9a-f.])", out), (
        out
    )  # no model missing: not in an id or price
    checks = re.findall(r"(fix@\d)  check (passed|failed)", out)
    assert sorted(said for _, said in checks) == ["failed", "failed", "passed"], out
    (winner,) = [ticket for ticket, said in checks if said == "passed"]
    assert f"tournament fix: {winner} wins of 3 contestants, ranked by fix@judge" in out, out
    (land,) = [line for line in out.splitlines() if line.startswith("land the winner: lfg land ")]
    assert land.endswith(f" {winner}")
    assert git(repo, "rev-parse", "HEAD") == head, "nothing lands until asked"
