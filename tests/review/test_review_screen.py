"""The review screen in the real app (Pilot): comments on two lines sent as one follow-up that the
agent answers, drafts kept across closing the screen and `lfg resume`, a run that cannot take a
follow-up keeping them, and the screen at 80 by 24. Real git worktrees, the sim, real history files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lfgtui.history.recorded import ReplayClock
from lfgtui.history.reviews import mark_sent, save_draft, ticket_comments
from lfgtui.history.schema import MIGRATIONS
from lfgtui.history.store import Store
from lfgtui.history.writer import reopen_run_history
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.review import DiffView, ReviewDesk, ReviewScreen
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.worktrees.review import Comment
from tests.support.app import keys, pane, until
from tests.support.compose import first_run, replay_app, resumed_app
from tests.support.recording import as_schema_14, load_recorded, record, sample_attempt
from tests.support.review import comment, open_review, recorded_app, review_when_done, writer_tickets

SMALL = (80, 24)


def shown(screen: ReviewScreen) -> str:
    view = screen.query_one(DiffView)
    return "\n".join(view.render_line(y).text for y in range(view.size.height))


def stored(db: Path, run_id: str) -> list[tuple[str, int, str, float | None, int | None]]:
    with Store.open(db) as store:
        found = ticket_comments(store.conn, run_id, "w")
    return [(c.path, c.line, c.body, c.sent_at, c.sent_attempt) for c in found]


async def test_comments_on_two_lines_go_to_the_agent_as_one_follow_up_and_it_answers(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "h.sqlite3"
    async with (
        recorded_app(sim, writer_tickets(tmp_path, monkeypatch), db) as app,
        app.run_test(size=SMALL) as pilot,
    ):
        screen = await review_when_done(pilot, app)
        assert "notes/summary.md  +3 \u22120" in shown(screen), "the files changed, with counts"
        await pilot.press("f", "n", "down")  # the file, its hunk, its first line
        await comment(pilot, screen, "Say what it summarises")
        await pilot.press("down", "down", "down")  # past the draft's own row, to the third line
        await comment(pilot, screen, "Name the scenario")
        assert "\u270e 1: Say what it summarises" in shown(screen)
        sent_before = len(sim.log)
        await pilot.press("S")
        await until(pilot, lambda: not isinstance(app.screen, ReviewScreen))
        await until(pilot, lambda: len(sim.log) > sent_before and not pane(app, "w").running)
        assert pane(app, "w").state is PaneState.COMPLETED
        run_id = app.controller.run_id
    asked = json.dumps(sim.log[sent_before].body)
    for part in ("notes/summary.md:1", "+# Summary", "Say what it summarises", "notes/summary.md:3"):
        assert json.dumps(part)[1:-1] in asked, part
    kept = stored(db, run_id)
    assert [(path, line, body) for path, line, body, _, _ in kept] == [
        ("notes/summary.md", 1, "Say what it summarises"),
        ("notes/summary.md", 3, "Name the scenario"),
    ]
    assert all(sent_at is not None and attempt == 2 for _, _, _, sent_at, attempt in kept)
    with Store.open(db) as store:
        hits = store.search("scenario Name")
    assert ("review", "notes/summary.md", 2) in [(hit.kind, hit.name, hit.attempt) for hit in hits]
    assert ("prompt", 2) in [(hit.kind, hit.attempt) for hit in hits], "and the follow-up it went in"


async def test_drafts_survive_closing_the_screen_and_lfg_resume_and_are_sent_from_there(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "h.sqlite3"
    async with (
        recorded_app(sim, writer_tickets(tmp_path, monkeypatch), db) as app,
        app.run_test(size=SMALL) as pilot,
    ):
        screen = await review_when_done(pilot, app)
        await pilot.press("f", "n", "down")
        await comment(pilot, screen, "Keep me")
        await pilot.press("h", *keys("Whole hunk"), "enter")
        await until(pilot, lambda: len(screen.desk.drafts) == 2)
        await pilot.press("e", "end", *keys(" please"), "enter")  # the draft on the cursor's line
        await until(pilot, lambda: screen.desk.drafts[0].body == "Keep me please")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ReviewScreen))
        again = await open_review(pilot, app)
        assert [d.body for d in again.desk.drafts] == ["Keep me please", "Whole hunk"]
        assert "\u270e hunk: Whole hunk" in shown(again)
        run_id = app.controller.run_id
    assert [body for _, _, body, sent, _ in stored(db, run_id) if sent is None] == [
        "Keep me please",
        "Whole hunk",
    ]
    async with reopen_run_history(db, run_id, pytest.fail) as history:
        assert history is not None
        app = resumed_app(load_recorded(db, run_id), Providers(sim=sim), history=db)
        first_run(app).record(history)
        async with app.run_test(size=SMALL) as pilot:
            screen = await open_review(pilot, app)
            assert [d.body for d in screen.desk.drafts] == ["Keep me please", "Whole hunk"]
            await until(pilot, lambda: "\u270e 1: Keep me please" in shown(screen))
            await pilot.press("f", "n", "down", "down", "D")  # past the hunk's draft: the first line's
            await until(pilot, lambda: len(screen.desk.drafts) == 1)
            sent_before = len(sim.log)
            await pilot.press("S")
            await until(pilot, lambda: len(sim.log) > sent_before and not pane(app, "w").running)
    assert "Whole hunk" in json.dumps(sim.log[sent_before].body)
    assert "Keep me" not in json.dumps(sim.log[sent_before].body)
    assert [(body, attempt) for _, _, body, _, attempt in stored(db, run_id)] == [("Whole hunk", 2)]


async def test_a_run_that_cannot_take_a_follow_up_says_so_and_keeps_the_drafts(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "h.sqlite3"
    async with (
        recorded_app(sim, writer_tickets(tmp_path, monkeypatch), db) as app,
        app.run_test(size=SMALL) as pilot,
    ):
        await until(pilot, lambda: pane(app, "w").state is PaneState.COMPLETED)
        run_id = app.controller.run_id
    app = replay_app(load_recorded(db, run_id), Providers(sim=sim), clock=ReplayClock(100.0), history=db)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: pane(app, "w").state is PaneState.COMPLETED)
        long = next((tmp_path / "trees").rglob("long.txt"))
        long.write_text(long.read_text().replace("line 20\n", "line twenty\n"))
        screen = await open_review(pilot, app)
        assert "line 17" in shown(screen) and "line 9" not in shown(screen)
        await pilot.press("x")
        await until(pilot, lambda: "line 9" in shown(screen))
        assert "13 lines of context" in str(screen.query_one("#review-status").render())
        await pilot.press("f", "f", "n", "down")  # notes/summary.md's first line (after long.txt)
        await comment(pilot, screen, "Not now")
        sent_before = len(sim.log)
        await pilot.press("S")
        status = screen.query_one("#review-status")
        await until(pilot, lambda: "does not run in this lfg" in str(status.render()))
        assert "1 draft(s) are kept" in str(status.render())
        assert isinstance(app.screen, ReviewScreen)
    assert len(sim.log) == sent_before
    assert [(body, sent) for _, _, body, sent, _ in stored(db, run_id)] == [("Not now", None)]


def test_a_file_of_schema_14_gains_review_comments_kept_apart_from_the_search_until_sent(
    tmp_path: Path,
) -> None:
    """Migration 15 on a file an older lfg wrote; drafts are not found by a search, sent ones are
    (under the attempt that answered them), and deleting the run deletes them and their index."""
    db = tmp_path / "h.sqlite3"
    record(db, tmp_path, sample_attempt()).finish()
    with sqlite3.connect(db) as conn:
        as_schema_14(conn)
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        (run,) = store.list_runs()
        ticket = store.conn.execute("SELECT ticket FROM tickets").fetchone()[0]
        draft = Comment("src/app.py", 3, "zanzibar wording", quote="+x")
        save_draft(store.conn, run.id, ticket, draft)
        assert store.search("zanzibar") == []
        mark_sent(store.conn, [draft.key], 1.0, 1)
        (hit,) = store.search("zanzibar")
        assert (hit.kind, hit.name, hit.attempt) == ("review", "src/app.py", 1)
        store.delete_run(run.id)
        assert store.conn.execute("SELECT count(*) FROM review_comments").fetchone()[0] == 0
        assert store.search("zanzibar") == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM review_fts").fetchone()[0] == 0


async def test_code_is_highlighted_and_every_diff_line_is_inert() -> None:
    """The screen on its own (no run): a Python line coloured by its language, an escape sequence a
    file carried shown as symbols, a removed line's comment numbered in the old file."""
    from textual.app import App

    diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n"
        "-def old():\n+def new():  # \x1b]0;pwned\x07\n     return 1\n"
    )
    desk = ReviewDesk("r", "t", None, [], lambda prompt: "not here")
    app: App[None] = App()
    async with app.run_test(size=SMALL) as pilot:
        await app.push_screen(ReviewScreen("t", "branch", diff, desk))
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        view = screen.query_one(DiffView)
        rows = [view.render_line(y) for y in range(view.size.height)]
        (added,) = [strip for strip in rows if "def new" in strip.text]
        assert "\x1b" not in added.text and "\u241b]0;pwned\u2407" in added.text
        colours = {
            segment.style.color for segment in added if segment.text.strip() == "def" and segment.style
        }
        assert colours - {None}, "the keyword has its language's colour"
        await pilot.press("f", "n", "down")
        await comment(pilot, screen, "why")
        assert screen.desk.drafts[0].where == "x.py:1 (a removed line, numbered as in the old file)"


