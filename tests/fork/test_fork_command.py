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
