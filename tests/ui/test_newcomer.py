"""A newcomer's first run in a default terminal (80x24), through Pilot on the sim: `lfg run
examples/demo.toml` shows every pane that fits, says how to reach the others, keeps help and quit in
the footer; help scrolls to its last row; an approval opens over the pane that asks; the palette
finds lfg's own commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets._footer import FooterKey

from lfgtui.config.load import Config
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.history import HistoryScreen
from lfgtui.ui.screens.modals import ApprovalScreen, HelpScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import keys, make_app, pane, tickets, until
from tests.support.compose import lfg_app
from tests.support.git import repository

DEMO = Path(__file__).parents[2] / "examples" / "demo.toml"
TERMINAL = (80, 24)


def demo_app(sim: SimServer, **services: object) -> LfgApp:
    loaded = load_tickets(DEMO, Config(path=None), BUILTIN_TOOLS, env={})
    return lfg_app(loaded.tickets, Providers(sim=sim), **services)


def shown_whole(widget: Widget) -> bool:
    """Drawn, and inside the terminal's region whole."""
    region = widget.region
    screen = Region(0, 0, *widget.app.size)
    drawn = widget.visible and widget.styles.opacity > 0
    return drawn and bool(region.area) and screen.contains_region(region)


def footer_keys(screen: Screen[object]) -> dict[str, FooterKey]:
    return {key.action: key for key in screen.query(FooterKey)}


async def footer_whole(pilot: Pilot[None], screen: Screen[object], needed: dict[str, str]) -> None:
    """The screen's footer shows the `needed` actions' keys (action: key) whole; a key the width
    cannot hold is hidden whole, never cut."""

    found: dict[str, FooterKey] = {}

    def laid_out() -> bool:  # in one look: the footer composes its keys anew as bindings change
        found.clear()
        found.update(footer_keys(screen))
        return (
            needed.keys() <= found.keys()
            and all(shown_whole(k) or not k.visible for k in found.values())
            and all(shown_whole(found[action]) for action in needed)
        )

    await until(pilot, laid_out)
    assert {action: found[action].key_display for action in needed} == needed


async def test_the_demo_at_80x24_shows_its_panes_says_where_the_others_are_and_keeps_help_and_quit(
    sim: SimServer, tmp_path: Path
) -> None:
    app = demo_app(sim, history=tmp_path / "history.sqlite3")
    async with app.run_test(size=TERMINAL) as pilot:
        screen = app.controller.screen
        await until(pilot, lambda: len(screen.views) == 4)
        assert all(view.pane.on_screen for view in screen.views), "all four panes fit 80x24"
        assert screen.window == ""
        tour = pane(app, "tour")
        await until(pilot, lambda: tour.body.length > 0)
        await pilot.resize_terminal(80, 20)  # one row of panes fits: two are hidden
        await until(pilot, lambda: len(screen.views) == 2)
        hint = "panes 1\u20132 of 4 \u00b7 2 more \u2193"
        assert screen.window == hint
        await until(pilot, lambda: hint in screen.summary.render().plain)  # type: ignore[union-attr]
        shown = screen.summary.render().plain  # type: ignore[union-attr]
        assert shown.index(hint) + len(hint) <= 80 - 2, "leading the bar, whatever follows: whole in 78 cells"
        await pilot.resize_terminal(*TERMINAL)

        await footer_whole(pilot, screen, {"quit": "q", "help": "?"})

        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        scroll = help_screen.query_one("#help-keys", VerticalScroll)
        await until(pilot, lambda: scroll.max_scroll_y > 0 and shown_whole(help_screen.query_one(".choices")))
        await pilot.press("end")
        await until(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y)
        assert scroll.region.bottom <= TERMINAL[1], "the last row is inside the terminal, not cut off"
        assert help_screen.rows[-1][0] == "^p", "the last row is the palette's key"
        await pilot.press("home")
        assert scroll.scroll_y == 0
        pages = 0
        while scroll.scroll_y < scroll.max_scroll_y and pages <= scroll.max_scroll_y:
            await pilot.press("pagedown")
            pages += 1
        assert scroll.scroll_y == scroll.max_scroll_y and pages > 1, "page down reaches the last row too"
        await pilot.press("escape")

        await pilot.press("ctrl+p")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        await pilot.press(*keys("his"))
        options = palette.query_one(CommandList)
        await until(pilot, lambda: options.option_count > 0 and options.highlighted == 0)
        assert str(options.get_option_at_index(0).prompt).startswith("History")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await footer_whole(pilot, app.screen, {"close": "esc", "command_palette": "^p"})  # q, ? type a search


