"""History commands over untrusted content: escape sequences from models, crafted export files, rows
no lfg wrote, a damaged file. Each runs the real `lfg` command line (`cli.main`) on real files."""

from __future__ import annotations

import copy
import json
import os
import re
import sqlite3
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lfgtui.commands import main as cli
from lfgtui.history.export import to_json
from lfgtui.history.lock import RunLock
from lfgtui.history.store import Selection, Store
from lfgtui.tools.sandbox_home import state_copies
from tests.support import warm_lfg
from tests.support.lfg import Lfg as LfgRun
from tests.support.patience import PATIENCE
from tests.support.recording import older_lfg_recording, record, sample_attempt, without_imported_at
from tests.support.terminal import Terminal

EVIL = (
    "\x1b]0;pwned\x07 \x1b]52;c;cm0gLXJmIH4=\x07 \x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\ "
    "\x1b[2J\x1b[H \x9b31m"
)
VISIBLE = "␛]0;pwned␇"
LINK = "[the docs](http://evil.example/docs)"
UNSAFE = re.compile("[\x1b\x07\x80-\x9f]")


Lfg = Callable[..., tuple[int, str, str]]


@pytest.fixture
def lfg(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Lfg:
    """`lfg history COMMAND ARGS… --db DB` in this process: (exit code, stdout, stderr)."""
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.delenv("LFG_DB", raising=False)

    def run(command: str, *args: str, db: Path = tmp_path / "h.sqlite3") -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(["history", command, "--db", str(db), "--config", str(config), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def exported(tmp_path: Path) -> dict[str, Any]:
    """A real recorded run (reasoning, a tool call and its result, an answer) as an export document."""
    db = tmp_path / "source.sqlite3"
    recorder = record(db, tmp_path, sample_attempt())
    recorder.finish()
    with Store.open(db) as store:
        return to_json(store.load(Selection(recorder.run_id)))


def attempt_of(document: dict[str, Any]) -> dict[str, Any]:
    return document["run"]["tickets"][0]["attempts"][0]


def crafted(tmp_path: Path) -> dict[str, Any]:
    """The run with escape sequences in every kind of text a model, a tool or an import controls."""
    document = exported(tmp_path)
    run = document["run"]
    run["tickets_file"] = f"/tmp/{EVIL}.toml"
    run["command"] = f"lfg run {EVIL}"
    ticket = run["tickets"][0]
    ticket["title"] = f"title {EVIL}"
    attempt = attempt_of(document)
    attempt["provider"] = f"sim{EVIL}"
    attempt["error_message"] = f"failed {EVIL}"
    for part in attempt["parts"]:
        if part["kind"] == "text":
            part["text"] = f"widgets {EVIL} {LINK}\n"
        elif part["kind"] in ("reasoning", "tool_result", "prompt"):
            part["text"] = f"{part['text']} {EVIL}"
        elif part["kind"] == "tool_call":
            part["name"] = f"list_dir{EVIL}"
    return document


@pytest.fixture
def evil(tmp_path: Path, lfg: Lfg) -> tuple[dict[str, Any], str]:
    document = crafted(tmp_path)
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(document))
    code, _, err = lfg("import", str(path))
    assert code == 0, err
    return document, document["run"]["id"]


def assert_inert(text: str) -> None:
    found = UNSAFE.search(text)
    assert found is None, (
        f"{found.group()!r} reaches the terminal in …{text[max(0, found.start() - 40) :][:80]!r}"
    )


# --- 1. escape sequences ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("show", "{run}"),
        ("show", "{run}/explore"),
        ("list",),
        ("search", "widgets"),
        ("search", "pwned"),
        ("stats",),
        ("export", "{run}"),
        ("export", "{run}", "--format", "md"),
    ],
)
def test_text_outputs_show_escape_sequences_without_running_them(
    evil: tuple[dict[str, Any], str], lfg: Lfg, command: tuple[str, ...]
) -> None:
    _, run_id = evil
    code, out, err = lfg(*(arg.format(run=run_id) for arg in command))
    assert code == 0, err
    assert_inert(out + err)
    assert (VISIBLE if command[0] != "list" else "␛[2J␛[H \\x9b31m.toml") in out


def test_markdown_file_export_is_inert_and_the_history_keeps_the_raw_text(
    evil: tuple[dict[str, Any], str], lfg: Lfg, tmp_path: Path
) -> None:
    _, run_id = evil
    target = tmp_path / "run.md"
    assert lfg("export", run_id, "-o", str(target))[0] == 0
    markdown = target.read_text()
    assert_inert(markdown)
    assert f"widgets {VISIBLE}" in markdown and "\\x9b31m" in markdown
    with sqlite3.connect(tmp_path / "h.sqlite3") as conn:
        texts = [text for (text,) in conn.execute("SELECT text FROM parts WHERE kind = 'text'")]
    assert any(EVIL in text for text in texts), "what is stored is never made inert"


