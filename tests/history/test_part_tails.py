"""A long answer streamed over many batches: each batch writes what it added (a row of the part's
tails, migration 19), never the text before it; the part reads whole at every point, and once sealed
(or recovered after a crash, or in a file an lfg of schema 18 left) it is one row as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    Event,
    EventFactory,
    Outcome,
    PromptSent,
    RequestSent,
    TextDelta,
)
from lfgtui.history.recorder import Item, Started
from lfgtui.history.recovery import INTERRUPTED_STATUS
from lfgtui.history.rows import read_attempt, unpack_chunks
from lfgtui.history.schema import PartKind
from lfgtui.history.store import Store
from tests.support.recording import WALL, as_schema_18, record

BATCHES = 40
PER_BATCH = 25


def words(batch: int) -> list[str]:
    """The batch's deltas; each batch has a word of its own (`wordNN`), the last `finalword`."""
    last = "finalword " if batch == BATCHES - 1 else f"word{batch} "
    return [last, *(f"tok{k} " for k in range(PER_BATCH - 1))]


def long_answer(end: bool) -> list[list[Item]]:
    """One attempt's long answer in `BATCHES` batches, ended (or not: the run stops mid-stream)."""
    clock = [100.0]
    ev = EventFactory("explore", 1, clock=lambda: clock[0])

    def at(dt: float, kind: type[Event], **fields: object) -> Event:
        clock[0] += dt
        return ev(kind, **fields)

    start = at(0, AttemptStarted, provider="sim", model="m")
    opening: list[Item] = [
        Started(start, WALL + 100.0),
        at(0, PromptSent, text="go"),
        at(0.001, RequestSent, call=0),
    ]
    batches: list[list[Item]] = [
        [at(0.005, TextDelta, text=w) for w in words(batch)] for batch in range(BATCHES)
    ]
    batches[0][:0] = opening
    if end:
        batches.append(
            [at(0.001, CallEnded, stop_reason="stop"), at(0, AttemptEnded, outcome=Outcome.COMPLETED)]
        )
    return batches


WHOLE = "".join(w for batch in range(BATCHES) for w in words(batch))


def text_part(conn: sqlite3.Connection) -> tuple[int, str, bytes, int]:
    (row,) = conn.execute("SELECT id, text, chunks, sealed FROM parts WHERE kind = 'text'").fetchall()
    return row


def test_each_batch_writes_what_it_added_and_the_part_reads_whole(tmp_path: Path) -> None:
    batches = long_answer(end=True)
    recorder = record(tmp_path / "h.sqlite3", tmp_path)
    try:
        conn = recorder.conn
        for n, batch in enumerate(batches[:BATCHES]):
            recorder.write(batch)
            part_id, head, _, sealed = text_part(conn)
            tails = conn.execute("SELECT text FROM part_tails WHERE part_id = ? ORDER BY id", (part_id,))
            assert head == "".join(words(0)) and not sealed, "the part's own row keeps its first batch"
            assert [text for (text,) in tails] == ["".join(words(b)) for b in range(1, n + 1)]
            (attempt_id,) = conn.execute("SELECT id FROM attempts").fetchone()
            (text,) = [p for p in read_attempt(conn, attempt_id).parts if p.kind == PartKind.TEXT]
            assert text.text == "".join(w for b in range(n + 1) for w in words(b))
            assert len(unpack_chunks(text.chunks)) == (n + 1) * PER_BATCH
        recorder.write(batches[-1])
        _, whole, chunks, sealed = text_part(conn)
        assert whole == WHOLE and sealed and len(unpack_chunks(chunks)) == BATCHES * PER_BATCH
        assert conn.execute("SELECT count(*) FROM part_tails").fetchone() == (0,), "folded once sealed"
    finally:
        recorder.finish()
    with Store.open(tmp_path / "h.sqlite3") as store:
        (hit,) = store.search("word17")
        assert store.search("finalword") and hit.attempt_id == store.search("word3")[0].attempt_id


def stopped_mid_stream(db: Path, tmp_path: Path) -> None:
    """A run that stopped (killed) while its answer streamed: its rows as it left them, its lock gone."""
    recorder = record(db, tmp_path, *long_answer(end=False))
    recorder.store.close()
    recorder.lock.release()


def test_a_run_killed_mid_stream_is_recovered_with_the_whole_answer(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    stopped_mid_stream(db, tmp_path)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM part_tails").fetchone() == (BATCHES - 1,)
    Store.open(db).close()
    with sqlite3.connect(db) as conn:
        _, whole, chunks, sealed = text_part(conn)
        assert whole == WHOLE and sealed and len(unpack_chunks(chunks)) == BATCHES * PER_BATCH
        assert conn.execute("SELECT count(*) FROM part_tails").fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM parts WHERE text = ?", (INTERRUPTED_STATUS,)
        ).fetchone() == (1,)
    with Store.open(db) as store:
        assert store.search("finalword") and store.search("word20")


def test_a_file_of_schema_18_left_mid_stream_reads_the_same(tmp_path: Path) -> None:
    """An lfg of schema 18 wrote a streaming part's text into its row: such a file, left by a run that
    stopped mid-stream, is migrated and recovered with the same answer."""
    db = tmp_path / "h.sqlite3"
    stopped_mid_stream(db, tmp_path)
    with sqlite3.connect(db) as conn:
        as_schema_18(conn)
        _, whole, _, sealed = text_part(conn)
        assert whole == WHOLE and not sealed
    with Store.open(db) as store:
        assert store.search("finalword")
    with sqlite3.connect(db) as conn:
        _, whole, chunks, sealed = text_part(conn)
        assert whole == WHOLE and sealed and len(unpack_chunks(chunks)) == BATCHES * PER_BATCH