async def test_an_approval_opens_centred_over_the_pane_that_asks_and_stays_whole_when_small(
    sim: SimServer, tmp_path: Path
) -> None:
    toml = '[[ticket]]\nid = "idle"\nprompt = "x"\nmodel = "hello"\n\n'
    toml += '[[ticket]]\nid = "w"\nprompt = "x"\nmodel = "writer"\ntools = ["write_file", "run_command"]\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=(240, 40)) as pilot:
        w = pane(app, "w")
        await until(pilot, lambda: w.state is PaneState.APPROVAL and "see it all" in str(w.notice.render()))
        w.shown.focus()
        await pilot.press("y")
        approval = app.screen
        assert isinstance(approval, ApprovalScreen)
        await until(pilot, lambda: approval.placed)
        await pilot.pause(0.05)
        dialog, asking = approval.dialog.region, w.shown.region
        assert asking.x >= 120, "the asking pane is the right-hand one"
        assert abs(dialog.center[0] - asking.center[0]) <= 1 and abs(dialog.center[1] - asking.center[1]) <= 1
        assert shown_whole(approval.dialog)

        await pilot.resize_terminal(60, 14)
        await until(pilot, lambda: approval.dialog.region.bottom <= 14 and approval.dialog.region.right <= 60)
        await pilot.pause(0.1)
        assert shown_whole(approval.dialog), "moved and shrunk to stay whole on a small terminal"
        assert shown_whole(approval.query_one("#approval-choices"))
        await pilot.press("end")
        await pilot.pause(0.1)
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, ApprovalScreen))
        await until(pilot, lambda: (tmp_path / "notes" / "summary.md").exists())


@pytest.mark.parametrize("size", [(200, 40), TERMINAL], ids=["200x40", "80x24"])
async def test_the_footer_shows_the_keys_of_the_focused_panes_work_where_they_apply(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    """A finished worktree ticket's diff, review, land and fork keys are in the footer, whole, wide or
    at 80x24; a ticket with no worktree shows none of the first three; a key comes when it applies."""
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = repository(tmp_path / "repo")
    toml = '[[ticket]]\nid = "w"\nprompt = "x"\nmodel = "writer"\nisolation = "worktree"\n'
    toml += f'workdir = "{repo}"\ntools = ["write_file", "run_command"]\n\n'
    toml += '[[ticket]]\nid = "plain"\nprompt = "x"\nmodel = "hello"\n'
    app = make_app(sim, tickets(tmp_path, toml), yes=True)
    async with app.run_test(size=size) as pilot:
        screen = app.controller.screen
        w, plain = pane(app, "w"), pane(app, "plain")
        await screen.show_pane(w)
        await until(pilot, lambda: w.state is PaneState.COMPLETED and plain.finished, 30)
        await footer_whole(pilot, screen, {"diff": "d", "review": "v", "land": "M", "fork": "f"})
        assert "cancel" not in footer_keys(screen), "nothing runs: the keys it had running are gone"
        await screen.show_pane(plain)
        await until(pilot, lambda: "fork" in footer_keys(screen) and "diff" not in footer_keys(screen))
        await footer_whole(pilot, screen, {"fork": "f"})
        assert not {"diff", "review", "land"} & footer_keys(screen).keys(), "it has no worktree"