@pytest.mark.parametrize("command", [("export", "{run}", "--format", "json"), ("show", "{run}", "--json")])
def test_json_outputs_are_lossless_yet_show_nothing_raw(
    evil: tuple[dict[str, Any], str], lfg: Lfg, command: tuple[str, ...]
) -> None:
    document, run_id = evil
    code, out, _ = lfg(*(arg.format(run=run_id) for arg in command))
    assert code == 0
    assert_inert(out)
    shown, imported_at = without_imported_at(json.loads(out))
    assert isinstance(imported_at, float) and shown == without_imported_at(document)[0]


@pytest.mark.parametrize(
    "command", [("list", "--json"), ("search", "widgets", "--json"), ("stats", "--json")]
)
def test_json_listings_keep_the_raw_text(
    evil: tuple[dict[str, Any], str], lfg: Lfg, command: tuple[str, ...]
) -> None:
    code, out, _ = lfg(*command)
    assert code == 0
    assert_inert(out)
    assert any("\x1b]0;pwned\x07" in text for text in strings(json.loads(out)))


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in strings(item)]


def test_show_in_a_terminal_shows_links_as_text_not_hyperlinks(
    evil: tuple[dict[str, Any], str], lfg: Lfg, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich styles as for a terminal (and would emit OSC 8)
    _, run_id = evil
    code, out, _ = lfg("show", run_id)
    assert code == 0
    assert "\x1b[" in out, "styled as for a terminal"
    assert "\x1b]" not in out, "no OSC sequence at all: no title, clipboard or hyperlink"
    assert "http://evil.example/docs" in out


# --- 2. crafted imports, bad rows, delete ---------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set a field, named by its path from the run (`tickets.0.attempts.0.started_at`), to `value`."""

    def change(document: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        target: Any = document["run"]
        for name in parents:
            target = target[int(name)] if name.isdigit() else target[name]
        if value is _MISSING:
            del target[key]
        else:
            target[key] = value

    return change


_MISSING = object()
ATTEMPT = "tickets.0.attempts.0"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            _set(f"{ATTEMPT}.started_at", "yesterday"),
            "attempts[0] (attempt {attempt}).started_at: must be a number",
        ),
        (_set(f"{ATTEMPT}.started_at", 1e400), "started_at: must be a finite number"),
        (_set("started_at", 1e300), "run.started_at: must be a Unix time between 1970 and 9999"),
        (_set(f"{ATTEMPT}.output_tokens", "12"), "output_tokens: must be a whole number"),
        (_set(f"{ATTEMPT}.output_tokens", 10**30), "output_tokens: must be a whole number"),
        (_set(f"{ATTEMPT}.ttft_ms", float("nan")), "ttft_ms: must be a finite number"),
        (_set(f"{ATTEMPT}.output_tokens", -3), "output_tokens: must not be negative, not -3"),
        (_set(f"{ATTEMPT}.cost_usd", -0.5), "cost_usd: must not be negative, not -0.5"),
        (
            _set(f"{ATTEMPT}.requests.0.cache_read_tokens", -1),
            "requests[0].cache_read_tokens: must not be negative",
        ),
        (_set("id", {"a": 1}), "run.id: must be a string"),
        (_set("id", "../../etc"), "run.id: must be 12 lowercase hex digits"),
        (_set(f"{ATTEMPT}.id", "\x1b]0;x\x07"), "attempts[0].id: must be 12 lowercase hex digits"),
        (_set("tickets.0.ticket", "a/b"), "tickets[0].ticket: may use only letters"),
        (_set("tickets.0.depends_on", ["x y"]), "depends_on[0]: is not a ticket id"),
        (_set(f"{ATTEMPT}.outcome", "won"), "outcome: must be one of cancelled, completed"),
        (_set(f"{ATTEMPT}.error_kind", "boom"), "error_kind: must be one of auth"),
        (_set(f"{ATTEMPT}.parts.0.kind", "script"), "parts[0].kind: must be one of"),
        (_set(f"{ATTEMPT}.parts.0.meta", "[1]"), "parts[0].meta: must be a JSON object"),
        (_set(f"{ATTEMPT}.parts.0.chunks", "not base64!"), "parts[0].chunks: must be base64"),
        (_set(f"{ATTEMPT}.parts.0.text", "\ud800"), "parts[0].text: holds a lone surrogate"),
        (_set(f"{ATTEMPT}.parts.0.sealed", 1), "parts[0].sealed: must be true or false"),
        (_set(f"{ATTEMPT}.requests", {}), "requests: must be a list"),
        (_set(f"{ATTEMPT}.requests.0.n", True), "requests[0].n: must be a whole number"),
        (_set(f"{ATTEMPT}.started_at", _MISSING), "started_at: is missing"),
        (_set("tickets.0.title", None), "tickets[0] (ticket explore).title: must not be null"),
    ],
)
def test_a_crafted_export_is_refused_whole_saying_where(
    tmp_path: Path, lfg: Lfg, change: Callable[[dict[str, Any]], None], where: str
) -> None:
    document = exported(tmp_path)
    change(document)
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(document))
    code, _, err = lfg("import", str(path))
    assert code == 1
    assert where.format(attempt=attempt_of(document).get("id")) in err and "nothing was imported" in err
    assert_inert(err)
    assert lfg("list", "--json")[1] == "[]\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{not utf-8", "is not UTF-8 text"),
        (b"{'format': ", "is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"format": "lfgtui-history", "version": 1, "run": {"tickets": 1e99999999}}', "not a valid"),
        (b"1" * 10_000, "is not JSON"),
    ],
    ids=["not-utf8", "not-json", "deep", "huge-exponent", "too-many-digits"],
)
def test_a_file_that_is_not_an_export_is_refused(
    tmp_path: Path, lfg: Lfg, content: bytes, message: str
) -> None:
    path = tmp_path / "crafted.json"
    path.write_bytes(content)
    code, _, err = lfg("import", str(path))
    assert code == 1 and message in err and str(path) in err


