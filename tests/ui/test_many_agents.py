"""Running many agents in the TUI: a worktree ticket's diff in its header and behind `d`, fanned-out
panes, and `a` visiting the pane that has waited longest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.drawing.diff_lines import styled
from lfgtui.ui.screens.diff import DiffScreen, split_files
from lfgtui.ui.screens.modals import CompareScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.compose import lfg_app
from tests.support.git import git, repository
from tests.support.proxy import partition


async def test_a_worktree_ticket_shows_its_diff_size_and_d_opens_the_diff(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = repository(tmp_path / "repo")
    toml = f'[[ticket]]\nid = "w"\nprompt = "x"\nmodel = "writer"\nworkdir = "{repo}"\n'
    toml += 'isolation = "worktree"\ntools = ["write_file", "run_command"]\n'
    toml += '[[ticket]]\nid = "plain"\nprompt = "x"\nmodel = "hello"\n'
    app = make_app(sim, tickets(tmp_path, toml), yes=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "w").state is PaneState.COMPLETED)
        await until(pilot, lambda: "+3 \u22120 1 file" in str(pane(app, "w").header.text))
        assert app.controller.screen.focused_pane is pane(app, "w")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen))
        assert isinstance(app.screen, DiffScreen)
        assert [file.path for file in app.screen.files] == ["notes/summary.md"]
        await pilot.press("escape")
        assert not isinstance(app.screen, DiffScreen)
        await pilot.press("tab", "d")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, DiffScreen), "a ticket without a worktree has no diff"
    assert not (repo / "notes").exists()


async def test_a_boxed_worktree_tickets_pane_says_where_and_how_it_runs(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 73: the headless lines and the history said the worktree, what `.worktreeinclude`
    copied, the `setup` output and what the sandbox allows; the pane said none of them, so a person
    could not tell whether the box was on. Each is an entry at the top of the turn, said once."""
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = repository(tmp_path / "repo")
    (repo / ".worktreeinclude").write_text("local.env\n")
    (repo / ".gitignore").write_text("local.env\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore local.env")
    (repo / "local.env").write_text("K=1\n")
    toml = f'[[ticket]]\nid = "w"\nprompt = "x"\nmodel = "writer"\nworkdir = "{repo}"\n'
    toml += 'isolation = "worktree"\nsetup = "echo ready"\nsandbox = "bwrap"\n'
    toml += 'tools = ["write_file", "run_command"]\n'
    app = make_app(sim, tickets(tmp_path, toml), yes=True)
    async with app.run_test(size=SIZE) as pilot:
        w = pane(app, "w")
        await until(pilot, lambda: w.state is PaneState.COMPLETED)
        shown = w.body.source
    assert shown.count("*working in ") == 1 and " on branch lfg/" in shown
    assert "*.worktreeinclude: copied local.env*" in shown
    assert "*setup: echo ready*" in shown and "\nready\n" in shown, "the setup's output, as code"
    assert shown.count("*sandbox bwrap: writes only in ") == 1
    assert shown.index("*working in ") < shown.index("*sandbox bwrap") < shown.index("I'll write the notes")


def test_a_diff_is_split_per_file_and_shown_inert() -> None:
    diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old\n+new \x1b]0;pwned\x07\n"
        "diff --git a/bin b/bin\nBinary files a/bin and b/bin differ\n"
    )
    first, second = split_files(diff)
    assert (first.path, first.added, first.removed) == ("x.py", 1, 1)
    assert second.path == "bin"
    shown = styled(first.lines)
    assert "\x1b" not in shown.plain and "\x07" not in shown.plain and "␛]0;pwned␇" in shown.plain


async def test_a_fanned_out_ticket_with_a_dotted_id_gets_a_pane_per_model(
    sim: SimServer, tmp_path: Path
) -> None:
    toml = '[[ticket]]\nid = "ask.v1"\nprompt = "x"\nmodels = ["sim/hello", "sim-anthropic/hello"]\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        assert set(app.controller.panes) == {"ask.v1@sim-hello", "ask.v1@sim-anthropic-hello"}
        await until(pilot, lambda: all(p.state is PaneState.COMPLETED for p in app.controller.panes.values()))
        header = pane(app, "ask.v1@sim-anthropic-hello").header
        await until(pilot, lambda: "sim-anthropic/hello" in str(header.text))  # drawn on a frame after
        await pilot.press("equals_sign")
        assert isinstance(app.screen, CompareScreen)
        assert [row[:2] for row in app.screen.rows] == [
            ("sim/hello", "completed"),
            ("sim-anthropic/hello", "completed"),
        ]
        assert all(row[5] == "$0" for row in app.screen.rows), "the sim is free"
        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


async def test_a_goes_to_the_pane_that_has_waited_longest(sim: SimServer, tmp_path: Path) -> None:
    toml = '[[ticket]]\nid = "ok"\nprompt = "x"\nmodel = "hello"\n\n'
    toml += '[[ticket]]\nid = "later"\nprompt = "x"\nmodel = "fault-401"\ndepends_on = ["ok"]\n\n'
    toml += '[[ticket]]\nid = "first"\nprompt = "x"\nmodel = "fault-401"\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "later").state is PaneState.FAILED)
        first, later = pane(app, "first").standing, pane(app, "later").standing
        assert first.since < later.since and first.unread and later.unread
        screen = app.controller.screen
        await until(pilot, lambda: len(screen.attention.unread()) == 3)
        await pilot.press("a")
        assert screen.focused_pane is pane(app, "first"), "the longest-waiting, though listed last"
        await pilot.press("a")
        assert screen.focused_pane is pane(app, "later")
        await pilot.press("a")
        assert screen.focused_pane is pane(app, "ok"), "the failures first, then the unread answers"
        await pilot.press("a")
        assert screen.focused_pane is pane(app, "first")


async def test_a_ticket_waiting_for_its_providers_shared_limit_shows_as_queued(
    sim: SimServer, tmp_path: Path
) -> None:
    """The first ticket's call is held in a proxy until the second has been seen queued: on a loaded
    machine its answer (two seconds) ended before the summary was drawn, and nothing was queued."""
    toml = '[[ticket]]\nid = "first"\nprompt = "x"\nmodel = "long-answer:repeat=6,tokens_per_s=300"\n'
    toml += '[[ticket]]\nid = "second"\nprompt = "x"\nmodel = "hello"\n'
    loaded = load_tickets(tickets(tmp_path, toml), Config(path=None), BUILTIN_TOOLS, env={})
    with partition(("127.0.0.1", sim.port)) as link:
        link.black_hole()
        proxied = f"http://127.0.0.1:{link.port}/v1"
        one_at_a_time = {"sim": replace(BUILTIN["sim"], max_concurrency=1, base_url=proxied)}
        app = lfg_app(loaded.tickets, Providers(one_at_a_time, sim=sim))
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: pane(app, "first").state is PaneState.RUNNING)
            await until(pilot, lambda: pane(app, "second").state is PaneState.QUEUED)
            await until(pilot, lambda: "sim allows 1 at once" in str(pane(app, "second").notice.render()))
            await until(pilot, lambda: "1 queued" in str(app.controller.screen.summary.render()))
            assert "sim: 1 streaming, 1 queued" in str(app.controller.screen.summary.render())
            link.heal()
            await until(pilot, lambda: pane(app, "second").state is PaneState.COMPLETED, timeout=30)
            assert pane(app, "first").state is PaneState.COMPLETED, "the second went once the first was done"
