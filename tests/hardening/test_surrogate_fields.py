"""Every field of every event, and every request a watcher may send, with lone surrogates in it (JSON's
`"\\ud800"`, which Python reads as a character no UTF-8 can hold): each is mended where it enters the
run (surrogates.py), said in lfg's log, and goes through the history writer into real SQLite, the
NDJSON output and the served stream's codec whole. An event made around that boundary is mended by
the decoder and the writer too. The pane draws it inert: tests/hardening/test_outside_text.py's
hostile text holds lone surrogates as well.

The fields are enumerated from the code, as the hostile-text tests do (tests/support/hostile.py): a
field added to an event or a request is fed here without anyone listing it."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import sqlite3
import typing
from pathlib import Path
from typing import Any

import pytest

from lfgtui.commands.headless import JsonLines
from lfgtui.cost.metrics import MetricsBook
from lfgtui.cost.prices import PriceBook
from lfgtui.events import AttemptEnded, AttemptStarted, Event, EventFactory, event_types, observed
from lfgtui.history.writer import open_run_history
from lfgtui.providers.base import UserMessage
from lfgtui.remote.codec import decode, decode_message, encode
from lfgtui.run.requests import request_types
from lfgtui.sim.server import SimServer
from tests.support.hostile import LONE_SURROGATES, hostile, hostile_event, hostile_fields
from tests.support.recording import ticket, ticket_file
from tests.support.serving import asked, finish, served

LONE = LONE_SURROGATES
MENDED = "half \ufffd of one, \ufffd of another"
ESCAPED = re.compile(r"\\ud[89a-f][0-9a-f]{2}")
"""A surrogate as `repr` and JSON write it: what no mended value may hold, however deep."""


def kinds() -> list[type[Event]]:
    """Every event type of an attempt's stream, in an attempt's order: started first, ended last."""
    middle = [kind for kind in event_types() if kind not in (AttemptStarted, AttemptEnded)]
    return [AttemptStarted, *middle, AttemptEnded]


def whole(value: object) -> bool:
    return ESCAPED.search(repr(value)) is None


async def test_every_event_field_with_lone_surrogates_is_mended_where_it_is_made_and_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "lfgtui.surrogates")
    factory = EventFactory("t", 1)
    made = [factory(kind, **hostile_fields(kind, LONE)) for kind in kinds()]
    assert [type(event) for event in made if not whole(event)] == []
    assert MENDED in repr(made)
    said = "\n".join(record.getMessage() for record in caplog.records)
    unsaid = [
        k.__name__
        for k in kinds()
        if not whole(hostile_fields(k, LONE)) and f"t attempt 1: {k.__name__}." not in said
    ]
    assert unsaid == [], "each mended event said in lfg's log"
    raw = [hostile_event(kind, LONE, seq, "raw") for seq, kind in enumerate(kinds())]
    adopted = [EventFactory("t", 2).adopt(observed(event)) for event in raw]
    assert [type(event) for event in adopted if not whole(event)] == [], "from the provider worker too"

    buffer = io.BytesIO()
    out = io.TextIOWrapper(buffer, encoding="utf-8", errors="strict", write_through=True)
    lines = JsonLines(out, MetricsBook(prices=PriceBook({})), 0.0)
    for event in made:
        lines(event)
    written = [json.loads(line) for line in buffer.getvalue().decode("utf-8").splitlines()]
    assert written and all(whole(line) for line in written), "NDJSON, valid UTF-8"

    for event in made:  # the served stream: encoded as UTF-8 JSON, decoded as lfg attach does
        wire = json.dumps(encode(event, 0.0), ensure_ascii=False).encode()
        assert decode(json.loads(wire), 0.0) == event
    for event in raw:  # another process's JSON escapes (a broker entry): mended as they are decoded
        decoded = decode(json.loads(json.dumps(encode(event, 0.0))), 0.0)
        assert whole(decoded), type(event).__name__
    assert decode_message({"role": "user", "text": LONE}) == UserMessage(MENDED), (
        "a conversation a worker gets"
    )

    db = tmp_path / "h.sqlite3"
    problems: list[str] = []
    async with open_run_history(
        db, ticket_file(tmp_path, ticket("t"), ticket("raw")), "lfg run", problems.append
    ) as history:
        assert history is not None
        for event in [*made, *raw]:  # the raw ones came around the boundary: the writer mends them
            history(event)
    assert problems == []
    with sqlite3.connect(db) as conn:
        ended = conn.execute(
            "SELECT t.ticket, a.outcome, count(p.seq) FROM attempts a JOIN tickets t ON t.id = a.ticket_id "
            "LEFT JOIN parts p ON p.attempt_id = a.id GROUP BY a.id ORDER BY t.ticket"
        ).fetchall()
        texts = [text for (text,) in conn.execute("SELECT text FROM parts WHERE kind = 'text'")]
    assert [(ticket_id, outcome) for ticket_id, outcome, _ in ended] == [("raw", "failed"), ("t", "failed")]
    assert all(parts > len(kinds()) // 2 for _, _, parts in ended), ended
    assert texts == [MENDED, MENDED]


def request_body(cls: type[Any], ticket_id: str, held: int) -> dict[str, Any]:
    """A watcher's request of type `cls` as JSON, every string in it a lone surrogate's (but the
    ticket it is for, which must be the run's to reach it)."""
    hints = typing.get_type_hints(cls)
    body: dict[str, Any] = {"request": cls.kind}
    for field in dataclasses.fields(cls):
        value = hostile(hints[field.name], LONE)
        body[field.name] = ticket_id if field.name == "ticket" else held if field.name == "held" else value
    if "reply" in body:
        body["reply"] = {"action": "accept", "content": {LONE: LONE}}
    return body


HELD = (
    '[[ticket]]\nid = "t"\nprompt = "Look around."\nprovider = "sim"\nmodel = "steer-rounds"\n'
    'tools = ["write_file", "list_dir", "read_file"]\n'
)


async def test_every_request_a_watcher_may_send_with_lone_surrogates_is_taken_mended(
    sim: SimServer, tmp_path: Path
) -> None:
    """Each request type a watcher may send over `POST /v1/requests`, every string in it holding lone
    surrogates (sent as JSON's escapes, as a client's encoder would), while the ticket waits at an
    approval with a queued message held: none fails inside the run (a 500, a dropped connection, an
    attempt failed `internal`), the words it took are mended, and the run goes on to its end."""
    async with served(sim, tmp_path, HELD, control=True, yes=False) as run:
        run.run.start()
        call = await asked(run, 1)
        answers: dict[str, tuple[int, Any]] = {}
        async with run.client() as client:
            queued = {"request": "queue", "ticket": "t", "text": LONE}
            first = await client.post("/v1/requests", content=json.dumps(queued))
            assert (first.status_code, first.json()["as"]) == (200, "next_turn")
            (held,) = run.run.states["t"].inbox.held
            assert held.text == MENDED
            for cls in request_types():
                if not cls.served or cls.kind in ("cancel", "cancel-all", "remove-held", "approve"):
                    continue  # these carry no text of their own, and would end what the rest is sent to
                body = json.dumps(request_body(cls, "t", held.id))  # ensure_ascii: the escapes
                answer = await client.post("/v1/requests", content=body)
                answers[cls.kind] = (answer.status_code, answer.json())
            approve = {"request": "approve", "ticket": "t", "call": call.call_id, "allowed": True}
            assert (await client.post("/v1/requests", json=approve)).status_code == 200
            await finish(run)
    assert {kind: status for kind, (status, _) in answers.items() if status >= 500} == {}
    for _, body in answers.values():  # what a refusal quotes is text: UTF-8 holds it
        json.dumps(body, ensure_ascii=False).encode()
    assert answers["edit-held"] == (200, {"ok": True}) and answers["steer"][0] == 200
    assert [type(event) for event in run.events if not whole(event)] == []
    ends = [event for event in run.events if isinstance(event, AttemptEnded) and event.ticket == "t"]
    assert ends and all(end.error is None or "internal" not in end.error.describe() for end in ends), ends