def test_an_import_that_fails_half_way_leaves_nothing_behind(tmp_path: Path, lfg: Lfg) -> None:
    document = exported(tmp_path)
    ticket = document["run"]["tickets"][0]
    second = copy.deepcopy(ticket)
    second["ticket"] = "again"  # its attempt has the same id as the first ticket's: the insert fails
    document["run"]["tickets"].append(second)
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(document))
    code, _, err = lfg("import", str(path))
    assert code == 1 and "UNIQUE constraint failed: attempts.id" in err
    with sqlite3.connect(tmp_path / "h.sqlite3") as conn:
        for table in ("runs", "tickets", "attempts", "requests", "parts"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table


KEYS = {"id", "run_id", "ticket_id", "attempt_id", "outcome", "kind", "n", "seq"}
"""Columns left alone: the keys that tie rows together, those with a CHECK, and those unique within an
attempt (every row of the table gets the same value)."""
BAD_VALUES = ["x", b"\xff\x00", 1e308, -7, 2**63 - 1, "[[[[", "\x1b]0;pwned\x07"]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
@pytest.mark.parametrize("table", ["runs", "tickets", "attempts", "requests", "parts"])
def test_rows_no_lfg_wrote_never_stop_a_reader(tmp_path: Path, lfg: Lfg, table: str, bad: object) -> None:
    db = tmp_path / "h.sqlite3"
    recorder = record(db, tmp_path, sample_attempt())
    recorder.finish()
    run_id = recorder.run_id
    with sqlite3.connect(db) as conn:
        columns = [name for _, name, *_ in conn.execute(f"PRAGMA table_info({table})") if name not in KEYS]
        conn.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)}", [bad] * len(columns))
    for command in (
        ("list",),
        ("list", "--json"),
        ("show", run_id),
        ("show", run_id, "--json"),
        ("export", run_id),
        ("export", run_id, "--format", "json"),
        ("stats",),
        ("stats", "--json"),
        ("search", "widgets"),
        ("search", "widgets", "--json"),
    ):
        code, out, err = lfg(*command)
        assert code == 0 or (command[0] == "search" and code == 1), (command, err)
        assert_inert(out + err)
        if command[-1] == "--json" or "json" in command:
            json.loads(out)
    if table in ("runs", "attempts") and bad == "x":
        assert "started ?" in lfg("show", run_id)[1].lower(), "a bad time shows as ?"


def two_runs(tmp_path: Path) -> tuple[Path, str, str]:
    db = tmp_path / "h.sqlite3"
    ids = []
    for _ in range(2):
        recorder = record(db, tmp_path, sample_attempt())
        recorder.finish()
        ids.append(recorder.run_id)
    return db, ids[0], ids[1]


