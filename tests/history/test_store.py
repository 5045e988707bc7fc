"""The history file: creation and migration, modes, recovery after a crash, search, ids."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lfgtui.events import AttemptEnded, ErrorInfo, ErrorKind, EventFactory, Outcome, TextDelta
from lfgtui.history.database import StoreError, default_db_path, migrate, resolve_db_path
from lfgtui.history.recorder import Recorder
from lfgtui.history.recovery import INTERRUPTED_RESULT
from lfgtui.history.rows import RequestRow, RunRecord, TicketRow
from lfgtui.history.schema import MIGRATIONS, PartKind
from lfgtui.history.search import (
    MAX_QUERY_CHARS,
    MAX_QUERY_PREFIXES,
    MAX_QUERY_TERMS,
    Filters,
    QueryTooLarge,
    fts_query,
)
from lfgtui.history.store import Selection, Store
from lfgtui.providers.base import AssistantMessage, ToolResultMessage
from tests.support.recording import (
    as_schema_2,
    as_schema_3,
    as_schema_4,
    as_schema_5,
    as_schema_6,
    as_schema_7,
    as_schema_8,
    as_schema_9,
    as_schema_10,
    as_schema_11,
    as_schema_12,
    as_schema_13,
    as_schema_14,
    as_schema_15,
    as_schema_16,
    as_schema_17,
    as_schema_18,
    as_schema_19,
    as_schema_20,
    as_schema_21,
    as_schema_22,
    as_schema_23,
    as_schema_24,
    as_schema_25,
    as_schema_26,
    as_schema_27,
    as_schema_28,
    as_schema_29,
    as_schema_30,
    as_schema_31,
    as_schema_32,
    as_schema_33,
    as_schema_34,
    as_schema_35,
    older_lfg_recording,
    record,
    sample_attempt,
    ticket,
)

TABLES = {"runs", "tickets", "attempts", "requests", "parts", "parts_fts"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def crash(recorder: Recorder) -> None:
    """What SIGKILL leaves: the connection gone without `finish`, the lock dropped by the kernel."""
    recorder.store.close()
    recorder.lock.release()


def test_a_new_file_is_created_private_and_migrated(tmp_path: Path) -> None:
    db = tmp_path / "data" / "lfgtui" / "history.sqlite3"
    with Store.open(db) as store:
        assert mode(db.parent) == 0o700
        assert mode(db) == 0o600
        store.conn.execute("CREATE TABLE probe (x)")
        for sidecar in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            assert mode(sidecar) == 0o600
        version = store.conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == len(MIGRATIONS) >= 1
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        names = {name for (name,) in store.conn.execute("SELECT name FROM sqlite_master")}
        assert names >= TABLES


def test_an_existing_empty_file_and_folder_are_migrated_and_kept(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    db.write_bytes(b"")
    folder_mode = mode(tmp_path)
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert mode(tmp_path) == folder_mode, "a folder lfg did not create is left as it was"
    with Store.open(db) as store:
        assert migrate(store.conn, db) == len(MIGRATIONS), "migrating twice is a no-op"


def test_a_folder_another_lfg_creates_meanwhile_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs starting at once on a fresh machine: the folder appears between the check and the
    mkdir. That used to fail the second run's history ("cannot open the history file")."""
    db = tmp_path / "data" / "history.sqlite3"
    db.parent.mkdir(mode=0o700)
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda path: path != db.parent and real_exists(path))
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_file_of_the_first_schema_is_migrated_and_keeps_every_run(tmp_path: Path) -> None:
    """A file written before costs and worktrees were recorded (schema 1) gains their columns, empty,
    and its runs read back as before."""
    db = tmp_path / "h.sqlite3"
    record(db, tmp_path, sample_attempt()).finish()
    with sqlite3.connect(db) as conn:
        as_schema_2(conn)
        conn.execute("PRAGMA foreign_keys = OFF")
        for table, column in ADDED_IN_V2:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 1")
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        (run,) = store.list_runs()
        record_read = store.load(Selection(run.id))
        (attempt,) = record_read.tickets[0].attempts
        assert attempt.row.cost_usd is None and attempt.row.diff is None and attempt.row.output_tokens
        assert "".join(part.text for part in attempt.parts if part.kind == PartKind.TEXT)


