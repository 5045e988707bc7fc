"""Issue 73 across machines: a lone surrogate (JSON's `"\\ud800"`) in one model's stream on a real
`lfg worker` reaches the coordinator through the broker's entries, mended where the worker stamped it,
and the coordinator's history keeps every ticket's transcript, beside a plain ticket's."""

from __future__ import annotations

import sqlite3

import pytest

from tests.support.fleet import Fleet, coordinate, ends, finish
from tests.support.lfg import text
from tests.support.streams import SURROGATE_MIDWAY


@pytest.mark.timeout(120)
def test_a_lone_surrogate_on_a_worker_leaves_every_tickets_transcript_at_the_coordinator(
    fleet: Fleet,
) -> None:
    fleet.lfg.scenario("split", SURROGATE_MIDWAY)
    fleet.start("w1")
    db = fleet.lfg.home / "history.sqlite3"
    tickets = "".join(
        f'[[ticket]]\nid = "{name}"\nprompt = "go"\nprovider = "sim"\nmodel = "{model}"\n'
        for name, model in (("odd", "split"), ("plain", "hello"))
    )
    code, events, err = finish(coordinate(fleet, fleet.lfg.tickets(tickets), "--db", str(db)))
    assert code == 0, err
    assert "history" not in err.replace("lfg history", ""), err
    assert ends(events) == {("odd", 1): "completed", ("plain", 1): "completed"}
    shown = text(events, "odd")
    assert shown.count("\ufffd") == 1 and shown.replace("\ufffd", "") == "Half of a character, and the rest."
    with sqlite3.connect(db) as conn:
        kept = dict(
            conn.execute(
                "SELECT t.ticket, group_concat(p.text, '') FROM parts p "
                "JOIN attempts a ON a.id = p.attempt_id "
                "JOIN tickets t ON t.id = a.ticket_id WHERE p.kind = 'text' GROUP BY t.ticket"
            )
        )
    assert kept == {"odd": shown, "plain": text(events, "plain")}