def test_delete_removes_a_run_its_rows_and_its_search_entries(tmp_path: Path, lfg: Lfg) -> None:
    db, gone, kept = two_runs(tmp_path)
    code, out, err = lfg("delete", gone[:6], "--yes")
    assert code == 0, err
    assert f"deleted run {gone} (1 ticket, 1 attempt" in out
    assert [run["id"] for run in json.loads(lfg("list", "--json")[1])] == [kept]
    assert {hit["run_id"] for hit in json.loads(lfg("search", "widgets", "--json")[1])} == {kept}
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO parts_fts (parts_fts, rank) VALUES ('integrity-check', 1)")
        orphans = conn.execute(
            "SELECT count(*) FROM parts WHERE attempt_id NOT IN (SELECT id FROM attempts)"
        ).fetchone()
        assert orphans == (0,)
        assert (
            conn.execute("SELECT count(*) FROM parts_fts").fetchone()
            == conn.execute("SELECT count(*) FROM part_search").fetchone()
        )
    assert lfg("delete", gone, "--yes")[0] == 2, "already gone: an unknown id"


def test_delete_refuses_what_it_should_not_do(tmp_path: Path, lfg: Lfg) -> None:
    db, run_id, _ = two_runs(tmp_path)
    code, _, err = lfg("delete", run_id)
    assert code == 2 and "without --yes: stdin is not a terminal" in err
    with Store.open(db) as store:
        attempt_id = store.load(Selection(run_id)).tickets[0].attempts[0].row.id
    code, _, err = lfg("delete", attempt_id, "--yes")
    assert code == 1 and f"is attempt {attempt_id} of run {run_id}" in err
    lock = RunLock(db, run_id)
    try:
        code, _, err = lfg("delete", run_id, "--yes")
    finally:
        lock.release()
    assert code == 1 and "still running in another lfg" in err
    assert len(json.loads(lfg("list", "--json")[1])) == 2, "nothing was deleted"


