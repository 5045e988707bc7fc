"""A bad number or address on the command line, or a port already in use: one line on stderr, exit 2,
and nothing started or recorded (issue #32)."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import warm_lfg
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    return Lfg(tmp_path)


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port something listens on."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        yield listening.getsockname()[1]


BAD = [
    (["run", "FILE", "--max-concurrency", "-3"], "--max-concurrency"),
    (["run", "FILE", "--max-concurrency", "0"], "--max-concurrency"),
    (["run", "FILE", "--max-concurrency", "many"], "--max-concurrency"),
    (["run", "FILE", "--serve", "TAKEN"], "--serve"),
    (["run", "FILE", "--headless", "--serve", "TAKEN", "--control"], "--serve"),
    (["web", "FILE", "--port", "TAKEN"], "TAKEN"),
    (["web", "FILE", "--port", "0"], "--port"),
    (["web", "FILE", "--max-tabs", "many"], "--max-tabs"),
    (["serve", "abc", "--serve", "TAKEN"], "--serve"),
    (["worker", "--metrics", "TAKEN"], "--metrics"),
    (["worker", "--max-concurrency", "1.5"], "--max-concurrency"),
    (["resume", "abc", "--max-concurrency", "0"], "--max-concurrency"),
    (["replay", "abc", "--speed", "0"], "--speed"),
    (["replay", "abc", "--speed", "inf"], "--speed"),
    (["history", "list", "--limit", "0"], "--limit"),
    (["history", "list", "--limit", "-5"], "--limit"),
    (["run", "FILE", "--headless", "--theme", "ligth"], "did you mean 'light'?"),
    (["run", "FILE", "--headless", "--control"], "--control needs --serve"),
    (["resume", "abc", "--theme", "solarized"], "known themes: dark, light"),
    (["history", "search", "x", "--limit", "-1"], "--limit"),
    (["agents", "--timeout", "nan"], "--timeout"),
    (["sim", "serve", "--port", "70000"], "--port"),
]


@pytest.mark.parametrize(("args", "named"), BAD, ids=[" ".join(args) for args, _ in BAD])
def test_a_bad_value_is_refused_in_one_line_before_anything_starts(
    lfg: Lfg, taken: int, args: list[str], named: str
) -> None:
    tickets = lfg.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\n')
    db = lfg.workdir / "history.db"
    given = [str(tickets) if a == "FILE" else str(taken) if a == "TAKEN" else a for a in args]
    if args[0] in ("run", "web", "serve", "resume", "replay", "history"):
        given += ["--db", str(db)]
    done = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", *given],
        env=lfg.env,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert (str(taken) if named == "TAKEN" else named) in line
    assert done.stdout == ""
    assert not db.exists(), "nothing was recorded"
