"""`lfg fork RUN TICKET --prompt`: the fork runs headless, recorded into the run of the ticket it forks."""

from __future__ import annotations

import json
from pathlib import Path

from lfgtui.history.store import Selection, Store
from tests.support.lfg import Lfg, command, ending, recorded_run

HELLO = '[[ticket]]\nid = "hi"\nprompt = "hello there"\nprovider = "sim"\nmodel = "hello"\n'


def test_lfg_fork_runs_the_fork_into_the_same_run(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    db = tmp_path / "history.sqlite3"
    code, _, stderr = lfg.run(lfg.tickets(HELLO), "--db", str(db))
    assert code == 0, stderr
    run_id = recorded_run(stderr)
    config = ("--db", str(db), "--config", str(lfg.config))

    missing = command(lfg, "fork", run_id, "nobody", "--prompt", "and then", *config)
    assert missing.returncode == 2 and f"run {run_id} has no ticket 'nobody'" in missing.stderr

    done = command(lfg, "fork", run_id, "hi", "--prompt", "and then", "--json", *config)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert {event["ticket"] for event in events} == {"hi-fork1"}, "only the fork runs"
    assert ending(events, "hi-fork1")["outcome"] == "completed"
    assert f"recorded into run {run_id}" in done.stderr
    with Store.open(db) as store:
        record = store.load(Selection(run_id))
    rows = {t.row.ticket: t for t in record.tickets}
    assert (rows["hi-fork1"].row.forked_from, rows["hi-fork1"].row.forked_attempt) == ("hi", 1)
    assert [a.row.outcome for a in rows["hi-fork1"].attempts] == ["completed"]
    assert len(rows["hi"].attempts) == 1, "the forked ticket is left as it was"

    again = command(lfg, "fork", run_id, "hi", "--prompt", "once more", *config)
    assert again.returncode == 0, again.stderr
    assert "hi-fork2" in again.stdout, "a second fork of the same ticket has an id of its own"


def test_lfg_fork_at_an_earlier_turn_says_so_and_refuses_a_turn_out_of_range(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    db = tmp_path / "history.sqlite3"
    code, _, stderr = lfg.run(lfg.tickets(HELLO), "--db", str(db))
    assert code == 0, stderr
    run_id = recorded_run(stderr)
    config = ("--db", str(db), "--config", str(lfg.config))

    beyond = command(lfg, "fork", run_id, "hi", "--prompt", "and then", "--at", "2", *config)
    assert beyond.returncode == 2
    assert beyond.stderr.strip().splitlines() == [
        "lfg: cannot fork hi: hi has 1 turn(s): fork it at a turn from 1 to 1, not 2"
    ]
    first = command(lfg, "fork", run_id, "hi", "--prompt", "and then", *config)
    assert first.returncode == 0, first.stderr  # hi-fork1: hi's turn, then its own: two turns
    cut = command(lfg, "fork", run_id, "hi-fork1", "--prompt", "or else", "--at", "1", *config)
    assert cut.returncode == 0, cut.stderr
    assert "forked at turn 1 of 2: its provider messages up to there, verbatim" in cut.stdout
    with Store.open(db) as store:
        record = store.load(Selection(run_id))
    rows = {t.row.ticket: t.row for t in record.tickets}
    assert (rows["hi-fork1-fork1"].forked_from, rows["hi-fork1-fork1"].forked_turn) == ("hi-fork1", 1)