def test_delete_asks_on_a_terminal(tmp_path: Path) -> None:
    db, run_id, kept = two_runs(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LFG_")}
    command = [sys.executable, "-m", "lfgtui", "history", "delete", run_id[:5], "--db", str(db)]
    (tmp_path / "config.toml").write_text("")
    for answer, code, left in ((b"n\r", 1, 2), (b"y\r", 0, 1)):
        terminal = Terminal()
        process = terminal.start([*command, "--config", str(tmp_path / "config.toml")], env)
        terminal.wait_for(b"[y/N]")
        assert b"1 ticket, 1 attempt" in terminal.output
        terminal.type(answer)
        assert process.wait(timeout=60 * PATIENCE) == code, terminal.output.decode()
        with Store.open(db) as store:
            assert len(store.list_runs()) == left
    with Store.open(db) as store:
        assert [run.id for run in store.list_runs()] == [kept]


# --- 3. a damaged file --------------------------------------------------------------------------------


def damage(db: Path) -> bytes:
    """Garbage over the middle third of the file's pages; returns what the file then holds."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE parts SET text = text || ? WHERE kind = 'text'", ("widgets " * 20_000,))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    pages = db.stat().st_size // 4096
    with db.open("r+b") as file:
        for page in range(pages // 3, 2 * pages // 3):
            file.seek(page * 4096)
            file.write(b"\xa5" * 4096)
    return db.read_bytes()


@pytest.mark.parametrize("garbage", ["pages", "not sqlite"])
def test_a_damaged_file_is_named_with_what_to_do_and_kept(tmp_path: Path, lfg: Lfg, garbage: str) -> None:
    db, run_id, _ = two_runs(tmp_path)
    if garbage == "pages":
        content = damage(db)
    else:
        content = b"these are my notes, not a database\n" * 200
        db.write_bytes(content)
    for command in (
        ("list",),
        ("stats",),
        ("search", "widgets"),
        ("show", run_id),
        ("export", run_id),
        ("delete", run_id, "--yes"),
    ):
        code, out, err = lfg(*command)
        if code == 0 and command[0] in ("list", "stats") and garbage == "pages":
            continue  # what they read is on pages the garbage missed: the long answers are elsewhere
        assert code == 1, (command, out, err)
        assert f"the history file {db} is damaged" in err and "Move it aside" in err, (command, err)
        assert "lfg never deletes it" in err
    assert db.read_bytes() == content


def test_lfg_run_over_a_damaged_file_runs_without_history(tmp_path: Path) -> None:
    runner = LfgRun(tmp_path)
    db = tmp_path / "h.sqlite3"
    db.write_bytes(b"not a database\n" * 300)
    code, events, stderr = runner.run(
        runner.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\n'), "--db", str(db)
    )
    assert code == 0 and any(e["type"] == "attempt_ended" for e in events)
    assert f"history is off for this run: the history file {db} is damaged" in stderr
    assert "Traceback" not in stderr
    assert db.read_bytes() == b"not a database\n" * 300


def test_lfg_run_beside_an_older_lfg_still_recording_runs_without_history(tmp_path: Path) -> None:
    """A file of schema 2 that an older lfg is recording a run into (it holds the run's lock) is left
    to it: the new run goes on unrecorded and says why."""
    runner = LfgRun(tmp_path)
    db = tmp_path / "h.sqlite3"
    with older_lfg_recording(db, tmp_path) as older:
        code, events, stderr = runner.run(
            runner.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\n'), "--db", str(db)
        )
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert code == 0 and any(e["type"] == "attempt_ended" for e in events)
    assert f"history is off for this run: the history file {db} is being written by an older lfg" in stderr
    assert f"(run {older})" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("command", ["replay", "resume"])
def test_replay_and_resume_of_a_damaged_file_say_so_without_a_traceback(tmp_path: Path, command: str) -> None:
    db, run_id, _ = two_runs(tmp_path)
    content = damage(db)
    done = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", command, run_id, "--db", str(db)],
        timeout=60 * PATIENCE,
        env=os.environ | {"XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"the history file {db} is damaged" in done.stderr
    assert db.read_bytes() == content


# --- 4. permissions --------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_history_file_readable_by_others_is_tightened(tmp_path: Path, lfg: Lfg) -> None:
    db, _, _ = two_runs(tmp_path)
    holder = sqlite3.connect(db)  # keeps the -wal and -shm files in place
    try:
        holder.execute("PRAGMA journal_mode = WAL")
        holder.execute("UPDATE runs SET command = command")
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        for file in files:
            file.chmod(0o644)
        code, _, err = lfg("list")
        assert code == 0 and "warning" not in err
        assert [mode(file) for file in files] == [0o600, 0o600, 0o600]
    finally:
        holder.close()


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a file to another user")
def test_a_file_of_another_user_is_left_alone_with_a_warning(tmp_path: Path, lfg: Lfg) -> None:
    db, _, _ = two_runs(tmp_path)
    db.chmod(0o644)
    os.chown(db, 65534, 65534)
    code, out, err = lfg("list")
    assert code == 0 and out
    warning = f"warning: {db} is readable by others (mode 644) and owned by another user"
    assert warning in err
    assert mode(db) == 0o644
    runner = LfgRun(tmp_path)
    code, _, stderr = runner.run(
        runner.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\n'), "--db", str(db)
    )
    assert code == 0 and warning in stderr, "lfg run warns as well"


def test_every_folder_lfg_creates_is_private(tmp_path: Path, lfg: Lfg) -> None:
    old = os.umask(0o022)
    try:
        db = tmp_path / "a" / "b" / "c" / "h.sqlite3"
        recorder = record(db, tmp_path, sample_attempt())
        recorder.finish()
        assert lfg("list", db=db)[0] == 0
    finally:
        os.umask(old)
    created = [
        tmp_path / "a",
        tmp_path / "a" / "b",
        tmp_path / "a" / "b" / "c",
        db.with_name("h.sqlite3.locks"),
    ]
    assert [oct(mode(folder)) for folder in created] == [oct(0o700)] * 4
    assert mode(db) == 0o600


# --- 5. search size ------------------------------------------------------------------------------------


def test_a_search_too_big_to_run_is_refused_at_once(tmp_path: Path, lfg: Lfg) -> None:
    two_runs(tmp_path)
    code, out, err = lfg("search", *(f"w{i}" for i in range(5000)))
    assert code == 2 and not out
    assert "at most 1000 are searched" in err
    code, _, err = lfg("search", *(f"w{i}" for i in range(100)))
    assert code == 2 and "the search has 100 terms" in err and "at most 64 terms" in err
    assert lfg("search", *(["widgets*"] * 100))[0] == 0, "repeats count once"


def test_delete_takes_the_runs_agent_settings_copies_with_it(
    tmp_path: Path, lfg: Lfg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sandboxed agent's copy of its own settings (run/agents/agent_state.py) is kept per run; it
    went nowhere when its run was deleted, and the copies of every run piled up. The other run's
    copies stay."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    _, gone, kept = two_runs(tmp_path)
    for run_id in (gone, kept):
        (state_copies() / run_id / "ticket-one" / "live").mkdir(parents=True)
    code, out, err = lfg("delete", gone, "--yes")
    assert code == 0, err
    assert f"its sandboxed agents' copies of their own settings (lfg settings {gone})" in out
    assert not (state_copies() / gone).exists() and (state_copies() / kept).is_dir()
