"""A coding agent's sub-agents' own words in the history: recorded from a real run of the sim agent's
scripted sub-agent (`--subagent`) into a real SQLite file, they come back in `lfg history export`
(Markdown and JSON) and `lfg history show` at the child's place, marked as the child's, its tokens
marked estimated (`~`) as the pane marks them; a hostile task or text stays inert where shown and
whole in the JSON. `lfg history search` finds a word only a child said, saying which child said it,
also a word a batch's end cut in two; a file of schema 30 is migrated in place, its words kept whole
and searchable."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from lfgtui.commands import main as cli
from lfgtui.config.load import Config
from lfgtui.cost.tokens import tokens_in
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    EventFactory,
    Outcome,
    SubagentChanged,
    SubagentDelta,
    TextDelta,
)
from lfgtui.history.export import from_json, import_record
from lfgtui.history.recorder import Item, Recorder, Started
from lfgtui.history.rows import subagent_words
from lfgtui.history.schema import MIGRATIONS
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import open_run_history
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.acp_stable import SUBAGENT_TEXT
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.recording import WALL, Clock, as_schema_30, record

TICKET = (
    '[[ticket]]\nid = "p"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0,tokens_per_s=300"\n'
)
UNSAFE = re.compile("[\x1b\x07\x80-\x9f]")
HOSTILE_TASK = "Read [/b] the **notes** [x](http://evil.example) <b>\x1b]0;pwned\x07\x1b[2J"
Lfg = Callable[..., tuple[int, str]]
HOSTILE_TEXT = "# Not a ticket\n\x1b]52;c;cm0gLXJmIH4=\x07 said [/] and \x9b31m done"


async def recorded_delegation(tmp_path: Path, task: str, *flags: str) -> tuple[Path, str]:
    """A real run of the sim agent delegating `task` to its sub-agent, recorded as `lfg run` does."""
    db, path = tmp_path / "h.sqlite3", tmp_path / "tickets.toml"
    path.write_text(TICKET)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    sim = BUILTIN["sim-acp"]
    assert sim.agent is not None
    agent = sim.with_agent(command=(*sim.agent.command, "--subagent", task, *flags))
    problems: list[str] = []
    async with (
        open_run_history(db, loaded, "lfg run", problems.append) as history,
        Providers({"sim-acp": agent}) as providers,
    ):
        assert history is not None, problems
        run = Run(loaded.tickets, providers, Approvals(yes=True), [])
        run.record(history)
        run.start()
        await run.wait()
    assert not problems
    return db, history.run_id


@pytest.fixture
def lfg(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Lfg:
    """`lfg history COMMAND ARGS… --db h.sqlite3` in this process: (exit code, stdout)."""
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.delenv("LFG_DB", raising=False)

    def run(command: str, *args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = cli.main(
            ["history", command, "--db", str(tmp_path / "h.sqlite3"), "--config", str(config), *args]
        )
        return code, capsys.readouterr().out

    return run


@pytest.mark.parametrize("flags", [(), ("--subagent-foreground",)], ids=["background", "foreground"])
async def test_a_recorded_runs_export_and_show_hold_the_childs_words_marked_as_the_childs(
    tmp_path: Path, lfg: Lfg, flags: tuple[str, ...]
) -> None:
    """The child's words come back after its record's last note, under its task, state and `~` tokens,
    never in the parent's answer; the JSON export holds them whole and imports back."""
    _, run_id = await recorded_delegation(tmp_path, "Read the notes", *flags)
    tokens = tokens_in(len(SUBAGENT_TEXT), None)
    heading = f"**Sub-agent** Read the notes · done · ~{tokens} tok · $0.0042"
    for command in (("export", run_id), ("show", run_id)):
        code, out = lfg(*command)
        assert code == 0
        assert f"{heading}\n\n> {SUBAGENT_TEXT}\n" in out, out
        finished = out.index("*sub-agent finished: Read the notes")
        assert finished < out.index(heading), "the child's words are at its place: after its record"
    code, out = lfg("export", run_id, "--format", "json")
    [attempt] = json.loads(out)["run"]["tickets"][0]["attempts"]
    said = attempt["subagent_texts"]
    assert {piece["child"] for piece in said} == {said[0]["child"]}, "one child's"
    assert "".join(piece["text"] for piece in said) == SUBAGENT_TEXT
    assert all(SUBAGENT_TEXT not in part["text"] for part in attempt["parts"]), "never the parent's words"
    with Store.open(tmp_path / "copy.sqlite3") as store:
        import_record(store, from_json(json.loads(out)))
        [ticket] = store.load(Selection(run_id)).tickets
        assert list(subagent_words(ticket.attempts[0].subagents).values()) == [SUBAGENT_TEXT]


