"""`lfg review RUN TICKET` on a ticket the sim agent ran in a real worktree: comments kept as drafts,
listed as JSON, sent as one follow-up that the resumed ticket answers into the same run; what it
refuses; and review comments exported and imported with their run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lfgtui.history.export import from_json, import_record, to_json, to_markdown
from lfgtui.history.reviews import ticket_comments
from lfgtui.history.schema import PartKind
from lfgtui.history.store import Selection, Store
from lfgtui.sim.server import SimServer
from tests.support.git import git, isolate_git, repository
from tests.support.worktree_runs import lfg, run_in


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
async def ran(sim: SimServer, tmp_path: Path) -> tuple[Path, str]:
    """The history file and the run of two sim tickets that each wrote notes/summary.md in a worktree."""
    db = tmp_path / "history.sqlite3"
    _, _, run_id = await run_in(sim, tmp_path, repository(tmp_path / "repo"), db)
    return db, run_id


async def test_comments_are_kept_listed_and_sent_as_one_follow_up_that_the_ticket_answers(
    ran: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id = ran
    first = "notes/summary.md:1: Say what it summarises"
    comments = tmp_path / "comments.txt"
    comments.write_text("# from a file\nnotes/summary.md:3: Name the scenario\n  and link it\n")
    capsys.readouterr()
    code = await lfg(
        "review",
        run_id[:8],
        "one",
        "--comment",
        first,
        "--from-file",
        str(comments),
        "--json",
        "--db",
        str(db),
    )
    assert code == 0, capsys.readouterr().err
    listed = json.loads(capsys.readouterr().out)
    assert listed["files"] == [
        {"path": "notes/summary.md", "added": 3, "removed": 0, "not_shown": None, "link_target": None}
    ]
    assert "+# Summary" in listed["diff"]
    assert [(c["line"], c["quote"], c["body"], c["sent_at"]) for c in listed["comments"]] == [
        (1, "+# Summary", "Say what it summarises", None),
        (3, "+Written by the lfg writer scenario.", "Name the scenario\nand link it", None),
    ]

    code = await lfg("review", run_id, "one", "--send", "--db", str(db))
    out, err = capsys.readouterr()
    assert code == 0, (out, err)
    assert "attempt 2 completed:" in out and "[sent (attempt 2)]" in out
    with Store.open(db) as store:
        (ticket,) = store.load(Selection(run_id, ticket="one")).tickets
        kept = ticket_comments(store.conn, run_id, "one")
    follow_up = ticket.attempts[1]
    prompt = next(p.text for p in follow_up.parts if p.kind == PartKind.PROMPT)
    assert "## 1. notes/summary.md:1" in prompt and "Name the scenario\nand link it" in prompt
    assert follow_up.row.outcome == "completed"
    assert [(c.sent_attempt, c.sent_at is not None) for c in kept] == [(2, True), (2, True)]

    assert await lfg("review", run_id, "one", "--send", "--db", str(db)) == 1
    assert "nothing to send" in capsys.readouterr().err


async def test_a_comment_that_names_no_line_keeps_nothing_and_exits_2(
    ran: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id = ran
    for bad in ("notes/summary.md: no line", "notes/summary.md:99: past the end", "nowhere.py:1: no file"):
        assert (
            await lfg(
                "review",
                run_id,
                "one",
                "--comment",
                "notes/summary.md:1: fine",
                "--comment",
                bad,
                "--db",
                str(db),
            )
            == 2
        )
        assert "nothing was kept" in capsys.readouterr().err
    assert await lfg("review", run_id, "three", "--db", str(db)) == 2
    assert "has no ticket 'three'" in capsys.readouterr().err
    with Store.open(db) as store:
        assert ticket_comments(store.conn, run_id, "one") == []


async def test_review_comments_are_exported_and_imported_with_their_run(
    ran: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id = ran
    assert await lfg("review", run_id, "two", "--comment", "notes/summary.md:2: blank?", "--db", str(db)) == 0
    with Store.open(db) as store:
        record = store.load(Selection(run_id))
    document = json.loads(json.dumps(to_json(record)))
    (exported,) = next(t for t in document["run"]["tickets"] if t["ticket"] == "two")["reviews"]
    assert (exported["path"], exported["line"], exported["body"]) == ("notes/summary.md", 2, "blank?")
    assert "**`notes/summary.md:2`** (draft)" in to_markdown(record)
    with Store.open(tmp_path / "other.sqlite3") as other:
        import_record(other, from_json(document))
        (comment,) = ticket_comments(other.conn, run_id, "two")
    assert (comment.body, comment.quote, comment.key) == ("blank?", "+", exported["key"])


async def test_review_lists_every_file_the_run_changed_and_land_lands_only_what_it_showed(
    ran: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """#54: one huge line in the first file cut the review before every later one, and land landed
    them all; an embedded repository landed as a gitlink to a commit only the worktree has."""
    db, run_id = ran
    (tree,) = (tmp_path / "trees").glob("*/one")
    (tree / "a-bundle.js").write_text("x" * 600_000 + "\n")
    (tree / "my notes.txt").write_text("spaces\n")
    (tree / "caf\u00e9.txt").write_text("accent\n")
    os.symlink("/etc/passwd", tree / "escape")
    os.mkfifo(tree / "pipe")
    nested = tree / "vendor"
    nested.mkdir()
    git(nested, "init", "-q")
    (nested / "lib.py").write_text("x = 1\n")
    git(nested, "add", "lib.py")
    git(nested, "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q", "-m", "own")
    capsys.readouterr()
    assert await lfg("review", run_id, "one", "--json", "--db", str(db)) == 0
    files = {f["path"]: f for f in json.loads(capsys.readouterr().out)["files"]}
    assert sorted(files) == sorted(
        ["a-bundle.js", "caf\u00e9.txt", "escape", "my notes.txt", "notes/summary.md", "vendor"]
    )
    assert files["a-bundle.js"]["not_shown"].endswith("more than lfg shows; review before landing")
    assert "embedded git repository" in files["vendor"]["not_shown"]
    assert files["escape"]["link_target"] == "/etc/passwd"
    assert files["my notes.txt"]["added"] == 1 and files["my notes.txt"]["not_shown"] is None
    assert await lfg("review", run_id, "one", "--comment", "pipe:1: what is this", "--db", str(db)) == 2
    assert "pipe is not a regular file" in capsys.readouterr().err

    base = git(tmp_path / "repo", "rev-parse", "main")
    assert await lfg("land", run_id, "one", "--db", str(db)) == 1
    assert "vendor in" in capsys.readouterr().err
    shutil.rmtree(nested / ".git")  # its files become plain files: review shows them, land may land them
    assert await lfg("land", run_id, "one", "--db", str(db)) == 1
    err = capsys.readouterr().err
    assert "review could not show 1 file(s): a-bundle.js" in err and "--include-unreviewed" in err
    assert git(tmp_path / "repo", "rev-parse", "main") == base
    assert await lfg("land", run_id, "one", "--include-unreviewed", "--db", str(db)) == 0
    landed = [
        name
        for name in git(tmp_path / "repo", "ls-tree", "-r", "--name-only", "-z", "main").split("\0")
        if name
    ]
    assert sorted(landed) == sorted(
        [
            "README.md",
            "a-bundle.js",
            "caf\u00e9.txt",
            "escape",
            "my notes.txt",
            "notes/summary.md",
            "vendor/lib.py",
        ]
    )