async def test_a_file_not_shown_and_a_symlink_say_so_on_the_screen() -> None:
    """#54: a file too big to show is listed with its size and marked, and a symlink shows its target."""
    from textual.app import App

    diff = (
        "diff --git a/big bundle.js b/big bundle.js\nnew file mode 100644\n--- /dev/null\n"
        "+++ b/big bundle.js\t\n"
        "lfg: not shown \u2014 its diff is 600,116 bytes, more than lfg shows; review before landing\n"
        "diff --git a/escape b/escape\nnew file mode 120000\n--- /dev/null\n+++ b/escape\n"
        "@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n"
    )
    desk = ReviewDesk("r", "t", None, [], lambda prompt: "not here")
    app: App[None] = App()
    async with app.run_test(size=SMALL) as pilot:
        await app.push_screen(ReviewScreen("t", "branch", diff, desk))
        await pilot.pause()
        view = app.screen.query_one(DiffView)
        shown = "\n".join(view.render_line(y).text for y in range(view.size.height))
        notes = [row.text for row in view.rows if row.kind == "note"]
    assert "big bundle.js  +0 \u22120  NOT SHOWN \u2014 review before landing" in shown
    assert "escape  +1 \u22120  symlink" in shown
    assert notes == [
        "not shown \u2014 its diff is 600,116 bytes, more than lfg shows; review before landing",
        "a symlink to /etc/passwd (its target is shown, never followed)",
    ]


def test_the_diff_screen_names_files_with_spaces_and_quoted_names_exactly() -> None:
    from lfgtui.ui.screens.diff import split_files

    diff = (
        "diff --git a/my notes.txt b/my notes.txt\n--- /dev/null\n+++ b/my notes.txt\t\n@@ -0,0 +1 @@\n+x\n"
        'diff --git "a/caf\\303\\251.txt" "b/caf\\303\\251.txt"\n--- /dev/null\n'
        '+++ "b/caf\\303\\251.txt"\n@@ -0,0 +1 @@\n+y\n'
    )
    assert [(f.path, f.added) for f in split_files(diff)] == [("my notes.txt", 1), ("caf\u00e9.txt", 1)]