def test_a_hostile_task_and_text_are_inert_in_show_and_whole_in_the_json(tmp_path: Path, lfg: Lfg) -> None:
    """A task and words holding markup and escape sequences: `show` draws them as text (no escape
    reaches the terminal, no link, no heading of their own), the JSON export gives them back as said."""
    clock = Clock()
    ev = EventFactory("explore", 1, clock=clock)
    said = {"child": "c1", "task": HOSTILE_TASK}
    items = [
        Started(ev(AttemptStarted, provider="sim-acp", model="m"), WALL),
        ev(SubagentChanged, message=f"sub-agent started: {HOSTILE_TASK}", state="running", **said),
        ev(TextDelta, text="The parent's answer."),
        *(ev(SubagentDelta, child="c1", text=piece) for piece in (HOSTILE_TEXT[:20], HOSTILE_TEXT[20:])),
    ]
    done = ev(SubagentChanged, message="sub-agent finished", state="done", output_tokens=21, **said)
    recorder = record(
        tmp_path / "h.sqlite3", tmp_path, items, [done, ev(AttemptEnded, outcome=Outcome.COMPLETED)]
    )
    recorder.finish()
    run_id = recorder.run_id
    for command in (("show", run_id), ("export", run_id)):
        code, out = lfg(*command)
        assert code == 0
        assert UNSAFE.search(out) is None, out
        assert "**Sub-agent** Read \\[/b\\] the \\*\\*notes\\*\\* \\[x\\](http://evil.example) \\<b\\>" in out
        assert "· done · ~21 tok\n" in out
        assert "\n> ### Not a ticket\n" in out, "the child's heading stays inside its quote"
    code, out = lfg("export", run_id, "--format", "json")
    assert code == 0 and UNSAFE.search(out) is None
    [attempt] = json.loads(out)["run"]["tickets"][0]["attempts"]
    assert [(said["child"], said["text"]) for said in attempt["subagent_texts"]] == [("c1", HOSTILE_TEXT)]
    with sqlite3.connect(tmp_path / "h.sqlite3") as conn:
        pieces = conn.execute("SELECT text FROM subagent_texts ORDER BY id").fetchall()
    assert pieces == [(HOSTILE_TEXT,)], "a batch's words are one row, stored as said"
    assert lfg("delete", run_id, "--yes")[0] == 0
    with sqlite3.connect(tmp_path / "h.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM subagent_texts").fetchone() == (0,), (
            "they go with their run"
        )


async def test_search_finds_a_word_only_the_sub_agent_said_and_names_the_child(
    tmp_path: Path, lfg: Lfg
) -> None:
    """Found by `lfg history search`, the hit says it is a sub-agent's (`subagent`) and names the
    child by its task; the filters apply to it as to any hit."""
    await recorded_delegation(tmp_path, "Read the notes")
    code, out = lfg("search", "reading", "--json")
    assert code == 0
    [hit] = json.loads(out)
    assert (hit["ticket"], hit["kind"], hit["name"]) == ("p", "subagent", "Read the notes")
    assert SUBAGENT_TEXT.startswith(hit["snippet"]), "its row's words: the child's, as said"
    assert hit["snippet"][slice(*hit["highlights"][0])] == "reading"
    code, out = lfg("search", "reading")
    assert code == 0 and "p #1  subagent Read the notes  " in out and "reading the notes" in out
    assert lfg("search", "reading", "--ticket", "other")[0] == 1, "no matches"


