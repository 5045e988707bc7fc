"""Forking an API ticket that works in a worktree: a new ticket of the run that continues the
parent's conversation, in a worktree copied from the parent's as it is (uncommitted changes
included, the parent's untouched), recorded as a fork of that attempt and taken up again by a resume."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.events import Event, Outcome, WorktreeReady
from lfgtui.history.export import to_markdown
from lfgtui.history.recorded import recorded_run
from lfgtui.history.schema import MIGRATIONS
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import open_run_history, reopen_run_history
from lfgtui.providers.base import AssistantMessage, UserMessage
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.attempts import Attempt, Earlier
from lfgtui.run.fork import CannotFork
from lfgtui.run.seeds import earlier_of, earlier_of_each
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.worktrees.cleanup import remove_worktree
from tests.support.git import git, repository
from tests.support.recording import as_schema_11, load_recorded, record, sample_attempt


def one_writer(folder: Path, workdir: Path) -> Path:
    path = folder / "tickets.toml"
    path.write_text(
        f'[defaults]\nprovider = "sim"\nisolation = "worktree"\nworkdir = "{workdir}"\n'
        'tools = ["write_file"]\n[[ticket]]\nid = "one"\nprompt = "write the notes"\nmodel = "writer"\n'
    )
    return path


async def test_a_fork_continues_the_conversation_in_a_copy_of_the_parents_worktree(
    sim: SimServer, tmp_path: Path
) -> None:
    repo = repository(tmp_path / "repo")
    db, trees = tmp_path / "history.sqlite3", tmp_path / "trees"
    loaded = load_tickets(one_writer(tmp_path, repo), Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(yes=True), [events.append], worktrees=trees)
        run.record(history)
        run.start()
        await run.wait()
        parent_tree = run.states["one"].worktree
        assert parent_tree is not None
        (parent_tree.path / "README.md").write_text("# Project\nchanged, not committed\n")
        (parent_tree.path / "draft.txt").write_text("a new file, not committed\n")
        status_before = git(parent_tree.path, "status", "--porcelain")
        head_before = git(parent_tree.path, "rev-parse", "HEAD")
        sent_before = len(sim.log)

        fork = run.fork("one", "Now add a second section.")
        assert fork.id == "one-fork1" and fork.fork_of == ("one", 1) and fork.depends_on == ()
        with pytest.raises(CannotFork, match="still working"):
            run.fork("one-fork1", "too soon")
        await run.wait()

    state = run.states["one-fork1"]
    assert state.outcome is Outcome.COMPLETED
    tree = state.worktree
    assert tree is not None and tree.path != parent_tree.path
    assert tree.branch == f"lfg/{history.run_id}/one-fork1" and tree.base == parent_tree.base
    assert (tree.path / "draft.txt").read_text() == "a new file, not committed\n"
    assert (tree.path / "README.md").read_text() == "# Project\nchanged, not committed\n"
    assert (tree.path / "notes" / "summary.md").is_file(), "the parent's uncommitted work came too"
    assert git(tree.path, "rev-parse", "HEAD") == head_before, "the fork's branch starts at the parent's"
    assert "?? draft.txt" in git(tree.path, "status", "--porcelain"), "still uncommitted in the fork"
    assert git(parent_tree.path, "status", "--porcelain") == status_before, "the parent is untouched"
    assert git(parent_tree.path, "rev-parse", "HEAD") == head_before
    ready = [e for e in events if isinstance(e, WorktreeReady) and e.ticket == "one-fork1"]
    assert ready and ready[0].path == str(tree.path)

    (request,) = sim.log[sent_before : sent_before + 1]
    users = [m["content"] for m in request.body["messages"] if m["role"] == "user"]
    assert users == ["write the notes", "Now add a second section."], "the parent's conversation first"

    with Store.open(db) as store:
        record = store.load(Selection(history.run_id))
    rows = {t.row.ticket: t.row for t in record.tickets}
    assert (rows["one-fork1"].forked_from, rows["one-fork1"].forked_attempt) == ("one", 1)
    assert (rows["one"].forked_from, rows["one"].forked_attempt) == (None, None)
    shown = to_markdown(record)
    assert shown.count("· fork of one attempt 1") == 1, "lfg history show says whose fork it is"

    recorded = load_recorded(db, history.run_id)
    parent, forked = recorded.tickets
    assert forked.ticket.fork_of == ("one", 1) and forked.base == parent.conversation(1)
    whole = forked.conversation(1)
    assert whole[: len(forked.base)] == forked.base
    assert isinstance(whole[-2], UserMessage) and whole[-2].text == "Now add a second section."
    assert isinstance(whole[-1], AssistantMessage)
    earlier = earlier_of(forked)
    assert (earlier.follow_up, earlier.base, earlier.continues) == (
        "Now add a second section.",
        forked.base,
        None,
    )

    async with (
        reopen_run_history(db, history.run_id, lambda message: None) as again,
        Providers(sim=sim) as providers,
    ):
        assert again is not None
        seeds = earlier_of_each(recorded.tickets)
        resumed = Run(recorded.as_tickets, providers, Approvals(yes=True), [], earlier=seeds, worktrees=trees)
        resumed.run_id = history.run_id
        resumed.record(again)
        resumed.start()
        assert resumed.continue_with("one-fork1", "And a third.")
        await resumed.wait()
    assert resumed.states["one-fork1"].worktree == tree, "a resumed fork goes on in its own worktree"
    users = [m["content"] for m in sim.log[-1].body["messages"] if m["role"] == "user"]
    assert users == ["write the notes", "Now add a second section.", "And a third."]


async def test_only_a_completed_ticket_forks(sim: SimServer, tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    loaded = load_tickets(one_writer(tmp_path, repo), Config(path=None), BUILTIN_TOOLS, env={})
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(yes=True), [], worktrees=tmp_path / "trees")
        with pytest.raises(CannotFork, match="no completed conversation"):
            run.fork("one", "go on")
        with pytest.raises(CannotFork, match="needs a prompt"):
            run.fork("one", "  ")
    assert set(run.states) == {"one"}


def test_a_file_recorded_before_forks_is_migrated_and_its_tickets_are_no_forks(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    record(db, tmp_path, sample_attempt()).finish()
    with sqlite3.connect(db) as conn:
        as_schema_11(conn)
    with Store.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        (run,) = store.list_runs()
        (ticket,) = recorded_run(store.load(Selection(run.id))).tickets
    assert ticket.ticket.fork_of is None and ticket.base == ()


class Elsewhere:
    """A runner that runs attempts somewhere else (as a broker's workers do); none runs here."""

    async def run_attempt(self, attempt: Attempt) -> None:
        raise AssertionError("nothing runs in this test")


async def test_a_run_whose_attempts_run_elsewhere_does_not_fork_a_worktree_ticket(
    sim: SimServer, tmp_path: Path
) -> None:
    repo = repository(tmp_path / "repo")
    loaded = load_tickets(one_writer(tmp_path, repo), Config(path=None), BUILTIN_TOOLS, env={})
    done = Earlier(1, Outcome.COMPLETED, (UserMessage("write the notes"), AssistantMessage("Done.")))
    async with Providers(sim=sim) as providers:
        run = Run(
            loaded.tickets, providers, Approvals(yes=True), [], earlier={"one": done}, runner=Elsewhere()
        )
        with pytest.raises(CannotFork, match="worktree is on a worker"):
            run.fork("one", "go on")
    assert set(run.states) == {"one"}


async def test_a_ticket_whose_worktree_was_cleaned_does_not_fork_from_nothing(
    sim: SimServer, tmp_path: Path
) -> None:
    """`lfg worktrees clean --force` removed the parent's worktree and its uncommitted work: a fork,
    in the run or after a resume, is refused saying so, rather than started from the repository's HEAD."""
    repo = repository(tmp_path / "repo")
    db, trees = tmp_path / "history.sqlite3", tmp_path / "trees"
    loaded = load_tickets(one_writer(tmp_path, repo), Config(path=None), BUILTIN_TOOLS, env={})
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(yes=True), [], worktrees=trees)
        run.record(history)
        run.start()
        await run.wait()
        tree = run.states["one"].worktree
        assert tree is not None
        assert (await remove_worktree(tree, force=True)).removed
        with pytest.raises(CannotFork, match=r"one's work is gone: the worktree .* was removed"):
            run.fork("one", "Now add a second section.")

    recorded = load_recorded(db, history.run_id)
    async with Providers(sim=sim) as providers:
        seeds = earlier_of_each(recorded.tickets)
        resumed = Run(recorded.as_tickets, providers, Approvals(yes=True), [], earlier=seeds, worktrees=trees)
        resumed.run_id = history.run_id
        resumed.start()
        with pytest.raises(CannotFork, match=f"branch lfg/{history.run_id}/one if it was kept"):
            resumed.fork("one", "Now add a second section.")
        await resumed.wait()
    assert set(resumed.states) == {"one"}
    assert not (trees / history.run_id / "one").exists(), "nothing made again from HEAD"
