"""`lfg land`, `lfg fork` and `lfg review --send` on a run coordinated on a broker's workers (a real
redis-server, a real `lfg worker` with a clone and a data folder of its own, the sim): the ticket's
worktree is in the worker's clone, so none of them acts on this machine; each refuses naming the
worker, and nothing is landed, forked or recorded."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from lfgtui.history.store import Selection, Store
from tests.support.fleet import Fleet, coordinate, ends, eventually, finish
from tests.support.git import git
from tests.support.lfg import command

TICKETS = (
    '[[ticket]]\nid = "t"\nprompt = "write"\nprovider = "sim"\nmodel = "writer"\nisolation = "worktree"\n'
    'tools = ["write_file", "run_command"]\n'
    '[[ticket]]\nid = "p"\nprompt = "go"\nprovider = "sim"\nmodel = "hello:ttft_ms=0"\n'
)


def _repository(folder: Path) -> None:
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Test")
    git(folder, "config", "user.email", "test@example.com")
    git(folder, "add", "README.md")
    git(folder, "commit", "-q", "-m", "first")


@pytest.fixture
def coordinated(fleet: Fleet, tmp_path: Path) -> tuple[str, Path]:
    """A run of TICKETS coordinated on worker w1, which has a clone and a data folder of its own (on
    one machine, so the worktree's recorded path is visible here); its id and the worker's clone."""
    fleet.lfg.env |= {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }
    _repository(fleet.lfg.workdir)
    clone = tmp_path / "worker-clone"
    git(tmp_path, "clone", "-q", str(fleet.lfg.workdir), str(clone))
    git(clone, "config", "user.name", "Worker")
    git(clone, "config", "user.email", "worker@example.com")
    tickets = fleet.lfg.tickets(TICKETS)
    fleet.start("w1", root=clone, data=tmp_path / "worker-data")
    eventually(lambda: fleet.ready("w1"))
    code, events, err = finish(coordinate(fleet, tickets, "--yes"))
    assert code == 0, err
    assert ends(events) == {("t", 1): "completed", ("p", 1): "completed"}
    assert any(e["type"] == "diff" and e["added"] for e in events if e["ticket"] == "t"), "it changed a file"
    return err.split("recorded as run ")[1].split()[0], clone


def _tickets(fleet: Fleet, run_id: str) -> dict[str, int]:
    """Each ticket of the run in the coordinator's history, with how many attempts it has."""
    db = Path(fleet.lfg.env["XDG_DATA_HOME"]) / "lfgtui" / "history.sqlite3"
    with Store.open(db) as store:
        record = store.load(Selection(run_id))
    return {t.row.ticket: len(t.attempts) for t in record.tickets}


def test_land_of_a_workers_ticket_refuses_naming_the_worker_and_writes_into_no_clone(
    fleet: Fleet, coordinated: tuple[str, Path]
) -> None:
    run_id, clone = coordinated
    heads = (git(clone, "rev-parse", "main"), git(fleet.lfg.workdir, "rev-parse", "main"))
    landed = command(fleet.lfg, "land", run_id, "t", "--config", str(fleet.lfg.config))
    assert landed.returncode == 2, landed.stdout + landed.stderr
    assert f"worker w1 (on {socket.gethostname()})" in landed.stderr
    assert "never writes into another machine's clone" in landed.stderr
    assert (git(clone, "rev-parse", "main"), git(fleet.lfg.workdir, "rev-parse", "main")) == heads
    assert git(clone, "status", "--porcelain") == "", "nothing committed nor left in the worker's clone"
    assert f"lfg/{run_id}/t" in git(clone, "branch", "--list", f"lfg/{run_id}/t"), "its branch is kept"


def test_fork_and_review_send_of_a_coordinated_run_refuse_naming_the_worker_and_run_nothing(
    fleet: Fleet, coordinated: tuple[str, Path]
) -> None:
    run_id, _ = coordinated
    config = ("--config", str(fleet.lfg.config))
    for ticket in ("p", "t"):  # p has no worktree: lfg before this ran its fork here
        forked = command(fleet.lfg, "fork", run_id, ticket, "--prompt", "again", "--yes", *config)
        assert forked.returncode == 2, forked.stdout + forked.stderr
        assert f"ticket {ticket} on worker w1 (on {socket.gethostname()})" in forked.stderr
    assert "cannot fork a ticket with a worktree yet" in forked.stderr  # t, the last
    sent = command(
        fleet.lfg, "review", run_id, "t", "--comment", "notes/summary.md:1: shorter", "--send", *config
    )
    assert sent.returncode == 1, sent.stdout + sent.stderr
    assert "not sent (its 1 draft(s) are kept)" in sent.stderr
    assert "ticket t on worker w1" in sent.stderr and "lfg resume" in sent.stderr
    assert "[draft]" in sent.stdout
    assert _tickets(fleet, run_id) == {"t": 1, "p": 1}, "no fork, no follow-up recorded"