def delegated(tmp_path: Path, *batches: list[Item]) -> Recorder:
    """An attempt whose children `c1` (task Scan) and `c2` (Lint) are announced, then `batches`."""
    clock = Clock()
    ev = EventFactory("explore", 1, clock=clock)
    first: list[Item] = [Started(ev(AttemptStarted, provider="sim-acp", model="m"), WALL)]
    for child, task in (("c1", "Scan"), ("c2", "Lint")):
        first.append(ev(SubagentChanged, message="started", state="running", child=child, task=task))
    written = [[ev(cls, **fields) for cls, fields in batch] for batch in batches]
    end = [ev(AttemptEnded, outcome=Outcome.COMPLETED)]
    recorder = record(tmp_path / "h.sqlite3", tmp_path, first, *written, end)
    recorder.finish()
    return recorder


CUT = [
    [
        (SubagentDelta, {"child": "c1", "text": "The flux capa"}),
        (SubagentDelta, {"child": "c2", "text": "lint "}),
    ],
    [
        (SubagentDelta, {"child": "c1", "text": "citor hums. "}),
        (SubagentDelta, {"child": "c2", "text": "hums"}),
    ],
    [(SubagentDelta, {"child": "c1", "text": "Flux again."})],
]
"""Two children's words over three batches; c1's `capacitor` cut in two by a batch's end."""


def test_a_word_a_batch_cut_in_two_is_found_and_each_child_is_one_hit(tmp_path: Path) -> None:
    delegated(tmp_path, *CUT)
    with Store.open(tmp_path / "h.sqlite3") as store:
        [hit] = store.search("capacitor")
        assert (hit.kind, hit.name) == ("subagent", "Scan")
        assert [h.name for h in store.search('"flux capacitor hums"')] == ["Scan"], "a phrase across it"
        assert [h.name for h in store.search("flux")] == ["Scan"], "one hit a child, two of its rows matched"
        assert sorted(h.name for h in store.search("hums")) == ["Lint", "Scan"]
        said = store.conn.execute("SELECT child, text FROM subagent_texts ORDER BY id").fetchall()
        assert "".join(t for c, t in said if c == "c1") == "The flux capacitor hums. Flux again.", "lossless"
        store.conn.execute("INSERT INTO subagent_fts (subagent_fts, rank) VALUES ('integrity-check', 1)")
        store.conn.execute("DELETE FROM runs")
        assert store.search("capacitor") == [] and store.search("hums") == []
        store.conn.execute("INSERT INTO subagent_fts (subagent_fts, rank) VALUES ('integrity-check', 1)")


def test_a_file_of_schema_30_is_migrated_its_words_whole_searchable_and_replayed(tmp_path: Path) -> None:
    """What an lfg of schema 30 wrote (a row a batch, no times, no index): migration 31 folds each
    child's rows into one, in order, indexes it, and a rebuilt attempt gives the child's words after
    its last record note; nothing else of the file changes."""
    recorder = delegated(tmp_path, *CUT)
    db = tmp_path / "h.sqlite3"
    with sqlite3.connect(db) as conn:
        as_schema_30(conn)
        before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("attempts", "parts")}
        pieces = conn.execute("SELECT child, text FROM subagent_texts ORDER BY id").fetchall()
    assert len(pieces) == 5, "a row a batch and child, as schema 30 kept them"
    with Store.open(db) as store:
        conn = store.conn
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        assert {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in before} == before
        folded = conn.execute("SELECT child, text, seq FROM subagent_texts ORDER BY id").fetchall()
        assert folded == [("c1", "The flux capacitor hums. Flux again.", None), ("c2", "lint hums", None)]
        assert [h.name for h in store.search("capacitor")] == ["Scan"]
        conn.execute("INSERT INTO subagent_fts (subagent_fts, rank) VALUES ('integrity-check', 1)")
        (attempt_id,) = conn.execute("SELECT id FROM attempts").fetchone()
        events = store.attempt_events(attempt_id)
    said = [(e.child, e.text) for e in events if isinstance(e, SubagentDelta)]
    assert said == [("c1", "The flux capacitor hums. Flux again."), ("c2", "lint hums")]
    notes = [i for i, e in enumerate(events) if isinstance(e, SubagentChanged)]
    words = [i for i, e in enumerate(events) if isinstance(e, SubagentDelta)]
    assert words == [notes[0] + 1, notes[1] + 1], "each right after its child's last record note"
    assert recorder.run_id