ADDED_IN_V2 = [
    ("attempts", column)
    for column in (
        "cost_usd",
        "cost_estimated",
        "worktree",
        "branch",
        "diff_added",
        "diff_removed",
        "diff_files",
        "diff",
    )
] + [("turns", "cache_read_tokens"), ("turns", "cache_write_tokens")]


def columns(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every table's columns as SQLite describes them: name, type, NOT NULL, default, primary key."""
    tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {table: list(conn.execute(f"PRAGMA table_info({table})")) for table in tables}


@pytest.mark.parametrize(
    ("undo", "version"),
    [
        (as_schema_2, 2),
        (as_schema_3, 3),
        (as_schema_4, 4),
        (as_schema_5, 5),
        (as_schema_6, 6),
        (as_schema_7, 7),
        (as_schema_8, 8),
        (as_schema_9, 9),
        (as_schema_10, 10),
        (as_schema_11, 11),
        (as_schema_12, 12),
        (as_schema_13, 13),
        (as_schema_14, 14),
        (as_schema_15, 15),
        (as_schema_16, 16),
        (as_schema_17, 17),
        (as_schema_18, 18),
        (as_schema_19, 19),
        (as_schema_20, 20),
        (as_schema_21, 21),
        (as_schema_22, 22),
        (as_schema_23, 23),
        (as_schema_24, 24),
        (as_schema_25, 25),
        (as_schema_26, 26),
        (as_schema_27, 27),
        (as_schema_28, 28),
        (as_schema_29, 29),
        (as_schema_30, 30),
        (as_schema_31, 31),
        (as_schema_32, 32),
        (as_schema_33, 33),
        (as_schema_34, 34),
        (as_schema_35, 35),
    ],
)
def test_undoing_migrations_gives_the_tables_of_the_older_schema(
    undo: Callable[[sqlite3.Connection], None], version: int
) -> None:
    """What the migration tests start from is the shape schemas 2 to 35 really had."""
    undone, older = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for migration in MIGRATIONS:
        undone.executescript(migration)
    undo(undone)
    for migration in MIGRATIONS[:version]:
        older.executescript(migration)
    assert columns(undone) == columns(older)
    assert undone.execute("PRAGMA user_version").fetchone()[0] == version


def test_a_file_an_older_lfg_is_recording_into_is_migrated_only_once_its_run_ends(tmp_path: Path) -> None:
    """Migration 3 renames the table an lfg of schema 2 writes each request to: while such an lfg is
    still recording a run (it holds the run's lock), the file is left for it and a newer lfg says why."""
    db = tmp_path / "h.sqlite3"
    with older_lfg_recording(db, tmp_path) as run_id:
        with pytest.raises(
            StoreError, match=f"being written by an older lfg \\(run {run_id}\\).*--no-history"
        ):
            Store.open(db)
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 2, "left as the older lfg knows it"
            assert conn.execute("SELECT count(*) FROM turns").fetchone()[0] > 0
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert store.load(Selection(run_id)).tickets[0].attempts


def as_schema_2_kept(record: RunRecord) -> RunRecord:
    """A run as a file of schema 2 keeps it: its tickets without what migration 4 added (the defaults),
    its attempts without what migrations 6 and 8 added, its requests' characters as migration 20
    counts them (those of lfg's estimate), no `[defaults]` table (migration 34)."""
    defaults = {
        f.name: f.default for f in dataclasses.fields(TicketRow) if f.default is not dataclasses.MISSING
    }

    def counted(request: RequestRow) -> RequestRow:
        known = request.output_tokens and request.estimated_tokens
        chars = (
            math.floor(request.estimated_tokens / (request.tokens_per_char or 0.25) + 0.5) if known else None
        )
        return dataclasses.replace(request, counted_chars=chars)

    tickets = tuple(
        dataclasses.replace(
            t,
            row=dataclasses.replace(t.row, **defaults),
            attempts=tuple(
                dataclasses.replace(
                    a,
                    row=dataclasses.replace(a.row, tokens_per_s_estimated=False, waited_s=None),
                    requests=tuple(counted(r) for r in a.requests),
                )
                for a in t.attempts
            ),
        )
        for t in record.tickets
    )
    return dataclasses.replace(
        record, row=dataclasses.replace(record.row, ticket_defaults=None), tickets=tickets
    )


def test_a_file_of_schema_2_is_migrated_and_reads_back_the_same(tmp_path: Path) -> None:
    """Schema 2 called each request sent a turn and the model-call limit max_turns: a file written then
    gets the names of now, and every run reads back as it did, its events, search and errors too."""
    db = tmp_path / "h.sqlite3"
    stopped = ErrorInfo(ErrorKind.MAX_CALLS, "stopped after 2 model calls (max_turns)")
    record(db, tmp_path, sample_attempt(), sample_attempt(attempt=2, error=stopped)).finish()
    with Store.open(db) as store:
        (run,) = store.list_runs()
        before = store.load(Selection(run.id))
        events = [store.attempt_events(a.row.id) for a in before.tickets[0].attempts]
    with sqlite3.connect(db) as conn:
        as_schema_2(conn)
        assert conn.execute("SELECT error_kind FROM attempts WHERE number = 2").fetchone() == ("max_turns",)
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        after = store.load(Selection(run.id))
        assert after == as_schema_2_kept(before)
        assert [store.attempt_events(a.row.id) for a in after.tickets[0].attempts] == events
        assert after.tickets[0].attempts[1].row.error_kind == ErrorKind.MAX_CALLS
        assert [p.request for p in after.tickets[0].attempts[0].parts] == [None, 0, 0, 0, 0, 1]
        assert len(store.search("dashboards")) == 2, "the search index still finds every answer"


def test_a_file_from_a_newer_lfg_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer than this lfg"):
        Store.open(db)


def test_the_path_comes_from_the_flag_then_the_environment_then_the_config(tmp_path: Path) -> None:
    flag, env, configured = tmp_path / "flag.db", tmp_path / "env.db", tmp_path / "config.db"
    assert resolve_db_path(flag, {"LFG_DB": str(env)}, configured) == flag
    assert resolve_db_path(None, {"LFG_DB": str(env)}, configured) == env
    assert resolve_db_path(None, {"LFG_DB": ""}, configured) == configured
    assert resolve_db_path(None, {}, None) == default_db_path()
    assert default_db_path().name == "history.sqlite3" and "lfgtui" in default_db_path().parts


def test_a_crashed_attempt_is_marked_interrupted_on_the_next_open(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    recorder = record(db, tmp_path, sample_attempt(ended=False))
    crash(recorder)
    with Store.open(db) as store:
        (attempt,) = store.load(Selection(recorder.run_id)).tickets[0].attempts
        assert store.recovered == [attempt.row.id]
        assert attempt.row.outcome == "interrupted"
        assert attempt.row.ended_ms == pytest.approx(545)
        assert attempt.row.ttft_ms == pytest.approx(299.0) and attempt.row.output_tokens == 12
        assert store.load(Selection(recorder.run_id)).row.ended_at is not None
        kinds = [p.kind for p in attempt.parts]
        assert kinds[-2:] == [PartKind.TOOL_RESULT, PartKind.STATUS]
        synthetic = attempt.parts[-2]
        assert (synthetic.call_id, synthetic.text, synthetic.is_error) == ("c1", INTERRUPTED_RESULT, True)
        assert all(p.sealed for p in attempt.parts)
        assert store.search("look")[0].kind == PartKind.TEXT, "the partial text is searchable"
        conversation = store.conversation(attempt.row.id)
        assert isinstance(conversation[1], AssistantMessage) and conversation[1].tool_calls
        assert conversation[2] == ToolResultMessage("c1", "list_dir", INTERRUPTED_RESULT, True)
        last = store.attempt_events(attempt.row.id)[-1]
        assert isinstance(last, AttemptEnded) and last.outcome is Outcome.INTERRUPTED
    with Store.open(db) as store:
        assert store.recovered == [], "recovery happens once"


def test_a_crash_mid_answer_keeps_the_text_up_to_the_last_batch(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    items = sample_attempt()
    recorder = record(db, tmp_path, items[:15], items[15:17])
    crash(recorder)
    with Store.open(db) as store:
        (attempt,) = store.load(Selection(recorder.run_id)).tickets[0].attempts
        answer = [p for p in attempt.parts if p.kind == PartKind.TEXT][-1]
        assert answer.text == "## Widget\nIt renders **widgets**"[:30]
        assert attempt.row.outcome == "interrupted"
        assert not [p for p in attempt.parts if p.kind == PartKind.TOOL_RESULT and p.info.get("synthetic")]


def test_a_live_run_is_never_marked_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    live = record(db, tmp_path, sample_attempt(ended=False))
    with Store.open(db) as store:
        assert store.recovered == []
        (attempt,) = store.load(Selection(live.run_id)).tickets[0].attempts
        assert attempt.row.outcome is None
    live.finish()
    with Store.open(db) as store:
        assert len(store.recovered) == 1, "once the run has ended, its open attempt is recovered"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """Two tickets of one live run: `explore` completed; `review` failed once and is streaming again."""
    db = tmp_path / "h.sqlite3"
    tickets = (ticket("explore"), ticket("review", model="reviewer"))
    recorder = record(db, tmp_path, sample_attempt(), sample_attempt("review"), tickets=tickets)
    recorder.write([EventFactory("review", 2)(TextDelta, text="never sealed: streaming")])
    with Store.open(db) as opened:
        opened.conn.execute(
            "UPDATE attempts SET model = 'reviewer', outcome = 'failed' WHERE number = 1 AND ticket_id = "
            "(SELECT id FROM tickets WHERE ticket = 'review')"
        )
        yield opened
    recorder.finish()


HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    '"unbalanced',
    "*",
    "-",
    "-widgets",
    "NEAR",
    "NEAR(widgets look)",
    "widgets OR",
    "AND",
    "(",
    ")widgets(",
    "^widgets",
    "answer:widgets",
    "{prompt answer}: widgets",
    "widgets NOT look",
    "'; DROP TABLE parts; --",
    "\x00",
    "ünïcödé 💥",
    "a" * MAX_QUERY_CHARS,
    " ".join(["widgets*"] * 1000)[:MAX_QUERY_CHARS],
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(store: Store, query: str) -> None:
    store.search(query)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_any_text_is_a_safe_query(store: Store, query: str) -> None:
    with contextlib.suppress(QueryTooLarge):  # the one error a search may give: see the test below
        store.search(query, Filters(status="completed"))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("a" * (MAX_QUERY_CHARS + 1), "1001 characters long; at most 1000"),
        (" ".join(f"w{i}" for i in range(MAX_QUERY_TERMS + 1)), "65 terms"),
        (" ".join(f"w{i}*" for i in range(MAX_QUERY_PREFIXES + 1)), "9 of them prefixes"),
        ('"a b" ' * 10 + " ".join(f"w{i}" for i in range(64)), "65 terms"),
    ],
)
def test_searches_too_big_to_run_are_refused_as_a_query_error(store: Store, query: str, message: str) -> None:
    with pytest.raises(QueryTooLarge, match=message) as raised:
        store.search(query)
    assert isinstance(raised.value, sqlite3.Error), "the history screen shows a failed search's sqlite3.Error"


def test_repeated_terms_count_once() -> None:
    assert fts_query(" ".join(["w*", "W*", "w!*", "w.*"] * 60)) == '"w"*'
    assert fts_query(" ".join(f"w{i % MAX_QUERY_TERMS}" for i in range(200))) is not None


def test_symbols_only_match_nothing(store: Store) -> None:
    assert fts_query('* - " ( ) ^ :') is None
    assert store.search("* -") == []


def test_fts_syntax_is_searched_as_words(store: Store) -> None:
    assert fts_query('NEAR(a b) OR "x y" c*') == '"NEAR(a" "b)" "OR" "x y" "c"*'
    assert store.search("widgets OR nothing-like-this") == []
    assert {hit.kind for hit in store.search("widgets")} == {"text"}


def test_exact_phrases_words_and_prefixes(store: Store) -> None:
    assert store.search('"renders widgets"'), "an exact phrase (markup between words does not count)"
    assert store.search('"widgets renders"') == []
    assert store.search("dashboards renders")
    assert store.search("dashboards absent") == [], "every word must match"
    assert store.search("dashb*")
    assert store.search("dashb") == []


def test_prompts_and_answers_outrank_tool_output(store: Store) -> None:
    store.conn.execute("UPDATE parts SET text = 'README.md widgets' WHERE kind = 'tool_result'")
    hits = store.search("widgets", Filters(ticket="explore"))
    assert [hit.kind for hit in hits] == ["text", "tool_result"]


def test_snippets_mark_each_match(store: Store) -> None:
    (hit,) = store.search("dashboards", Filters(ticket="explore"))
    assert [hit.snippet[start:end] for start, end in hit.highlights] == ["dashboards"]
    assert (hit.ticket, hit.attempt, hit.provider, hit.model) == ("explore", 1, "sim", "agent-demo")


def test_filters(store: Store) -> None:
    assert {h.ticket for h in store.search("widgets")} == {"explore", "review"}
    assert {h.ticket for h in store.search("widgets", Filters(model="reviewer"))} == {"review"}
    assert {h.ticket for h in store.search("widgets", Filters(status="failed"))} == {"review"}
    assert store.search("widgets", Filters(status="running")) == []
    assert store.search("widgets", Filters(provider="openai")) == []
    assert store.search("widgets", Filters(since=2_000_000_000)) == []
    assert store.search("widgets", Filters(since=0, ticket="explore"))


def test_a_streaming_part_is_indexed_once_sealed(store: Store) -> None:
    assert store.search("streaming") == []
    store.conn.execute("UPDATE parts SET sealed = 1 WHERE NOT sealed")
    assert [hit.kind for hit in store.search("streaming")] == ["text"]


def test_the_index_follows_updates_and_deletes(store: Store) -> None:
    store.conn.execute("UPDATE parts SET text = 'replaced entirely' WHERE kind = 'prompt'")
    assert store.search("project") == [] and len(store.search("replaced")) == 2
    store.conn.execute("INSERT INTO parts_fts (parts_fts, rank) VALUES ('integrity-check', 1)")
    store.conn.execute("DELETE FROM runs")
    assert store.search("widgets") == [] and store.search("replaced") == []
    assert store.conn.execute("SELECT count(*) FROM parts").fetchone()[0] == 0
    store.conn.execute("INSERT INTO parts_fts (parts_fts, rank) VALUES ('integrity-check', 1)")


def test_ids_resolve_by_unique_prefix(store: Store) -> None:
    (run,) = store.list_runs()
    attempts = [a.row.id for t in store.load(Selection(run.id)).tickets for a in t.attempts]
    assert store.resolve(run.id[:8]) == Selection(run.id)
    assert store.resolve(run.id.upper()) == Selection(run.id)
    assert store.resolve(attempts[0]) == Selection(run.id, "explore", attempts[0])
    assert store.resolve(f"{run.id[:6]}/review") == Selection(run.id, "review")
    with pytest.raises(StoreError, match="no run or attempt"):
        store.resolve("zzz")
    with pytest.raises(StoreError, match="no ticket 'nope'"):
        store.resolve(f"{run.id}/nope")
    store.conn.execute("INSERT INTO runs (id, started_at) VALUES ('abcd00000001', 0), ('abcd00000002', 0)")
    assert store.resolve("abcd00000001") == Selection("abcd00000001")
    with pytest.raises(StoreError, match="ambiguous: it could be run abcd00000001, run abcd00000002"):
        store.resolve("abcd")


def test_list_and_stats(store: Store) -> None:
    (run,) = store.list_runs()
    assert run.tickets == 2 and dict(run.outcomes) == {"completed": 1, "running": 1}
    assert run.output_tokens == 40
    stats = {(s.provider, s.model): s for s in store.stats()}
    explore = stats[("sim", "agent-demo")]
    assert (explore.attempts, explore.completed, explore.output_tokens) == (1, 1, 20)
    assert explore.ttft_p50_ms == explore.ttft_p95_ms == pytest.approx(299.0)
    assert explore.tokens_per_s_p50 is not None
    assert stats[("sim", "reviewer")].completed == 0
